"""Individual payees filed with finance (个人收款人备案, Art. 16).

A unit files the people it pays: identity card number, name, employer (工作单位), title
(职务、职称) and personal bank account. Finance may file for any unit in its jurisdiction.
The rule ``individual_payee_unregistered`` checks payments to individuals against these.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from workflow import journal
from workflow.budget import unit_in_reach
from workflow.db import db, locked, utcnow
from workflow.errors import Conflict, Invalid, NotFound
from workflow.monitoring.models import PayeeRegistration
from workflow.monitoring.rules import mask
from workflow.parties import Actor, require
from workflow.scoping import units_of

FIELDS = ("name", "employer", "title", "account")


def payees_for(actor: Actor):
    """Filings the caller may read: the unit its own, finance those of its region. Art. 16
    files an individual's identity, employer, title and account with finance (向财政部门...备案),
    so no one else reads them, not even the unit's competent department: it supervises the
    unit's payments (Art. 26(一)), which name the payee, not the personal data behind them."""
    stmt = sa.select(PayeeRegistration).options(selectinload(PayeeRegistration.unit))
    if not actor.is_system and actor.kind not in ("unit", "finance"):
        return stmt.where(sa.false())
    return stmt.where(units_of(actor, PayeeRegistration.unit_id))


def get_payee(actor: Actor, payee_id: int, *, lock: bool = False) -> PayeeRegistration:
    """``lock``: for a change, so that two changes at once are applied one after the other
    and each journal entry records what the filing really was before it."""
    stmt = payees_for(actor).where(PayeeRegistration.id == payee_id)
    row = db.session.execute(locked(stmt, of=PayeeRegistration) if lock else stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no payee registration {payee_id}")
    return row


def file_payee(actor: Actor, data: dict) -> PayeeRegistration:
    """A unit files a payee of its own; finance files for a unit in its jurisdiction."""
    require(actor, "unit", "finance", action="file individual payees")
    unit = unit_in_reach(actor, data["unit_code"])
    if unit is None:
        raise Invalid("unknown budget unit", {"unit_code": [f"no budget unit {data['unit_code']!r} you may file for"]})
    number = data["id_number"].upper()
    exists = db.session.execute(sa.select(PayeeRegistration.id).where(
        PayeeRegistration.unit_id == unit.id, PayeeRegistration.id_number == number)).first()
    if exists:
        raise Conflict("this person is already filed for the unit; change the filing instead",
                       {"id_number": [f"already filed as registration {exists[0]}"]})
    now = utcnow()
    row = PayeeRegistration(unit=unit, id_number=number, filed_by_id=actor.user_id, created_at=now, updated_at=now,
                            **{k: data[k] for k in FIELDS})
    db.session.add(row)
    db.session.flush()
    journal.record(actor, journal.stream_of("payee", row.id), "filed",
                   {"unit_code": unit.code, "id_number": mask(number), **{k: data[k] for k in FIELDS}}, now=now)
    return row


def change_payee(actor: Actor, payee_id: int, changes: dict) -> PayeeRegistration:
    """Correct a filing (a new account, a new title): the filing unit or finance."""
    require(actor, "unit", "finance", action="change individual payees")
    row = get_payee(actor, payee_id, lock=True)
    changed = {key: [getattr(row, key), changes[key]] for key in FIELDS
               if key in changes and changes[key] != getattr(row, key)}
    for key, (_, new) in changed.items():
        setattr(row, key, new)
    row.updated_at = utcnow()
    row.filed_by_id = actor.user_id
    if changed:
        journal.record(actor, journal.stream_of("payee", row.id), "changed", changed, now=row.updated_at)
    return row

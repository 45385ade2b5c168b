"""Individual payees filed with finance (个人收款人备案, Art. 16).

A unit files the people it pays: identity card number, name, employer (工作单位), title
(职务、职称) and personal bank account. Finance may file for any unit in its jurisdiction.
The rule ``individual_payee_unregistered`` checks payments to individuals against these, and
counts a filing only once finance has confirmed it (核实确认): a unit's filing, and a unit's
change to a filing, wait as ``pending`` until finance confirms or rejects them
(:mod:`workflow.machines.payee`). Finance's list of what awaits it is ``status=pending``.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from workflow import journal
from workflow.budget import unit_in_reach
from workflow.db import db, locked, utcnow
from workflow.errors import Conflict, Invalid, NotFound
from workflow.machines.payee import LIFECYCLE
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
    # finance's own filing is its check (the table's ``record`` row); a unit's waits (``file``)
    status = LIFECYCLE.by_trigger["file" if actor.kind == "unit" else "record"][0].dest
    row = PayeeRegistration(unit=unit, id_number=number, filed_by_id=actor.user_id, created_at=now, updated_at=now,
                            status=status, **{k: data[k] for k in FIELDS})
    if status == "confirmed":
        row.decided_by_id, row.decided_at = actor.user_id, now
    db.session.add(row)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        # a racing filing of the same person came first: the same 409 as above
        db.session.rollback()
        raise Conflict("this person is already filed for the unit; change the filing instead",
                       {"id_number": ["already filed"]}) from None
    journal.record(actor, journal.stream_of("payee", row.id), "filed",
                   {"unit_code": unit.code, "id_number": mask(number), "status": status,
                    **{k: data[k] for k in FIELDS}}, now=now)
    return row


def change_payee(actor: Actor, payee_id: int, changes: dict) -> PayeeRegistration:
    """Correct a filing (a new account, a new title): the filing unit or finance. A unit's
    change goes back to finance for confirmation (``amend``); finance's keeps the status
    (``correct``). A change that changes nothing moves nothing."""
    require(actor, "unit", "finance", action="change individual payees")
    row = get_payee(actor, payee_id, lock=True)
    changed = {key: [getattr(row, key), changes[key]] for key in FIELDS
               if key in changes and changes[key] != getattr(row, key)}
    if not changed:
        return row
    before = row.status
    LIFECYCLE.move(row, "amend" if actor.kind == "unit" else "correct", actor=actor)
    for key, (_, new) in changed.items():
        setattr(row, key, new)
    row.updated_at = utcnow()
    row.filed_by_id = actor.user_id
    if row.status != before:
        changed["status"] = [before, row.status]
        row.status_reason = row.decided_by_id = row.decided_at = None
    journal.record(actor, journal.stream_of("payee", row.id), "changed", changed, now=row.updated_at)
    return row


def confirm_payee(actor: Actor, payee_id: int) -> PayeeRegistration:
    """Finance confirms a pending filing (核实确认, Art. 16): from now on it makes payments to
    the person legitimate. 403 for any other party (a unit confirming its own filing), 409
    for a filing that is not pending."""
    return _decide(actor, payee_id, "confirm", None)


def reject_payee(actor: Actor, payee_id: int, reason: str) -> PayeeRegistration:
    """Finance rejects a pending filing, saying why; the unit may correct and file it again."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("a rejection needs its reason", {"reason": ["say why the filing is not confirmed"]})
    return _decide(actor, payee_id, "reject", reason)


def _decide(actor: Actor, payee_id: int, trigger: str, reason: str | None) -> PayeeRegistration:
    require(actor, "finance", action=f"{trigger} individual payee filings")
    row = get_payee(actor, payee_id, lock=True)
    LIFECYCLE.move(row, trigger, actor=actor)
    now = utcnow()
    row.status_reason, row.decided_by_id, row.decided_at = reason, actor.user_id, now
    journal.record(actor, journal.stream_of("payee", row.id), f"{trigger}ed" if trigger == "confirm" else "rejected",
                   {"status": row.status, "reason": reason}, now=now)
    return row

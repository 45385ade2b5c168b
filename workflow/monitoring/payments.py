"""Reading payments within the caller's reach, and the few status changes a payment has.

Who sees a payment (ASVS 8.2.2): finance by jurisdiction, a competent department its
units', a unit its own, an agent bank those it carries. Another party's payment is not
found (404), never distinguished from absence.

Payment status (支付状态) is a table, :mod:`workflow.machines.payment`: screening creates a
payment ``accepted`` or ``held``; verification releases a held payment or refuses it; a bank
refusal (Art. 28(三)) refuses it. A refused payment no longer counts against its indicator
(for the year and for its month's payment plan) and "三公" totals.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from workflow.db import db, locked, utcnow
from workflow.errors import NotFound
from workflow.machines.payment import LIFECYCLE
from workflow.monitoring.advances import give_back
from workflow.monitoring.models import Payment, SpendingTotal
from workflow.monitoring.totals import month_key
from workflow.parties import Actor
from workflow.scoping import Reach, reach_of_units, units_of
from workflow.settings import local_zone


def reach(actor: Actor) -> Reach:
    """Who sees a payment, as a list reads it (:class:`workflow.scoping.Reach`, issue 15 item 1)."""
    if actor.kind == "bank":
        return Reach(seek=(Payment.bank_id == actor.org_id,))
    return reach_of_units(actor, Payment.unit_id)


def payments_for(actor: Actor, *, visibility: bool = True):
    """A select of the payments ``actor`` may see, with their warnings and unit loaded;
    ``visibility=False`` leaves the caller's reach to be added by a list (:func:`reach`)."""
    stmt = sa.select(Payment).options(selectinload(Payment.warnings), selectinload(Payment.unit),
                                      selectinload(Payment.bank))
    if not visibility:
        return stmt
    if actor.kind == "bank":
        return stmt.where(Payment.bank_id == actor.org_id)
    return stmt.where(units_of(actor, Payment.unit_id))


def get_payment(actor: Actor, payment_id: int, *, for_update: bool = False) -> Payment:
    """The payment, if ``actor`` may see it; raises :class:`NotFound` otherwise."""
    stmt = payments_for(actor).where(Payment.id == payment_id)
    if for_update:
        stmt = locked(stmt, of=Payment)
    payment = db.session.execute(stmt).scalar_one_or_none()
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment


def lock_payment(payment: Payment) -> Payment:
    """Lock the payment's row for this transaction and refresh ``payment`` from it: its
    status is then the one this transaction decides on (two warnings on one payment, or a
    warning and the bank's refusal, decided at once)."""
    # fetched, not only executed: the ORM refreshes ``payment`` as it loads the row
    return db.session.execute(locked(sa.select(Payment).where(Payment.id == payment.id), of=Payment)).scalar_one()


def change_payment_status(payment: Payment, trigger: str, now: dt.datetime | None = None, *,
                          actor: Actor | None = None) -> Payment:
    """Fire ``hold``, ``release`` or ``refuse`` of the payment's lifecycle on the locked row (Conflict
    when its table has no such row from the payment's status). Refusing takes the payment's
    amount back out of the running totals it was counted in, once: a refused payment is no
    longer counted, and an approved 归垫 it drew on gets the amount back."""
    lock_payment(payment)
    row = LIFECYCLE.move(payment, trigger, actor=actor)
    if row.dest == "refused" and payment.counted:
        _uncount(payment, now or utcnow())
        give_back(payment.id)  # what it drew from an approved 归垫 is left for other payments again
        payment.counted = False
    return payment


def _uncount(payment: Payment, now: dt.datetime) -> None:
    keys = []
    if payment.indicator_id is not None:
        keys.append(f"indicator:{payment.indicator_id}")
        keys.append(month_key(payment.indicator_id, payment.paid_at.astimezone(local_zone()).month))
    if payment.sangong_category is not None:
        keys.append(f"sangong:{payment.sangong_category}")
    table = SpendingTotal.__table__
    for key in keys:
        # spent is integer fen in the database; subtracting in SQL keeps it atomic under races
        db.session.execute(sa.update(table).where(
            table.c.unit_id == payment.unit_id, table.c.year == payment.budget_year, table.c.key == key)
            .values(spent=table.c.spent - sa.literal(int(payment.amount * 100), sa.BigInteger), updated_at=now))

"""Approved 归垫 drawn down by screening (Art. 13(三)5, 13(四), 10(三)10).

A payment into a real-fund account that claims exception 5 (报经财政部门审核批准的归垫资金) is
honoured only when finance's register (:class:`~workflow.monitoring.models.ReimbursementApproval`)
has an entry of the unit with the claimed document, on the payment's indicator, with money
left; honouring it draws the entry down by the payment's amount. :meth:`Advances.lock` reads the
entries a batch claims under the batch's lock (``FOR UPDATE`` on PostgreSQL; SQLite's write
lock, taken by screening before), so two racing batches draw one after the other and the
second sees what the first left. A batch that claims none reads nothing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from workflow.db import db, locked
from workflow.monitoring.models import ReimbursementApproval, ReimbursementDraw

CLAIM = "approved_reimbursement"  # the exception of Art. 13(三)5


@dataclass
class Advance:
    """One register entry as the batch reads it; ``remaining`` goes down as rows draw on it."""

    id: int
    indicator_id: int
    remaining: Decimal
    drawn: bool = False


@dataclass
class Advances:
    """The register entries a batch claims, by (unit id, document reference), locked."""

    entries: dict[tuple[int, str], Advance] = field(default_factory=dict)
    draws: list[tuple[Advance, dict]] = field(default_factory=list)

    @classmethod
    def lock(cls, parsed: list[dict]) -> Advances:
        wanted = {(p["unit_id"], p["exception_ref"]) for p in parsed if p.get("exception") == CLAIM}
        if not wanted:
            return cls()
        table = ReimbursementApproval
        rows = db.session.execute(locked(sa.select(
            table.id, table.unit_id, table.document_ref, table.indicator_id, table.remaining).where(
            table.unit_id.in_({unit for unit, _ in wanted}), table.document_ref.in_({ref for _, ref in wanted}))
            .order_by(table.id), of=table))
        return cls({(unit_id, ref): Advance(entry_id, indicator_id, remaining)
                    for entry_id, unit_id, ref, indicator_id, remaining in rows if (unit_id, ref) in wanted})

    def find(self, unit_id: int, document_ref: str) -> Advance | None:
        return self.entries.get((unit_id, document_ref))

    def draw(self, advance: Advance, p: dict) -> None:
        """The payment ``p`` is honoured on ``advance``: its amount is no longer left for others."""
        advance.remaining -= p["amount"]
        advance.drawn = True
        self.draws.append((advance, p))

    def store(self, now: dt.datetime) -> None:
        """Write the draws (the payments are stored, with their ids) and what each entry has left."""
        if not self.draws:
            return
        db.session.execute(sa.insert(ReimbursementDraw.__table__), [
            {"approval_id": advance.id, "payment_id": p["id"], "amount": p["amount"], "returned": False,
             "created_at": now} for advance, p in self.draws])
        table = ReimbursementApproval.__table__
        for advance in self.entries.values():
            if advance.drawn:
                db.session.execute(sa.update(table).where(table.c.id == advance.id).values(remaining=advance.remaining))


def give_back(payment_id: int) -> None:
    """A refused payment's draw goes back to its entry, once (the payment's row is locked by the
    caller, and ``returned`` marks it given back). Added in SQL: atomic under other draws."""
    draw = db.session.execute(locked(sa.select(ReimbursementDraw).where(
        ReimbursementDraw.payment_id == payment_id, ReimbursementDraw.returned.is_(False)),
        of=ReimbursementDraw)).scalar_one_or_none()
    if draw is None:
        return
    draw.returned = True
    table = ReimbursementApproval.__table__
    db.session.execute(sa.update(table).where(table.c.id == draw.approval_id).values(
        remaining=table.c.remaining + sa.literal(int(draw.amount * 100), sa.BigInteger)))

"""Running totals (累计支出) behind the cumulative rules (Art. 10(二), 14-15 and 19).

One :class:`SpendingTotal` row per (unit, budget year, key) holds what the unit's stored
payments have spent on one budget indicator (``indicator:<id>``), on one indicator in one
month (``month:<id>:<MM>``, against the month's payment plan) or on one "三公" category
(``sangong:<category>``). A batch locks the rows it touches before it reads them, so two
racing batches add up in turn; the rules read the totals *before* each payment, and the
batch adds each new payment's amount as it goes and writes the changed totals back at the end.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from workflow.db import CHUNK, chunks, db, dialect_name, insert_ignoring_duplicates
from workflow.monitoring import bulk
from workflow.monitoring.models import SpendingTotal
from workflow.monitoring.rules import ZERO

TotalKey = tuple[int, int, str]  # (unit_id, year, "indicator:<id>", "month:<id>:<MM>" or "sangong:<category>")


def month_key(indicator_id: int, month: int) -> str:
    """The key of an indicator's total in one month (1-12) of its year: what the month's payment
    plan is held against (Art. 10(二)1)."""
    return f"month:{indicator_id}:{month:02d}"


def total_keys(parsed: list[dict]) -> list[TotalKey]:
    """The totals the batch's resolved rows count towards, in one order for every transaction
    (no deadlock between racing batches)."""
    keys = {p["indicator"].total_key for p in parsed if p["indicator"] is not None}
    keys.update(p["month_key"] for p in parsed if p["month_key"] is not None)
    keys.update(p["category_key"] for p in parsed if p["category_key"] is not None)
    return sorted(keys)


class RunningTotals:
    """The batch's running totals, locked until the transaction ends: ``spent`` maps each
    key to what is spent so far (the rules read it as ``batch.totals``); :meth:`add` counts
    a new payment, :meth:`store` writes back the totals that changed."""

    def __init__(self, rows: dict[TotalKey, tuple[int, Decimal]]):
        self._rows = rows  # key -> (row id, spent when read)
        self.spent: dict[TotalKey, Decimal] = {key: spent for key, (_, spent) in rows.items()}

    @classmethod
    def lock(cls, keys: list[TotalKey], now: dt.datetime) -> RunningTotals:
        """Lock and read the totals of ``keys``, creating the missing ones: a racing batch
        waits here until this one commits, and then reads totals that include this batch's
        payments. Rows are locked in id order and created in key order, one order for every
        transaction, so racing batches queue instead of deadlocking."""
        if not keys:
            return cls({})
        found = _select(keys)
        missing = [key for key in keys if key not in found]
        if missing:
            for chunk in chunks(missing, CHUNK):
                insert_ignoring_duplicates(SpendingTotal, [
                    {"unit_id": u, "year": y, "key": k, "spent": ZERO, "updated_at": now} for u, y, k in chunk])
            found.update(_select(missing))
        return cls(found)

    def add(self, p: dict) -> None:
        """Count the new payment ``p`` in its indicator's total, the indicator's in its month,
        and its "三公" category's."""
        spent = self.spent
        amount = p["amount"]
        indicator = p["indicator"]
        if indicator is not None:
            key = indicator.total_key
            spent[key] = spent[key] + amount
            key = p["month_key"]
            spent[key] = spent[key] + amount
        key = p["category_key"]
        if key is not None:
            spent[key] = spent[key] + amount

    def store(self, now: dt.datetime) -> None:
        """Write back the totals this batch changed (their rows are locked since :meth:`lock`)."""
        changed = [(row_id, self.spent[key]) for key, (row_id, before) in self._rows.items()
                   if self.spent[key] != before]
        if not changed:
            return
        if dialect_name() == "postgresql":
            # one statement for the whole batch; spent is integer fen in the database
            db.session.execute(sa.text(
                "UPDATE spending_totals AS t SET spent = v.spent, updated_at = :now "
                "FROM (SELECT unnest(CAST(:ids AS integer[])) AS id, unnest(CAST(:spents AS bigint[])) AS spent) AS v "
                "WHERE t.id = v.id"),
                {"ids": [row_id for row_id, _ in changed], "spents": [int(spent * 100) for _, spent in changed],
                 "now": now})
            return
        bulk.update_rows(SpendingTotal.__table__, ("spent", "updated_at"),
                         [(row_id, spent, now) for row_id, spent in changed])


def _select(keys: list[TotalKey]) -> dict[TotalKey, tuple[int, Decimal]]:
    table = SpendingTotal.__table__
    wanted = set(keys)
    columns = (table.c.id, table.c.unit_id, table.c.year, table.c.key, table.c.spent)
    if dialect_name() == "postgresql":
        # exactly these keys, locked in id order (one order for every transaction)
        given = sa.text("SELECT u, y, k FROM unnest(CAST(:u AS integer[]), CAST(:y AS integer[]), "
                        "CAST(:k AS text[])) AS g(u, y, k)"
                        ).columns(u=sa.Integer, y=sa.Integer, k=sa.String).subquery()
        stmt = (sa.select(*columns).join(given, sa.and_(table.c.unit_id == given.c.u, table.c.year == given.c.y,
                                                          table.c.key == given.c.k))
                .order_by(table.c.id).with_for_update(of=table))
        rows = db.session.execute(stmt, {"u": [k[0] for k in keys], "y": [k[1] for k in keys],
                                         "k": [k[2] for k in keys]})
        return {(u, y, k): (row_id, spent) for row_id, u, y, k, spent in rows}
    # SQLite: the writer lock taken before serialises batches. All totals of the batch's units
    # and years (a few dozen a unit), filtered here: a key list would multiply the index probes.
    found = {}
    years = sorted({k[1] for k in keys})
    for chunk in chunks(sorted({k[0] for k in keys})):
        for row_id, unit_id, year, key, spent in db.session.execute(
                sa.select(*columns).where(table.c.unit_id.in_(chunk), table.c.year.in_(years))):
            if (unit_id, year, key) in wanted:
                found[(unit_id, year, key)] = (row_id, spent)
    return found

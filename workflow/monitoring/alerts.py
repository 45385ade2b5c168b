"""Who is told of a warning (Art. 11(一)-(二), 12): the unit, finance, and for a block its
competent department and the bank carrying the payment.

Screening calls :func:`tell` once per batch (``screen_payments``), finance raising a
warning by hand once per warning (:func:`workflow.verification.raise_warning`). Warnings of
level ``block`` and ``warn`` are told; ``remind`` (提示) is left to the lists. Each unit gets
ONE message per batch listing its payments, their levels, rules and articles
(:func:`workflow.message_builders.warning_raised`), and so does finance in charge of it; for
block-level items the unit's competent department too, and each bank the held payments it
carries. The recipients of every unit of the batch are read in one query (one per chunk of
units on SQLite), and the messages queued by one :func:`workflow.outbox.notify_all`, in the
caller's transaction.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import NamedTuple

import sqlalchemy as sa

from workflow import message_builders
from workflow.db import among, chunks, db
from workflow.monitoring.models import WARNING_LEVEL_LABELS
from workflow.monitoring.rules import RULE_TITLES
from workflow.outbox import notify_all
from workflow.parties import Organisation

TOLD_LEVELS = ("block", "warn")


class Alert(NamedTuple):
    """One warning as its message lists it."""

    warning_id: int
    unit_id: int
    level: str
    rule: str
    article: str  # Chinese, as stored on the warning
    message: str
    voucher_number: str | None = None
    payee_name: str | None = None
    amount: Decimal | None = None
    bank_id: int | None = None  # the agent bank carrying the payment


class _Org(NamedTuple):
    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None
    finance_path: str


def tell(alerts: Iterable[Alert], *, batch: str, now: dt.datetime, manual: bool = False) -> None:
    """Queue the messages of ``alerts`` (one batch, named by ``batch`` in the outbox keys:
    the same batch told twice adds nothing). No commit here."""
    by_unit: dict[int, list[Alert]] = {}
    for alert in alerts:
        if alert.level in TOLD_LEVELS:
            by_unit.setdefault(alert.unit_id, []).append(alert)
    if not by_unit:
        return
    bank_ids = sorted({a.bank_id for told in by_unit.values() for a in told
                       if a.level == "block" and a.bank_id is not None})
    orgs = _recipients(sorted(by_unit), bank_ids)
    finance_of = {org.finance_path: org for org in orgs.values() if org.kind == "finance"}
    messages = []
    for unit_id, told in by_unit.items():
        unit = orgs[unit_id]
        parent = orgs.get(unit.parent_id) if unit.parent_id is not None else None
        banks = [orgs[b] for b in sorted({a.bank_id for a in told if a.level == "block" and a.bank_id in orgs})]
        items = [{**a._asdict(), "level_label": WARNING_LEVEL_LABELS[a.level],
                  "rule_title": RULE_TITLES.get(a.rule, a.rule)} for a in told]
        messages.extend(message_builders.warning_raised(
            unit, items, batch=batch, finance=finance_of.get(unit.finance_path),
            competent=parent if parent is not None and parent.kind == "competent" else None,
            banks=banks, manual=manual))
    notify_all(messages, now=now)


def tell_screened(warnings: Sequence, payments: Callable[[], Iterable[dict]], now: dt.datetime) -> None:
    """:func:`tell` of what one screening batch raised: ``warnings`` as screening wrote them
    (``WarningRow``), ``payments`` gives the batch's new payments (screened rows with their
    ``id``), read only when something is to be told. The batch is named by its first warning's
    id, unique to it."""
    flagged = [w for w in warnings if w.level in TOLD_LEVELS]
    if not flagged:
        return
    wanted = {w.payment_id for w in flagged}
    rows = {p["id"]: p for p in payments() if p["id"] in wanted}
    tell((Alert(w.id, w.unit_id, w.level, w.rule, w.article, w.message, rows[w.payment_id]["voucher_no"],
                rows[w.payment_id]["payee_name"], rows[w.payment_id]["amount"], rows[w.payment_id]["bank_id"])
          for w in flagged), batch=f"screening:{warnings[0].id}", now=now)


def _recipients(unit_ids: list[int], bank_ids: list[int]) -> dict[int, _Org]:
    """The units, their parents, the finance departments in charge of them (the one whose
    path the unit inherits, as ``workflow.complaints.finance_in_charge``) and the banks."""
    found: dict[int, _Org] = {}
    columns = (Organisation.id, Organisation.code, Organisation.name, Organisation.kind,
               Organisation.parent_id, Organisation.finance_path)
    for number, chunk in enumerate(chunks(unit_ids)):
        named = chunk + (bank_ids if number == 0 else [])
        units = (sa.select(Organisation.parent_id, Organisation.finance_path)
                 .where(among(Organisation.id, chunk)).subquery())
        stmt = sa.select(*columns).where(
            among(Organisation.id, named)
            | Organisation.id.in_(sa.select(units.c.parent_id))
            | ((Organisation.kind == "finance") & Organisation.finance_path.in_(sa.select(units.c.finance_path))))
        found.update((row.id, _Org(*row)) for row in db.session.execute(stmt))
    return found

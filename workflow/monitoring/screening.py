"""Payment intake and screening (日常监控, Art. 9, 11(一), 12-19).

:func:`screen_payments` takes rows as they arrive (JSON objects or CSV rows of strings)
and, inside the caller's transaction:

1. validates every row first (:mod:`~workflow.monitoring.intake`) — a bad row is a 422
   naming ``row N.field`` and nothing is written (the caller's transaction is rolled back
   by the error handler);
2. checks that the caller may post each row: finance for units in its jurisdiction, a bank
   for payments from accounts it serves (Art. 28);
3. loads once for the batch what the rules need (accounts, indicators, registrations, the
   active rule set, suspended units) — no query per row (2 and 3:
   :mod:`~workflow.monitoring.resolution`);
4. locks the running totals the batch touches (``SELECT ... FOR UPDATE`` on PostgreSQL,
   the single writer lock on SQLite), so two racing requests add up in turn
   (:mod:`~workflow.monitoring.totals`);
5. answers vouchers already stored with their existing record (never stored twice, no
   warning raised twice) when the row is the same payment; a voucher number posted again
   with different content (amount, payee, account, codes, time...) is a changed instruction
   hidden under an old number, and is refused: 409 naming ``row N.field`` for each field
   that differs from the stored payment, 422 when two rows of the same request differ, and
   nothing of the request is written. The bulk import instead leaves such rows out and
   reports them (``refused``), storing the rest. The stored payments are read in one
   batched lookup (one query per chunk of voucher numbers, none per row;
   :mod:`~workflow.monitoring.vouchers`);
6. screens the new payments in payment-time order (``paid_at``, then posted order) and
   writes payments, warnings and totals in bulk;
7. tells each unit of what was held or warned on, once per batch, with finance, and for a
   block its competent department and the carrying bank (:mod:`~workflow.monitoring.alerts`).

Block-level warnings make the payment ``held``; others leave it ``accepted``.
"""
from __future__ import annotations

import datetime as dt
import gc
import operator
from dataclasses import dataclass, field
from typing import NamedTuple

import sqlalchemy as sa

from workflow.case_records import Case, suspension_in_force
from workflow.db import among, chunks, db, take_write_lock, utcnow
from workflow.errors import Forbidden
from workflow.monitoring import alerts, bulk
from workflow.monitoring.advances import Advances
from workflow.monitoring.intake import MAX_ROWS, validate_rows
from workflow.monitoring.models import MonitoringWarning, Payment
from workflow.monitoring.resolution import resolve
from workflow.monitoring.rules import BoundRules, Rule
from workflow.monitoring.rulesets import effective_sets
from workflow.monitoring.totals import RunningTotals, total_keys
from workflow.monitoring.vouchers import (
    StoredPayment,
    Voucher,
    new_rows,
    serialise_units,
    stored_payments,
    voucher_clashes,
)
from workflow.parties import Actor


@dataclass
class ScreeningResult:
    items: list[dict]  # one per posted row, in posted order (empty when not asked for)
    created: int = 0
    duplicates: int = 0
    warnings: int = 0
    held: int = 0
    # rows left out because their voucher number is taken by different content (only with
    # ``changed="skip"``): (row number from 1, voucher_no, {field: reason})
    refused: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)


# A new payment's columns, as written to ``payments``. The screened row (a dict by field name)
# carries most of them under the column's own name; screening adds the rest (see
# :func:`_complete`) and :data:`payment_values` reads them in this order for the bulk insert.
PAYMENT_COLUMNS = ("id", "voucher_no", "unit_id", "payer_account_id", "payer_account", "amount", "paid_at",
                   "budget_year", "settlement", "method", "functional_code", "economic_code", "summary",
                   "payee_name", "payee_account", "payee_kind", "payee_id_number", "project", "approval_ref",
                   "exception", "exception_ref", "indicator_id", "bank_id", "sangong_category", "counted",
                   "status", "posted_by_id", "created_at")
payment_values = operator.itemgetter(*PAYMENT_COLUMNS)


class WarningRow(NamedTuple):
    """A warning raised by screening as written to ``warnings``, column by column."""

    id: int
    payment_id: int
    unit_id: int
    rule: str
    level: str
    article: str
    message: str
    rule_set_version: int
    rule_set_department_id: int | None
    status: str
    version: int
    created_at: dt.datetime


class Fired(NamedTuple):
    """A rule that fired on a new payment, before its warning has an id."""

    payment_id: int
    unit_id: int
    rule: Rule
    message: str
    bound: BoundRules


WARNING_COLUMNS = WarningRow._fields


def screen_payments(actor: Actor, rows: list, now: dt.datetime | None = None, *,
                    answer: bool = True, max_rows: int | None = MAX_ROWS,
                    changed: str = "refuse") -> ScreeningResult:
    """Validate, screen and store ``rows`` in the caller's transaction (no commit here).

    Raises :class:`Forbidden` for a party that may not post payments, :class:`Invalid`
    (422) naming ``row N.field`` for a bad row, a row the caller may not post, or a row that
    repeats an earlier row's voucher number with different content, and :class:`Conflict`
    (409) for a voucher number of the unit stored with different content (naming each field
    that differs) or, for a bank, carried by another bank. Voucher numbers are per unit.
    ``answer=False`` skips building the per-row answer (bulk import).
    ``changed="skip"`` (bulk import, with ``answer=False``): such voucher clashes do not
    stop the batch; those rows are left out and listed in ``result.refused``, the first
    row of a voucher number (or the stored payment) being the one that stands.
    """
    if changed not in ("refuse", "skip") or (changed == "skip" and answer):
        raise ValueError("changed is 'refuse', or 'skip' without an answer")
    # A batch allocates a few objects per row and frees none of them until it is done; the
    # cyclic collector would walk them again and again for nothing. Pause it for the batch.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _screen(actor, rows, now, answer=answer, max_rows=max_rows, skip_changed=changed == "skip")
    finally:
        if collecting:
            gc.enable()


def _screen(actor: Actor, rows: list, now: dt.datetime | None, *, answer: bool,
            max_rows: int | None, skip_changed: bool) -> ScreeningResult:
    if not actor.is_system and actor.kind not in ("finance", "bank"):
        raise Forbidden(f"a {actor.kind} party may not post payments")
    now = now or utcnow()
    parsed = validate_rows(rows, now=now, max_rows=max_rows)
    batch = resolve(actor, parsed, lambda paths: bound_rules(paths, now))
    batch.suspended = suspended_units(batch.unit_ids)

    keys = total_keys(parsed)
    take_write_lock()  # SQLite: screenings queue here instead of failing later with a stale snapshot
    serialise_units(batch.unit_ids)
    totals = RunningTotals.lock(keys, now)
    batch.totals = totals.spent
    batch.advances = Advances.lock(parsed)  # under the same lock: racing batches draw in turn
    stored = stored_payments(parsed)
    refused = voucher_clashes(actor, parsed, stored, refuse=not skip_changed)
    to_store, first_of = new_rows(parsed, stored)

    payment_ids = bulk.allocate_ids(Payment.__table__, len(to_store))
    payments: list[tuple] = []  # payment_values of each new payment
    fired: list[Fired] = []
    held = 0
    bound_of = batch.bound_of
    user_id = actor.user_id
    for payment_id, index in zip(payment_ids, to_store):
        p = parsed[index]
        status = "accepted"
        bound = bound_of[p["unit_id"]]
        for rule in bound.rules:
            message = rule.check(p, batch)
            if message is not None:
                fired.append(Fired(payment_id, p["unit_id"], rule, message, bound))
                if rule.level == "block":
                    status = "held"
        if status == "held":
            held += 1
        totals.add(p)  # after the rules: they read the totals before this payment
        _complete(p, payment_id, status, user_id, now)
        payments.append(payment_values(p))

    warning_ids = bulk.allocate_ids(MonitoringWarning.__table__, len(fired))
    warnings = [WarningRow(id=warning_id, payment_id=f.payment_id, unit_id=f.unit_id, rule=f.rule.name,
                           level=f.rule.level, article=f.rule.article, message=f.message,
                           rule_set_version=f.bound.version, rule_set_department_id=f.bound.department_id,
                           status="open", version=1, created_at=now)
                for warning_id, f in zip(warning_ids, fired)]
    bulk.insert_rows(Payment.__table__, PAYMENT_COLUMNS, payments)
    bulk.insert_rows(MonitoringWarning.__table__, WARNING_COLUMNS, warnings)
    totals.store(now)
    batch.advances.store(now)
    alerts.tell_screened(warnings, lambda: (parsed[index] for index in to_store), now)

    result = ScreeningResult(items=[], created=len(payments), warnings=len(warnings),
                             duplicates=len(parsed) - len(payments) - len(refused), held=held,
                             refused=[(index + 1, parsed[index]["voucher_no"], reasons)
                                      for index, reasons in sorted(refused.items())])
    if answer:
        result.items = _answer(parsed, stored, first_of, warnings)
    return result


def bound_rules(paths: set[str], at: dt.datetime) -> dict[str, BoundRules]:
    """The rules in force at ``at`` (the time of receipt) for each finance path of a batch: the
    sets composed once per department (Art. 5-7), each built once, however many payments."""
    built: dict[tuple, BoundRules] = {}
    result = {}
    for path, effective in effective_sets(paths, at).items():
        key = tuple((department.id, row.version) for department, row in effective.chain)
        if key not in built:  # a county without a set of its own screens with its city's rules
            built[key] = BoundRules.build(effective.version, effective.parameters, effective.set_department.id)
        result[path] = built[key]
    return result


def _complete(p: dict, payment_id: int, status: str, user_id: int | None, now: dt.datetime) -> None:
    """Give the screened row ``p`` the payment columns it does not carry under their own name."""
    account = p["account"]
    indicator = p["indicator"]
    p["id"] = payment_id
    p["payer_account_id"] = account.id if account else None
    p["budget_year"] = p["year"]
    p["indicator_id"] = indicator.id if indicator else None
    p["sangong_category"] = p["category"]
    p["counted"] = True
    p["status"] = status
    p["posted_by_id"] = user_id
    p["created_at"] = now


def suspended_units(unit_ids) -> set[int]:
    """The units among ``unit_ids`` whose disbursement is suspended (Art. 21(四)), in one
    query: the case record's own predicate (``workflow.case_records.suspension_in_force``)
    applied to the whole batch rather than one unit per call."""
    found: set[int] = set()
    for chunk in chunks(unit_ids):
        found.update(db.session.execute(sa.select(Case.subject_id).where(
            among(Case.subject_id, chunk), suspension_in_force()).distinct()).scalars())
    return found


def _answer(parsed: list[dict], stored: dict[Voucher, StoredPayment], first_of: dict[Voucher, int],
            warnings: list[WarningRow]) -> list[dict]:
    """One item per posted row: its payment (new, or the stored one) and that payment's warnings."""
    warnings_of: dict[int, list[dict]] = {}
    for w in warnings:
        warnings_of.setdefault(w.payment_id, []).append(
            {"id": w.id, "rule": w.rule, "level": w.level, "article": w.article, "message": w.message})
    stored_ids = [payment.id for payment in stored.values()]
    for chunk in chunks(stored_ids):
        for row in db.session.execute(sa.select(
                MonitoringWarning.payment_id, MonitoringWarning.id, MonitoringWarning.rule, MonitoringWarning.level, MonitoringWarning.article, MonitoringWarning.message
        ).where(among(MonitoringWarning.payment_id, chunk)).order_by(MonitoringWarning.id)):
            warnings_of.setdefault(row.payment_id, []).append(
                {"id": row.id, "rule": row.rule, "level": row.level, "article": row.article, "message": row.message})
    items = []
    for p in parsed:
        voucher = (p["unit_id"], p["voucher_no"])
        payment = stored.get(voucher)
        if payment is not None:
            payment_id, status = payment.id, payment.status
        else:  # the new payment stored from the voucher's first row
            first = parsed[first_of[voucher]]
            payment_id, status = first["id"], first["status"]
        items.append({"id": payment_id, "voucher_no": p["voucher_no"], "status": status,
                      "warnings": warnings_of.get(payment_id, [])})
    return items

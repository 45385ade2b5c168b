"""Budget execution (预算执行): indicators that change, show their progress, and finance's own
issuance watched (Art. 9, 10(一), 10(三)14, 14).

- **Adjustments** (:func:`adjust`): finance adjusts an indicator up or down (预算调整), moves an
  amount from one indicator to another (调剂, both in its jurisdiction, in one transaction),
  freezes and unfreezes it, and marks an amount for recovery (收回). The kinds are one table,
  :data:`ADJUSTMENT_KINDS` (fields, article, journal action, what each does): the API's bodies
  are generated from it. Each change is a row of the ledger
  (:class:`workflow.budget.IndicatorAdjustment`) and an entry in the indicator's journal
  stream. A change that would leave less available (amount less recovered) than the
  payments already counted against it (spent and held) is refused, 409 naming the figures.
- **Concurrency**: an adjustment locks the indicators' units as screening does
  (:func:`workflow.monitoring.vouchers.serialise_units`; SQLite's single writer), then the
  indicators' rows. Screening reads the indicators only once it holds its units' lock
  (:func:`workflow.monitoring.resolution.resolve_indicators`), so a payment is screened either
  wholly before an adjustment (which then counts it) or wholly after (against the new figures).
- **Execution** (支出进度, Art. 9): :func:`execution_select` gives each indicator's spent,
  held, remaining and rate from the running totals screening keeps
  (:class:`workflow.monitoring.models.SpendingTotal`), in SQL, so that lists filter and sort by rate.
- **Issuance** (Art. 10(一)): :func:`load_indicators` loads an upload and raises warnings on the
  issuing finance department itself for indicators issued later after the budget's approval
  than the configured period, and for project funds not detailed to a project.
"""
from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from workflow import journal, message_builders
from workflow.articles import Cited, art, cite
from workflow.budget import Indicator, IndicatorAdjustment, import_indicators, indicators_for
from workflow.db import MONEY_MAX, db, locked, take_write_lock, utcnow
from workflow.errors import Conflict, Invalid, NotFound
from workflow.monitoring.models import ISSUANCE_RULE_TITLES, MonitoringWarning, Payment, SpendingTotal
from workflow.monitoring.vouchers import serialise_units
from workflow.outbox import notify_all
from workflow.parties import Actor, Organisation, require
from workflow.schemas import Money, Text, errors_of, positive, schema_for
from workflow.scoping import units_of
from workflow.settings import current

ZERO = Decimal("0.00")


# --- the adjustment kinds: one table ---------------------------------------------------------------

def _nonzero(value):
    if value == 0:
        raise ma.ValidationError("must not be zero: give the amount the indicator goes up (positive) "
                                 "or down (negative)")


def _reason():
    return Text(max_length=500, required=True, metadata={"description": "why (调整理由)"})


def _document_ref():
    return Text(max_length=200, required=True, metadata={"description": "the document it rests on (文号)"})


@dataclass(frozen=True)
class AdjustmentKind:
    """One row: the kind, its Chinese name and article, its own fields (besides ``reason`` and
    ``document_ref``, which every kind takes), the journal action, and what it does
    (``apply(change, indicator, target, values)``, on locked rows)."""

    name: str
    title: str
    article: Cited
    own_fields: Callable[[], dict[str, ma.fields.Field]]
    action: str
    apply: Callable

    @cached_property
    def schema(self) -> type[ma.Schema]:
        fields = {"kind": ma.fields.String(required=True, validate=ma.validate.OneOf((self.name,))),
                  **self.own_fields(), "reason": _reason(), "document_ref": _document_ref()}
        return schema_for(fields, name=f"IndicatorAdjustment.{self.name}",
                          description=f"{self.title} ({self.article.chinese})",
                          unknown_message=f"not a field of a {self.name} adjustment")


@dataclass
class Change:
    """What one adjustment does, worked out on the locked rows before anything is written."""

    kind: AdjustmentKind
    indicator: Indicator
    target: Indicator | None = None
    amount: Decimal | None = None  # the signed change of the indicator's amount (or of recovered)


def _apply_adjust(change: Change, values: dict) -> None:
    delta = values["amount"]
    new_amount = change.indicator.amount + delta
    if new_amount < 0:
        raise Invalid("an indicator cannot go below zero",
                      {"amount": [f"the indicator is {change.indicator.amount}; it cannot go down by {-delta}"]})
    if new_amount > MONEY_MAX:
        raise Invalid("the indicator would be too large", {"amount": [f"the indicator would exceed {MONEY_MAX}"]})
    _keep_committed(change.indicator, new_amount, change.indicator.recovered, "amount")
    change.indicator.amount = new_amount
    change.amount = delta


def _apply_transfer(change: Change, values: dict) -> None:
    moved, source, target = values["amount"], change.indicator, change.target
    if moved > source.amount:
        raise Invalid("more than the indicator holds", {"amount": [f"the indicator is {source.amount}"]})
    if target.amount + moved > MONEY_MAX:
        raise Invalid("the receiving indicator would be too large", {"amount": [f"it would exceed {MONEY_MAX}"]})
    _keep_committed(source, source.amount - moved, source.recovered, "amount")
    source.amount -= moved
    target.amount += moved
    change.amount = -moved


def _apply_freeze(change: Change, values: dict) -> None:
    if change.indicator.frozen:
        raise Conflict(f"indicator {change.indicator.id} is frozen already", {"kind": ["frozen already"]})
    change.indicator.frozen = True


def _apply_unfreeze(change: Change, values: dict) -> None:
    if not change.indicator.frozen:
        raise Conflict(f"indicator {change.indicator.id} is not frozen", {"kind": ["not frozen"]})
    change.indicator.frozen = False


def _apply_recover(change: Change, values: dict) -> None:
    indicator, amount = change.indicator, values["amount"]
    recovered = indicator.recovered + amount
    if recovered > indicator.amount:
        raise Invalid("more than the indicator holds",
                      {"amount": [f"the indicator is {indicator.amount}, "
                                  f"{indicator.recovered} of it recovered already"]})
    _keep_committed(indicator, indicator.amount, recovered, "amount")
    indicator.recovered = recovered
    change.amount = amount


ADJUSTMENT_KINDS: dict[str, AdjustmentKind] = {kind.name: kind for kind in (
    AdjustmentKind("adjust", "预算调整", art(14),
                   lambda: {"amount": Money(required=True, validate=_nonzero, metadata={
                       "description": "yuan the indicator goes up by; negative: down by"})},
                   "adjusted", _apply_adjust),
    AdjustmentKind("transfer", "预算调剂", art(14),
                   lambda: {"amount": Money(required=True, validate=positive, metadata={
                                "description": "yuan moved from this indicator to the other"}),
                            "to_indicator_id": ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(
                                min=1, max=2**31 - 1), metadata={"description": "the indicator that receives it"})},
                   "transferred", _apply_transfer),
    AdjustmentKind("freeze", "冻结指标", art(10, 3, 14), dict, "frozen", _apply_freeze),
    AdjustmentKind("unfreeze", "解除冻结", art(10, 3, 14), dict, "unfrozen", _apply_unfreeze),
    AdjustmentKind("recover", "收回资金", art(10, 3, 14),
                   lambda: {"amount": Money(required=True, validate=positive, metadata={
                       "description": "yuan marked for recovery (应收回): no longer available to spend"})},
                   "recovered", _apply_recover),
)}


# --- what is committed against an indicator ------------------------------------------------------------

def committed(indicator: Indicator) -> tuple[Decimal, Decimal]:
    """``(spent, held)``: what accepted payments and held ones count against the indicator
    (the running total screening keeps holds both; the held part is summed apart)."""
    total = db.session.execute(sa.select(SpendingTotal.spent).where(
        SpendingTotal.unit_id == indicator.unit_id, SpendingTotal.year == indicator.year,
        SpendingTotal.key == f"indicator:{indicator.id}")).scalar_one_or_none() or ZERO
    held_fen = db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(_fen(Payment.amount)), 0)).where(
        Payment.indicator_id == indicator.id, Payment.status == "held")).scalar_one()
    held = Decimal(int(held_fen)).scaleb(-2)
    return total - held, held


def _keep_committed(indicator: Indicator, amount: Decimal, recovered: Decimal, field: str) -> None:
    """Refuse (409, naming the figures) a change that leaves less available than is counted. A
    change that does not lower what is available passes, even on an indicator overspent already
    (an over-budget payment is counted too): raising its budget only narrows the gap."""
    available = amount - recovered
    if available >= indicator.available:
        return
    spent, held = committed(indicator)
    if available < spent + held:
        raise Conflict(
            f"indicator {indicator.id} would have {available} available, below the {spent + held} "
            f"already counted against it (spent {spent}, held {held}); nothing was changed",
            {field: [f"available after the change {available} < spent {spent} + held {held}"]})


# --- adjusting ---------------------------------------------------------------------------------------

def _lock_indicators(actor: Actor, ids: list[int]) -> dict[int, Indicator]:
    """The indicators of ``ids`` in the caller's reach, locked as screening locks: their units
    first (the same lock, in id order), then the rows themselves."""
    take_write_lock()
    unit_ids = set(db.session.execute(sa.select(Indicator.unit_id).where(
        Indicator.id.in_(ids), units_of(actor, Indicator.unit_id))).scalars())
    serialise_units(unit_ids)
    # FOR NO KEY UPDATE: the key is not changed, so rows referencing the indicator (a payment)
    # may still be inserted meanwhile
    rows = db.session.execute(locked(indicators_for(actor).where(Indicator.id.in_(ids)).order_by(Indicator.id),
                                     of=Indicator, key_share=True)).scalars()
    return {row.id: row for row in rows}


def adjust(actor: Actor, indicator_id: int, data: dict, now: dt.datetime | None = None) -> list[IndicatorAdjustment]:
    """Apply one adjustment of the kind ``data["kind"]`` (finance, in its jurisdiction) and
    answer its ledger rows (two for a transfer: this indicator's first). No commit here.

    Raises Forbidden (not finance), NotFound (an indicator out of reach), Invalid (unknown
    kind, bad or foreign fields, a transfer to itself, out of reach or to another year), Conflict
    (the change would leave less available than spent and held; freezing a frozen indicator)."""
    require(actor, "finance", action="adjust budget indicators")
    now = now or utcnow()
    spec = ADJUSTMENT_KINDS.get(data.get("kind")) if isinstance(data, dict) else None
    if spec is None:
        raise Invalid("unknown adjustment kind", {"kind": [f"one of {', '.join(ADJUSTMENT_KINDS)}"]})
    try:
        values = spec.schema().load(data)
    except ma.ValidationError as exc:
        raise Invalid(f"the fields of a {spec.name} adjustment are not valid", errors_of(exc)) from None
    target_id = values.get("to_indicator_id")
    if target_id == indicator_id:
        raise Invalid("a transfer moves money to another indicator", {"to_indicator_id": ["the same indicator"]})
    found = _lock_indicators(actor, [indicator_id] + ([target_id] if target_id else []))
    indicator = found.get(indicator_id)
    if indicator is None:
        raise NotFound(f"no indicator {indicator_id}")
    change = Change(spec, indicator)
    if target_id is not None:
        change.target = found.get(target_id)
        if change.target is None:
            raise Invalid("no such indicator in your jurisdiction",
                          {"to_indicator_id": [f"no indicator {target_id} in your jurisdiction"]})
        if change.target.year != indicator.year:
            raise Invalid("a transfer stays within one budget year",
                          {"to_indicator_id": [f"an indicator of {change.target.year}, not {indicator.year}"]})
    spec.apply(change, values)
    rows = [_ledger(actor, spec, indicator, change.amount, change.target, values, now)]
    if change.target is not None:
        rows.append(_ledger(actor, spec, change.target, -change.amount, indicator, values, now))
    db.session.flush()
    for row in rows:
        journal.record(actor, journal.stream_of("indicator", row.indicator_id), spec.action, {
            "adjustment_id": row.id, "kind": spec.name, "article": spec.article.chinese, "change": row.change,
            "counterpart_id": row.counterpart_id, "reason": row.reason, "document_ref": row.document_ref,
            "amount_after": row.amount_after, "recovered_after": row.recovered_after,
            "frozen_after": row.frozen_after}, now)
    return rows


def _ledger(actor: Actor, spec: AdjustmentKind, indicator: Indicator, change: Decimal | None,
            counterpart: Indicator | None, values: dict, now: dt.datetime) -> IndicatorAdjustment:
    row = IndicatorAdjustment(indicator_id=indicator.id, kind=spec.name, change=change,
                              counterpart_id=counterpart.id if counterpart is not None else None,
                              reason=values["reason"], document_ref=values["document_ref"],
                              amount_after=indicator.amount, recovered_after=indicator.recovered,
                              frozen_after=indicator.frozen, org_id=actor.org_id, created_by_id=actor.user_id,
                              created_at=now)
    db.session.add(row)
    return row


def get_indicator(actor: Actor, indicator_id: int) -> Indicator:
    indicator = db.session.execute(indicators_for(actor).where(Indicator.id == indicator_id)).scalar_one_or_none()
    if indicator is None:
        raise NotFound(f"no indicator {indicator_id}")
    return indicator


def adjustments_of(actor: Actor, indicator_id: int) -> sa.Select:
    """The indicator's ledger, for whoever sees the indicator (NotFound otherwise)."""
    indicator = get_indicator(actor, indicator_id)
    return sa.select(IndicatorAdjustment).where(IndicatorAdjustment.indicator_id == indicator.id)


# --- execution (支出进度) -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Execution:
    """An indicator's progress: ``spent`` (accepted payments), ``held`` (held payments, which
    may yet be paid), ``available`` (amount less recovered), ``remaining`` (available less
    spent and held) and ``rate``: spent over available, a percentage to two places (None when
    nothing is available)."""

    available: Decimal
    spent: Decimal
    held: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.available - self.spent - self.held

    @property
    def rate(self) -> Decimal | None:
        if self.available <= 0:
            return None
        return (self.spent * 100 / self.available).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _fen(expr):
    """A money expression as the integer fen the database holds (arithmetic in SQL stays exact)."""
    return sa.type_coerce(expr, sa.BigInteger)


def _figures():
    """Correlated expressions of an indicator's running total, held sum and available, in fen."""
    key = sa.literal("indicator:", sa.String).concat(sa.cast(Indicator.id, sa.String))
    total = sa.func.coalesce(sa.select(_fen(SpendingTotal.spent)).where(
        SpendingTotal.unit_id == Indicator.unit_id, SpendingTotal.year == Indicator.year,
        SpendingTotal.key == key).scalar_subquery(), 0)
    # CAST: PostgreSQL's sum of BIGINT is NUMERIC, and the rate's division must stay integer
    held = sa.func.coalesce(sa.select(sa.cast(sa.func.sum(_fen(Payment.amount)), sa.BigInteger)).where(
        Payment.status == "held", Payment.indicator_id == Indicator.id).scalar_subquery(), 0)
    available = _fen(Indicator.amount) - _fen(Indicator.recovered)
    return total, held, available


# The rate as the lists sort by it: basis points (hundredths of a percent), truncated; -1 where
# nothing is available, so that such indicators sort first ascending and last descending.
def rate_key():
    total, held, available = _figures()
    # ``//``: integer division in SQL on both databases (``/`` would be true division, a float)
    return sa.case((available > 0, (total - held) * 10000 // available), else_=-1)


def execution_select(actor: Actor, filters: dict) -> sa.Select:
    """Indicators in the caller's reach with their figures: rows of ``(Indicator, total fen,
    held fen)``. ``filters``: ``unit_code``, ``year``, ``functional_code``, ``economic_code``,
    ``expenditure_kind``, ``frozen``, ``rate_below``/``rate_above`` (percentages, compared
    exactly: spent × 100 against rate × available)."""
    total, held, available = _figures()
    stmt = (indicators_for(actor).options(selectinload(Indicator.unit))
            .add_columns(total.label("total_fen"), held.label("held_fen")))
    if filters.get("unit_code"):
        stmt = stmt.where(Indicator.unit_id.in_(sa.select(Organisation.id).where(
            Organisation.code == filters["unit_code"])))
    for name in ("year", "functional_code", "economic_code", "expenditure_kind", "frozen"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Indicator, name) == filters[name])
    for name, compare in (("rate_below", operator.lt), ("rate_above", operator.gt)):
        if filters.get(name) is not None:
            basis_points = int(filters[name] * 100)
            stmt = stmt.where(available > 0, compare((total - held) * 10000, available * basis_points))
    return stmt


def with_execution(rows) -> list[Indicator]:
    """The indicators of ``execution_select`` rows, each given its :class:`Execution`."""
    items = []
    for indicator, total_fen, held_fen, *_ in rows:
        total, held = Decimal(int(total_fen)).scaleb(-2), Decimal(int(held_fen)).scaleb(-2)
        indicator.execution = Execution(indicator.available, total - held, held)
        items.append(indicator)
    return items


def execution_of(indicator: Indicator) -> Execution:
    spent, held = committed(indicator)
    return Execution(indicator.available, spent, held)


# --- issuance (预算指标下达, Art. 10(一)) -------------------------------------------------------------

# Each finding's article (its Chinese name: ``ISSUANCE_RULE_TITLES``).
ISSUANCE_ARTICLES = {"late_issuance": art(10, 1, 1), "project_not_detailed": art(10, 1, 2)}


def issuance_days(fund_source: str) -> int:
    """Calendar days finance has after approval to issue an indicator of ``fund_source``:
    transfers from above (``higher_special``) ``FUNDWATCH_TRANSFER_ISSUANCE_DAYS``, the rest
    ``FUNDWATCH_ISSUANCE_DAYS`` (the Budget Law's periods, Art. 52; README)."""
    settings = current()
    return settings.transfer_issuance_days if fund_source == "higher_special" else settings.issuance_days


def load_indicators(actor: Actor, rows: list[dict], now: dt.datetime | None = None) -> list[Indicator]:
    """Load an upload (:func:`workflow.budget.import_indicators`) and check finance's own
    issuance in the same transaction: each issuing department gets one warning per finding
    (late issuance; project funds not detailed to a project) listing the indicators concerned,
    verified like any warning by the department above, and is told with that department."""
    now = now or utcnow()
    created = import_indicators(actor, rows)
    for indicator in created:
        indicator.execution = Execution(indicator.available, ZERO, ZERO)
    _check_issuance(actor, created, now)
    return created


def _issuer_of(actor: Actor, unit: Organisation) -> Organisation | None:
    """The department that issued: the uploading finance department, or (the system loading)
    the one in charge of the unit."""
    if actor.kind == "finance":
        return db.session.get(Organisation, actor.org_id)
    return db.session.execute(sa.select(Organisation).where(
        Organisation.kind == "finance", Organisation.finance_path == unit.finance_path)).scalar_one_or_none()


def _findings(indicators: list[Indicator]) -> dict[str, list[str]]:
    late, undetailed = [], []
    for i in indicators:
        where = f"指标{i.id}（{i.unit.name}，功能分类{i.functional_code}、经济分类{i.economic_code}，{i.amount}元）"
        if i.approved_on is not None and i.issued_on is not None:
            days, limit = (i.issued_on - i.approved_on).days, issuance_days(i.fund_source)
            if days > limit:
                late.append(f"{where}预算于{i.approved_on.isoformat()}批准，{i.issued_on.isoformat()}下达，"
                            f"历时{days}日，超过{limit}日")
        if i.expenditure_kind == "project" and not i.project:
            undetailed.append(f"{where}为项目支出，未细化到具体项目")
    return {rule: found for rule, found in (("late_issuance", late), ("project_not_detailed", undetailed)) if found}


def _check_issuance(actor: Actor, created: list[Indicator], now: dt.datetime) -> list[MonitoringWarning]:
    by_issuer: dict[int, tuple[Organisation, list[Indicator]]] = {}
    for indicator in created:
        issuer = _issuer_of(actor, indicator.unit)
        if issuer is not None:
            by_issuer.setdefault(issuer.id, (issuer, []))[1].append(indicator)
    raised, messages = [], []
    for issuer, indicators in by_issuer.values():
        found = _findings(indicators)
        warnings = []
        for rule, lines in found.items():
            article = ISSUANCE_ARTICLES[rule]
            shown = "；".join(lines[:5]) + (f"；等共{len(lines)}项" if len(lines) > 5 else "")
            warning = MonitoringWarning(payment_id=None, unit_id=issuer.id, rule=rule, level="warn",
                                        article=article.chinese, message=f"{issuer.name}下达预算指标：{shown}"[:500],
                                        rule_set_version=None, status="open", version=1, created_at=now)
            db.session.add(warning)
            db.session.flush()
            journal.record(actor, journal.stream_of("warning", warning.id), "opened", {
                "rule": rule, "level": "warn", "article": warning.article, "message": warning.message,
                "unit_code": issuer.code, "payment_id": None,
                "indicator_ids": [i.id for i in indicators], "basis": cite(art(10, 1)).chinese}, now)
            warnings.append(warning)
        if warnings:
            above = db.session.get(Organisation, issuer.parent_id) if issuer.parent_id is not None else None
            messages.extend(message_builders.issuance_warned(issuer, above, warnings, titles=ISSUANCE_RULE_TITLES))
            raised.extend(warnings)
    notify_all(messages, now=now)
    return raised

"""Monthly payment plans (用款计划, Art. 10(二)1, 10(三)15).

A budget unit files, for each of its indicators and each month, the money it plans to draw
(申请分月用款计划); finance approves the plan, which makes it the month's authorised quota
(分月用款授权额度), or returns it with a reason, and the unit files it again. The status is a
table (:mod:`workflow.machines.payment_plan`); an approved plan filed again is a revision, and
the amount approved before stays the quota until finance approves the revision.

- Filing (:func:`file_plans`) takes a list of rows (JSON or CSV) naming the unit, the month
  (``YYYY-MM``), the indicator by its codes (functional, economic, project; the fund source
  when the unit has the codes in more than one) and the amount. All rows or none: a bad row is
  a 422 naming ``row N.field``. A row for a plan that exists files it again (amends, refiles or
  revises it, by its status); a row that changes nothing leaves the plan as it is.
- Balance over the year (年度均衡性, 10(三)15): a basic-expenditure plan that puts more than
  ``uneven_percent`` (a parameter of the rule ``over_payment_plan`` in the rule set) of the
  indicator's annual amount into one month is flagged ``uneven`` when filed; the flag is kept
  on the plan, so finance's list shows it and filters by it.
- Screening holds each payment to its month's approved plan (the rule ``over_payment_plan``,
  :mod:`workflow.monitoring.rules`): the batch loads the approved plans once
  (:mod:`workflow.monitoring.resolution`) and counts each month's payments in a running total
  (``month:<indicator>:<MM>``, :mod:`workflow.monitoring.totals`), which :func:`paid_by_plan`
  reads for the quota view (授权额度 against 支付).

Who sees a plan: the unit its own, its competent department its units', finance its region
(:func:`workflow.scoping.units_of`). Every filing and decision is journaled in the plan's
stream ``payment_plan:<id>``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload, validates

from workflow import journal
from workflow.articles import art
from workflow.budget import Indicator, unit_in_reach
from workflow.db import AwareDateTime, Money, among, chunks, db, locked, utcnow
from workflow.errors import Conflict, Invalid, NotFound
from workflow.machines.payment_plan import APPROVED, FILED, FILING_TRIGGER, LIFECYCLE
from workflow.monitoring.models import SpendingTotal
from workflow.monitoring.rulesets import effective_sets
from workflow.monitoring.totals import month_key
from workflow.parties import Actor, Organisation, require
from workflow.scoping import Reach, reach_of_units, units_of
from workflow.status_writes import checked_status

PLAN_STATUSES = LIFECYCLE.statuses  # filed, approved, returned (workflow.machines.payment_plan)
# What a filing did to each row's plan: created it, or fired the table's row for its status.
FILING_ACTIONS = ("filed", "amended", "refiled", "revised", "unchanged")
_DONE = {"amend": "amended", "refile": "refiled", "revise": "revised"}
DECISIONS = {"approve": "approved", "return": "returned"}  # trigger -> journal action
HUNDRED = Decimal(100)
BALANCE = art(10, 3, 15)  # 是否按照年度均衡性原则申请基本支出用款计划


class PaymentPlan(db.Model):
    """One unit's plan for one indicator in one month (用款计划). ``amount`` is what was filed
    last; ``approved_amount`` the quota in force (None until finance first approves)."""

    __tablename__ = "payment_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    indicator_id: Mapped[int] = mapped_column(sa.ForeignKey("indicators.id"))
    year: Mapped[int]  # the indicator's year, kept for lookups by unit and month
    month: Mapped[int]  # 1-12
    amount: Mapped[Decimal] = mapped_column(Money)
    approved_amount: Mapped[Decimal | None] = mapped_column(Money)
    status: Mapped[str] = mapped_column(sa.String(12))
    uneven: Mapped[bool] = mapped_column(default=False)
    return_reason: Mapped[str | None] = mapped_column(sa.String(500))
    filed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    filed_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)

    unit: Mapped[Organisation] = relationship()
    indicator: Mapped[Indicator] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("indicator_id", "month", name="uq_payment_plans_indicator_month"),
        # a list reads a unit's plans in id order (issue 15); screening loads a unit's year
        sa.Index("ix_payment_plans_unit_id_id", "unit_id", "id"),
        sa.Index("ix_payment_plans_unit_year_month", "unit_id", "year", "month"),
        sa.CheckConstraint("month BETWEEN 1 AND 12", name="month"),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
        sa.CheckConstraint("approved_amount >= 0", name="approved_amount_not_negative"),
        sa.CheckConstraint(status.in_(PLAN_STATUSES), name="status"),
    )

    @validates("status")
    def _only_the_lifecycle_writes_status(self, _key, value):
        return checked_status(self, value, LIFECYCLE.initial, "payment_plan")

    @property
    def unit_code(self) -> str:
        return self.unit.code

    @property
    def month_text(self) -> str:
        return month_text(self.year, self.month)

    @property
    def annual_share(self) -> Decimal | None:
        """The plan's share of the indicator's annual amount, in percent (None for a zero budget)."""
        budget = self.indicator.amount
        return None if not budget else (self.amount * HUNDRED / budget).quantize(Decimal("0.1"))


def month_text(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def parse_month(text: str) -> tuple[int, int]:
    """``"2021-03"`` -> ``(2021, 3)``; the API checks the form, this splits it."""
    year, month = text.split("-")
    return int(year), int(month)


@dataclass
class Filing:
    """One filed row's plan, what filing did to it, and why it is uneven (or None)."""

    plan: PaymentPlan
    action: str
    uneven_note: str | None


# --- reading ----------------------------------------------------------------------------------

def plans_for(actor: Actor, *, visibility: bool = True):
    """A select of the plans ``actor`` may see (the unit its own, competent its units', finance
    its region's; no one else), with their unit and indicator loaded. ``visibility=False``
    leaves the reach to a list (:func:`reach`)."""
    stmt = sa.select(PaymentPlan).options(selectinload(PaymentPlan.unit), selectinload(PaymentPlan.indicator))
    return stmt.where(units_of(actor, PaymentPlan.unit_id)) if visibility else stmt


def reach(actor: Actor) -> Reach:
    return reach_of_units(actor, PaymentPlan.unit_id)


def get_plan(actor: Actor, plan_id: int) -> PaymentPlan:
    plan = db.session.execute(plans_for(actor).where(PaymentPlan.id == plan_id)).scalar_one_or_none()
    if plan is None:
        raise NotFound(f"no payment plan {plan_id}")
    return plan


def paid_by_plan(plans: list[PaymentPlan]) -> dict[int, Decimal]:
    """What was paid (counted payments: accepted and held) on each plan's indicator in its month,
    by plan id, from the running totals screening keeps: one query for the lot."""
    wanted = {(p.unit_id, p.year, month_key(p.indicator_id, p.month)): p.id for p in plans}
    paid = dict.fromkeys((p.id for p in plans), Decimal("0.00"))
    if not plans:
        return paid
    table = SpendingTotal.__table__
    keys = sorted({key for _, _, key in wanted})
    years = sorted({year for _, year, _ in wanted})
    for chunk in chunks(sorted({unit for unit, _, _ in wanted})):
        for unit_id, year, key, spent in db.session.execute(sa.select(
                table.c.unit_id, table.c.year, table.c.key, table.c.spent).where(
                table.c.unit_id.in_(chunk), table.c.year.in_(years), among(table.c.key, keys))):
            plan_id = wanted.get((unit_id, year, key))
            if plan_id is not None:
                paid[plan_id] = spent
    return paid


# --- filing -------------------------------------------------------------------------------------

def file_plans(actor: Actor, rows: list[dict]) -> list[Filing]:
    """A unit files its monthly plans (rows validated by the API: ``unit_code``, ``year``,
    ``month``, ``functional_code``, ``economic_code``, ``project``, optional ``fund_source``,
    ``amount``). Every row is resolved before anything is written; the caller commits."""
    require(actor, "unit", action="file payment plans")
    prepared = _resolve(actor, rows)
    now = utcnow()
    # each unit's own department's set in force (Art. 5-7), as screening reads it
    in_force = effective_sets({unit.finance_path for _, unit, _, _ in prepared}, now) if prepared else {}
    percent_of = {path: Decimal(rules.parameters["rules"]["over_payment_plan"]["uneven_percent"])
                  for path, rules in in_force.items()}
    existing = _existing(sorted({indicator.id for _, _, indicator, _ in prepared}))
    filings: list[Filing] = []
    changed: list[tuple[Filing, dict]] = []  # and what it was before (empty: new)
    for _, unit, indicator, row in prepared:
        amount = row["amount"]
        note = _uneven_note(indicator, row["month"], amount, percent_of[unit.finance_path])
        plan = existing.get((indicator.id, row["month"]))
        if plan is None:
            plan = PaymentPlan(unit=unit, indicator=indicator, year=indicator.year,
                               month=row["month"], amount=amount, status=FILED, uneven=note is not None,
                               filed_by_id=actor.user_id, filed_at=now)
            db.session.add(plan)
            filing = Filing(plan, "filed", note)
            changed.append((filing, {}))
        elif _unchanged(plan, amount):
            filing = Filing(plan, "unchanged", note)
        else:
            before = {"status": plan.status, "amount": plan.amount}
            trigger = FILING_TRIGGER[plan.status]
            LIFECYCLE.move(plan, trigger, actor=actor)
            plan.amount, plan.uneven, plan.filed_by_id, plan.filed_at = amount, note is not None, actor.user_id, now
            filing = Filing(plan, _DONE[trigger], note)
            changed.append((filing, before))
        filings.append(filing)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        # A racing filing created one of these plans after the lookup above: the same answer as
        # if it had come first would need its rows; tell the unit to file again instead.
        db.session.rollback()
        raise Conflict("a plan of this filing was filed meanwhile by another request; nothing was written; "
                       "file again") from None
    for filing, before in changed:
        plan = filing.plan
        payload = {"unit_code": plan.unit.code, "indicator_id": plan.indicator_id,
                   "month": plan.month_text, "amount": plan.amount, "uneven": plan.uneven}
        if before:
            payload["before"] = before
        journal.record(actor, journal.stream_of("payment_plan", plan.id), filing.action, payload, now,
                       new_stream=not before)
    return filings


def _unchanged(plan: PaymentPlan, amount: Decimal) -> bool:
    """A row that asks for what the plan already says: filed with this amount, or approved at it.
    A returned plan filed again is a new filing even at the same amount (the unit answers the
    return)."""
    if plan.status == FILED:
        return plan.amount == amount
    return plan.status == APPROVED and plan.amount == amount and plan.approved_amount == amount


def _uneven_note(indicator: Indicator, month: int, amount: Decimal, percent: Decimal) -> str | None:
    """Why a basic-expenditure plan breaks the annual balance (10(三)15), or None: it puts more
    than ``percent`` of the indicator's annual amount into one month."""
    if indicator.expenditure_kind != "basic" or amount * HUNDRED <= percent * indicator.amount:
        return None
    share = "全部" if not indicator.amount else f"{(amount * HUNDRED / indicator.amount).quantize(Decimal('0.1'))}%"
    return (f"基本支出用款计划{month}月{amount}元，占年度预算指标{indicator.amount}元的{share}，"
            f"超过{percent}%，不符合年度均衡性原则（{BALANCE.chinese}）")


def _resolve(actor: Actor, rows: list[dict]) -> list[tuple[int, Organisation, Indicator, dict]]:
    """Each row's indicator (one query for every unit and year named), or 422 naming the rows."""
    errors: dict[str, list[str]] = {}
    units: dict[str, Organisation | None] = {}
    for index, row in enumerate(rows, start=1):
        code = row["unit_code"]
        if code not in units:
            units[code] = unit_in_reach(actor, code)
        if units[code] is None:
            errors[f"row {index}.unit_code"] = [f"no budget unit {code!r} you may file for"]
    unit_ids = {unit.id for unit in units.values() if unit is not None}
    years = {row["year"] for row in rows}
    candidates: dict[tuple, list[Indicator]] = {}
    if unit_ids:
        for indicator in db.session.execute(sa.select(Indicator).where(
                Indicator.unit_id.in_(unit_ids), Indicator.year.in_(years))).scalars():
            key = (indicator.unit_id, indicator.year, indicator.functional_code, indicator.economic_code,
                   indicator.project)
            candidates.setdefault(key, []).append(indicator)
    prepared = []
    seen: dict[tuple[int, int], int] = {}
    for index, row in enumerate(rows, start=1):
        unit = units[row["unit_code"]]
        if unit is None:
            continue
        found = candidates.get((unit.id, row["year"], row["functional_code"], row["economic_code"], row["project"]), [])
        if row.get("fund_source"):
            found = [i for i in found if i.fund_source == row["fund_source"]]
        if not found:
            project = f"项目“{row['project']}”" if row["project"] else "基本支出"
            field = "fund_source" if row.get("fund_source") else "economic_code"
            errors[f"row {index}.{field}"] = [
                f"the unit has no {row['year']} indicator for functional code {row['functional_code']}, economic code "
                f"{row['economic_code']} ({project}){' from ' + row['fund_source'] if row.get('fund_source') else ''}"]
            continue
        if len(found) > 1:
            errors[f"row {index}.fund_source"] = [
                "the unit has indicators for these codes from several fund sources "
                f"({', '.join(sorted(i.fund_source for i in found))}): name one"]
            continue
        indicator = found[0]
        key = (indicator.id, row["month"])
        if key in seen:
            errors[f"row {index}"] = [f"duplicates row {seen[key]} (the same indicator and month)"]
            continue
        seen[key] = index
        prepared.append((index, unit, indicator, row))
    if errors:
        raise Invalid("the payment plans were rejected; nothing was written", errors)
    return prepared


def _existing(indicator_ids: list[int]) -> dict[tuple[int, int], PaymentPlan]:
    """The stored plans of these indicators, locked for the filing (a decision or another
    filing on them waits until this one commits)."""
    found: dict[tuple[int, int], PaymentPlan] = {}
    for chunk in chunks(indicator_ids):
        stmt = sa.select(PaymentPlan).where(among(PaymentPlan.indicator_id, chunk))
        for plan in db.session.execute(locked(stmt, of=PaymentPlan)).scalars():
            found[(plan.indicator_id, plan.month)] = plan
    return found


# --- deciding -----------------------------------------------------------------------------------

def decide_plans(actor: Actor, plan_ids: list[int], trigger: str, *, reason: str | None = None,
                 field: str = "plan_ids") -> list[PaymentPlan]:
    """Finance approves (``approve``: the filed amount becomes the month's quota) or returns
    (``return``, with ``reason``) filed plans of its region, all or none: a plan out of reach is
    404, one that is not filed 409, each naming the plan; nothing is decided then."""
    require(actor, "finance", action=f"{trigger} payment plans")
    if trigger not in DECISIONS:
        raise ValueError(trigger)
    if trigger == "return" and not reason:
        raise Invalid("a return needs its reason", {"reason": ["required"]})
    wanted = list(dict.fromkeys(plan_ids))
    plans: dict[int, PaymentPlan] = {}
    for chunk in chunks(wanted):
        stmt = plans_for(actor).where(among(PaymentPlan.id, chunk))
        plans.update((p.id, p) for p in db.session.execute(locked(stmt, of=PaymentPlan)).scalars())
    missing = [plan_id for plan_id in wanted if plan_id not in plans]
    if missing:
        raise NotFound(f"no payment plan {', '.join(map(str, missing))}",
                       {field: [f"no payment plan {plan_id}" for plan_id in missing]})
    refused = {f"plan {plan_id}.status": [LIFECYCLE.refusal(trigger, plans[plan_id].status)]
               for plan_id in wanted if not LIFECYCLE.allows(trigger, plans[plan_id].status)}
    if refused:
        raise Conflict("nothing was decided: " + "; ".join(m for msgs in refused.values() for m in msgs), refused)
    now = utcnow()
    payloads = {}
    for plan_id in wanted:
        plan = plans[plan_id]
        before = plan.approved_amount
        LIFECYCLE.move(plan, trigger, actor=actor)
        plan.decided_by_id, plan.decided_at = actor.user_id, now
        if trigger == "approve":
            plan.approved_amount, plan.return_reason = plan.amount, None
            payloads[plan_id] = {"month": plan.month_text, "approved_amount": plan.amount, "approved_before": before}
        else:
            plan.return_reason = reason
            payloads[plan_id] = {"month": plan.month_text, "amount": plan.amount, "reason": reason,
                                 "approved_amount_in_force": before}
    db.session.flush()  # the plans in one go, before the entries (each would flush its plan)
    for plan_id in wanted:
        journal.record(actor, journal.stream_of("payment_plan", plan_id), DECISIONS[trigger], payloads[plan_id], now)
    return [plans[plan_id] for plan_id in wanted]


def history(actor: Actor, plan_id: int):
    """The plan's journal, if ``actor`` may see the plan (else 404)."""
    plan = get_plan(actor, plan_id)
    return journal.entries_of(journal.stream_of("payment_plan", plan.id))

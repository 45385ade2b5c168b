"""Batch resolution: what the rules read, loaded once for a whole batch of payments.

:func:`resolve` looks up the batch's units (as the caller may see them), the accounts its
rows name, the units' budget indicators (预算指标) and "三公" budgets for the years paid in,
the approved monthly payment plans (用款计划, Art. 10(二)1) and the individual payees'
registrations (个人收款人备案, Art. 16) — a few queries for the batch, none per row. It
checks that the caller may post every row (finance: units in its jurisdiction; a bank:
payments from accounts it serves, Art. 28) and gives each row what all rules share (see
:mod:`workflow.monitoring.rules`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, NamedTuple

import sqlalchemy as sa

from workflow.accounts import BankAccount
from workflow.budget import Indicator
from workflow.db import among, chunks, db
from workflow.errors import Invalid
from workflow.monitoring.advances import Advances
from workflow.monitoring.intake import MAX_REPORTED_ERRORS
from workflow.monitoring.models import PayeeRegistration, SpecialFundRules
from workflow.monitoring.plans import PaymentPlan
from workflow.monitoring.rules import ZERO, AccountInfo, BoundRules, IndicatorInfo
from workflow.monitoring.totals import month_key
from workflow.parties import Actor, Organisation
from workflow.scoping import units_of
from workflow.settings import local_zone


class Registration(NamedTuple):
    """An individual payee as filed with finance by a unit (Art. 16), and whether finance has
    confirmed the filing (``status``: only a ``confirmed`` one makes a payment legitimate)."""

    name: str
    account: str
    status: str


@dataclass
class Batch:
    """What the rules read, loaded once per batch (see :mod:`workflow.monitoring.rules`)."""

    unit_ids: set[int] = field(default_factory=set)  # the batch's units
    # by number: the registered account of that number, else the first recorded (a payee's)
    accounts: dict[str, AccountInfo] = field(default_factory=dict)
    # by (unit, number): each unit's own record of a number (a payer's)
    unit_accounts: dict[tuple[int, str], AccountInfo] = field(default_factory=dict)
    indicators: dict[tuple, IndicatorInfo] = field(default_factory=dict)
    projects: set[tuple] = field(default_factory=set)               # (unit_id, year, project)
    sangong_budget: dict[tuple, Decimal] = field(default_factory=dict)  # (unit_id, year, category)
    registrations: dict[tuple, Registration] = field(default_factory=dict)  # (unit_id, id_number)
    # approved amount in force of each month's payment plan, by its total's key: (unit_id, year,
    # "month:<indicator id>:<MM>")
    plans: dict[tuple, Decimal] = field(default_factory=dict)
    suspended: set[int] = field(default_factory=set)
    parent_of: dict[int, int | None] = field(default_factory=dict)
    # each unit's finance path (its finance department's jurisdiction) and the rules in force for it
    path_of: dict[int, str] = field(default_factory=dict)
    bound_of: dict[int, BoundRules] = field(default_factory=dict)
    totals: dict[tuple, Decimal] = field(default_factory=dict)       # (unit_id, year, key) -> spent
    # approved internal rules for special funds (Art. 17): (unit_id, fund) and (unit_id, None)
    special_fund_rules: set[tuple] = field(default_factory=set)
    # approved 归垫 the batch claims (Art. 13(三)5), locked with the totals; rules draw on them
    advances: Advances = field(default_factory=Advances)


def resolve(actor: Actor, parsed: list[dict], bind: Callable[[set[str]], dict[str, BoundRules]]) -> Batch:
    """Load the batch's units, accounts, indicators and registrations once, check the
    caller may post every row (else :class:`Invalid` naming ``row N.field``), and give each
    row its ``unit_id``, ``year``, ``month``, ``account``, ``bank_id``, ``category``, ``indicator``,
    ``month_key`` and ``category_key``. ``bind`` gives the rules in force for each of the batch's
    finance paths (called once: the rule sets are per finance department, Art. 5-7); each unit gets
    its department's (``batch.bound_of``). The caller adds the suspended units and the running totals."""
    batch = Batch()
    units = _units(actor, parsed, batch)
    by_path = bind(set(batch.path_of.values()))
    batch.bound_of = {unit_id: by_path[path] for unit_id, path in batch.path_of.items()}
    _accounts(parsed, batch)
    years = _bind_units(actor, parsed, units, batch)
    _indicators(batch, years)
    _plans(batch, years)
    _bind_indicators(parsed, batch)
    _registrations(parsed, batch)
    # only when some unit's set has the rule enabled (each department's set may differ)
    if any(rule.name == "special_fund_rules_missing" for bound in by_path.values() for rule in bound.rules):
        _special_fund_rules(batch)
    return batch


def _units(actor: Actor, parsed: list[dict], batch: Batch) -> dict[str, int]:
    """The batch's units by code, among those the caller may post for (a bank: any unit;
    whether it serves the account is checked row by row)."""
    codes = {p["unit_code"] for p in parsed}
    units: dict[str, int] = {}
    for chunk in chunks(codes):
        for unit_id, code, parent_id, path in db.session.execute(
                sa.select(Organisation.id, Organisation.code, Organisation.parent_id, Organisation.finance_path).where(
                    among(Organisation.code, chunk), Organisation.kind == "unit",
                    units_of(actor, Organisation.id) if actor.kind != "bank" else sa.true())):
            units[code] = unit_id
            batch.parent_of[unit_id] = parent_id
            batch.path_of[unit_id] = path
    batch.unit_ids = set(units.values())
    return units


def _accounts(parsed: list[dict], batch: Batch) -> None:
    numbers = {p["payer_account"] for p in parsed} | {p["payee_account"] for p in parsed if p["payee_account"]}
    for chunk in chunks(numbers):
        for number, *columns in db.session.execute(sa.select(
                BankAccount.number, BankAccount.id, BankAccount.unit_id, BankAccount.bank_id, BankAccount.kind,
                BankAccount.registered, BankAccount.status, BankAccount.bank_closed_on).where(
                    among(BankAccount.number, chunk))
                .order_by(BankAccount.registered.desc(), BankAccount.id)):
            info = AccountInfo(*columns)
            batch.accounts.setdefault(number, info)
            batch.unit_accounts[(info.unit_id, number)] = info


def _bind_units(actor: Actor, parsed: list[dict], units: dict[str, int], batch: Batch) -> set[int]:
    """Check the caller may post every row and give each its unit, budget year, payer
    account, bank and "三公" category; answer the budget years paid in."""
    errors: dict[str, list[str]] = {}
    years: set[int] = set()
    is_bank = actor.kind == "bank"
    unit_of = units.get
    # the "三公" catalogue is a rule-set parameter: each unit's from its department's set
    categories_of = {unit_id: bound.sangong_codes for unit_id, bound in batch.bound_of.items()}
    unit_account_of, account_of = batch.unit_accounts.get, batch.accounts.get
    default_bank = actor.org_id if is_bank else None
    zone = local_zone()  # the budget year is the calendar year where the budget is kept
    for number, p in enumerate(parsed, start=1):
        unit_id = unit_of(p["unit_code"])
        payer = p["payer_account"]
        account = (unit_id is not None and unit_account_of((unit_id, payer))) or account_of(payer)
        if unit_id is None or (is_bank and (account is None or account.bank_id != actor.org_id)):
            if unit_id is None:
                where = "your jurisdiction" if actor.kind == "finance" else "the register"
                errors[f"row {number}.unit_code"] = [f"no budget unit {p['unit_code']!r} in {where}"]
            if is_bank and (account is None or account.bank_id != actor.org_id):
                errors[f"row {number}.payer_account"] = ["not an account your bank serves"]
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
            continue
        p["unit_id"] = unit_id
        local = p["paid_at"].astimezone(zone)
        p["year"] = year = local.year
        p["month"] = local.month
        p["account"] = account
        p["bank_id"] = account.bank_id if account is not None else default_bank
        p["category"] = categories_of[unit_id].get(p["economic_code"])
        years.add(year)
    if errors:
        raise Invalid("the payments were rejected; nothing was written", errors)
    return years


def _indicators(batch: Batch, years: set[int]) -> None:
    """The units' indicators of those years, their projects and their "三公" budgets."""
    for chunk in chunks(batch.unit_ids):
        for row in db.session.execute(sa.select(
                Indicator.unit_id, Indicator.year, Indicator.functional_code, Indicator.economic_code,
                Indicator.project, Indicator.id, Indicator.amount, Indicator.frozen, Indicator.expenditure_kind
        ).where(among(Indicator.unit_id, chunk), Indicator.year.in_(years))):
            unit_id, year, functional, economic, project, ind_id, amount, frozen, kind = row
            batch.indicators[(unit_id, year, functional, economic, project)] = IndicatorInfo(
                ind_id, amount, frozen, kind, project, (unit_id, year, f"indicator:{ind_id}"))
            if project:
                batch.projects.add((unit_id, year, project))
            category = batch.bound_of[unit_id].sangong_codes.get(economic)
            if category is not None:
                key = (unit_id, year, category)
                batch.sangong_budget[key] = batch.sangong_budget.get(key, ZERO) + amount


def _plans(batch: Batch, years: set[int]) -> None:
    """The approved amounts in force of the units' monthly plans in those years (Art. 10(二)1)."""
    for chunk in chunks(batch.unit_ids):
        for unit_id, year, indicator_id, month, approved in db.session.execute(sa.select(
                PaymentPlan.unit_id, PaymentPlan.year, PaymentPlan.indicator_id, PaymentPlan.month,
                PaymentPlan.approved_amount).where(among(PaymentPlan.unit_id, chunk), PaymentPlan.year.in_(years),
                                                   PaymentPlan.approved_amount.is_not(None))):
            batch.plans[(unit_id, year, month_key(indicator_id, month))] = approved


def _bind_indicators(parsed: list[dict], batch: Batch) -> None:
    """Give each row its indicator (unit, year, codes and project), its total in its month and
    its "三公" total's key."""
    indicator_of = batch.indicators.get
    category_keys: dict[tuple, tuple] = {}  # one key object per total, shared by its rows
    month_keys: dict[tuple, tuple] = {}
    for p in parsed:
        unit_id, year = p["unit_id"], p["year"]
        p["indicator"] = indicator = indicator_of((unit_id, year, p["functional_code"], p["economic_code"],
                                                   p["project"]))
        if indicator is None:
            p["month_key"] = None
        else:
            key = month_keys.get((indicator.id, p["month"]))
            if key is None:
                key = month_keys[(indicator.id, p["month"])] = (unit_id, year, month_key(indicator.id, p["month"]))
            p["month_key"] = key
        category = p["category"]
        if category is None:
            p["category_key"] = None
        else:
            key = category_keys.get((unit_id, year, category))
            if key is None:
                key = category_keys[(unit_id, year, category)] = (unit_id, year, f"sangong:{category}")
            p["category_key"] = key


def _registrations(parsed: list[dict], batch: Batch) -> None:
    people = {p["payee_id_number"] for p in parsed if p["payee_kind"] == "individual" and p["payee_id_number"]}
    for chunk in chunks(people):
        for unit_id, number, name, account, status in db.session.execute(sa.select(
                PayeeRegistration.unit_id, PayeeRegistration.id_number, PayeeRegistration.name,
                PayeeRegistration.account, PayeeRegistration.status).where(
                    among(PayeeRegistration.id_number, chunk), PayeeRegistration.unit_id.in_(batch.unit_ids))):
            batch.registrations[(unit_id, number)] = Registration(name, account, status)


def _special_fund_rules(batch: Batch) -> None:
    """The batch's units' internal rules for special funds that finance approved (Art. 17)."""
    for chunk in chunks(batch.unit_ids):
        for unit_id, fund in db.session.execute(sa.select(SpecialFundRules.unit_id, SpecialFundRules.fund_code).where(
                among(SpecialFundRules.unit_id, chunk), SpecialFundRules.status == "approved")):
            batch.special_fund_rules.add((unit_id, fund))
            batch.special_fund_rules.add((unit_id, None))

"""Budget indicators (预算指标) and bank accounts (Art. 10(三)1, 13(一)).

Bulk intake is all-or-nothing: every row is validated first, errors name the row and
field, and nothing is written unless every row is good.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow import journal
from workflow.accounts import BankAccount
from workflow.db import AwareDateTime, Money, db, locked, to_money, utcnow
from workflow.errors import Conflict, Invalid, NotFound
from workflow.parties import Actor, Organisation, org_by_code, require
from workflow.scoping import units_of

FUND_SOURCES = ("general_budget", "government_fund", "state_capital", "higher_special", "other")
EXPENDITURE_KINDS = ("basic", "project")


class Indicator(db.Model):
    """A budget indicator: what a unit may spend in a year, by functional and economic code."""

    __tablename__ = "indicators"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    year: Mapped[int]
    functional_code: Mapped[str] = mapped_column(sa.String(16))
    economic_code: Mapped[str] = mapped_column(sa.String(16))
    fund_source: Mapped[str] = mapped_column(sa.String(24))
    expenditure_kind: Mapped[str] = mapped_column(sa.String(8))
    project: Mapped[str] = mapped_column(sa.String(200), default="")
    # The budget in force: the amount loaded, as adjusted and transferred since (调整/调剂,
    # Art. 14: 年度预算及调整预算); every change is a row of ``indicator_adjustments``.
    amount: Mapped[Decimal] = mapped_column(Money)
    frozen: Mapped[bool] = mapped_column(default=False)
    # 应收回: the part of ``amount`` finance marked for recovery; it may not be spent (Art. 10(三)14).
    recovered: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    # Art. 10(一)1: when the people's congress approved the budget, and when finance issued the
    # indicator (预算指标下达); both optional, given at upload.
    approved_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    issued_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    unit: Mapped[Organisation] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("unit_id", "year", "functional_code", "economic_code", "fund_source", "project",
                            name="uq_indicators_key"),
        sa.Index("ix_indicators_lookup", "unit_id", "year", "functional_code", "economic_code"),
        sa.CheckConstraint(expenditure_kind.in_(EXPENDITURE_KINDS), name="expenditure_kind"),
        sa.CheckConstraint(fund_source.in_(FUND_SOURCES), name="fund_source"),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
        sa.CheckConstraint("recovered >= 0 AND recovered <= amount", name="recovered_within_amount"),
    )

    @property
    def unit_code(self) -> str:
        return self.unit.code

    @property
    def available(self) -> Decimal:
        """What may be spent: the budget in force less what is marked for recovery."""
        return self.amount - self.recovered


ADJUSTMENT_KINDS = ("adjust", "transfer", "freeze", "unfreeze", "recover")


class IndicatorAdjustment(db.Model):
    """One change finance made to an indicator (预算调整/调剂, 冻结, 收回; Art. 10(三)14, 14):
    the ledger of who changed what, when, why and on which document. A transfer writes one row
    on each of its two indicators, each naming the other (``counterpart_id``). ``change`` is
    signed: what ``amount`` moved by (adjust, transfer), or what ``recovered`` grew by
    (recover); none for a freeze. The figures after the change are kept with it."""

    __tablename__ = "indicator_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(sa.ForeignKey("indicators.id"))
    kind: Mapped[str] = mapped_column(sa.String(12))
    change: Mapped[Decimal | None] = mapped_column(Money)
    counterpart_id: Mapped[int | None] = mapped_column(sa.ForeignKey("indicators.id"))
    reason: Mapped[str] = mapped_column(sa.String(500))
    document_ref: Mapped[str] = mapped_column(sa.String(200))  # 文号
    amount_after: Mapped[Decimal] = mapped_column(Money)
    recovered_after: Mapped[Decimal] = mapped_column(Money)
    frozen_after: Mapped[bool]
    org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))  # the finance department
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    org: Mapped[Organisation | None] = relationship()
    counterpart: Mapped[Indicator | None] = relationship(foreign_keys=[counterpart_id])

    __table_args__ = (
        sa.CheckConstraint(kind.in_(ADJUSTMENT_KINDS), name="kind"),
        sa.Index("ix_indicator_adjustments_indicator_id_id", "indicator_id", "id"),
    )

    @property
    def org_code(self) -> str | None:
        return self.org.code if self.org is not None else None


def unit_in_reach(actor: Actor, code: str) -> Organisation | None:
    org = org_by_code(code)
    if org is None or org.kind != "unit":
        return None
    visible = db.session.execute(sa.select(Organisation.id).where(
        Organisation.id == org.id, units_of(actor, Organisation.id))).first()
    return org if visible else None


def import_indicators(actor: Actor, rows: list[dict]) -> list[Indicator]:
    """Create indicators from validated rows (finance only, inside its jurisdiction).

    Every row is checked before anything is added; the caller commits. Keys are
    checked against the database and within the upload, so a duplicate is a 422
    naming both rows rather than a half-written import.
    """
    require(actor, "finance", action="load budget indicators")
    errors: dict[str, list[str]] = {}
    seen: dict[tuple, int] = {}
    units: dict[str, Organisation | None] = {}
    prepared = []
    for index, row in enumerate(rows, start=1):
        code = row["unit_code"]
        if code not in units:
            units[code] = unit_in_reach(actor, code)
        unit = units[code]
        if unit is None:
            errors[f"row {index}.unit_code"] = [f"no budget unit {code!r} in your jurisdiction"]
            continue
        approved, issued = row.get("approved_on"), row.get("issued_on")
        if approved is not None and issued is not None and issued < approved:
            errors[f"row {index}.issued_on"] = [f"before approved_on ({approved.isoformat()}): an indicator "
                                                f"is issued after its budget is approved"]
            continue
        key = (unit.id, row["year"], row["functional_code"], row["economic_code"],
               row["fund_source"], row.get("project") or "")
        if key in seen:
            errors[f"row {index}"] = [f"duplicates row {seen[key]}"]
            continue
        seen[key] = index
        prepared.append((index, key, unit, row))
    if errors:
        raise Invalid("the upload was rejected; nothing was written", errors)
    _refuse_existing_indicators(prepared)
    created = [Indicator(unit=unit, year=row["year"], functional_code=row["functional_code"],
                         economic_code=row["economic_code"], fund_source=row["fund_source"],
                         expenditure_kind=row["expenditure_kind"], project=row.get("project") or "",
                         amount=row["amount"], frozen=row.get("frozen", False),
                         approved_on=row.get("approved_on"), issued_on=row.get("issued_on"))
               for _, _, unit, row in prepared]
    db.session.add_all(created)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        # A racing upload stored one of these keys after the check above: the same answer as
        # if it had come first (409 naming the rows), never the database's message.
        db.session.rollback()
        _refuse_existing_indicators(prepared)
        raise Conflict("an indicator of this upload was stored meanwhile; nothing was written") from None
    # One entry per upload, not per row: the indicators are themselves the record; the entry
    # says who loaded which rows (their ids and a digest of their content), and when.
    journal.record(actor, journal.stream_of("indicators", actor.org_id or "system"), "loaded", {
        "count": len(created), "indicator_ids": [i.id for i in created],
        "total": sum((to_money(i.amount) for i in created), Decimal("0.00")),
        "digest": journal.digest([_indicator_content(i) for i in created]),
    })
    return created


def _refuse_existing_indicators(prepared: list[tuple]) -> None:
    """409 naming each row whose key is stored already (a conflict with what exists, as for
    accounts and payments; a duplicate within the upload is the upload's own error, 422)."""
    if not prepared:
        return
    existing = _existing_indicator_keys({key[0] for _, key, _, _ in prepared})
    clashes = {f"row {index}": ["an indicator with this unit, year, codes, fund source and project exists"]
               for index, key, _, _ in prepared if key in existing}
    if clashes:
        raise Conflict("the upload was rejected; nothing was written", clashes)


def _indicator_content(indicator: Indicator) -> dict:
    return {"unit_id": indicator.unit_id, "year": indicator.year, "functional_code": indicator.functional_code,
            "economic_code": indicator.economic_code, "fund_source": indicator.fund_source,
            "expenditure_kind": indicator.expenditure_kind, "project": indicator.project,
            "amount": indicator.amount, "frozen": indicator.frozen,
            # dates only when given, so that an upload without them digests as it always did
            **{name: getattr(indicator, name) for name in ("approved_on", "issued_on")
               if getattr(indicator, name) is not None}}


def _existing_indicator_keys(unit_ids: set[int]) -> set[tuple]:
    result = db.session.execute(sa.select(
        Indicator.unit_id, Indicator.year, Indicator.functional_code, Indicator.economic_code,
        Indicator.fund_source, Indicator.project).where(Indicator.unit_id.in_(unit_ids)))
    return {tuple(r) for r in result}


def indicators_for(actor: Actor):
    return sa.select(Indicator).where(units_of(actor, Indicator.unit_id))


def accounts_for(actor: Actor):
    """Accounts: finance by jurisdiction, units their own, competent their units', banks those they serve."""
    stmt = sa.select(BankAccount)
    if actor.kind == "bank":
        return stmt.where(BankAccount.bank_id == actor.org_id)
    return stmt.where(units_of(actor, BankAccount.unit_id))


def get_account(actor: Actor, account_id: int, *, lock: bool = False) -> BankAccount:
    """``lock``: for a change, so that two changes at once are applied one after the other
    and each journal entry records the status it really changed from."""
    stmt = accounts_for(actor).where(BankAccount.id == account_id)
    row = db.session.execute(locked(stmt, of=BankAccount) if lock else stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no account {account_id}")
    return row


def register_account(actor: Actor, data: dict) -> BankAccount:
    """Record a bank account. A unit may report its own (unregistered until finance
    registers it); finance records accounts of units in its jurisdiction."""
    require(actor, "finance", "unit", action="record bank accounts")
    registered = bool(data.get("registered", False))
    if registered and actor.kind not in ("finance", "system"):
        # refused, not dropped: the unit must not believe its account is registered
        raise Invalid("a unit may not register an account", {
            "registered": ["only finance registers an account (Art. 13(一)); report it with registered false"]})
    unit = unit_in_reach(actor, data["unit_code"])
    if unit is None:
        raise Invalid("unknown budget unit", {"unit_code": [f"no budget unit {data['unit_code']!r} you may act for"]})
    bank = org_by_code(data["bank_code"])
    if bank is None or bank.kind != "bank":
        raise Invalid("unknown agent bank", {"bank_code": [f"no agent bank {data['bank_code']!r}"]})
    if db.session.execute(sa.select(BankAccount.id).where(
            BankAccount.unit_id == unit.id, BankAccount.number == data["number"])).first():
        raise Conflict("account number already recorded for the unit", {"number": ["already recorded"]})
    if registered:
        _check_registrable(actor, data["number"], unit.id)
    account = BankAccount(unit=unit, bank=bank, number=data["number"], kind=data["kind"],
                          registered=registered, status=data.get("status", "active"))
    db.session.add(account)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        # a racing request recorded the same number after the check above: the same 409
        db.session.rollback()
        raise Conflict("account number already recorded", {"number": ["already recorded"]}) from None
    journal.record(actor, journal.stream_of("account", account.id), "recorded", {
        "unit_code": unit.code, "bank_code": bank.code, "number": account.number, "kind": account.kind,
        "registered": account.registered, "status": account.status})
    return account


def _check_registrable(actor: Actor, number: str, unit_id: int) -> None:
    """One number is registered to one unit: a clash names the other account only to a
    finance department that may see it."""
    other = db.session.execute(sa.select(BankAccount.id, BankAccount.unit_id).where(
        BankAccount.number == number, BankAccount.registered.is_(True), BankAccount.unit_id != unit_id)).first()
    if other is None:
        return
    visible = db.session.execute(accounts_for(actor).where(BankAccount.id == other.id)).first() is not None
    where = f"account {other.id}" if visible else "an account outside your jurisdiction"
    raise Conflict("the number is registered to another unit",
                   {"number": [f"registered as {where}; the finance department above both units decides"]})


def change_account(actor: Actor, account_id: int, changes: dict) -> BankAccount:
    """Finance registers, suspends, closes or reactivates an account."""
    require(actor, "finance", action="change bank accounts")
    account = get_account(actor, account_id, lock=True)
    if changes.get("registered") and not account.registered:
        _check_registrable(actor, account.number, account.unit_id)
    changed = {field: [getattr(account, field), changes[field]] for field in ("registered", "status")
               if field in changes and changes[field] != getattr(account, field)}
    for field, (_, new) in changed.items():
        setattr(account, field, new)
    account.changed_at = utcnow()
    if changed:
        journal.record(actor, journal.stream_of("account", account.id), "changed", changed, now=account.changed_at)
    return account

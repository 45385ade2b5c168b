"""Budget units' bank accounts (Art. 13(一)): the record every party's scope and the case
ladder's account closures (Art. 21(四)) refer to, and the units' reports of changes at the bank
(账户变更, to be reported within five working days). Registering and changing accounts is in
:mod:`workflow.budget`, reporting changes in :mod:`workflow.registers`; this module holds only
the tables, so that scoping and screening can use them.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.db import AwareDateTime, db, utcnow
from workflow.parties import Organisation

ACCOUNT_KINDS = ("zero_balance", "remittance", "special", "real_fund")
ACCOUNT_STATUSES = ("active", "suspended", "closed")
# What a unit reports happened to an account at the bank (Art. 13(一): 开立、变更、撤销).
ACCOUNT_CHANGES = ("opened", "changed", "closed")
ACCOUNT_CHANGE_LABELS = {"opened": "开立", "changed": "变更", "closed": "撤销"}
REPORT_WORKING_DAYS = 5  # Art. 13(一): 变更后5个工作日内到同级财政部门办理变更手续


class BankAccount(db.Model):
    """A budget unit's bank account (Art. 13(一)): 零余额账户, 财政汇缴专户, 特设专户, 实有资金账户.

    A row is a unit's record of an account: unique per unit and number. One number is
    registered to one unit at most (the partial unique index): until finance registers it, a
    record is the unit's claim, and a claim on a number another unit holds is stored like any
    other, so that recording an account never tells a party that a number it cannot see
    exists (issue 16 item 5); finance, registering, meets the clash.
    """

    __tablename__ = "bank_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(40), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    registered: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    changed_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    # The day the unit reported the account closed at the bank (撤销): a payment from it on or
    # after that day is warned even before finance marks the record closed.
    bank_closed_on: Mapped[dt.date | None] = mapped_column(sa.Date)

    unit: Mapped[Organisation] = relationship(foreign_keys=[unit_id])
    bank: Mapped[Organisation] = relationship(foreign_keys=[bank_id])

    __table_args__ = (
        sa.CheckConstraint(kind.in_(ACCOUNT_KINDS), name="kind"),
        sa.CheckConstraint(status.in_(ACCOUNT_STATUSES), name="status"),
        sa.UniqueConstraint("unit_id", "number", name="uq_bank_accounts_unit_number"),
        sa.Index("uq_bank_accounts_registered_number", "number", unique=True,
                 sqlite_where=sa.text("registered"), postgresql_where=sa.text("registered")),
    )


class AccountChangeReport(db.Model):
    """A unit's report of a change to one of its accounts at the bank (账户变更备案, Art. 13(一)):
    opened, changed or closed, on ``changed_on`` (the bank's date). Due by the end of the fifth
    Asia/Shanghai working day after it (``due_at``); a report after that is ``late`` and opens a
    warning (``warning_id``). Rows are never changed: each report is a fact."""

    __tablename__ = "account_change_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_accounts.id"))
    change: Mapped[str] = mapped_column(sa.String(8))
    changed_on: Mapped[dt.date] = mapped_column(sa.Date)
    details: Mapped[str] = mapped_column(sa.String(500), default="")
    due_at: Mapped[dt.datetime] = mapped_column(AwareDateTime)
    late: Mapped[bool] = mapped_column(default=False)
    warning_id: Mapped[int | None] = mapped_column(sa.ForeignKey("warnings.id"))
    reported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reported_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    unit: Mapped[Organisation] = relationship()
    account: Mapped[BankAccount] = relationship()

    __table_args__ = (
        sa.CheckConstraint(change.in_(ACCOUNT_CHANGES), name="change"),
        sa.Index("ix_account_change_reports_unit_id_id", "unit_id", "id"),
    )

    @property
    def unit_code(self) -> str:
        return self.unit.code

"""Budget units' bank accounts (Art. 13(一)): the record every party's scope and the case
ladder's account closures (Art. 21(四)) refer to. Registering and changing accounts is in
:mod:`workflow.budget`; this module holds only the table, so that scoping can use it.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.db import AwareDateTime, db, utcnow
from workflow.parties import Organisation

ACCOUNT_KINDS = ("zero_balance", "remittance", "special", "real_fund")
ACCOUNT_STATUSES = ("active", "suspended", "closed")


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

    unit: Mapped[Organisation] = relationship(foreign_keys=[unit_id])
    bank: Mapped[Organisation] = relationship(foreign_keys=[bank_id])

    __table_args__ = (
        sa.CheckConstraint(kind.in_(ACCOUNT_KINDS), name="kind"),
        sa.CheckConstraint(status.in_(ACCOUNT_STATUSES), name="status"),
        sa.UniqueConstraint("unit_id", "number", name="uq_bank_accounts_unit_number"),
        sa.Index("uq_bank_accounts_registered_number", "number", unique=True,
                 sqlite_where=sa.text("registered"), postgresql_where=sa.text("registered")),
    )

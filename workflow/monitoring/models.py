"""Tables of the monitoring area.

Payments and warnings are written in bulk by :func:`workflow.monitoring.screening.screen_payments`
(driver-level executemany / COPY for speed), so the mapped classes here are for reading,
for the verification workflow built on them, and for the schema; do not rely on ORM
defaults firing for screened rows — the screening code sets every column itself.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from workflow.accounts import BankAccount
from workflow.budget import Indicator
from workflow.db import AwareDateTime, Money, db, utcnow
from workflow.machines.payee import LIFECYCLE as PAYEE_LIFECYCLE
from workflow.machines.payment import LIFECYCLE as PAYMENT_LIFECYCLE
from workflow.machines.special_fund_rules import LIFECYCLE as SPECIAL_FUND_RULES_LIFECYCLE
from workflow.machines.warning import LIFECYCLE as WARNING_LIFECYCLE
from workflow.parties import Organisation
from workflow.status_writes import checked_status

PAYMENT_STATUSES = PAYMENT_LIFECYCLE.statuses  # accepted, held, refused (workflow.machines.payment)
SETTLEMENTS = ("transfer", "cash", "card")  # 转账 / 现金 / 公务卡
METHODS = ("direct", "authorized")  # 财政直接支付 / 财政授权支付
PAYEE_KINDS = ("unit", "company", "individual")
# The six exceptions of Art. 13(三) under which a zero-balance account may pay into a
# real-fund account; each needs its document reference (exception_ref).
EXCEPTIONS = (
    "purchased_services",   # 1. 按合同约定支付的政府购买服务支出
    "union_tax_payroll",    # 2. 工会经费、税金、向工资代发账户划转的工资等
    "student_aid",          # 3. 奖助学金及纳入预算的补贴
    "social_insurance",     # 4. 暂不能委托收款的社会保险、医疗保险、职业年金缴费
    "approved_reimbursement",  # 5. 报经财政部门审核批准的归垫资金
    "other_approved",       # 6. 国家和省另有规定、经财政厅（局）批准的其他资金
)
WARNING_LEVELS = ("block", "warn", "remind")  # 拦截 / 预警 / 提示
WARNING_LEVEL_LABELS = {"block": "拦截", "warn": "预警", "remind": "提示"}
# The "rules" of warnings raised by hand (a bank's refusal or report, a complaint, finance's own
# finding in 人工排查, Art. 12) rather than by a screening rule (workflow.monitoring.rules.WARNING_RULES
# lists both). Finance raising a warning by hand may also name a screening rule.
# ``account_change_late`` is raised by the account-change register (Art. 13(一)) when a unit
# reports a change at the bank later than five working days after it.
MANUAL_WARNING_RULES = ("bank_refusal", "bank_report", "complaint", "manual", "account_change_late")
MANUAL_RULE_TITLES = {"bank_refusal": "代理银行拒付", "bank_report": "代理银行报告疑点", "complaint": "投诉举报线索",
                      "manual": "人工排查发现", "account_change_late": "账户变更未按时备案"}
WARNING_STATUSES = WARNING_LIFECYCLE.statuses  # open, verifying, confirmed, dismissed (workflow.machines.warning)
PAYEE_STATUSES = PAYEE_LIFECYCLE.statuses  # pending, confirmed, rejected (workflow.machines.payee)
SPECIAL_FUND_RULES_STATUSES = SPECIAL_FUND_RULES_LIFECYCLE.statuses  # pending, approved, rejected


class Payment(db.Model):
    """A payment instruction with the elements of Art. 9 (支付信息)."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    # 支付凭证号: each unit numbers its own vouchers, so the number is unique per unit. Another
    # unit's voucher with the same number is another payment, and no answer tells a poster that
    # a number is in use by a unit whose payments it cannot see (issue 16 item 5).
    voucher_no: Mapped[str] = mapped_column(sa.String(64), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    payer_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("bank_accounts.id"))
    payer_account: Mapped[str] = mapped_column(sa.String(40))
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_at: Mapped[dt.datetime] = mapped_column(AwareDateTime)
    budget_year: Mapped[int]  # the Asia/Shanghai calendar year of paid_at
    settlement: Mapped[str] = mapped_column(sa.String(8))
    method: Mapped[str] = mapped_column(sa.String(12))
    functional_code: Mapped[str] = mapped_column(sa.String(16))
    economic_code: Mapped[str] = mapped_column(sa.String(16))
    summary: Mapped[str] = mapped_column(sa.String(500))
    payee_name: Mapped[str] = mapped_column(sa.String(200))
    payee_account: Mapped[str] = mapped_column(sa.String(64))
    payee_kind: Mapped[str] = mapped_column(sa.String(12))
    payee_id_number: Mapped[str | None] = mapped_column(sa.String(32))
    project: Mapped[str] = mapped_column(sa.String(200))
    approval_ref: Mapped[str | None] = mapped_column(sa.String(200))
    exception: Mapped[str | None] = mapped_column(sa.String(32))
    exception_ref: Mapped[str | None] = mapped_column(sa.String(200))
    indicator_id: Mapped[int | None] = mapped_column(sa.ForeignKey("indicators.id"))
    bank_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    # What this payment added to the running totals, so that a refusal can take it back.
    sangong_category: Mapped[str | None] = mapped_column(sa.String(16))
    counted: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(12))
    posted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    unit: Mapped[Organisation] = relationship(foreign_keys=[unit_id])
    bank: Mapped[Organisation | None] = relationship(foreign_keys=[bank_id])
    payer: Mapped[BankAccount | None] = relationship()
    indicator: Mapped[Indicator | None] = relationship()
    warnings: Mapped[list[MonitoringWarning]] = relationship(back_populates="payment", order_by="MonitoringWarning.id")

    __table_args__ = (
        sa.CheckConstraint(status.in_(PAYMENT_STATUSES), name="status"),
        sa.CheckConstraint(settlement.in_(SETTLEMENTS), name="settlement"),
        sa.CheckConstraint(method.in_(METHODS), name="method"),
        sa.CheckConstraint(payee_kind.in_(PAYEE_KINDS), name="payee_kind"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.UniqueConstraint("unit_id", "voucher_no", name="uq_payments_unit_voucher"),
        # Scope or filter first, then the id: a list page (keyset by id) reads its rows in order
        # and stops, whatever the table's size (issue 15; migration 0012).
        sa.Index("ix_payments_unit_id_id", "unit_id", "id"),
        sa.Index("ix_payments_bank_id_id", "bank_id", "id"),
        sa.Index("ix_payments_status_id", "status", "id"),
    )

    @validates("status")
    def _only_the_lifecycle_writes_status(self, _key, value):
        return checked_status(self, value, PAYMENT_LIFECYCLE.initial, "payment")

    @property
    def unit_code(self) -> str:
        return self.unit.code


class MonitoringWarning(db.Model):
    """One rule firing on one payment (预警 / 疑点), verified under Art. 11(二).

    ``article`` is the regulation's own numbering (``第十三条（二）2``); ``rule_set_version``
    is the version of the rule set whose parameters raised it, ``rule_set_department_id`` the
    finance department whose set that is (the payment unit's nearest one with a set of its own). Warnings raised by hand
    (complaints, bank refusals) may have no payment or no rule-set version.
    """

    __tablename__ = "warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    rule: Mapped[str] = mapped_column(sa.String(40), index=True)
    level: Mapped[str] = mapped_column(sa.String(8))
    article: Mapped[str] = mapped_column(sa.String(40))
    message: Mapped[str] = mapped_column(sa.String(500))
    rule_set_version: Mapped[int | None]
    # the finance department whose rule set (at ``rule_set_version``) raised it (Art. 5-7)
    rule_set_department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")  # transfer_closed: 15
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))  # the case it became
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)

    payment: Mapped[Payment | None] = relationship(back_populates="warnings")
    unit: Mapped[Organisation] = relationship(foreign_keys=[unit_id])
    # many-to-one by key: the few finance departments come from the session's identity map
    rule_set_department: Mapped[Organisation | None] = relationship(foreign_keys=[rule_set_department_id])

    __table_args__ = (
        sa.CheckConstraint(level.in_(WARNING_LEVELS), name="level"),
        sa.CheckConstraint(status.in_(WARNING_STATUSES), name="status"),
        # Also the lookup index by payment; a rule fires at most once per payment.
        sa.UniqueConstraint("payment_id", "rule", name="uq_warnings_payment_rule"),
        # as for payments: scope or filter, then the id the list pages by
        sa.Index("ix_warnings_unit_id_id", "unit_id", "id"),
        sa.Index("ix_warnings_status_id", "status", "id"),
    )

    @validates("status")
    def _only_the_lifecycle_writes_status(self, _key, value):
        return checked_status(self, value, WARNING_LIFECYCLE.initial, "warning")


class RuleSet(db.Model):
    """A published version of one finance department's warning rules (Art. 5-7, 12).

    The province-level department's set is the base and holds every parameter; a city or
    county department's set holds only the parameters it sets, the rest inherited from the
    levels above (:mod:`workflow.monitoring.rulesets`). ``open`` lists the parameters
    (``rule.parameter``) this department leaves open to local change below it. Rows are never
    updated: a publication is a new row with the department's next version, by its author and
    a second officer who approved it, in force from ``effective_from``.
    """

    __tablename__ = "rule_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    version: Mapped[int]
    parameters: Mapped[dict] = mapped_column(sa.JSON)
    open: Mapped[list] = mapped_column(sa.JSON, default=list)
    note: Mapped[str] = mapped_column(sa.String(500), default="")  # the reason
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # the author
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)  # published
    effective_from: Mapped[dt.datetime] = mapped_column(AwareDateTime)

    __table_args__ = (
        # the versions of one department never repeat, whoever publishes at the same time
        sa.UniqueConstraint("department_id", "version", name="uq_rule_sets_department_id_version"),
    )


class RuleSetDraft(db.Model):
    """A proposed change to a department's rule set (Art. 12), editable by its author until a
    second officer of the department publishes it; publishing turns it into a version
    (:class:`RuleSet`) and removes it. ``changes``: ``{"rules": {rule: {setting: value}},
    "inherit": ["rule.setting", ...], "open": [...] or null, "replace": bool}``."""

    __tablename__ = "rule_set_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    changes: Mapped[dict] = mapped_column(sa.JSON)
    reason: Mapped[str] = mapped_column(sa.String(500))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)


class PayeeRegistration(db.Model):
    """An individual payee filed with finance (Art. 16): identity number, employer,
    title and personal bank account, filed by the paying unit. It counts for the Art. 16 rule
    only once finance has confirmed it (``status``, :mod:`workflow.machines.payee`)."""

    __tablename__ = "payee_registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    id_number: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(100))
    employer: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(100))  # 职务、职称
    account: Mapped[str] = mapped_column(sa.String(64))
    filed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(sa.String(12))
    status_reason: Mapped[str | None] = mapped_column(sa.Text)  # finance's reason for a rejection
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)

    unit: Mapped[Organisation] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("unit_id", "id_number", name="uq_payee_registrations_unit_person"),
        sa.CheckConstraint(status.in_(PAYEE_STATUSES), name="status"),
        # finance's list of filings awaiting confirmation, paged by id
        sa.Index("ix_payee_registrations_status_id", "status", "id"),
    )

    @validates("status")
    def _only_the_lifecycle_writes_status(self, _key, value):
        return checked_status(self, value, PAYEE_LIFECYCLE.initial, "payee")

    @property
    def unit_code(self) -> str:
        return self.unit.code


class SpendingTotal(db.Model):
    """A running total of what counted payments have spent, per unit and budget year:
    ``key`` is ``indicator:<id>`` (Art. 14-15, over budget), ``month:<id>:<MM>`` (the indicator
    in one month, against its payment plan, Art. 10(二)1) or ``sangong:<category>`` (Art. 19,
    "三公" spending). Screening locks the rows it needs (``FOR UPDATE`` on
    PostgreSQL; SQLite has a single writer) so that racing requests add up correctly."""

    __tablename__ = "spending_totals"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    year: Mapped[int]
    key: Mapped[str] = mapped_column(sa.String(40))
    spent: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    updated_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("unit_id", "year", "key", name="uq_spending_totals_key"),)


class ReimbursementApproval(db.Model):
    """An approved 归垫 (报经财政部门审核批准的归垫资金, Art. 13(三)5; 垫付和归垫, 13(四), 10(三)10):
    finance approved that the unit may move ``amount`` from the indicator back to the real-fund
    account that advanced it, on ``document_ref``. A payment claiming exception 5 with this
    document is honoured only while ``remaining`` covers it, and draws it down
    (:class:`ReimbursementDraw`); a refused payment gives its draw back."""

    __tablename__ = "reimbursement_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    indicator_id: Mapped[int] = mapped_column(sa.ForeignKey("indicators.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    remaining: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(sa.String(500))
    document_ref: Mapped[str] = mapped_column(sa.String(200))
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_by_org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    unit: Mapped[Organisation] = relationship(foreign_keys=[unit_id])
    indicator: Mapped[Indicator] = relationship()
    draws: Mapped[list[ReimbursementDraw]] = relationship(order_by="ReimbursementDraw.id", viewonly=True)

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_within_amount"),
        # the document names the entry a payment draws on
        sa.UniqueConstraint("unit_id", "document_ref", name="uq_reimbursement_approvals_unit_document"),
        sa.Index("ix_reimbursement_approvals_unit_id_id", "unit_id", "id"),
    )

    @property
    def unit_code(self) -> str:
        return self.unit.code


class ReimbursementDraw(db.Model):
    """A payment honoured under an approved 归垫 and what it drew from it (one per payment)."""

    __tablename__ = "reimbursement_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    approval_id: Mapped[int] = mapped_column(sa.ForeignKey("reimbursement_approvals.id"), index=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id"), unique=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    returned: Mapped[bool] = mapped_column(default=False)  # the payment was refused: given back
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)


class SpecialFundRules(db.Model):
    """A unit's internal management rules for a special fund (专项资金内部财务管理办法和会计核算管理
    办法, Art. 17), filed with finance and applied once finance approves them (``status``,
    :mod:`workflow.machines.special_fund_rules`). ``fund_code`` names the fund as its indicators
    do (their ``project``); the text may be attached as a file, checked like evidence."""

    __tablename__ = "special_fund_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    fund_code: Mapped[str] = mapped_column(sa.String(200))
    document_ref: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(12))
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    stored_name: Mapped[str | None] = mapped_column(sa.String(64))
    file_type: Mapped[str | None] = mapped_column(sa.String(16))
    content_type: Mapped[str | None] = mapped_column(sa.String(100))
    size: Mapped[int | None]
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    filed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    unit: Mapped[Organisation] = relationship()

    __table_args__ = (
        sa.CheckConstraint(status.in_(SPECIAL_FUND_RULES_STATUSES), name="status"),
        sa.Index("ix_special_fund_rules_unit_id_id", "unit_id", "id"),
        sa.Index("ix_special_fund_rules_status_id", "status", "id"),
    )

    @validates("status")
    def _only_the_lifecycle_writes_status(self, _key, value):
        return checked_status(self, value, SPECIAL_FUND_RULES_LIFECYCLE.initial, "special_fund_rules")

    @property
    def unit_code(self) -> str:
        return self.unit.code

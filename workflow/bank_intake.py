"""What agent banks report: refusals (拒付, Art. 28(三)), suspected violations they did not refuse
(Art. 10(四)6) and settlements (清算, Art. 10(四), 28(四)).

Refusals. A bank that judges a payment it carries illegal may refuse it; it reports the
refusal to finance and tells the unit why. Here: the payment becomes ``refused``, a warning
(rule ``bank_refusal``, 第二十八条（三）) is opened for finance to verify, and finance and the
unit are told the reason.

Reports. A bank that suspects a payment it carries of a violation but does not refuse it
reports its finding instead: a warning (rule ``bank_report``, 第十条（四）6, level ``warn``)
is opened for finance to verify, with the bank's finding as its text; the payment is left
as it is (paid or held, as screening left it), and finance in charge is told. One report
per payment: more the bank knows goes on the warning as materials (Art. 28(二)).

Settlements. A bank reports what it actually paid; each line is compared with the payment
instructions (支付指令) it carries. What Art. 10(四) asks finance to watch for:

- 1. money moved without a payment voucher (无支付凭证划转财政资金): no instruction matches;
- 2. not paid as instructed (未按支付指令及时、准确支付): the amount differs, the instruction
  was held or refused, or it was paid twice;
- 3. not paid as the unit filled in (未按预算单位填写的支付信息准确、如实支付): payee name or
  account, or the paying account, differ.

Any of these opens an agent-bank case (Art. 22) against the bank. A line that matches marks
its instruction settled. Every line is keyed by a fingerprint of its content per bank, so a
line reported twice is answered ``duplicate`` and opens nothing twice.

Journal (:mod:`workflow.journal`): a refusal is recorded in the payment's stream (and the
warning it opens in the warning's); a report in the warning's stream (``opened``, by the bank); each settlement report is one entry of the bank's
``settlement:<bank id>`` stream.

The comparison is pure (:func:`compare`, :func:`choose_instruction`), over plain values, so
it can be read and tested without a database.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from workflow import message_builders
from workflow.articles import art
from workflow.cases import open_case
from workflow.complaints import finance_in_charge
from workflow.db import AwareDateTime, Money, among, chunks, db, locked, to_money, utcnow
from workflow.errors import Conflict, Invalid, NotFound
from workflow.journal import record, stream_of
from workflow.machines.bank_case import RUNGS
from workflow.monitoring.models import Payment
from workflow.outbox import notify
from workflow.parties import Actor, Organisation, require
from workflow.scoping import units_of
from workflow.verification import open_manual_warning, refuse_payment

SETTLEMENT_OUTCOMES = ("matched", "case_opened")
# What a report line is answered: a stored outcome, or ``duplicate`` for a line reported before.
SETTLEMENT_ANSWERS = (*SETTLEMENT_OUTCOMES, "duplicate")


# --- pure comparison ------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportedLine:
    """One line of a bank's settlement report: what it actually paid."""

    payer_account: str
    amount: Decimal
    payee_name: str
    payee_account: str
    paid_at: dt.datetime
    voucher_no: str | None = None


@dataclass(frozen=True)
class Instruction:
    """A payment instruction the bank carries, as far as settlement compares it."""

    payment_id: int
    voucher_no: str
    payer_account: str
    amount: Decimal
    payee_name: str
    payee_account: str
    paid_at: dt.datetime
    status: str  # accepted / held / refused
    settled: bool = False


@dataclass(frozen=True)
class Finding:
    """One way a settlement departs from its instruction, with the article it breaks."""

    code: str
    article: str
    message: str


BANK_REFUSAL = art(28, 3)  # 有权予以拒付
BANK_REPORT = art(10, 4, 6)  # a suspected violation the bank reports without refusing the payment

FINDINGS = {
    "no_instruction": (art(10, 4, 1), "无支付凭证划转财政资金：没有与之对应的支付指令"),
    "amount_differs": (art(10, 4, 2), "未按支付指令准确支付：金额与支付指令不符"),
    "not_payable": (art(10, 4, 2), "未按支付指令支付：该支付指令已被拦截或拒付"),
    "paid_twice": (art(10, 4, 2), "未按支付指令支付：同一支付指令重复支付"),
    "payee_name_differs": (art(10, 4, 3), "未按支付信息如实支付：收款人名称与支付信息不符"),
    "payee_account_differs": (art(10, 4, 3), "未按支付信息如实支付：收款账号与支付信息不符"),
    "payer_account_differs": (art(10, 4, 3), "未按支付信息如实支付：付款账号与支付信息不符"),
}


def finding(code: str, detail: str = "") -> Finding:
    article, message = FINDINGS[code]
    return Finding(code, article.chinese, message + (f"（{detail}）" if detail else ""))


def normal_account(number: str) -> str:
    """Account numbers compare without spaces and dashes, full-width digits folded."""
    text = unicodedata.normalize("NFKC", number or "")
    return "".join(ch for ch in text if ch not in " -\t")


def normal_name(name: str) -> str:
    """Names compare after NFKC (（）→ ()) with whitespace removed."""
    return "".join(unicodedata.normalize("NFKC", name or "").split())


def compare(line: ReportedLine, instruction: Instruction) -> list[Finding]:
    """How ``line`` departs from ``instruction``; empty when it is paid as instructed."""
    found: list[Finding] = []
    if instruction.status != "accepted":
        found.append(finding("not_payable", f"指令状态 {instruction.status}"))
    elif instruction.settled:
        found.append(finding("paid_twice", f"支付凭证号 {instruction.voucher_no}"))
    if line.amount != instruction.amount:
        found.append(finding("amount_differs", f"指令 {instruction.amount:.2f} 元，实付 {line.amount:.2f} 元"))
    if normal_name(line.payee_name) != normal_name(instruction.payee_name):
        found.append(finding("payee_name_differs", f"指令 {instruction.payee_name}，实付 {line.payee_name}"))
    if normal_account(line.payee_account) != normal_account(instruction.payee_account):
        found.append(finding("payee_account_differs",
                             f"指令 {instruction.payee_account}，实付 {line.payee_account}"))
    if normal_account(line.payer_account) != normal_account(instruction.payer_account):
        found.append(finding("payer_account_differs",
                             f"指令 {instruction.payer_account}，实付 {line.payer_account}"))
    return found


def choose_instruction(line: ReportedLine, candidates: list[Instruction]) -> Instruction | None:
    """The instruction a line settles.

    With a voucher number, the instruction of that number (or none: then money moved
    without a voucher). Without one, an instruction from the same paying account to the
    same payee account for the same amount; among several, an unsettled accepted one
    first, then the nearest in time. Anything else would be guessing: a line with no
    voucher that matches no instruction exactly is a payment without an instruction.
    """
    if line.voucher_no:
        same = [c for c in candidates if c.voucher_no == line.voucher_no]
        if len(same) > 1:  # voucher numbers are per unit: the paying account says whose it is
            same = [c for c in same if normal_account(c.payer_account) == normal_account(line.payer_account)] or same
        return same[0] if same else None
    exact = [c for c in candidates
             if normal_account(c.payer_account) == normal_account(line.payer_account)
             and normal_account(c.payee_account) == normal_account(line.payee_account)
             and c.amount == line.amount]
    if not exact:
        return None
    return min(exact, key=lambda c: (c.status != "accepted", c.settled, abs((c.paid_at - line.paid_at).total_seconds()),
                                     c.payment_id))


def fingerprint(bank_id: int, line: ReportedLine) -> str:
    """The identity of a reported line for idempotency: the same bank reporting the same
    payment (voucher, accounts, payee, amount, time to the second) twice is one line."""
    parts = (str(bank_id), line.voucher_no or "", normal_account(line.payer_account), f"{line.amount:.2f}",
             normal_name(line.payee_name), normal_account(line.payee_account),
             line.paid_at.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat())
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# --- models ------------------------------------------------------------------------------------

class BankRefusal(db.Model):
    """A payment an agent bank refused (拒付, Art. 28(三)), with its reason."""

    __tablename__ = "bank_refusals"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id"), unique=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    warning_id: Mapped[int] = mapped_column(sa.ForeignKey("warnings.id"))
    reported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reported_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    bank: Mapped[Organisation] = relationship()
    payment: Mapped[Payment] = relationship()

    @property
    def voucher_no(self) -> str:
        return self.payment.voucher_no


class BankReport(db.Model):
    """A suspected violation an agent bank reported on a payment it carries, without refusing
    it (Art. 10(四)6): its finding and the warning it opened. One per payment."""

    __tablename__ = "bank_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id"), unique=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    finding: Mapped[str] = mapped_column(sa.Text)
    warning_id: Mapped[int] = mapped_column(sa.ForeignKey("warnings.id"))
    reported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reported_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    bank: Mapped[Organisation] = relationship()
    payment: Mapped[Payment] = relationship()

    @property
    def voucher_no(self) -> str:
        return self.payment.voucher_no

    @property
    def article(self) -> str:
        return BANK_REPORT.chinese


class SettlementLine(db.Model):
    """A line of a bank's settlement report and what comparing it found."""

    __tablename__ = "settlement_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    voucher_no: Mapped[str | None] = mapped_column(sa.String(64))
    payer_account: Mapped[str] = mapped_column(sa.String(40))
    amount: Mapped[Decimal] = mapped_column(Money)
    payee_name: Mapped[str] = mapped_column(sa.String(200))
    payee_account: Mapped[str] = mapped_column(sa.String(64))
    paid_at: Mapped[dt.datetime] = mapped_column(AwareDateTime)
    outcome: Mapped[str] = mapped_column(sa.String(12))
    findings: Mapped[list] = mapped_column(sa.JSON, default=list)
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    reported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reported_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("bank_id", "fingerprint", name="uq_settlement_lines_fingerprint"),
        sa.CheckConstraint(outcome.in_(SETTLEMENT_OUTCOMES), name="outcome"),
    )


# --- refusals (拒付, Art. 28(三)) ------------------------------------------------------------------

def _carried(actor: Actor):
    """Payments the calling bank carries (代理): the only ones it may refuse or settle."""
    return sa.select(Payment).where(Payment.bank_id == actor.org_id)


def _carried_voucher(actor: Actor, voucher_no: str, unit_code: str | None) -> Payment | None:
    """The payment of this voucher number that the bank carries, locked. Voucher numbers are per
    unit, so two units' payments through one bank may share one: then the unit must be named."""
    stmt = _carried(actor).where(Payment.voucher_no == voucher_no)
    if unit_code:
        stmt = stmt.where(Payment.unit_id.in_(sa.select(Organisation.id).where(Organisation.code == unit_code)))
    found = db.session.execute(locked(stmt.order_by(Payment.id).limit(2))).scalars().all()
    if len(found) > 1:
        raise Invalid("payments of several units carried by your bank have this voucher number",
                      {"unit_code": ["name the paying unit: voucher numbers are numbered per unit"]})
    return found[0] if found else None


def refuse(actor: Actor, data: dict, now: dt.datetime | None = None) -> BankRefusal:
    """A bank refuses a payment it carries (有权予以拒付), with its reason: the payment is
    refused, a warning opened for finance to verify, and finance and the unit are told
    the reason (及时向财政部门报告 ... 同时将拒付理由通知预算单位). No commit here.

    Raises Forbidden (not a bank), NotFound (no such payment carried by this bank),
    Conflict (already refused), Invalid (no reason).
    """
    require(actor, "bank", action="refuse payments")
    now = now or utcnow()
    reason = (data.get("reason") or "").strip()
    if not reason:
        raise Invalid("a refusal needs its reason", {"reason": ["required"]})
    payment = _carried_voucher(actor, data["voucher_no"], data.get("unit_code"))
    if payment is None:
        raise NotFound(f"no payment {data['voucher_no']} carried by this bank", {"voucher_no": ["not found"]})
    if payment.status == "refused":
        raise Conflict(f"payment {payment.voucher_no} is refused already",
                       {"voucher_no": ["already refused"], "status": [payment.status]})
    unit, bank = payment.unit, db.session.get(Organisation, actor.org_id)
    warning = open_manual_warning(actor, unit=unit, payment=payment, rule="bank_refusal", level="warn",
                                  article=BANK_REFUSAL, message=f"代理银行{bank.name}拒付：{reason}", now=now)
    refusal = BankRefusal(payment_id=payment.id, bank_id=bank.id, reason=reason, warning_id=warning.id,
                          reported_by_id=actor.user_id, reported_at=now)
    db.session.add(refusal)
    db.session.flush()
    refuse_payment(actor, payment, now, bank_refusal_id=refusal.id, warning_id=warning.id, reason=reason,
                   article=BANK_REFUSAL.chinese)
    for message in message_builders.bank_refusal(refusal, bank=bank, unit=unit, payment=payment, warning=warning,
                                                 finance=finance_in_charge(unit)):
        notify(**message)
    return refusal


# --- reports without refusal (Art. 10(四)6) -----------------------------------------------------------

def report_suspicion(actor: Actor, data: dict, now: dt.datetime | None = None) -> BankReport:
    """A bank reports a suspected violation on a payment it carries without refusing it: a
    warning (``bank_report``, level ``warn``) with the bank's finding is opened for finance to
    verify, the payment is not touched, and finance in charge is told. No commit here.

    Raises Forbidden (not a bank), NotFound (no such payment carried by this bank), Conflict
    (the bank reported this payment already: add to that warning instead), Invalid (no finding).
    """
    require(actor, "bank", action="report suspected violations")
    now = now or utcnow()
    text = (data.get("finding") or "").strip()
    if not text:
        raise Invalid("a report needs the bank's finding", {"finding": ["required"]})
    payment = _carried_voucher(actor, data["voucher_no"], data.get("unit_code"))  # locked: one report at a time
    if payment is None:
        raise NotFound(f"no payment {data['voucher_no']} carried by this bank", {"voucher_no": ["not found"]})
    earlier = db.session.execute(sa.select(BankReport).where(BankReport.payment_id == payment.id)).scalar_one_or_none()
    if earlier is not None:
        raise Conflict(f"payment {payment.voucher_no} was reported already (warning {earlier.warning_id}); "
                       f"add what else you found to that warning", {"voucher_no": ["already reported"]})
    unit, bank = payment.unit, db.session.get(Organisation, actor.org_id)
    warning = open_manual_warning(actor, unit=unit, payment=payment, rule="bank_report", level="warn",
                                  article=BANK_REPORT, message=f"代理银行{bank.name}报告疑点：{text}", now=now)
    report = BankReport(payment_id=payment.id, bank_id=bank.id, finding=text, warning_id=warning.id,
                        reported_by_id=actor.user_id, reported_at=now)
    db.session.add(report)
    db.session.flush()
    finance = finance_in_charge(unit)
    if finance is not None:
        notify(**message_builders.bank_report(report, bank=bank, unit=unit, payment=payment, warning=warning,
                                              finance=finance), now=now)
    return report


def reports_for(actor: Actor):
    """Reports a bank made itself; finance sees those on units of its jurisdiction. Others: Forbidden
    (the unit learns of the matter as a warning, when finance verifies it)."""
    require(actor, "bank", "finance", action="read bank reports")
    stmt = sa.select(BankReport).options(selectinload(BankReport.payment), selectinload(BankReport.bank))
    if actor.kind == "bank":
        return stmt.where(BankReport.bank_id == actor.org_id)
    return stmt.where(BankReport.payment_id.in_(sa.select(Payment.id).where(units_of(actor, Payment.unit_id))))


# --- settlements (清算, Art. 10(四), 28(四)) ----------------------------------------------------------

def _serialise_reports(bank_id: int) -> None:
    """One settlement report per bank at a time, so that two reports of the same line
    cannot both find it new: PostgreSQL locks the bank's row; SQLite takes its single
    write lock now rather than at the first insert."""
    db.session.execute(locked(sa.select(Organisation.id).where(Organisation.id == bank_id)))


class _Instructions:
    """The instructions a report may settle, loaded once per report: by voucher number for
    lines that carry one, by amount for those that do not; and which are settled already."""

    def __init__(self, bank_id: int, lines: list[ReportedLine]):
        vouchers = sorted({line.voucher_no for line in lines if line.voucher_no})
        amounts = sorted({line.amount for line in lines if not line.voucher_no})
        payments = {}
        for column, values in ((Payment.voucher_no, vouchers), (Payment.amount, amounts)):
            for chunk in chunks(values):
                for p in db.session.execute(sa.select(Payment).where(Payment.bank_id == bank_id, among(column, chunk))).scalars():
                    payments[p.id] = p
        self.by_voucher: dict[str, list] = {}
        for p in sorted(payments.values(), key=lambda p: p.id):
            self.by_voucher.setdefault(p.voucher_no, []).append(p)
        self.by_amount: dict[Decimal, list] = {}
        for p in sorted(payments.values(), key=lambda p: p.id):
            self.by_amount.setdefault(p.amount, []).append(p)
        self.settled: set[int] = set()
        for chunk in chunks(sorted(payments)):
            self.settled.update(db.session.execute(sa.select(SettlementLine.payment_id).where(
                among(SettlementLine.payment_id, chunk), SettlementLine.outcome == "matched")).scalars())

    def for_line(self, line: ReportedLine) -> list[Instruction]:
        if line.voucher_no:
            payments = self.by_voucher.get(line.voucher_no, [])
        else:
            payments = self.by_amount.get(line.amount, [])
        return [Instruction(payment_id=p.id, voucher_no=p.voucher_no, payer_account=p.payer_account,
                            amount=p.amount, payee_name=p.payee_name, payee_account=p.payee_account,
                            paid_at=p.paid_at, status=p.status, settled=p.id in self.settled) for p in payments]


def _earlier_lines(bank_id: int, keys: list[str]) -> dict[str, SettlementLine]:
    found = {}
    for chunk in chunks(sorted(set(keys))):
        for row in db.session.execute(sa.select(SettlementLine).where(
                SettlementLine.bank_id == bank_id, among(SettlementLine.fingerprint, chunk))).scalars():
            found[row.fingerprint] = row
    return found


def _finance_of(bank: Organisation) -> Actor:
    """The settlement check acts for the finance department in charge of the bank: the
    comparison is that department's monitoring (Art. 10(四)), done by the system as each
    report arrives, so the case is opened in its name, by no user (``user_id`` None)."""
    finance = finance_in_charge(bank)
    if finance is None:
        raise Invalid("no finance department is in charge of this bank", {"bank": ["not placed in a jurisdiction"]})
    return Actor(user_id=None, org_id=finance.id, kind="finance", finance_path=finance.finance_path,
                 name="settlement check (自动对账)")


def first_bank_rung() -> str:
    """The agent-bank ladder's first rung: 22(一), return the funds or redo the business."""
    return RUNGS[0]


def report_settlements(actor: Actor, lines: list[dict], now: dt.datetime | None = None) -> list[dict]:
    """Compare what a bank paid with the instructions it carries (Art. 10(四)); answer
    per line ``matched``, ``case_opened`` (with the case id) or ``duplicate``. A line
    that breaks Art. 10(四) opens one agent-bank case (Art. 22) against the bank. No
    commit here; the whole report is one transaction.

    Lines are compared in the order reported, so that of two lines paying one
    instruction the second is found paying it twice. The instructions, the lines
    reported before and the settled set are loaded once per report, not per line."""
    require(actor, "bank", action="report settlements")
    now = now or utcnow()
    _serialise_reports(actor.org_id)
    bank = db.session.get(Organisation, actor.org_id)
    reported = [ReportedLine(payer_account=raw["payer_account"].strip(), amount=to_money(raw["amount"]),
                             payee_name=raw["payee_name"].strip(), payee_account=raw["payee_account"].strip(),
                             paid_at=raw["paid_at"], voucher_no=(raw.get("voucher_no") or "").strip() or None)
                for raw in lines]
    keys = [fingerprint(bank.id, line) for line in reported]
    known = _earlier_lines(bank.id, keys)
    instructions = _Instructions(bank.id, [line for line, key in zip(reported, keys) if key not in known])
    answers: list[dict] = []
    for index, (line, key) in enumerate(zip(reported, keys), start=1):
        earlier = known.get(key)
        if earlier is not None:
            answers.append({"line": index, "outcome": "duplicate", "row": earlier})
            continue
        instruction = choose_instruction(line, instructions.for_line(line))
        findings = [finding("no_instruction")] if instruction is None else compare(line, instruction)
        row = SettlementLine(bank_id=bank.id, fingerprint=key, voucher_no=line.voucher_no,
                             payer_account=line.payer_account, amount=line.amount, payee_name=line.payee_name,
                             payee_account=line.payee_account, paid_at=line.paid_at,
                             outcome="case_opened" if findings else "matched",
                             findings=[{"code": f.code, "article": f.article, "message": f.message} for f in findings],
                             payment_id=instruction.payment_id if instruction else None,
                             reported_by_id=actor.user_id, reported_at=now)
        known[key] = row
        db.session.add(row)
        if findings:
            db.session.flush()  # the case's source names the line
            case = open_case(_finance_of(bank), machine="bank_case", subject=bank, rung=first_bank_rung(),
                             fields=_case_fields(line, instruction, findings),
                             source={"settlement_line_id": row.id, "voucher_no": row.voucher_no,
                                     "findings": [f.code for f in findings]}, now=now)
            row.case_id = case.id
        else:
            instructions.settled.add(instruction.payment_id)
        answers.append({"line": index, "outcome": row.outcome, "row": row})
    db.session.flush()
    _journal_report(actor, bank, keys, answers, now)
    return [_answer(a["line"], a["outcome"], a["row"]) for a in answers]


def _journal_report(actor: Actor, bank: Organisation, keys: list[str], answers: list[dict],
                    now: dt.datetime) -> None:
    """One journal entry per report in the bank's ``settlement:<id>`` stream: the count of
    each outcome, the cases opened, and a SHA-256 over the lines' fingerprints in the order
    reported (the lines themselves are stored rows; the report is one action)."""
    outcomes = {outcome: sum(1 for a in answers if a["outcome"] == outcome)
                for outcome in ("matched", "case_opened", "duplicate")}
    record(actor, stream_of("settlement", bank.id), "reported",
           {"lines": len(answers), "outcomes": outcomes,
            "case_ids": [a["row"].case_id for a in answers if a["outcome"] == "case_opened"],
            "lines_sha256": hashlib.sha256("\n".join(keys).encode()).hexdigest()}, now)


def _case_fields(line: ReportedLine, instruction: Instruction | None, findings: list[Finding]) -> dict:
    """The opening fields of the agent-bank case (Art. 22(一)): the violation in words with
    the articles it breaks, the amount, and the measures: money paid without an instruction
    goes back by the original channel; money paid wrongly goes back and the business is redone."""
    local = line.paid_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    paid = (f"{local:%Y-%m-%d %H:%M} 从账户{line.payer_account}向{line.payee_name}（{line.payee_account}）"
            f"支付{line.amount:.2f}元")
    if instruction is not None:
        paid += f"，支付凭证号{instruction.voucher_no}"
    reasons = "；".join(f"{f.message}（{f.article}）" for f in findings)
    no_instruction = any(f.code == "no_instruction" for f in findings)
    return {"summary": f"{paid}：{reasons}"[:500], "amount": f"{line.amount:.2f}",
            "measures": ["refund"] if no_instruction else ["refund", "redo"]}


def _answer(index: int, outcome: str, row: SettlementLine) -> dict:
    return {"line": index, "outcome": outcome, "settlement_line_id": row.id, "voucher_no": row.voucher_no,
            "payment_id": row.payment_id, "case_id": row.case_id, "findings": list(row.findings or [])}


def refusals_for(actor: Actor):
    """Refusals a bank reported itself; finance sees those on units in its jurisdiction."""
    stmt = sa.select(BankRefusal).options(selectinload(BankRefusal.payment), selectinload(BankRefusal.bank))
    if actor.kind == "bank":
        return stmt.where(BankRefusal.bank_id == actor.org_id)
    return stmt.where(BankRefusal.payment_id.in_(sa.select(Payment.id).where(units_of(actor, Payment.unit_id))))

"""Registers that make payments legitimate, or show they are not (issue 11):

- account changes reported by units (账户变更备案, Art. 13(一)): a change at the bank is to be
  reported within five Asia/Shanghai working days (:func:`report_account_change`); a later
  report opens a warning (``account_change_late``), and an account reported closed is one a
  payment may no longer come from (the ``account_not_registered`` rule reads it);
- the register of approved 归垫 (Art. 10(三)10, 13(三)5, 13(四)) that finance keeps
  (:func:`register_advance`): a payment claiming exception 5 is honoured only on an entry with
  money left, and draws it down (:mod:`workflow.monitoring.advances`);
- units' internal rules for special funds (专项资金内部管理办法, Art. 17), filed by the unit with
  their text and approved by finance (:mod:`workflow.machines.special_fund_rules`); a payment
  from special funds without approved rules is warned (``special_fund_rules_missing``);

The individual payee filings (Art. 16) are in :mod:`workflow.monitoring.payees`. The tables are
where screening reads them (:mod:`workflow.accounts`, :mod:`workflow.monitoring.models`); this
module is what the parties do with them. No commit here: the caller's transaction.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from workflow import budget, journal
from workflow.accounts import (
    ACCOUNT_CHANGE_LABELS,
    REPORT_WORKING_DAYS,
    AccountChangeReport,
    BankAccount,
)
from workflow.articles import art
from workflow.db import db, locked, utcnow
from workflow.deadlines import add_working_days, working_days_between
from workflow.budget import Indicator
from workflow.errors import Conflict, Invalid, NotFound
from workflow.monitoring import alerts
from workflow.files import checked_upload, keep, stored_path
from workflow.machines.special_fund_rules import LIFECYCLE as SPECIAL_FUND_RULES
from workflow.monitoring.models import ReimbursementApproval, SpecialFundRules
from workflow.parties import Actor, require
from workflow.scoping import units_of
from workflow.settings import local_zone
from workflow.verification import open_manual_warning

ACCOUNT_CHANGE_ARTICLE = art(13, 1)


# --- account changes (Art. 13(一)) ---------------------------------------------------------------

def account_changes_for(actor: Actor):
    """Reports in reach: the unit its own, its competent department its units', finance its region's."""
    return sa.select(AccountChangeReport).options(selectinload(AccountChangeReport.unit),
                                                 selectinload(AccountChangeReport.account)).where(
        units_of(actor, AccountChangeReport.unit_id))


def get_account_change(actor: Actor, report_id: int) -> AccountChangeReport:
    row = db.session.execute(account_changes_for(actor).where(AccountChangeReport.id == report_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no account change report {report_id}")
    return row


def report_account_change(actor: Actor, data: dict, now: dt.datetime | None = None) -> AccountChangeReport:
    """A unit reports what happened to one of its accounts at the bank, and when (``changed_on``,
    the bank's date); finance may record a report for a unit of its region.

    ``opened``: the account is recorded for the unit if it is not yet (unregistered until finance
    registers it, as ``POST /accounts``: ``bank_code`` and ``kind`` needed). ``changed`` and
    ``closed`` name an account recorded for the unit; ``closed`` marks the day it was closed at
    the bank, from which day screening warns on payments from it. A report later than the end of
    the fifth working day after ``changed_on`` is late: a warning (``account_change_late``, warn
    level, 第十三条（一）) is opened on the unit and told as screening tells. Journaled on the
    account's stream."""
    require(actor, "unit", "finance", action="report bank account changes")
    now = now or utcnow()
    changed_on: dt.date = data["changed_on"]
    if changed_on > now.astimezone(local_zone()).date():
        raise Invalid("the change cannot lie in the future", {"changed_on": ["after today"]})
    unit = budget.unit_in_reach(actor, data["unit_code"])
    if unit is None:
        raise Invalid("unknown budget unit", {"unit_code": [f"no budget unit {data['unit_code']!r} you may act for"]})
    change = data["change"]
    account = db.session.execute(locked(sa.select(BankAccount).where(
        BankAccount.unit_id == unit.id, BankAccount.number == data["number"]), of=BankAccount)).scalar_one_or_none()
    if account is None:
        if change != "opened":
            raise Invalid("no such account of the unit", {"number": [
                "no account of this number is recorded for the unit; report it opened first"]})
        missing = {key: ["required to record a newly opened account"] for key in ("bank_code", "kind")
                   if not data.get(key)}
        if missing:
            raise Invalid("a newly opened account needs its bank and kind", missing)
        account = budget.register_account(actor, {"unit_code": unit.code, "bank_code": data["bank_code"],
                                                  "number": data["number"], "kind": data["kind"]})
    if change == "closed":
        account.bank_closed_on = changed_on
    due_at = add_working_days(changed_on, REPORT_WORKING_DAYS)
    late = now > due_at
    report = AccountChangeReport(unit_id=unit.id, account_id=account.id, change=change, changed_on=changed_on,
                                 details=(data.get("details") or "").strip(), due_at=due_at, late=late,
                                 reported_by_id=actor.user_id, reported_at=now)
    db.session.add(report)
    db.session.flush()
    if late:
        overdue = working_days_between(due_at, now)
        label = ACCOUNT_CHANGE_LABELS[change]
        warning = open_manual_warning(
            Actor.system(), unit=unit, payment=None, rule="account_change_late", level="warn",
            article=ACCOUNT_CHANGE_ARTICLE, now=now, source={"account_change_report_id": report.id},
            message=(f"账户{account.number}于{changed_on.isoformat()}在开户银行{label}，"
                     f"{now.astimezone(local_zone()).date().isoformat()}才向财政部门报告，超过变更后"
                     f"{REPORT_WORKING_DAYS}个工作日的期限（{due_at.astimezone(local_zone()).date().isoformat()}）"
                     f"{overdue}个工作日"))
        report.warning_id = warning.id
        alerts.tell([alerts.Alert(warning.id, unit.id, warning.level, warning.rule, warning.article, warning.message)],
                    batch=f"warning:{warning.id}", now=now, manual=True)
    journal.record(actor, journal.stream_of("account", account.id), "change_reported", {
        "report_id": report.id, "change": change, "changed_on": changed_on, "details": report.details,
        "due_at": due_at, "late": late, "warning_id": report.warning_id}, now=now)
    return report


# --- approved 归垫 (Art. 10(三)10, 13(三)5, 13(四)) ------------------------------------------------

def advances_for(actor: Actor):
    """Entries in reach: the unit its own, its competent department its units', finance its region's."""
    return sa.select(ReimbursementApproval).options(selectinload(ReimbursementApproval.unit)).where(
        units_of(actor, ReimbursementApproval.unit_id))


def get_advance(actor: Actor, entry_id: int) -> ReimbursementApproval:
    row = db.session.execute(advances_for(actor).where(ReimbursementApproval.id == entry_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no approved reimbursement {entry_id}")
    return row


def register_advance(actor: Actor, data: dict, now: dt.datetime | None = None) -> ReimbursementApproval:
    """Finance enters a 归垫 it approved (报经财政部门审核批准): the unit, the indicator the money
    goes back from, the amount, the reason and the approval document. A payment claiming Art.
    13(三) exception 5 with this document is honoured while the entry has money left for it.
    Journaled (``reimbursement:<id>``)."""
    require(actor, "finance", action="approve reimbursements of advances (归垫)")
    now = now or utcnow()
    unit = budget.unit_in_reach(actor, data["unit_code"])
    if unit is None:
        raise Invalid("unknown budget unit", {"unit_code": [f"no budget unit {data['unit_code']!r} in your jurisdiction"]})
    indicator = db.session.execute(sa.select(Indicator).where(
        Indicator.id == data["indicator_id"], Indicator.unit_id == unit.id)).scalar_one_or_none()
    if indicator is None:
        raise Invalid("not an indicator of the unit", {"indicator_id": ["no budget indicator of this id for the unit"]})
    document_ref = data["document_ref"].strip()
    reason = data["reason"].strip()
    missing = {key: ["required"] for key, value in (("document_ref", document_ref), ("reason", reason)) if not value}
    if missing:
        raise Invalid("an approval names its document and reason", missing)
    _refuse_known_document(unit.id, document_ref)
    entry = ReimbursementApproval(unit_id=unit.id, indicator_id=indicator.id, amount=data["amount"],
                                  remaining=data["amount"], reason=reason, document_ref=document_ref,
                                  approved_by_id=actor.user_id, approved_by_org_id=actor.org_id, created_at=now)
    db.session.add(entry)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        db.session.rollback()  # a racing entry of the same document came first: the same 409
        _refuse_known_document(unit.id, document_ref)
        raise
    journal.record(actor, journal.stream_of("reimbursement", entry.id), "approved", {
        "unit_code": unit.code, "indicator_id": indicator.id, "amount": entry.amount, "reason": reason,
        "document_ref": document_ref}, now=now)
    return entry


def _refuse_known_document(unit_id: int, document_ref: str) -> None:
    known = db.session.execute(sa.select(ReimbursementApproval.id).where(
        ReimbursementApproval.unit_id == unit_id, ReimbursementApproval.document_ref == document_ref)).first()
    if known is not None:
        raise Conflict("this approval document is entered for the unit already",
                       {"document_ref": [f"entered as {known[0]}"]})



# --- internal rules for special funds (Art. 17) ----------------------------------------------------

def special_fund_rules_for(actor: Actor):
    """Filings in reach: the unit its own, its competent department its units', finance its region's."""
    return sa.select(SpecialFundRules).options(selectinload(SpecialFundRules.unit)).where(
        units_of(actor, SpecialFundRules.unit_id))


def get_special_fund_rules(actor: Actor, filing_id: int, *, lock: bool = False) -> SpecialFundRules:
    stmt = special_fund_rules_for(actor).where(SpecialFundRules.id == filing_id)
    row = db.session.execute(locked(stmt, of=SpecialFundRules) if lock else stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no special fund rules {filing_id}")
    return row


def file_special_fund_rules(actor: Actor, data: dict, now: dt.datetime | None = None) -> SpecialFundRules:
    """A unit files its internal management rules for a special fund (Art. 17: the unit makes
    them, finance approves them): ``name``, ``fund_code`` (the fund as its indicators name it),
    ``document_ref``. Pending until finance approves. Journaled (``special_fund_rules:<id>``)."""
    require(actor, "unit", action="file internal rules for special funds (Art. 17: the unit makes them)")
    now = now or utcnow()
    unit = budget.unit_in_reach(actor, data["unit_code"])
    if unit is None:
        raise Invalid("unknown budget unit", {"unit_code": [f"no budget unit {data['unit_code']!r} you may act for"]})
    values = {key: data[key].strip() for key in ("name", "fund_code", "document_ref")}
    missing = {key: ["required"] for key, value in values.items() if not value}
    if missing:
        raise Invalid("a filing names the rules, the fund and the document", missing)
    row = SpecialFundRules(unit_id=unit.id, status=SPECIAL_FUND_RULES.by_trigger["file"][0].dest,
                           filed_by_id=actor.user_id, created_at=now, **values)
    db.session.add(row)
    db.session.flush()
    journal.record(actor, journal.stream_of("special_fund_rules", row.id), "filed",
                   {"unit_code": unit.code, **values}, now=now)
    return row


def attach_special_fund_rules_text(actor: Actor, filing_id: int, *, data: bytes, filename: str | None,
                                   declared_type: str | None, upload_dir: str, max_bytes: int,
                                   now: dt.datetime | None = None) -> SpecialFundRules:
    """The filing unit attaches the rules' text while finance has not decided, checked like
    evidence (size, type by content, a server-chosen name; :mod:`workflow.files`). A later file
    replaces the earlier one; the journal keeps each one's SHA-256."""
    row = get_special_fund_rules(actor, filing_id, lock=True)
    SPECIAL_FUND_RULES.move(row, "attach", actor=actor)
    upload = checked_upload(data, filename, declared_type, max_bytes)
    row.filename, row.stored_name, row.file_type = upload.filename, upload.stored_name, upload.file_type.name
    row.content_type, row.size, row.sha256 = upload.content_type, upload.size, upload.sha256
    journal.record(actor, journal.stream_of("special_fund_rules", row.id), "attached", {
        "filename": upload.filename, "file_type": upload.file_type.name, "size": upload.size, "sha256": upload.sha256},
        now=now or utcnow())
    keep(upload, upload_dir)  # last, once everything that can refuse has run; removed again on rollback
    return row


def decide_special_fund_rules(actor: Actor, filing_id: int, trigger: str, reason: str | None = None,
                              now: dt.datetime | None = None) -> SpecialFundRules:
    """Finance approves (审定备案) or rejects a pending filing; a rejection says why. 403 for any
    other party, 409 for a filing already decided."""
    require(actor, "finance", action="approve internal rules for special funds")
    reason = (reason or "").strip() or None
    if trigger == "reject" and reason is None:
        raise Invalid("a rejection needs its reason", {"reason": ["say why the rules are not approved"]})
    row = get_special_fund_rules(actor, filing_id, lock=True)
    SPECIAL_FUND_RULES.move(row, trigger, actor=actor)
    now = now or utcnow()
    row.status_reason, row.decided_by_id, row.decided_at = reason, actor.user_id, now
    journal.record(actor, journal.stream_of("special_fund_rules", row.id),
                   "approved" if trigger == "approve" else "rejected", {"status": row.status, "reason": reason}, now=now)
    return row


def special_fund_rules_file(row: SpecialFundRules, upload_dir: str) -> str:
    if row.stored_name is None:
        raise NotFound(f"special fund rules {row.id} have no file attached")
    return stored_path(row.stored_name, upload_dir)

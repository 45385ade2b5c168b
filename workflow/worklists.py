"""Work lists (工作台): what a party has to do, and its lists filtered, sorted and paged, as
the console shows them. Each reads through the same visibility predicates as the API's lists
(:func:`workflow.verification.visible`, :func:`workflow.case_records.visible`,
:func:`workflow.documents.own_documents`), so a party is shown nothing it could not read there.

Pages are numbered (``page``, ``per_page`` rows each, one more read to tell whether another
follows) because people sort these lists by amount or deadline, which an id cursor cannot
page; nothing is counted but the small to-do groups.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from workflow import case_records, documents, verification
from workflow.case_records import Case
from workflow.db import db, to_money, utcnow
from workflow.deadlines import add_working_days, working_days_between
from workflow.documents import Document
from workflow.errors import Invalid
from workflow.machines import MACHINES
from workflow.monitoring.models import WARNING_LEVELS, WARNING_STATUSES, MonitoringWarning, Payment
from workflow.monitoring.rules import WARNING_RULES
from workflow.parties import Actor, Organisation
from workflow.settings import local_zone

PER_PAGE = 50
MAX_PAGE = 10_000
DUE_SOON_DAYS = 3  # working days: "due within three working days" on the to-do list
UNDECIDED = verification.UNDECIDED


@dataclass
class Page:
    rows: list
    page: int
    has_more: bool

    @property
    def first(self) -> int:
        return (self.page - 1) * PER_PAGE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * PER_PAGE + len(self.rows)


def _page(stmt, page: int) -> Page:
    page = page if isinstance(page, int) and 1 <= page <= MAX_PAGE else 1
    rows = db.session.execute(stmt.offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)).scalars().unique().all()
    return Page(rows[:PER_PAGE], page, len(rows) > PER_PAGE)


def _choice(filters: dict, name: str, values) -> str | None:
    value = (filters.get(name) or "").strip()
    if not value:
        return None
    if value not in values:
        raise Invalid(f"unknown {name}", {name: [f"one of {', '.join(values)}"]})
    return value


def _money(filters: dict, name: str) -> Decimal | None:
    value = (filters.get(name) or "").strip().replace(",", "").removeprefix("¥")
    if not value:
        return None
    try:
        return to_money(value)
    except (ValueError, ArithmeticError, TypeError):
        raise Invalid(f"{name}: not an amount", {name: ["an amount in yuan, e.g. 1234.56"]}) from None


def _date(filters: dict, name: str) -> dt.date | None:
    value = (filters.get(name) or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name}: not a date", {name: ["a date, YYYY-MM-DD"]}) from None


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=local_zone())


# --- warnings ---------------------------------------------------------------------------------

WARNING_SORTS = {
    "-id": (MonitoringWarning.id.desc(),),
    "id": (MonitoringWarning.id,),
    "-amount": (Payment.amount.desc().nulls_last(), MonitoringWarning.id.desc()),
    "amount": (Payment.amount.nulls_last(), MonitoringWarning.id.desc()),
    "level": (sa.case({level: i for i, level in enumerate(WARNING_LEVELS)}, value=MonitoringWarning.level),
              MonitoringWarning.id.desc()),
    "status": (sa.case({s: i for i, s in enumerate(WARNING_STATUSES)}, value=MonitoringWarning.status),
               MonitoringWarning.id.desc()),
}
WARNING_FILTERS = ("level", "rule", "unit_code", "status", "min_amount", "max_amount", "date_from", "date_to")


def warning_page(actor: Actor, filters: dict, *, sort: str = "-id", page: int = 1) -> Page:
    """The warnings ``actor`` may see (:func:`workflow.verification.warnings_for`), filtered by
    level, rule, unit code, status, the payment's amount (``min_amount``/``max_amount``, yuan)
    and the day raised (``date_from``/``date_to``, local dates), sorted by ``sort`` (a key of
    :data:`WARNING_SORTS`). A bad filter is Invalid naming it."""
    checked = {"level": _choice(filters, "level", WARNING_LEVELS), "rule": _choice(filters, "rule", WARNING_RULES),
               "status": _choice(filters, "status", WARNING_STATUSES),
               "unit_code": (filters.get("unit_code") or "").strip() or None}
    stmt = verification.warnings_for(actor, checked).outerjoin(Payment, Payment.id == MonitoringWarning.payment_id)
    low, high = _money(filters, "min_amount"), _money(filters, "max_amount")
    if low is not None:
        stmt = stmt.where(Payment.amount >= low)
    if high is not None:
        stmt = stmt.where(Payment.amount <= high)
    since, until = _date(filters, "date_from"), _date(filters, "date_to")
    if since is not None:
        stmt = stmt.where(MonitoringWarning.created_at >= _start_of(since))
    if until is not None:
        stmt = stmt.where(MonitoringWarning.created_at < _start_of(until + dt.timedelta(days=1)))
    order = WARNING_SORTS.get(sort)
    if order is None:
        raise Invalid("unknown sort", {"sort": [f"one of {', '.join(WARNING_SORTS)}"]})
    return _page(stmt.order_by(*order), page)


# --- cases --------------------------------------------------------------------------------------

CASE_STATES = tuple(sorted({s for m in MACHINES.values() for s in m.states}))
CASE_SORTS = {
    # as ix_cases_deadline_id serves it (PostgreSQL's ascending order puts NULLs last already)
    "deadline": (Case.deadline.asc().nulls_last(), Case.id),
    "-id": (Case.id.desc(),),
    "id": (Case.id,),
}
CASE_FILTERS = ("machine", "state", "due", "subject")
DUE_FILTERS = ("overdue", "soon", "open", "closed")


def _by_deadline(actor: Actor) -> tuple:
    """Soonest deadline first, none last, then id. A wide reach (a province's or a city's finance)
    walks ix_cases_deadline_id in that order and stops after the page; a narrow one (a unit, a
    department: :func:`workflow.case_records.reach` seeks it) reads its few cases by subject and
    sorts them, so the deadline is given as an expression no index serves (else the planner
    walks every case's deadline looking for the unit's)."""
    if case_records.reach(actor).walk is not None:
        return Case.deadline.asc().nulls_last(), Case.id
    return sa.func.coalesce(Case.deadline, Case.deadline).asc().nulls_last(), Case.id


def due_soon_limit(now: dt.datetime) -> dt.datetime:
    """The end of the third working day from now: deadlines up to it are "due soon"."""
    return add_working_days(now, DUE_SOON_DAYS)


def _open(stmt):
    return stmt.where(Case.closed_at.is_(None))


def case_page(actor: Actor, filters: dict, *, sort: str = "deadline", page: int = 1,
              now: dt.datetime | None = None) -> Page:
    """The cases ``actor`` may see (:func:`workflow.case_records.cases_for`), filtered by machine,
    state, subject code and ``due`` (overdue; soon: due within three working days; open;
    closed), sorted by deadline (soonest first, none last) or id."""
    now = now or utcnow()
    stmt = case_records.cases_for(actor)
    machine = _choice(filters, "machine", tuple(MACHINES))
    state = _choice(filters, "state", CASE_STATES)
    due = _choice(filters, "due", DUE_FILTERS)
    if machine:
        stmt = stmt.where(Case.machine == machine)
    if state:
        stmt = stmt.where(Case.state == state)
    subject = (filters.get("subject") or "").strip()
    if subject:
        stmt = stmt.join(Case.subject).where(Organisation.code == subject)
    if due == "overdue":
        stmt = _open(stmt).where(Case.deadline.is_not(None), Case.deadline < now)
    elif due == "soon":
        stmt = _open(stmt).where(Case.deadline >= now, Case.deadline <= due_soon_limit(now))
    elif due == "open":
        stmt = _open(stmt)
    elif due == "closed":
        stmt = stmt.where(Case.closed_at.is_not(None))
    order = CASE_SORTS.get(sort)
    if order is None:
        raise Invalid("unknown sort", {"sort": [f"one of {', '.join(CASE_SORTS)}"]})
    return _page(stmt.order_by(*(_by_deadline(actor) if sort == "deadline" else order)), page)


def working_days_left(case: Case, now: dt.datetime | None = None) -> int | None:
    """Working days from today to the case's deadline (0: due today); None when nothing is due
    or the deadline has passed (a list says 已逾期: counting the working days since a deadline
    long past walks every day in between, for every row)."""
    now = now or utcnow()
    if case.deadline is None or case.closed_at is not None or case.deadline < now:
        return None
    return working_days_between(now, case.deadline)


def working_days_overdue(case: Case, now: dt.datetime | None = None) -> int | None:
    """Working days since an open case's deadline passed (one case's page), else None."""
    now = now or utcnow()
    if case.deadline is None or case.closed_at is not None or case.deadline >= now:
        return None
    return working_days_between(case.deadline, now)


# --- documents ----------------------------------------------------------------------------------

def document_page(actor: Actor, filters: dict, *, page: int = 1) -> Page:
    """The caller's own notices (:func:`workflow.documents.own_documents`), newest first;
    ``kind`` and ``unacknowledged`` (``yes``/``no``) filter."""
    kind = _choice(filters, "kind", tuple(documents.KINDS))
    ack = _choice(filters, "unacknowledged", ("yes", "no"))
    stmt = documents.own_documents(actor, kind=kind, unacknowledged=None if ack is None else ack == "yes")
    stmt = stmt.options(selectinload(Document.issuer), selectinload(Document.addressee))
    return _page(stmt.order_by(Document.id.desc()), page)


# --- the to-do list -------------------------------------------------------------------------------

@dataclass
class Todo:
    """What needs doing (待办事项): undecided warnings by level, open cases overdue and due
    soon (with the working days left), and notices waiting for acknowledgement, either to be
    acknowledged by the caller (``to_acknowledge``) or issued by it and not yet returned
    (``awaiting_return``)."""

    warnings_by_level: dict[str, int]
    warnings: list
    overdue: list
    due_soon: list
    to_acknowledge: list
    awaiting_return: list
    open_cases: list  # the caller's open cases, soonest deadline first


TODO_ROWS = 10


def todo(actor: Actor, now: dt.datetime | None = None) -> Todo:
    now = now or utcnow()
    visible_warnings = verification.visible(actor)
    counts = dict(db.session.execute(
        sa.select(MonitoringWarning.level, sa.func.count()).where(visible_warnings,
                                                                  MonitoringWarning.status.in_(UNDECIDED))
        .group_by(MonitoringWarning.level)).all())
    by_level = {level: counts.get(level, 0) for level in WARNING_LEVELS}
    warnings = db.session.execute(
        verification.warnings_for(actor, {}).where(MonitoringWarning.status.in_(UNDECIDED))
        .order_by(sa.case({level: i for i, level in enumerate(WARNING_LEVELS)}, value=MonitoringWarning.level),
                  MonitoringWarning.id.desc()).limit(TODO_ROWS)).scalars().all()
    by_deadline = _by_deadline(actor)
    with_deadline = _open(case_records.cases_for(actor)).where(Case.deadline.is_not(None)).order_by(*by_deadline)
    overdue = db.session.execute(with_deadline.where(Case.deadline < now).limit(TODO_ROWS)).scalars().all()
    due_soon = db.session.execute(with_deadline.where(Case.deadline >= now, Case.deadline <= due_soon_limit(now))
                                  .limit(TODO_ROWS)).scalars().all()
    open_cases = db.session.execute(with_deadline.limit(TODO_ROWS)).scalars().all()
    to_acknowledge = awaiting = []
    if not actor.is_system:
        pending = documents.own_documents(actor, unacknowledged=True).order_by(Document.id.desc()).limit(TODO_ROWS)
        to_acknowledge = db.session.execute(pending.where(Document.addressee_id == actor.org_id)).scalars().all()
        awaiting = db.session.execute(pending.where(Document.issuer_id == actor.org_id)).scalars().all()
    return Todo(by_level, warnings, overdue, due_soon, to_acknowledge, awaiting, open_cases)

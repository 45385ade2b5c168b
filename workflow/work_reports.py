"""Reports up the levels (Art. 11(五), 25(三)): city and county finance report their monitoring
work to the finance department above regularly, and major problems at once.

- :class:`WorkReport` (工作情况报告): a draft is created for a period filled from the statistics
  of the reporting department's region (:func:`workflow.statistics.statistics`, grouped by the
  finance departments below it; the figures are stored with the report), the department adds its
  narrative while it is a draft, then submits it: from then it is immutable (the lifecycle
  :data:`workflow.machines.circular.WORK_REPORT` has no row leaving ``submitted``) and the
  finance department above is told. One report per department and period.
- :class:`MajorProblem` (重大问题): reported at once as its own item (title, description, amount,
  units concerned, files), telling the finance department above in the same transaction.

The level above lists who of the departments directly below has submitted for a period and who
has not (:func:`overview`) and reads each report: the province its cities, a city its counties
(a finance department reads the reports of its region). Other parties get 403. Journal streams
``work_report:<id>`` and ``major_problem:<id>``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from workflow import message_builders, outbox, statistics
from workflow.db import AwareDateTime, Money, db, json_safe, locked, utcnow
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.files import checked_upload, keep, stored_path
from workflow.journal import record, stream_of
from workflow.machines.circular import SUBMITTED, WORK_REPORT
from workflow.parties import Actor, Organisation, require
from workflow.scoping import units_of
from workflow.status_writes import checked_status

MAX_UNITS = 100


class WorkReport(db.Model):
    """A finance department's periodic work report to the department above."""

    __tablename__ = "work_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    upper_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    period_first: Mapped[dt.date] = mapped_column(sa.Date)
    period_last: Mapped[dt.date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16))
    figures: Mapped[dict] = mapped_column(sa.JSON)
    narrative: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    submitted_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)

    org: Mapped[Organisation] = relationship(foreign_keys=[org_id])
    upper: Mapped[Organisation] = relationship(foreign_keys=[upper_id])

    __table_args__ = (sa.UniqueConstraint("org_id", "period_first", "period_last", name="uq_work_reports_period"),)

    @sa.orm.validates("status")
    def _status(self, _key, value):
        return checked_status(self, value, WORK_REPORT.initial, "work_report")

    @property
    def org_code(self) -> str:
        return self.org.code

    @property
    def org_name(self) -> str:
        return self.org.name

    @property
    def upper_code(self) -> str:
        return self.upper.code


class MajorProblem(db.Model):
    """A major problem (重大问题) reported at once to the finance department above."""

    __tablename__ = "major_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    upper_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    unit_codes: Mapped[list] = mapped_column(sa.JSON)
    reported_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reported_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    org: Mapped[Organisation] = relationship(foreign_keys=[org_id])
    upper: Mapped[Organisation] = relationship(foreign_keys=[upper_id])
    files: Mapped[list[MajorProblemFile]] = relationship(viewonly=True, order_by="MajorProblemFile.id")

    @property
    def org_code(self) -> str:
        return self.org.code

    @property
    def upper_code(self) -> str:
        return self.upper.code


class MajorProblemFile(db.Model):
    """A file given with a major problem; the bytes live in the upload folder (``stored_name``)."""

    __tablename__ = "major_problem_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(sa.ForeignKey("major_problems.id"), index=True)
    uploaded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    file_type: Mapped[str] = mapped_column(sa.String(8))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)


# --- who sees what -----------------------------------------------------------------------------------

def _region(actor: Actor):
    return sa.select(Organisation.id).where(Organisation.kind == "finance",
                                            Organisation.finance_path.startswith(actor.finance_path))


def upper_of(actor: Actor) -> Organisation:
    """The finance department one level above the caller's (403 for the province: none above)."""
    require(actor, "finance", action="report to the level above (Art. 11(五))")
    org = db.session.get(Organisation, actor.org_id)
    upper = org.parent if org is not None else None
    if upper is None or upper.kind != "finance":
        raise Forbidden("the province-level finance department reports to no finance department above")
    return upper


def reports_for(actor: Actor, *, status: str | None = None, org_code: str | None = None) -> sa.Select:
    """The work reports of the finance departments of the caller's region (its own and those
    below); finance only (403 for others: the reports are between finance departments)."""
    require(actor, "finance", action="read monitoring work reports (Art. 11(五))")
    stmt = sa.select(WorkReport).options(selectinload(WorkReport.org), selectinload(WorkReport.upper))
    if not actor.is_system:
        stmt = stmt.where(WorkReport.org_id.in_(_region(actor)))
    if status is not None:
        stmt = stmt.where(WorkReport.status == status)
    if org_code is not None:
        stmt = stmt.where(WorkReport.org_id.in_(sa.select(Organisation.id).where(Organisation.code == org_code)))
    return stmt


def get_report(actor: Actor, report_id: int, *, lock: bool = False) -> WorkReport:
    stmt = reports_for(actor).where(WorkReport.id == report_id)
    row = db.session.execute(locked(stmt, of=WorkReport) if lock else stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no work report {report_id}")
    return row


def _own(actor: Actor, report: WorkReport) -> None:
    if report.org_id != actor.org_id:
        raise Forbidden("only the reporting department changes its report; the level above reads it")


def create_draft(actor: Actor, first: dt.date, last: dt.date, now: dt.datetime | None = None) -> WorkReport:
    """A draft for the period, filled from the statistics of the caller's region grouped by the
    finance departments below it (the figures stored as ``GET /statistics?group_by=finance``
    answers them). 409 if the department has a report for that period already."""
    upper = upper_of(actor)
    p = statistics.period(first, last)
    known = db.session.execute(sa.select(WorkReport.id).where(
        WorkReport.org_id == actor.org_id, WorkReport.period_first == p.first,
        WorkReport.period_last == p.last)).scalar_one_or_none()
    if known is not None:
        raise Conflict("a work report for this period exists already", {"to": [f"work report {known}"]})
    now = now or utcnow()
    figures = json_safe(statistics.statistics(actor, p, "finance"))
    report = WorkReport(org_id=actor.org_id, upper_id=upper.id, upper=upper, period_first=p.first,
                        period_last=p.last, status=WORK_REPORT.by_trigger["draft"][0].dest, figures=figures,
                        narrative="", created_by=actor.user_id, created_at=now)
    db.session.add(report)
    db.session.flush()
    record(actor, stream_of("work_report", report.id), "drafted", {
        "period": figures["period"], "upper_code": upper.code, "figures_sha256": _digest(figures)}, now,
        new_stream=True)
    return report


def _digest(value) -> str:
    return hashlib.sha256(repr(value).encode("utf-8")).hexdigest()


def edit_draft(actor: Actor, report_id: int, narrative: str, now: dt.datetime | None = None) -> WorkReport:
    """The reporting department writes its narrative while the report is a draft (409 after)."""
    report = get_report(actor, report_id, lock=True)
    _own(actor, report)
    WORK_REPORT.move(report, "edit", actor=actor)
    report.narrative = narrative
    record(actor, stream_of("work_report", report.id), "edited",
           {"narrative_sha256": hashlib.sha256(narrative.encode("utf-8")).hexdigest()}, now or utcnow())
    return report


def submit(actor: Actor, report_id: int, now: dt.datetime | None = None) -> WorkReport:
    """Submit the report to the level above (immutable from now; 409 if submitted) and tell it."""
    report = get_report(actor, report_id, lock=True)
    _own(actor, report)
    if not report.narrative.strip():
        raise Invalid("a work report needs its narrative before it is submitted",
                      {"narrative": ["write the work done and the problems found first"]})
    WORK_REPORT.move(report, "submit", actor=actor)
    now = now or utcnow()
    report.submitted_by, report.submitted_at = actor.user_id, now
    record(actor, stream_of("work_report", report.id), "submitted", {
        "upper_code": report.upper.code, "figures_sha256": _digest(report.figures),
        "narrative_sha256": hashlib.sha256(report.narrative.encode("utf-8")).hexdigest()}, now)
    outbox.notify(**message_builders.work_report_submitted(report, reporter=report.org, upper=report.upper), now=now)
    return report


def overview(actor: Actor, first: dt.date, last: dt.date) -> list[dict]:
    """For the finance departments directly below the caller: whether each has submitted its
    report for the period (``submitted``), has a draft (``draft``) or nothing (``missing``)."""
    require(actor, "finance", action="read monitoring work reports (Art. 11(五))")
    p = statistics.period(first, last)
    below = list(db.session.execute(sa.select(Organisation).where(
        Organisation.kind == "finance", Organisation.parent_id == actor.org_id).order_by(Organisation.code)).scalars())
    reports = {r.org_id: r for r in db.session.execute(sa.select(WorkReport).where(
        WorkReport.org_id.in_([o.id for o in below]), WorkReport.period_first == p.first,
        WorkReport.period_last == p.last)).scalars()} if below else {}
    out = []
    for org in below:
        report = reports.get(org.id)
        state = "missing" if report is None else report.status
        out.append({"org_code": org.code, "org_name": org.name, "level": org.level, "status": state,
                    "report_id": report.id if report is not None and report.status == SUBMITTED else None,
                    "submitted_at": report.submitted_at if report is not None else None})
    return out



# --- major problems ----------------------------------------------------------------------------------

def problems_for(actor: Actor) -> sa.Select:
    require(actor, "finance", action="read major problems reported (Art. 11(五))")
    stmt = sa.select(MajorProblem).options(selectinload(MajorProblem.org), selectinload(MajorProblem.upper),
                                           selectinload(MajorProblem.files))
    return stmt if actor.is_system else stmt.where(MajorProblem.org_id.in_(_region(actor)))


def get_problem(actor: Actor, problem_id: int) -> MajorProblem:
    row = db.session.execute(problems_for(actor).where(MajorProblem.id == problem_id)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no major problem {problem_id}")
    return row


def report_problem(actor: Actor, data: dict, *, uploads: list[tuple[bytes, str | None, str | None]] = (),
                   upload_dir: str | None = None, max_bytes: int | None = None,
                   now: dt.datetime | None = None) -> MajorProblem:
    """Report a major problem at once: ``title``, ``description``, optional ``amount`` and
    ``unit_codes`` (units of the caller's region) and files; the level above is told in the same
    transaction."""
    upper = upper_of(actor)
    title, description = (data.get("title") or "").strip(), (data.get("description") or "").strip()
    missing = {k: ["required"] for k, v in (("title", title), ("description", description)) if not v}
    if missing:
        raise Invalid("a major problem needs its title and description", missing)
    codes = list(dict.fromkeys(data.get("unit_codes") or []))
    if len(codes) > MAX_UNITS:
        raise Invalid("too many units", {"unit_codes": [f"at most {MAX_UNITS}"]})
    if codes:
        known = set(db.session.execute(sa.select(Organisation.code).where(
            Organisation.code.in_(codes), Organisation.kind.in_(("unit", "competent")),
            units_of(actor, Organisation.id))).scalars())
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise Invalid("a unit is not in your region",
                          {"unit_codes": [f"no unit {', '.join(unknown)} in your region"]})
    checked = [checked_upload(d, f, t, max_bytes) for d, f, t in uploads]
    now = now or utcnow()
    problem = MajorProblem(org_id=actor.org_id, upper_id=upper.id, upper=upper, title=title, description=description,
                           amount=data.get("amount"), unit_codes=codes, reported_by=actor.user_id, reported_at=now)
    db.session.add(problem)
    db.session.flush()
    rows = [MajorProblemFile(problem_id=problem.id, uploaded_by=actor.user_id, filename=c.filename,
                             stored_name=c.stored_name, file_type=c.file_type.name, content_type=c.content_type,
                             size=c.size, sha256=c.sha256, created_at=now) for c in checked]
    db.session.add_all(rows)
    db.session.flush()
    record(actor, stream_of("major_problem", problem.id), "reported", {
        "title": title, "description": description, "amount": problem.amount, "unit_codes": codes,
        "upper_code": upper.code,
        "files": [{"file_id": r.id, "filename": r.filename, "sha256": r.sha256} for r in rows]},
        now, new_stream=True)
    outbox.notify(**message_builders.major_problem_reported(problem, reporter=problem.org, upper=upper), now=now)
    for c in checked:
        assert upload_dir is not None
        keep(c, upload_dir)
    return problem


def get_problem_file(actor: Actor, file_id: int) -> MajorProblemFile:
    row = db.session.get(MajorProblemFile, file_id)
    if row is None or db.session.execute(problems_for(actor).where(
            MajorProblem.id == row.problem_id).with_only_columns(MajorProblem.id)).first() is None:
        raise NotFound(f"no major problem file {file_id}")
    return row


def problem_file_path(row: MajorProblemFile, upload_dir: str) -> str:
    return stored_path(row.stored_name, upload_dir)

"""Circulars of common problems (问题通报, Art. 11(四), 25(三), 26(三)): finance puts the monitoring's
results to use by circulating common problems, typical cases and risks to the competent departments
of its level, which check themselves (自查自纠) and answer.

- :class:`Circular`: compiled by a finance department from chosen statistics (a period and a
  grouping of :func:`workflow.statistics.statistics`, whose figures are stored with it and printed
  in it) and chosen typical cases in its reach, anonymised or not as finance chooses (anonymised:
  no unit's name or code appears in the text, the groups and the cases are numbered instead). It
  is a numbered document (kind ``problem_circular``) addressed to the first competent department
  and circulated to the others and, if finance includes them, to their units; each gets it in
  its inbox (``circular_issued``) and its document list.
- :class:`CircularAnswer`: one per recipient, ``pending`` until it answers with its self-check
  result and files (:class:`CircularFile`, checked and stored as case evidence is), never changed
  after (:data:`workflow.machines.circular.CIRCULAR_ANSWER`).
- The scheduler (:func:`run_circular_checks`, from :func:`workflow.scheduling.run_deadline_checks`)
  reminds the recipients that have not answered (``FUNDWATCH_REMINDER_OFFSETS`` working days before
  the due date) and, once it has passed, tells the issuer who has not answered: each exactly once
  across schedulers, fenced by a :class:`CircularEffect` row claimed first
  (:func:`workflow.scheduling.claim_effect`'s way).

Who sees what: finance its own circulars and, read-only, those of the regions below; a competent
department or a unit the circulars it received. Journal stream ``circular:<id>``.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from workflow import case_records, deadlines, documents, message_builders, outbox, statistics
from workflow.db import AwareDateTime, db, insert_if_absent, json_safe, locked, utcnow
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.files import checked_upload, keep, stored_path
from workflow.journal import record, stream_of
from workflow.machines import MACHINES
from workflow.machines.circular import CIRCULAR, CIRCULAR_ANSWER, PENDING
from workflow.parties import Actor, Organisation, require
from workflow.settings import local_zone
from workflow.status_writes import checked_status

log = logging.getLogger(__name__)

REMIND = "remind"  # effect kinds remind_N (N working days left), and overdue
OVERDUE = "overdue"
MAX_CASES = 20
MAX_FILES = 10


class Circular(db.Model):
    """A circular of common problems, its chosen figures and cases, and its self-check due date."""

    __tablename__ = "circulars"

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("documents.id"), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    period_first: Mapped[dt.date] = mapped_column(sa.Date)
    period_last: Mapped[dt.date] = mapped_column(sa.Date)
    group_by: Mapped[str] = mapped_column(sa.String(16))
    figures: Mapped[dict] = mapped_column(sa.JSON)  # the statistics as they stood when compiled
    case_ids: Mapped[list] = mapped_column(sa.JSON)
    anonymised: Mapped[bool]
    include_units: Mapped[bool]
    due_on: Mapped[dt.date] = mapped_column(sa.Date)
    due_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, index=True)  # end of due_on, local
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)

    issuer: Mapped[Organisation] = relationship()
    document: Mapped[documents.Document] = relationship()
    answers: Mapped[list[CircularAnswer]] = relationship(viewonly=True, order_by="CircularAnswer.id")

    @sa.orm.validates("status")
    def _status(self, _key, value):
        return checked_status(self, value, CIRCULAR.initial, "circular")

    @property
    def number(self) -> str:
        return self.document.number

    @property
    def issuer_code(self) -> str:
        return self.issuer.code


class CircularAnswer(db.Model):
    """One recipient's self-check (自查情况): pending until it answers, then fixed."""

    __tablename__ = "circular_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    circular_id: Mapped[int] = mapped_column(sa.ForeignKey("circulars.id"))
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    result: Mapped[str | None] = mapped_column(sa.Text)
    answered_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    answered_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)

    org: Mapped[Organisation] = relationship()
    files: Mapped[list[CircularFile]] = relationship(viewonly=True, order_by="CircularFile.id")

    __table_args__ = (sa.UniqueConstraint("circular_id", "org_id", name="uq_circular_answers_recipient"),)

    @sa.orm.validates("status")
    def _status(self, _key, value):
        return checked_status(self, value, CIRCULAR_ANSWER.initial, "circular_answer")

    @property
    def org_code(self) -> str:
        return self.org.code

    @property
    def org_name(self) -> str:
        return self.org.name


class CircularFile(db.Model):
    """A file given with a self-check answer; the bytes live in the upload folder (``stored_name``)."""

    __tablename__ = "circular_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(sa.ForeignKey("circular_answers.id"), index=True)
    uploader_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    uploaded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    file_type: Mapped[str] = mapped_column(sa.String(8))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)


class CircularEffect(db.Model):
    """One thing the scheduler did about a circular: a reminder to one recipient at one offset
    (``remind_N``) or the issuer told who has not answered (``overdue``, ``org_id`` the issuer).
    Its unique key makes each happen once across schedulers."""

    __tablename__ = "circular_effects"

    id: Mapped[int] = mapped_column(primary_key=True)
    circular_id: Mapped[int] = mapped_column(sa.ForeignKey("circulars.id"))
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(sa.String(24))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("circular_id", "org_id", "kind", name="uq_circular_effects_key"),)


# --- who sees what ---------------------------------------------------------------------------------

def visible(actor: Actor) -> sa.ColumnElement[bool]:
    """Finance: the circulars of the finance departments of its region (its own and, read-only,
    those below); a competent department or a unit: those it received; others none."""
    if actor.is_system:
        return sa.true()
    if actor.kind == "finance":
        return Circular.issuer_id.in_(sa.select(Organisation.id).where(
            Organisation.kind == "finance", Organisation.finance_path.startswith(actor.finance_path)))
    if actor.kind in ("competent", "unit"):
        return Circular.id.in_(sa.select(CircularAnswer.circular_id).where(CircularAnswer.org_id == actor.org_id))
    return sa.false()


def circulars_for(actor: Actor, *, status: str | None = None) -> sa.Select:
    stmt = sa.select(Circular).where(visible(actor)).options(selectinload(Circular.document),
                                                              selectinload(Circular.issuer))
    if status is not None:
        stmt = stmt.where(Circular.status == status)
    return stmt


def get_circular(actor: Actor, circular_id: int, *, lock: bool = False) -> Circular:
    stmt = circulars_for(actor).where(Circular.id == circular_id)
    row = db.session.execute(locked(stmt, of=Circular) if lock else stmt).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no circular {circular_id}")
    return row


def answers_of(actor: Actor, circular_id: int) -> sa.Select:
    """The answers of a circular: finance sees every recipient's status, a recipient its own."""
    circular = get_circular(actor, circular_id)
    stmt = sa.select(CircularAnswer).where(CircularAnswer.circular_id == circular.id).options(
        selectinload(CircularAnswer.org), selectinload(CircularAnswer.files))
    if actor.kind != "finance" and not actor.is_system:
        stmt = stmt.where(CircularAnswer.org_id == actor.org_id)
    return stmt


def get_file(actor: Actor, file_id: int) -> CircularFile:
    """A file of an answer the caller sees (NotFound otherwise)."""
    row = db.session.get(CircularFile, file_id)
    if row is not None:
        answer = db.session.get(CircularAnswer, row.answer_id)
        visible_answers = answers_of_or_none(actor, answer.circular_id)
        if visible_answers is not None and row.answer_id in visible_answers:
            return row
    raise NotFound(f"no circular file {file_id}")


def answers_of_or_none(actor: Actor, circular_id: int) -> set[int] | None:
    try:
        return set(db.session.execute(answers_of(actor, circular_id).with_only_columns(CircularAnswer.id)).scalars())
    except NotFound:
        return None


def file_path(row: CircularFile, upload_dir: str) -> str:
    return stored_path(row.stored_name, upload_dir)


# --- compiling ---------------------------------------------------------------------------------------

def _same_level_competent(actor: Actor) -> list[Organisation]:
    """The competent departments of the caller's own level (同级主管部门): its region, not below."""
    return list(db.session.execute(sa.select(Organisation).where(
        Organisation.kind == "competent", Organisation.finance_path == actor.finance_path)
        .order_by(Organisation.code)).scalars())


def _recipients(actor: Actor, codes: list[str] | None, include_units: bool) -> list[Organisation]:
    competent = _same_level_competent(actor)
    if codes:
        by_code = {o.code: o for o in competent}
        unknown = [code for code in codes if code not in by_code]
        if unknown:
            raise Invalid("a recipient is not a competent department of your level",
                          {"recipients": [f"not a competent department of your level: {', '.join(unknown)}"]})
        competent = [by_code[code] for code in dict.fromkeys(codes)]
    if not competent:
        raise Invalid("no competent department to send the circular to",
                      {"recipients": ["no competent department of your level"]})
    units: list[Organisation] = []
    if include_units:
        units = list(db.session.execute(sa.select(Organisation).where(
            Organisation.kind == "unit", Organisation.parent_id.in_([o.id for o in competent]))
            .order_by(Organisation.code)).scalars())
    return competent + units


def _cases(actor: Actor, case_ids: list[int]) -> list[case_records.Case]:
    if len(case_ids) > MAX_CASES:
        raise Invalid("too many typical cases", {"case_ids": [f"at most {MAX_CASES}"]})
    ids = list(dict.fromkeys(case_ids))
    found = {c.id: c for c in db.session.execute(sa.select(case_records.Case).where(
        case_records.Case.id.in_(ids), case_records.visible(actor))).scalars()} if ids else {}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise Invalid("a typical case is not in your reach", {"case_ids": [f"no case {', '.join(missing)}"]})
    return [found[i] for i in ids]


def _figure_line(label: str, figures: dict) -> str:
    parts = []
    payments, warnings, cases = figures.get("payments"), figures.get("warnings"), figures.get("cases")
    if payments:
        parts.append(f"监控支付{payments['screened']}笔、金额{payments['amount']}元，拦截{payments.get('intercepted', 0)}笔")
    if warnings:
        rate = f"，确认率{warnings['confirmation_rate']}%" if warnings.get("confirmation_rate") else ""
        parts.append(f"发出预警{warnings['raised']}条，其中确认违规{warnings['confirmed']}条、"
                     f"排除{warnings['dismissed']}条、待核实{warnings['pending']}条{rate}")
    if cases:
        parts.append(f"立案处理{cases['opened']}件，办结{cases['closed']}件，逾期{cases['overdue']}件")
    return f"{label}：{'；'.join(parts) or '无监控数据'}"


def _findings(stats: dict, anonymised: bool) -> tuple[list[str], list[tuple[str, str]]]:
    """The figures as the circular prints them, and the (name, code) pairs anonymising hides."""
    hidden = []
    lines = []
    by_org = stats["group_by"] in statistics.BY_ORGANISATION
    for index, group in enumerate(stats["groups"], start=1):
        if by_org:
            hidden.append((group["name"] or "", group["code"] or ""))
            label = f"单位{index}" if anonymised else (group["name"] or group["code"] or "未归属")
        else:
            label = str(group["key"])
        lines.append(_figure_line(label, group))
    lines.append(_figure_line("合计", stats["total"]))
    return lines, hidden


def _case_lines(cases: list[case_records.Case], anonymised: bool) -> list[str]:
    lines = []
    for index, case in enumerate(cases, start=1):
        spec = MACHINES[case.machine]
        rung = spec.state(case.rung).label if case.rung in spec.states else case.rung
        summary = case.summary
        if anonymised:
            subject = case.subject
            names = [(subject.name, subject.code)]
            if subject.parent is not None:
                names.append((subject.parent.name, subject.parent.code))
            for name, code in names:
                summary = summary.replace(name, "某单位").replace(code, "某单位")
            lines.append(f"案例{index}：某单位，{summary}（{rung}）")
        else:
            lines.append(f"案例{index}：{case.subject.name}（{case.subject.code}），{summary}（{rung}）")
    return lines


def _scrub(lines: list[str], hidden: list[tuple[str, str]]) -> list[str]:
    """Anonymised: no name or code of a grouped organisation survives anywhere in the text."""
    out = []
    for line in lines:
        for name, code in hidden:
            for word in (name, code):
                if word:
                    line = line.replace(word, "某单位")
        out.append(line)
    return out


def due_at_of(due_on: dt.date) -> dt.datetime:
    """The end of the due date, local time: answers are on time all that day."""
    return dt.datetime.combine(due_on, dt.time(23, 59, 59), local_zone())


def compile_circular(actor: Actor, data: dict, now: dt.datetime | None = None) -> Circular:
    """Finance compiles and issues a circular (see the module): ``from``/``to`` and ``group_by``
    choose the statistics, ``case_ids`` the typical cases, ``anonymised`` (default true) hides
    the units, ``recipients`` (codes; default every competent department of the caller's level),
    ``include_units`` adds their units, ``due_on`` is the self-check's due date (after today),
    ``requirements`` optional lines. In the caller's transaction; Invalid naming the field."""
    require(actor, "finance", action="circulate common problems (Art. 11(四))")
    now = now or utcnow()
    today = now.astimezone(local_zone()).date()
    due_on: dt.date = data["due_on"]
    if due_on <= today:
        raise Invalid("the self-check is due after today", {"due_on": ["must be after today"]})
    p = statistics.period(data["from_"], data["to"])
    group_by = data.get("group_by") or "unit"
    recipients = _recipients(actor, data.get("recipients"), bool(data.get("include_units")))
    cases = _cases(actor, data.get("case_ids") or [])
    anonymised = data.get("anonymised", True)
    stats = json_safe(statistics.statistics(actor, p, group_by))
    findings, hidden = _findings(stats, anonymised)
    case_lines = _case_lines(cases, anonymised)
    requirements = [line.strip() for line in (data.get("requirements") or []) if line and line.strip()]
    if anonymised:
        hidden += [(c.subject.name, c.subject.code) for c in cases]
        findings, case_lines, requirements = _scrub(findings, hidden), _scrub(case_lines, hidden), \
            _scrub(requirements, hidden)
    issuer = db.session.get(Organisation, actor.org_id)
    competent = [o for o in recipients if o.kind == "competent"]
    circulated_to = "、".join(o.name for o in competent) + ("及所属预算单位" if len(recipients) > len(competent) else "")
    context = {"period": f"{p.first.year}年{p.first.month}月{p.first.day}日至{p.last.year}年{p.last.month}月{p.last.day}日",
               "circulated_to": circulated_to, "findings": findings, "cases": case_lines or None,
               "requirements": requirements or None, "due_on": due_on}
    document = documents.issue_document(actor, kind="problem_circular", issuer=issuer, addressee=competent[0],
                                        context=context, circulate_to=recipients[1:], now=now)
    circular = Circular(issuer_id=issuer.id, issuer=issuer, document_id=document.id, document=document,
                        status=CIRCULAR.by_trigger["issue"][0].dest, period_first=p.first, period_last=p.last,
                        group_by=group_by, figures=stats, case_ids=[c.id for c in cases], anonymised=anonymised,
                        include_units=bool(data.get("include_units")), due_on=due_on, due_at=due_at_of(due_on),
                        created_by=actor.user_id, created_at=now)
    db.session.add(circular)
    db.session.flush()
    pending = CIRCULAR_ANSWER.by_trigger["address"][0].dest
    db.session.add_all([CircularAnswer(circular_id=circular.id, org_id=o.id, org=o, status=pending)
                        for o in recipients])
    db.session.flush()
    record(actor, stream_of("circular", circular.id), "issued", {
        "number": document.number, "document_id": document.id, "period": stats["period"], "group_by": group_by,
        "case_ids": circular.case_ids, "anonymised": anonymised, "due_on": due_on,
        "recipients": [o.code for o in recipients]}, now, new_stream=True)
    outbox.notify_all([message_builders.circular_issued(circular, document=document, issuer=issuer, recipient=o)
                       for o in recipients], now=now)
    return circular


def close_circular(actor: Actor, circular_id: int, now: dt.datetime | None = None) -> Circular:
    """The issuing finance department closes its circular (no more answers); 409 if closed."""
    require(actor, "finance", action="close a circular")
    circular = get_circular(actor, circular_id, lock=True)
    if circular.issuer_id != actor.org_id:
        raise Forbidden("only the issuing finance department closes its circular")
    now = now or utcnow()
    CIRCULAR.move(circular, "close", actor=actor)
    circular.closed_at = now
    record(actor, stream_of("circular", circular.id), "closed", {"status": circular.status}, now)
    return circular


def answer_circular(actor: Actor, circular_id: int, *, result: str, uploads: list[tuple[bytes, str | None, str | None]],
                    upload_dir: str, max_bytes: int, now: dt.datetime | None = None) -> CircularAnswer:
    """A recipient answers with its self-check result (text) and files (each checked as case
    evidence is). Once: 409 for a second answer or a closed circular; 403 for finance; 404 for
    a circular the caller did not receive."""
    circular = get_circular(actor, circular_id)
    if actor.is_system or actor.kind not in ("competent", "unit"):
        raise Forbidden("the recipients of a circular answer it")
    text = (result or "").strip()
    if not text:
        raise Invalid("the self-check result is required", {"result": ["required"]})
    if len(uploads) > MAX_FILES:
        raise Invalid("too many files", {"file": [f"at most {MAX_FILES}"]})
    checked = [checked_upload(data, filename, declared, max_bytes) for data, filename, declared in uploads]
    answer = db.session.execute(locked(sa.select(CircularAnswer).where(
        CircularAnswer.circular_id == circular.id, CircularAnswer.org_id == actor.org_id),
        of=CircularAnswer)).scalar_one()
    if circular.status != CIRCULAR.by_trigger["issue"][0].dest:
        raise Conflict("the circular is closed", {"status": [circular.status]})
    CIRCULAR_ANSWER.move(answer, "answer", actor=actor)
    now = now or utcnow()
    answer.result, answer.answered_by, answer.answered_at = text, actor.user_id, now
    rows = [CircularFile(answer_id=answer.id, uploader_org_id=actor.org_id, uploaded_by=actor.user_id,
                         filename=c.filename, stored_name=c.stored_name, file_type=c.file_type.name,
                         content_type=c.content_type, size=c.size, sha256=c.sha256, created_at=now) for c in checked]
    db.session.add_all(rows)
    db.session.flush()
    record(actor, stream_of("circular", circular.id), "answered", {
        "org_code": answer.org.code, "answer_id": answer.id, "result": text,
        "files": [{"file_id": r.id, "filename": r.filename, "sha256": r.sha256, "size": r.size} for r in rows]}, now)
    for c in checked:  # last, once nothing can refuse; removed again if the transaction rolls back
        keep(c, upload_dir)
    db.session.expire(answer, ["files"])
    return answer


# --- the scheduler -----------------------------------------------------------------------------------

def _claim(circular_id: int, org_id: int, kind: str, now: dt.datetime) -> bool:
    return insert_if_absent(CircularEffect, {"circular_id": circular_id, "org_id": org_id, "kind": kind,
                                             "created_at": now}, ["circular_id", "org_id", "kind"])


def _due_offset(due_at: dt.datetime, now: dt.datetime) -> int | None:
    """The most urgent reminder offset whose time has come (None before the first or after the due time)."""
    if now > due_at:
        return None
    due = [offset for offset, when in deadlines.reminder_times(due_at) if when <= now]
    return min(due) if due else None


def run_circular_checks(now: dt.datetime) -> tuple[list[tuple[int, int]], list[int]]:
    """Remind the recipients that have not answered, and tell each issuer once its due date has
    passed who has not: ``(reminded (circular, org) pairs, circulars reported overdue)``. One
    circular per transaction; each effect's row is claimed before the message is queued, so two
    schedulers running at once send each message once."""
    horizon = now + dt.timedelta(days=31)  # further than any reminder offset reaches
    candidates = list(db.session.execute(sa.select(Circular.id).where(
        Circular.status == CIRCULAR.by_trigger["issue"][0].dest, Circular.due_at <= horizon,
        Circular.id.in_(sa.select(CircularAnswer.circular_id).where(CircularAnswer.status == PENDING)))
        .order_by(Circular.id)).scalars())
    db.session.rollback()
    reminded, overdue = [], []
    for circular_id in candidates:
        try:
            circular = db.session.get(Circular, circular_id)
            pending = [a for a in circular.answers if a.status == PENDING]
            if now > circular.due_at:
                if pending and _claim(circular.id, circular.issuer_id, OVERDUE, now):
                    outbox.notify(**message_builders.circular_overdue(
                        circular, key=f"circular:{circular.id}:overdue", issuer=circular.issuer,
                        missing=[a.org for a in pending]), now=now)
                    overdue.append(circular.id)
            else:
                offset = _due_offset(circular.due_at, now)
                if offset is not None:
                    for answer in pending:
                        kind = f"{REMIND}_{offset}"
                        if _claim(circular.id, answer.org_id, kind, now):
                            outbox.notify(**message_builders.circular_reminder(
                                circular, key=f"circular:{circular.id}:{answer.org_id}:{kind}",
                                issuer=circular.issuer, recipient=answer.org, days_left=offset), now=now)
                            reminded.append((circular.id, answer.org_id))
            db.session.commit()
        except Exception:  # one circular's failure must not stop the others (nor the case checks' result)
            db.session.rollback()
            log.exception("circular %s: reminders or overdue notice failed; retried on the next run", circular_id)
    return reminded, overdue

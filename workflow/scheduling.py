"""Scheduled deadline checks (期限提醒、逾期升级、逾期日报), Art. 21, 22 and 24.

:func:`run_deadline_checks` (every minute in the scheduler process, or once by
``flask --app wsgi deadlines run --now ...``) does, as of ``now``:

1. **Reminders** — for each case whose deadline has not passed and whose reminder time
   (:func:`workflow.deadlines.reminder_times`: ``FUNDWATCH_REMINDER_OFFSETS`` working days
   before the deadline's day, at ``FUNDWATCH_REMINDER_HOUR``) has come, the case's subject
   (the unit of a unit case, the bank of a bank case) is told, once per (case, deadline,
   offset). After downtime only the most urgent reminder still due is sent: a stale
   "two days left" is not sent on the last day.
2. **Escalation** — for each case whose deadline has passed (a paused deadline under appeal
   is NULL and never due, Art. 24): if the machine has a next rung for the case's state
   (``escalate`` rows, ``CaseMachine.escalation``) and automatic escalation is on for that
   state (the row's ``auto``, or ``FUNDWATCH_AUTO_ESCALATION``, below), the machine's own ``escalate`` trigger is
   fired by ``Actor.system()`` through :func:`workflow.cases.apply_action` — with its
   history event, documents and notifications — exactly once per (case, deadline).
   Otherwise (off, no next rung, or the machine refused) the case is marked overdue for
   that deadline and the finance department in charge is told the proposed next action
   (the row marked ``proposed_on_overdue``, ``CaseMachine.proposals``).

3. **Verification steps' due dates** (Art. 11(二)2-5, :mod:`workflow.step_requests`) — each
   party a documents request, an interview, a focus letter or a joint investigation asks is
   reminded at the same offsets before the due day (:func:`remind_step_requests`), and once the
   due moment has passed unanswered on an undecided warning, the finance department that issued
   the step is told (:func:`tell_overdue_step_requests`), once per (request, kind); a joint
   investigation's reminder goes to the oversight body alone, never the unit.

:func:`daily_digest` sends each finance department, once per local day, the list of
overdue cases in its jurisdiction (subjects whose ``finance_path`` it covers).

Exactly once, across crashes and several schedulers
---------------------------------------------------
Each effect is a row of :class:`DeadlineEffect`, unique on (case, deadline, kind), or of
:class:`OverdueDigest`, unique on (finance department, day). A case is handled in its own
transaction: lock the case row (``SELECT ... FOR NO KEY UPDATE SKIP LOCKED`` on PostgreSQL; SQLite
has one writer at a time and ignores it), insert the effect row (``INSERT ... ON CONFLICT
DO NOTHING``: nothing inserted means another scheduler did it), then write the effect itself
(escalation, history, outbox rows), then commit. A crash half-way rolls back the case it
was on and nothing else; the next run finds the cases already handled by their effect rows.

Cost in proportion to what is due
---------------------------------
The candidates are read through an index on ``cases (deadline, id)`` (``deadline`` is NULL
for closed, paused and under-review cases): ``deadline < now`` for escalation,
``now <= deadline < end of the reminder window`` for reminders, each with one probe of the
unique index of ``deadline_effects``, in batches of ``FUNDWATCH_CHECK_BATCH`` (100) read by
keyset on (deadline, id). A run therefore reads the cases that are due, those marked overdue
and awaiting finance, and those inside the reminder window — never the others, however many
there are, nor the history of effects (``bench/bench_deadlines.py`` measures it).

Configuration
-------------
``FUNDWATCH_AUTO_ESCALATION``: per machine and state, ``machine.state=on|off``, comma
separated, over the defaults the machines' ``escalate`` rows declare (``auto``; the table
and the reasons are in :mod:`workflow.machines.unit_case`: on for ``warning`` and
``decision``, off for ``order`` and ``funds_suspended``). Bank cases have no ``escalate``
row (:mod:`workflow.machines.bank_case`), hence no automatic escalation at all; naming a
state without an ``escalate`` row is a configuration error. ``FUNDWATCH_DIGEST_TIME``
(``08:30``, local time of ``FUNDWATCH_TIMEZONE``) is when the digest is due; it is sent on
working days only unless ``FUNDWATCH_DIGEST_EVERY_DAY`` is on.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, contains_eager, joinedload, mapped_column

from workflow import cases, deadlines, message_builders, outbox
from workflow.case_records import Case
from workflow.db import AwareDateTime, db, insert_if_absent, locked, utcnow
from workflow.errors import DomainError
from workflow.journal import record
from workflow.machines import MACHINES
from workflow.machines.warning import LIFECYCLE as WARNING
from workflow.monitoring.models import MonitoringWarning
from workflow.parties import Actor, Organisation
from workflow.settings import current
from workflow.step_requests import StepRequest, StepRequestEffect
from workflow.verification import VerificationStep, joint_investigation_stream, warning_stream
from workflow.verification_steps import STEP_KINDS

log = logging.getLogger(__name__)

REMIND = "remind"  # kinds "remind_2", "remind_0", ...
ESCALATED = "escalated"
OVERDUE = "overdue"



class DeadlineEffect(db.Model):
    """One thing the scheduler did about one deadline of one case: a reminder at an
    offset (``remind_N``), the escalation (``escalated``) or the overdue mark (``overdue``).
    Its unique key is what makes each effect happen once."""

    __tablename__ = "deadline_effects"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    deadline: Mapped[dt.datetime] = mapped_column(AwareDateTime)
    kind: Mapped[str] = mapped_column(sa.String(24))
    detail: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("case_id", "deadline", "kind", name="uq_deadline_effects_key"),
    )


# The candidates are read in (deadline, id) order, batch after batch from where the last one
# ended: with this index each batch is one short range scan that stops at its LIMIT, whereas
# the (deadline) index alone makes the database fetch and sort every due row for every batch.
# Declared here, beside the only query that needs it; created by migration 0007_scheduling.
CASES_DEADLINE_ID = sa.Index("ix_cases_deadline_id", Case.deadline, Case.id)


class OverdueDigest(db.Model):
    """The daily digest of overdue cases sent to one finance department on one local day."""

    __tablename__ = "overdue_digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    day: Mapped[dt.date] = mapped_column(sa.Date)
    case_count: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("org_id", "day", name="uq_overdue_digests_org_day"),)


# --- configuration -------------------------------------------------------------------------

def _on(value: str, name: str) -> bool:
    text = value.strip().lower()
    if text in ("on", "true", "yes", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise ValueError(f"FUNDWATCH_AUTO_ESCALATION: {name} must be on or off, not {value!r}")


def auto_escalation() -> dict[tuple[str, str], bool]:
    """Automatic escalation per (machine, state): the escalate rows' ``auto`` (the machines'
    tables say it, :mod:`workflow.machines.unit_case`) with the configured overrides."""
    result = {(m.name, state): auto for m in MACHINES.values() for state, auto in m.auto_escalation.items()}
    value = current().auto_escalation
    if not value:
        return result
    pairs = value.items() if isinstance(value, dict) else (
        item.split("=", 1) for item in str(value).split(",") if item.strip())
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"FUNDWATCH_AUTO_ESCALATION: expected machine.state=on|off, got {pair!r}")
        name, flag = pair
        machine, _, state = str(name).strip().partition(".")
        spec = MACHINES.get(machine)
        if spec is None or state not in spec.escalation:
            known = ", ".join(f"{m.name}.{s}" for m in MACHINES.values() for s in m.escalation)
            raise ValueError(f"FUNDWATCH_AUTO_ESCALATION: {name!r} has no automatic escalation; one of {known}")
        result[(machine, state)] = flag if isinstance(flag, bool) else _on(str(flag), name)
    return result


def batch_size() -> int:
    return max(1, current().check_batch)


def digest_time() -> tuple[int, int]:
    """(hour, minute) local at which the daily digest is due."""
    text = str(current().digest_time).strip()
    try:
        moment = dt.time.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"FUNDWATCH_DIGEST_TIME: expected HH:MM, got {text!r}") from exc
    return moment.hour, moment.minute


def _every_day() -> bool:
    return current().digest_every_day


# --- results -------------------------------------------------------------------------------

@dataclass
class CheckResult:
    """What one run did: case ids by effect, and the cases it could not handle; the same for
    the requests of verification steps (``step_*``: :class:`workflow.step_requests.StepRequest` ids)."""

    reminded: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    step_reminded: list[int] = field(default_factory=list)
    step_overdue: list[int] = field(default_factory=list)
    step_failed: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.reminded or self.escalated or self.overdue or self.failed
                    or self.step_reminded or self.step_overdue or self.step_failed)

    def __str__(self) -> str:
        return (f"{len(self.reminded)} reminded, {len(self.escalated)} escalated, "
                f"{len(self.overdue)} marked overdue, {len(self.failed)} failed; verification steps: "
                f"{len(self.step_reminded)} reminded, {len(self.step_overdue)} overdue told to finance, "
                f"{len(self.step_failed)} failed")


# --- the building blocks ---------------------------------------------------------------------

def _aware(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise ValueError("naive datetime: a timezone is required")
    return now


def claim_effect(model, values: dict, keys: list[str]) -> bool:
    """Insert the effect's row unless its key exists (another run did it): True if this
    transaction now owns the effect. The row is the idempotency fence; it is written first,
    in the same transaction as the effect it guards."""
    return insert_if_absent(model, values, keys)


@dataclass(frozen=True)
class Due:
    """What one pass reads: a range of ``cases.deadline``, and the effect kinds that mean a
    case in it has been handled for its current deadline."""

    where: sa.ColumnElement[bool]
    done_kinds: tuple[str, ...]


def escalation_due(now: dt.datetime) -> Due:
    """Deadline passed; done once escalated or marked overdue for that deadline."""
    return Due(Case.deadline < now, (ESCALATED, OVERDUE))


def reminder_window(now: dt.datetime, offset: int, offsets: Iterable[int]) -> Due:
    """Deadlines whose ``offset`` reminder may be due at ``now``: not passed, and before the
    start of the (offset+1)-th working day after today (a superset: each case is then checked
    exactly with ``reminder_times``); done once reminded at this offset or a more urgent one."""
    calendar = deadlines.current_calendar()
    today = calendar.local_date(now)
    window_end = dt.datetime.combine(calendar.shift(today, offset + 1), dt.time(0), tzinfo=calendar.zone)
    return Due(sa.and_(Case.deadline >= now, Case.deadline < window_end),
               tuple(f"{REMIND}_{o}" for o in offsets if o <= offset))


def candidates_stmt(where: sa.ColumnElement[bool], after: tuple[dt.datetime, int] | None = None,
                    size: int | None = None) -> sa.Select:
    """One batch: (case id, deadline) in the range ``where``, in (deadline, id) order, after
    the keyset ``after`` — one range scan of ``ix_cases_deadline_id`` that stops at the limit."""
    stmt = sa.select(Case.id, Case.deadline).where(Case.deadline.is_not(None), where)
    if after is not None:
        stmt = stmt.where(sa.tuple_(Case.deadline, Case.id) > sa.tuple_(*after))
    return stmt.order_by(Case.deadline, Case.id).limit(size or batch_size())


def done_stmt(case_ids: list[int], kinds: Iterable[str]) -> sa.Select:
    """The effects of these kinds already recorded for a batch of cases: probes of the unique
    index of deadline_effects by case, however long its history."""
    return (sa.select(DeadlineEffect.case_id, DeadlineEffect.deadline)
            .where(DeadlineEffect.case_id.in_(case_ids), DeadlineEffect.kind.in_(list(kinds))))


def _candidates(due: Due) -> Iterator[tuple[int, dt.datetime]]:
    """The cases in range not yet handled for their deadline, batch by batch. Two plain
    queries per batch rather than one anti-join, so that no planner can choose to read the
    whole range or the whole effect history: each is an index range scan or index probes."""
    size = batch_size()
    after: tuple[dt.datetime, int] | None = None
    while True:
        rows = db.session.execute(candidates_stmt(due.where, after, size)).all()
        done = {tuple(r) for r in db.session.execute(done_stmt([r.id for r in rows], due.done_kinds))} \
            if rows else set()
        db.session.commit()  # end the read transaction: each case gets its own below
        yield from (r for r in rows if (r.id, r.deadline) not in done)
        if len(rows) < size:
            return
        after = (rows[-1].deadline, rows[-1].id)


def _lock(case_id: int, deadline: dt.datetime) -> Case | None:
    """Lock and load the case for this transaction if it still has this deadline; None if another
    scheduler holds it (SKIP LOCKED) or it moved on meanwhile.

    ``FOR NO KEY UPDATE``, not ``FOR UPDATE``: every insert of a row that names the case
    (an inbox entry being delivered, a document, a history event) takes ``FOR KEY SHARE``
    on the case row for its foreign key, and ``FOR UPDATE SKIP LOCKED`` would skip the case
    for as long as that insert's transaction lasts, leaving it to the next run. Escalation
    never changes the case's key, so the weaker lock is enough to exclude other schedulers
    and writers, and it does not conflict with key-share locks. (SQLite has no row locks:
    :func:`workflow.db.locked` takes the write lock, and a case another scheduler escalated
    meanwhile no longer has this deadline.)"""
    # The whole case (its subject and finance department joined): the reminder and the
    # overdue message are written from it without reading it again. ``of=Case``: only the
    # case row is locked, not the organisations joined to it (another scheduler's case of
    # the same unit must not be skipped).
    stmt = locked(sa.select(Case).where(Case.id == case_id, Case.deadline == deadline),
                  skip_locked=True, key_share=True, of=Case)
    return db.session.execute(stmt).unique().scalar_one_or_none()


def _each_case(candidates, handle: Callable[..., str | None], result: CheckResult, failed: str = "failed",
               what: str = "case") -> None:
    """Handle each candidate in its own transaction; ``handle`` returns the outcome
    (``reminded``, ``escalated``, ``overdue``) or None for nothing done. A case that fails
    (a database error, a bug) is rolled back, logged and left for the next run; the
    others go on. Only an exception that is not an ``Exception`` (the process being
    killed) stops the run, and then the case it was on is rolled back with it."""
    for case_id, deadline, *more in candidates:
        try:
            outcome = handle(case_id, deadline, *more)
            if outcome is None:
                db.session.rollback()
                continue
            db.session.commit()
        except Exception:
            db.session.rollback()
            getattr(result, failed).append(case_id)
            log.exception("deadline check of %s %s failed; the next run retries it", what, case_id)
            continue
        getattr(result, outcome).append(case_id)


def _effect_key(case_id: int, deadline: dt.datetime, kind: str) -> str:
    return f"deadline:case={case_id}:at={deadline.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}:{kind}"


# --- reminders -----------------------------------------------------------------------------

def _due_reminder(deadline: dt.datetime, now: dt.datetime) -> int | None:
    """The most urgent reminder offset whose time has come, or None."""
    due = [offset for offset, moment in deadlines.reminder_times(deadline) if moment <= now]
    return min(due) if due else None


def send_reminders(now: dt.datetime, result: CheckResult | None = None) -> CheckResult:
    """Remind the subjects of the cases whose reminder time has come (see module doc)."""
    now = _aware(now)
    result = result if result is not None else CheckResult()
    offsets = sorted(deadlines.reminder_offsets())
    if not offsets:
        return result
    seen: set[int] = set()

    for offset in offsets:  # the most urgent first, so that a stale one is never sent after it
        where = reminder_window(now, offset, offsets)

        def handle(case_id: int, deadline: dt.datetime, offset=offset) -> str | None:
            if case_id in seen or _due_reminder(deadline, now) != offset:
                return None
            case = _lock(case_id, deadline)
            if case is None:
                return None
            kind = f"{REMIND}_{offset}"
            if not _claim(case_id, deadline, kind, "", now):
                return None
            seen.add(case_id)
            _remind(case, deadline, kind, now)
            return "reminded"

        _each_case(_candidates(where), handle, result)
    return result


def _remind(case, deadline: dt.datetime, kind: str, now: dt.datetime) -> None:
    days_left = max(0, deadlines.working_days_between(now, deadline))
    outbox.notify(**message_builders.deadline_reminder(case, key=_effect_key(case.id, deadline, kind),
                                                       deadline=deadline, days_left=days_left), now=now)


# --- escalation ----------------------------------------------------------------------------

def escalate_overdue(now: dt.datetime, result: CheckResult | None = None) -> CheckResult:
    """Escalate, or mark overdue and tell finance, each case whose deadline has passed."""
    now = _aware(now)
    result = result if result is not None else CheckResult()
    auto = auto_escalation()
    where = escalation_due(now)

    def handle(case_id: int, deadline: dt.datetime) -> str | None:
        case = _lock(case_id, deadline)
        if case is None or not deadlines.has_passed(deadline, now):
            return None
        target = MACHINES[case.machine].escalation.get(case.state)
        if target is None or not auto.get((case.machine, case.state), False):
            return OVERDUE if _mark_overdue(case, deadline, now) else None
        if not _claim(case_id, deadline, ESCALATED, f"{case.state} -> {target}", now):
            return None
        refusal = _escalate(case_id, now)
        if refusal is None:
            return ESCALATED
        # The machine refused (a guard): nothing of the attempt is kept; finance decides.
        db.session.rollback()
        case = _lock(case_id, deadline)
        if case is None:
            return None
        return OVERDUE if _mark_overdue(case, deadline, now, note=f"自动升级未执行：{refusal}") else None

    _each_case(_candidates(where), handle, result)
    return result


def _claim(case_id: int, deadline: dt.datetime, kind: str, detail: str, now: dt.datetime) -> bool:
    return claim_effect(DeadlineEffect, {"case_id": case_id, "deadline": deadline, "kind": kind,
                                         "detail": detail[:300], "created_at": now},
                        ["case_id", "deadline", "kind"])


def _escalate(case_id: int, now: dt.datetime) -> str | None:
    """Fire the machine's own ``escalate`` as the system: None if it moved, else why not."""
    try:
        cases.apply_action(Actor.system(), case_id, "escalate", {}, now=now)
    except DomainError as error:
        log.info("case %s: automatic escalation refused: %s", case_id, error.message)
        return error.message
    return None


def _mark_overdue(case: Case, deadline: dt.datetime, now: dt.datetime, note: str | None = None) -> bool:
    proposal = MACHINES[case.machine].proposals.get(case.state)
    if not _claim(case.id, deadline, OVERDUE, (proposal or "") if note is None else note, now):
        return False
    outbox.notify(**message_builders.case_overdue(case, key=_effect_key(case.id, deadline, OVERDUE),
                                                  deadline=deadline, proposal=proposal, note=note), now=now)
    return True


def run_deadline_checks(now: dt.datetime | None = None) -> CheckResult:
    """Reminders, then escalation, of cases; then reminders and overdue notices of the
    verification steps' requests; as of ``now`` (default: the current time). Everything due
    up to ``now`` is handled, so a run after downtime catches up."""
    now = _aware(now) if now is not None else utcnow()
    result = CheckResult()
    send_reminders(now, result)
    escalate_overdue(now, result)
    remind_step_requests(now, result)
    tell_overdue_step_requests(now, result)
    return result


# --- verification steps' due dates (Art. 11(二)2-5) --------------------------------------------
# A documents request, an interview, a focus letter and a joint investigation ask parties for
# something by a date (workflow.step_requests). As for cases: the party asked is reminded at the
# reminder offsets before the due day, and once the due moment passes unanswered the finance
# department that issued the step is told, each effect claimed once (StepRequestEffect). The
# candidates are the requests whose ``chase_at`` lies in range, read through the index
# (chase_at, id) in keyset batches; an answered request, one finance was told of and every
# request of a decided warning has chase_at NULL and is never read. A joint investigation asks
# the oversight body alone, so its reminder goes to that body and its overdue notice to finance;
# both are journaled in the investigation's own chain, which the unit never reads.

def step_candidates_stmt(where: sa.ColumnElement[bool], after: tuple[dt.datetime, int] | None = None,
                         size: int | None = None) -> sa.Select:
    """One batch of requests still chased in the range ``where`` of ``chase_at``, in (chase_at,
    id) order after the keyset ``after``: one range scan of ``ix_step_requests_chase_at_id``."""
    stmt = sa.select(StepRequest.id, StepRequest.chase_at, StepRequest.appointment_at).where(
        StepRequest.chase_at.is_not(None), where)
    if after is not None:
        stmt = stmt.where(sa.tuple_(StepRequest.chase_at, StepRequest.id) > sa.tuple_(*after))
    return stmt.order_by(StepRequest.chase_at, StepRequest.id).limit(size or batch_size())


def step_done_stmt(request_ids: list[int], kinds: Iterable[str]) -> sa.Select:
    """The effects of these kinds already recorded for a batch: probes of their unique index."""
    return sa.select(StepRequestEffect.request_id).where(StepRequestEffect.request_id.in_(request_ids),
                                                         StepRequestEffect.kind.in_(list(kinds)))


def _step_candidates(where: sa.ColumnElement[bool], done_kinds: tuple[str, ...] = ()):
    """(request id, chase_at, appointment_at) of the requests in range not yet handled, batch
    by batch, each batch's read transaction ended before its requests are handled."""
    size = batch_size()
    after: tuple[dt.datetime, int] | None = None
    while True:
        rows = db.session.execute(step_candidates_stmt(where, after, size)).all()
        done = set(db.session.execute(step_done_stmt([r.id for r in rows], done_kinds)).scalars()) \
            if rows and done_kinds else set()
        db.session.commit()
        yield from (tuple(r) for r in rows if r.id not in done)
        if len(rows) < size:
            return
        after = (rows[-1].chase_at, rows[-1].id)


def _lock_request(request_id: int, due: dt.datetime) -> StepRequest | None:
    """Lock and load the request for this transaction if it is still chased at ``due`` and its
    warning undecided; None if another scheduler holds it (SKIP LOCKED) or it was answered,
    told or decided meanwhile. ``FOR NO KEY UPDATE`` of the request row alone, as for a case
    (:func:`_lock`): the effect row's foreign key takes a key-share lock on it."""
    # Everything the messages recite comes in the same statement; only the request row is locked.
    stmt = locked(sa.select(StepRequest).join(StepRequest.warning)
                  .where(StepRequest.id == request_id, StepRequest.chase_at == due,
                         MonitoringWarning.status.in_(WARNING.undecided))
                  .options(contains_eager(StepRequest.warning).joinedload(MonitoringWarning.unit, innerjoin=True),
                           contains_eager(StepRequest.warning).joinedload(MonitoringWarning.payment),
                           joinedload(StepRequest.step, innerjoin=True), joinedload(StepRequest.org, innerjoin=True),
                           joinedload(StepRequest.finance, innerjoin=True)),
                  skip_locked=True, key_share=True, of=StepRequest)
    return db.session.execute(stmt).unique().scalar_one_or_none()


def _claim_step(request_id: int, kind: str, now: dt.datetime) -> bool:
    return claim_effect(StepRequestEffect, {"request_id": request_id, "kind": kind, "created_at": now},
                        ["request_id", "kind"])


def _step_key(request: StepRequest, kind: str) -> str:
    return f"warning:{request.warning_id}:step:{request.step_id}:asked={request.org_id}:{kind}"


def _due_step_reminder(due: dt.datetime, appointment: dt.datetime | None, now: dt.datetime) -> int | None:
    """The most urgent reminder offset whose time has come, none once the appointment began."""
    due_offsets = [offset for offset, moment in deadlines.reminder_times(due)
                   if moment <= now and (appointment is None or moment < appointment)]
    return min(due_offsets) if due_offsets else None


def _journal_step(request: StepRequest, step: VerificationStep, action: str, payload: dict,
                  now: dt.datetime) -> None:
    """In the warning's chain, or the joint investigation's own for a confidential step."""
    kind = STEP_KINDS[step.kind]
    stream = joint_investigation_stream(request.warning_id) if kind.confidential else warning_stream(request.warning_id)
    record(Actor.system(), stream, action,
           {"step_id": step.id, "kind": step.kind, "article": kind.article.chinese, "org_code": request.org.code,
            "due_at": request.due_at, **payload}, now)


def remind_step_requests(now: dt.datetime, result: CheckResult | None = None) -> CheckResult:
    """Remind each party asked by a verification step whose reminder time has come (at the
    ``FUNDWATCH_REMINDER_OFFSETS`` working days before the due day, at ``FUNDWATCH_REMINDER_HOUR``;
    after downtime the most urgent one only), once per (request, offset)."""
    now = _aware(now)
    result = result if result is not None else CheckResult()
    offsets = sorted(deadlines.reminder_offsets())
    seen: set[int] = set()
    for offset in offsets:  # the most urgent first, so that a stale one is never sent after it
        calendar = deadlines.current_calendar()
        window_end = dt.datetime.combine(calendar.shift(calendar.local_date(now), offset + 1), dt.time(0),
                                         tzinfo=calendar.zone)
        where = sa.and_(StepRequest.chase_at >= now, StepRequest.chase_at < window_end)
        done = tuple(f"{REMIND}_{o}" for o in offsets if o <= offset)

        def handle(request_id: int, due: dt.datetime, appointment: dt.datetime | None, offset=offset) -> str | None:
            if request_id in seen or _due_step_reminder(due, appointment, now) != offset:
                return None
            request = _lock_request(request_id, due)
            if request is None:
                return None
            kind = f"{REMIND}_{offset}"
            if not _claim_step(request_id, kind, now):
                return None
            seen.add(request_id)
            step, warning = request.step, request.warning
            days_left = max(0, deadlines.working_days_between(now, due))
            outbox.notify(**message_builders.step_reminder(request, step, warning, STEP_KINDS[step.kind],
                                                           key=_step_key(request, kind), days_left=days_left), now=now)
            _journal_step(request, step, "step_reminded", {"offset": offset, "days_left": days_left}, now)
            return "step_reminded"

        _each_case(_step_candidates(where, done), handle, result, failed="step_failed", what="step request")
    return result


def tell_overdue_step_requests(now: dt.datetime, result: CheckResult | None = None) -> CheckResult:
    """Tell the issuing finance department of each request whose due moment passed unanswered
    on an undecided warning, once; the request is then no longer chased."""
    now = _aware(now)
    result = result if result is not None else CheckResult()

    def handle(request_id: int, due: dt.datetime, appointment: dt.datetime | None) -> str | None:
        if not deadlines.has_passed(due, now):
            return None
        request = _lock_request(request_id, due)
        if request is None or not _claim_step(request_id, OVERDUE, now):
            return None
        step, warning = request.step, request.warning
        outbox.notify(**message_builders.step_overdue(request, step, warning, STEP_KINDS[step.kind],
                                                      key=_step_key(request, OVERDUE)), now=now)
        _journal_step(request, step, "step_overdue", {"finance_code": request.finance.code}, now)
        request.chase_at = None
        return "step_overdue"

    _each_case(_step_candidates(StepRequest.chase_at < now), handle, result, failed="step_failed",
               what="step request")
    return result


# --- the daily digest ----------------------------------------------------------------------

def digest_due(now: dt.datetime) -> bool:
    """Has today's digest time come (on a working day, unless every day is configured)?"""
    calendar = deadlines.current_calendar()
    local = _aware(now).astimezone(calendar.zone)
    if not _every_day() and not calendar.is_working_day(local.date()):
        return False
    hour, minute = digest_time()
    return (local.hour, local.minute) >= (hour, minute)


@dataclass
class DigestResult:
    sent: dict[int, int] = field(default_factory=dict)  # finance org id -> overdue cases listed
    day: dt.date | None = None

    def __bool__(self) -> bool:
        return bool(self.sent)

    def __str__(self) -> str:
        return f"{len(self.sent)} finance departments sent a digest for {self.day}"


def overdue_cases(now: dt.datetime) -> list[dict]:
    """The open cases whose deadline has passed, by deadline (read through its index)."""
    rows = db.session.execute(
        sa.select(Case.id, Case.machine, Case.state, Case.rung, Case.deadline, Organisation.name,
                  Organisation.finance_path)
        .join(Organisation, Organisation.id == Case.subject_id)
        .where(Case.deadline.is_not(None), Case.deadline < now)
        .order_by(Case.deadline, Case.id)
    ).all()
    out = []
    for r in rows:
        spec = MACHINES[r.machine]
        out.append({"case_id": r.id, "subject_name": r.name, "finance_path": r.finance_path,
                    "rung": message_builders.rung_label(r.machine, r.rung),
                    "deadline": r.deadline,
                    "proposed_action": message_builders.action_label(r.machine, spec.proposals.get(r.state))})
    return out


def daily_digest(now: dt.datetime) -> DigestResult:
    """Send each finance department with overdue cases in its jurisdiction one digest for
    ``now``'s local day; a second call that day sends nothing."""
    now = _aware(now)
    calendar = deadlines.current_calendar()
    day = calendar.local_date(now)
    result = DigestResult(day=day)
    overdue = overdue_cases(now)
    if not overdue:
        db.session.commit()
        return result
    departments = db.session.execute(
        sa.select(Organisation.id, Organisation.name, Organisation.finance_path)
        .where(Organisation.kind == "finance").order_by(Organisation.id)).all()
    db.session.commit()
    for org_id, name, path in departments:
        listed = [{k: v for k, v in c.items() if k != "finance_path"}
                  for c in overdue if c["finance_path"].startswith(path)]
        if not listed:
            continue
        try:
            if not claim_effect(OverdueDigest, {"org_id": org_id, "day": day, "case_count": len(listed),
                                                "created_at": now}, ["org_id", "day"]):
                db.session.rollback()
                continue
            outbox.notify(**message_builders.overdue_digest(org_id=org_id, finance_name=name, day=day,
                                                            cases=listed, now=now), now=now)
            db.session.commit()
            result.sent[org_id] = len(listed)
        except Exception:
            db.session.rollback()
            log.exception("digest for finance department %s failed; the next run retries it", org_id)
    return result

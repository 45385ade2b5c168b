"""Verification of warnings (疑点核实, Art. 11(二)) and what finance decides about them.

A warning (one rule firing on one payment, :class:`workflow.monitoring.models.MonitoringWarning`) is
verified by finance in steps, each declared once as a row of
:data:`workflow.verification_steps.STEP_KINDS` with the article it rests on, the fields it
takes, the notice it issues, whom it tells and whether it moves the warning: phone (11(二)1),
documents (2), interview and onsite (3, annexes 1 and 2), focus letter (4), joint
investigation (5).

Lifecycle (the table :mod:`workflow.machines.warning`, the only writer of the status):
``open`` → ``verifying`` (the first step) → ``confirmed`` (a case is opened, Art. 11(三), 21)
or ``dismissed`` (with a reason), or ``transferred`` to the department that owns a matter
outside finance's remit (Art. 11(三), :func:`transfer`) and ``transfer_closed`` once it answered.
A held payment (``block`` level) is refused when its warning is confirmed, unless finance
releases it, and released when its warning is dismissed and no other blocking warning on it is
still undecided or transferred. A transfer leaves it held: see :func:`transfer`.

The unit explains (Art. 27(三)), its competent department adds materials (Art. 26(二)),
the bank that carries the payment adds materials (Art. 28(二)) and an oversight body that
was asked records its findings (Art. 11(二)5): :func:`add_response`. Each may attach files to
its answer, and interviews and on-site checks end with a record (:mod:`workflow.verification_files`);
confirmed, the warning's files join the case file (:func:`workflow.warning_files.join_case_file`).

Who sees a warning (:func:`warnings_for`): finance in its jurisdiction, the unit its own,
the competent department its units', the bank those on payments it carries, an oversight
body only those sent to it for joint investigation, a department (有关部门) only those handed
on to it (Art. 11(三)). Anything else is not found.

Every action here is journaled (:mod:`workflow.journal`) in the warning's stream
(``warning:<id>``), a joint investigation in its own (``joint_investigation:<id>``), what a
transfer hands on and the receiver's outcome in the transfer's (``transfer:<id>``), and a payment
released or refused in the payment's (``payment:<id>``): :func:`history` reads a warning's, as
the caller may see it.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from dataclasses import replace
from types import SimpleNamespace

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from workflow import message_builders
from workflow.articles import Cited, art
from workflow.cases import open_case
from workflow.db import AwareDateTime, db, locked, utcnow
from workflow.documents import Document, issue_document, payment_context
from workflow.documents import visible as document_visible
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.journal import entries_of, record, stream_of
from workflow.machines import MACHINES
from workflow.machines.base import load_fields
from workflow.machines.warning import HOLDING, OUTCOME, TRANSFER_ARTICLE, TRANSFERRED
from workflow.machines.warning import LIFECYCLE as WARNING
from workflow.monitoring import alerts
from workflow.monitoring.models import WARNING_LEVELS, MonitoringWarning, Payment
from workflow.monitoring.payments import change_payment_status, lock_payment
from workflow.monitoring.rules import RULES_BY_NAME, WARNING_RULES
from workflow.outbox import notify, notify_all
from workflow.parties import Actor, Organisation, require
from workflow.schemas import errors_of
from workflow.scoping import Reach, reach_of_units, units_of
from workflow.step_requests import StepRequest, asked_in, mark_answered, record_requests, stop_chasing
from workflow.verification_steps import CONFIDENTIAL_STEPS, STEP_KINDS, Notice, StepContext, StepKind, focus_settings
from workflow.warning_files import StepRecord, WarningFile, join_case_file

MANUAL_REVIEW = art(12)  # 人工排查: finance's own review, on which it raises warnings by hand
UNDECIDED = WARNING.undecided  # open, verifying (workflow.machines.warning)
CASE_RUNGS = ("warning", "decision", "order")  # the unit-case rungs a warning may be confirmed on (Art. 21)


# The journal action of a joint investigation: hidden, like the step, from the parties under verification.
JOINT_INVESTIGATION_ACTION = "joint_investigation_requested"

# Who answers on a warning, and what their answer is called.
RESPONSE_KINDS = {
    "unit": "explanation",      # 情况说明, Art. 27(三)
    "competent": "materials",   # 有关资料, Art. 26(二)
    "bank": "materials",        # Art. 28(二)
    "oversight": "findings",    # 协查意见, Art. 11(二)5
    "department": OUTCOME,      # 处理结果: the department a matter was handed on to, Art. 11(三)
}


# --- models -------------------------------------------------------------------------------------

class VerificationStep(db.Model):
    """One verification step on a warning. ``details`` holds the kind's fields as JSON
    (dates as ISO strings); ``addressee_id`` is the oversight body of a joint investigation."""

    __tablename__ = "verification_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(sa.ForeignKey("warnings.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(24))
    details: Mapped[dict] = mapped_column(sa.JSON)
    addressee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("documents.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    addressee: Mapped[Organisation | None] = relationship()
    # The parties the step asks, until when, answered, reminded, overdue (workflow.step_requests).
    asked: Mapped[list[StepRequest]] = relationship(order_by=StepRequest.id, viewonly=True)
    # What an interview or an on-site check ended with (workflow.verification_files.make_record).
    record: Mapped[StepRecord | None] = relationship(viewonly=True)

    __table_args__ = (sa.CheckConstraint(kind.in_(tuple(STEP_KINDS)), name="kind"),)

    @property
    def due_at(self) -> dt.datetime | None:
        """When what the step asks is due (the same for every party it asks)."""
        return next((r.due_at for r in self.asked if r.due_at is not None), None)

    @property
    def due_date(self) -> dt.date | None:
        return next((r.due_date for r in self.asked if r.due_at is not None), None)

    @property
    def article(self) -> str:
        return STEP_KINDS[self.kind].article.chinese

    @property
    def addressee_code(self) -> str | None:
        return self.addressee.code if self.addressee is not None else None


class WarningResponse(db.Model):
    """An answer on a warning: the unit's explanation, materials from its competent
    department or the bank, an oversight body's findings. Text, optionally a reference to
    evidence held elsewhere (an evidence id, a voucher, a file number), and the files its
    author attaches (:func:`workflow.verification_files.add_response_file`)."""

    __tablename__ = "warning_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(sa.ForeignKey("warnings.id"), index=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    text: Mapped[str] = mapped_column(sa.Text)
    evidence_ref: Mapped[str | None] = mapped_column(sa.String(200))
    # The step this answers, when the answer names it (one that asked the answering party).
    step_id: Mapped[int | None] = mapped_column(sa.ForeignKey("verification_steps.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    org: Mapped[Organisation] = relationship()
    files: Mapped[list[WarningFile]] = relationship(viewonly=True, order_by=WarningFile.id)

    __table_args__ = (sa.CheckConstraint(kind.in_(("explanation", "materials", "findings", OUTCOME)), name="kind"),)

    @property
    def org_code(self) -> str:
        return self.org.code

    @property
    def org_kind(self) -> str:
        return self.org.kind


class WarningTransfer(db.Model):
    """A warning handed on to the department that owns the matter (移交, Art. 11(三)): the
    receiver, the fields of the ``transfer`` row as JSON (matters, basis, reply-by date,
    materials; dates as ISO strings) and the numbered 移交函. One per warning."""

    __tablename__ = "warning_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(sa.ForeignKey("warnings.id"), unique=True)
    receiver_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    details: Mapped[dict] = mapped_column(sa.JSON)
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("documents.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    receiver: Mapped[Organisation] = relationship()

    @property
    def receiver_code(self) -> str:
        return self.receiver.code

    @property
    def receiver_name(self) -> str:
        return self.receiver.name


# --- who sees what --------------------------------------------------------------------------------

def _joint_investigations_for(org_id: int):
    return sa.select(VerificationStep.warning_id).where(
        VerificationStep.kind == "joint_investigation", VerificationStep.addressee_id == org_id)


def _transfers_to(org_id: int):
    return sa.select(WarningTransfer.warning_id).where(WarningTransfer.receiver_id == org_id)


def visible(actor: Actor) -> sa.ColumnElement[bool]:
    """Warnings the caller may see (ASVS 8.2.2), as a predicate on :class:`MonitoringWarning`."""
    if actor.is_system:
        return sa.true()
    if actor.kind in ("finance", "competent", "unit"):
        return units_of(actor, MonitoringWarning.unit_id)
    if actor.kind == "bank":
        return MonitoringWarning.payment_id.in_(sa.select(Payment.id).where(Payment.bank_id == actor.org_id))
    if actor.kind == "oversight":
        return MonitoringWarning.id.in_(_joint_investigations_for(actor.org_id))
    if actor.kind == "department":
        return MonitoringWarning.id.in_(_transfers_to(actor.org_id))
    return sa.false()


def reach(actor: Actor) -> Reach:
    """:func:`visible` as a list reads it (:class:`workflow.scoping.Reach`, issue 15 item 1)."""
    if actor.is_system or actor.kind in ("finance", "competent", "unit"):
        return reach_of_units(actor, MonitoringWarning.unit_id)
    if actor.kind == "bank":
        # banks carry much of a region's payments: walked, each warning's payment probed by id
        return Reach(walk=sa.exists().where(Payment.id == MonitoringWarning.payment_id,
                                            Payment.bank_id == actor.org_id))
    if actor.kind == "oversight":
        return Reach(seek=(MonitoringWarning.id.in_(_joint_investigations_for(actor.org_id)),))
    if actor.kind == "department":
        return Reach(seek=(MonitoringWarning.id.in_(_transfers_to(actor.org_id)),))
    return Reach(seek=())


def warnings_for(actor: Actor, filters: dict | None = None, *, visibility: bool = True):
    """The caller's warnings, filtered by ``status``, ``rule``, ``level``, ``unit_code``;
    ``visibility=False`` leaves the caller's reach to be added by a list (:func:`reach`)."""
    stmt = sa.select(MonitoringWarning).options(
        selectinload(MonitoringWarning.unit), selectinload(MonitoringWarning.payment))
    if visibility:
        stmt = stmt.where(visible(actor))
    filters = filters or {}
    for name in ("status", "rule", "level"):
        if filters.get(name):
            stmt = stmt.where(getattr(MonitoringWarning, name) == filters[name])
    if filters.get("unit_code"):
        stmt = stmt.where(MonitoringWarning.unit_id.in_(sa.select(Organisation.id).where(Organisation.code == filters["unit_code"])))
    return stmt


def get_warning(actor: Actor, warning_id: int, *, lock: bool = False) -> MonitoringWarning:
    """A warning the caller may see, else NotFound. ``lock`` takes the row for update
    (:func:`workflow.db.locked`), so that two decisions on one warning are serialised on
    either database (ASVS 2.3.4); call it before anything else the decision reads."""
    stmt = warnings_for(actor).where(MonitoringWarning.id == warning_id)
    if lock:
        stmt = locked(stmt, of=MonitoringWarning)
    warning = db.session.execute(stmt).scalar_one_or_none()
    if warning is None:
        raise NotFound(f"no warning {warning_id}")
    return warning


def sees_joint_investigations(actor: Actor) -> bool:
    """Finance and the oversight body asked; the parties under verification (the unit, its
    competent department, the bank) do not see that the matter went to audit or discipline
    (Art. 11(二)5: 转送...共同调查核证), nor anything the body answered: answers to a step are
    as confidential as the step."""
    return actor.is_system or actor.kind in ("finance", "oversight")


def steps_of(actor: Actor, warning: MonitoringWarning) -> list[VerificationStep]:
    """Steps the caller may see (:func:`sees_joint_investigations`)."""
    stmt = (sa.select(VerificationStep).where(VerificationStep.warning_id == warning.id).order_by(VerificationStep.id)
            .options(selectinload(VerificationStep.record).selectinload(StepRecord.files),
                     selectinload(VerificationStep.asked).selectinload(StepRequest.effects),
                     selectinload(VerificationStep.asked).selectinload(StepRequest.org)))
    if not sees_joint_investigations(actor):
        stmt = stmt.where(VerificationStep.kind.not_in(CONFIDENTIAL_STEPS))
    return list(db.session.execute(stmt).scalars())


def warning_stream(warning_id: int) -> str:
    return stream_of("warning", warning_id)


def joint_investigation_stream(warning_id: int) -> str:
    """The joint investigation's own chain (its request and the body's answers). Kept apart
    from :func:`warning_stream` so that the parties under verification read a chain with no
    gaps in its numbers and no link to entries they may not see: nothing in what they read
    hints that the matter went to audit or discipline."""
    return stream_of("joint_investigation", warning_id)


def transfer_stream(warning_id: int) -> str:
    """The transfer's own chain (Art. 11(三)): what was handed on and on what basis, and the
    receiving department's outcome, between finance and that department; the warning's chain
    says only that it was handed on, to whom."""
    return stream_of("transfer", warning_id)


def sees_transfer(actor: Actor) -> bool:
    """Finance and the department a warning was handed on to (the only one that sees it)."""
    return actor.is_system or actor.kind in ("finance", "department")


def history(actor: Actor, warning_id: int) -> sa.Select:
    """The warning's journal as the caller may see it (NotFound if the warning is not
    visible): finance reads every chain, interleaved in the order written; the body asked its
    joint investigation's, the department a warning was handed on to the transfer's, besides
    the warning's own; the others the warning's own chain alone."""
    warning = get_warning(actor, warning_id)
    streams = [warning_stream(warning.id)]
    if sees_joint_investigations(actor):
        streams.append(joint_investigation_stream(warning.id))
    if sees_transfer(actor):
        streams.append(transfer_stream(warning.id))
    return entries_of(*streams)


def responses_of(actor: Actor, warning: MonitoringWarning) -> list[WarningResponse]:
    """Answers the caller may see: an oversight body's findings only where the joint
    investigation they answer is visible (:func:`sees_joint_investigations`); a department's
    outcome only by finance and that department (:func:`sees_transfer`)."""
    stmt = sa.select(WarningResponse).where(WarningResponse.warning_id == warning.id) \
        .options(selectinload(WarningResponse.files))
    if not sees_joint_investigations(actor):
        stmt = stmt.where(WarningResponse.kind != RESPONSE_KINDS["oversight"])
    if not sees_transfer(actor):
        stmt = stmt.where(WarningResponse.kind != OUTCOME)
    return list(db.session.execute(stmt.order_by(WarningResponse.id)).scalars())


def document_ids_of(actor: Actor, warning: MonitoringWarning) -> list[int]:
    return list(db.session.execute(sa.select(Document.id).where(
        Document.warning_id == warning.id, document_visible(actor)).order_by(Document.id)).scalars())


def transfer_of(actor: Actor, warning: MonitoringWarning) -> WarningTransfer | None:
    """The warning's transfer (Art. 11(三)) as the caller may read it: finance and the receiver
    read the receiver, the matters and the letter; the unit learns of the hand-over by message
    and reads the status (``transferred``), not the letter's content."""
    if not (actor.is_system or actor.kind in ("finance", "department")):
        return None
    return db.session.execute(sa.select(WarningTransfer).where(
        WarningTransfer.warning_id == warning.id)).scalar_one_or_none()


class WarningDetail:
    """A warning as one caller sees it: the row, plus the steps, answers, notices and
    transfer visible to that caller."""

    def __init__(self, warning: MonitoringWarning, steps: list, responses: list, document_ids: list[int],
                 transfer: WarningTransfer | None = None):
        self._warning = warning
        self.steps = steps
        self.responses = responses
        self.document_ids = document_ids
        self.transfer = transfer

    def __getattr__(self, name):
        return getattr(self._warning, name)


def detail(actor: Actor, warning_id: int) -> WarningDetail:
    warning = get_warning(actor, warning_id)
    return WarningDetail(warning, steps_of(actor, warning), responses_of(actor, warning), document_ids_of(actor, warning),
                         transfer_of(actor, warning))


def confirm_fields(rung: str) -> tuple:
    """The fields a confirmation on ``rung`` takes: the unit case's opening row's
    (:data:`workflow.machines.MACHINES`), ``summary`` optional (it defaults to the warning's
    finding, :func:`confirm`)."""
    opening = MACHINES["unit_case"].openings[rung]
    return tuple(replace(f, required=False) if f.name == "summary" else f for f in opening.fields)


def allowed_on(actor: Actor, warning: MonitoringWarning) -> tuple[str, ...]:
    """What the caller may do on ``warning`` now, by the same rules :func:`add_step`,
    :func:`add_response`, :func:`confirm` and :func:`dismiss` enforce (party kind and the
    warning lifecycle's table): ``step``, ``respond``, ``confirm``, ``dismiss``. Screens offer
    exactly these; the functions still check on their own."""
    if actor.is_system:
        return ()
    out = []
    if actor.kind == "finance" and WARNING.allows("verify", warning.status):
        out.append("step")
    if actor.kind in RESPONSE_KINDS and warning.status in UNDECIDED:
        out.append("respond")
    if actor.kind == "finance":
        out += [trigger for trigger in ("confirm", "dismiss") if WARNING.allows(trigger, warning.status)]
    return tuple(out)


# --- steps ------------------------------------------------------------------------------------------

def _org(actor: Actor) -> Organisation:
    return db.session.get(Organisation, actor.org_id)


def _load_fields(actor: Actor, spec: StepKind, data: dict) -> tuple[dict, dict]:
    """``(values, their JSON form)`` of the step's fields, loaded with the row's schema (a
    missing required field, a bad value, or a field of another kind is named); ``kind`` dropped."""
    try:
        # An org field (a joint investigation's oversight body) reads who acts, and only that.
        values, stored = load_fields(spec.schema, data, SimpleNamespace(actor=actor))
    except ma.ValidationError as exc:
        raise Invalid(f"the fields of a {spec.name} step are not valid "
                      f"(it needs {', '.join(spec.required) or 'no more fields'})", errors_of(exc)) from None
    values.pop("kind", None)
    stored.pop("kind", None)
    return values, stored


def _touch(warning: MonitoringWarning) -> None:
    warning.version = (warning.version or 0) + 1


def add_step(actor: Actor, warning_id: int, data: dict, now: dt.datetime | None = None) -> VerificationStep:
    """Record a verification step (Art. 11(二)) as its row in ``STEP_KINDS`` says: resolve its
    addressee, issue its notice, tell whom it concerns, and fire the warning's ``verify`` (an
    open warning moves to ``verifying``) unless the step is confidential. No commit here.

    Raises NotFound (not the caller's warning), Forbidden (not finance), Conflict (the
    warning is decided), Invalid (unknown kind, missing or foreign fields, a notice that
    recites a payment on a warning without one, an unknown oversight body).
    """
    require(actor, "finance", action="verify warnings")
    now = now or utcnow()
    warning = get_warning(actor, warning_id, lock=True)
    spec = STEP_KINDS.get(data.get("kind"))
    if spec is None:
        raise Invalid("unknown step kind", {"kind": [f"one of {', '.join(STEP_KINDS)}"]})
    if not WARNING.allows("verify", warning.status):
        raise Conflict(f"warning {warning.id} is {warning.status}; verification is over",
                       {"status": [warning.status]})
    fields, stored = _load_fields(actor, spec, data)
    if spec.notice and spec.notice.recites_payment and warning.payment is None:
        raise Invalid(f"a {spec.name} notice recites the payment, and this warning has none",
                      {"kind": ["this warning has no payment to recite"]})
    step = VerificationStep(warning_id=warning.id, kind=spec.name, details=stored,
                            created_by_id=actor.user_id, created_at=now)
    ctx = StepContext(actor=actor, warning=warning, step=step, fields=fields, issuer=_org(actor),
                      unit=warning.unit, now=now)
    if spec.addressee:
        step.addressee = spec.addressee(ctx)
    db.session.add(step)
    db.session.flush()

    document = _issue_notice(spec.notice, ctx) if spec.notice else None
    for tell in spec.tells:
        tell(ctx)
    if spec.asks:
        record_requests(spec.asks, spec.asks.parties(ctx), step=step, warning=warning, finance_id=ctx.issuer.id,
                        fields=fields, now=now)
    if spec.moves_warning:
        WARNING.move(warning, spec.moves_warning, actor=actor)  # open → verifying; verifying stays
        _touch(warning)
    record(actor, joint_investigation_stream(warning.id) if spec.confidential else warning_stream(warning.id),
           JOINT_INVESTIGATION_ACTION if spec.confidential else "step_added",
           {"step_id": step.id, "kind": spec.name, "article": spec.article.chinese, "details": step.details,
            "addressee_code": step.addressee_code,
            "document": {"id": document.id, "kind": document.kind, "number": document.number} if document else None},
           now)
    return step


def _issue_notice(notice: Notice, ctx: StepContext) -> Document:
    """Issue the step's notice to the warning's unit and tell its recipients it was issued."""
    warning, issuer, unit, step = ctx.warning, ctx.issuer, ctx.unit, ctx.step
    context = notice.context(ctx)
    if notice.recites_payment:
        context.update(payment_context(warning.payment))
    document = issue_document(ctx.actor, kind=notice.kind, issuer=issuer, addressee=unit, context=context,
                              warning_id=warning.id, now=ctx.now)
    step.document_id = document.id
    recipients = notice.recipients(ctx) if notice.recipients else [unit.id]
    notify(**message_builders.document_issued(warning, step, document=document, issuer=issuer, addressee=unit,
                                              org_ids=recipients))
    return document


# --- responses ----------------------------------------------------------------------------------------

def add_response(actor: Actor, warning_id: int, data: dict, now: dt.datetime | None = None) -> WarningResponse:
    """The unit explains, its competent department or the bank supplies materials, the
    oversight body asked records findings, while finance verifies; the department a warning
    was handed on to answers with its outcome (处理结果, Art. 11(三)) while it is transferred.
    Finance does not answer its own warning. Conflict once the warning is decided (for the
    receiver: before it was handed on, or once finance closed the transfer).

    ``step_id`` (optional) names the step answered: a step of this warning that asked the
    caller's party (else 422 on ``step_id``, worded the same for a step that does not exist, is
    another warning's, is hidden from the caller or did not ask it). The answer answers that
    step's request of the party, or, naming none, each of the party's open requests on the
    warning (:func:`workflow.step_requests.mark_answered`): they are no longer chased."""
    require(actor, *RESPONSE_KINDS, action="answer warnings")
    now = now or utcnow()
    warning = get_warning(actor, warning_id, lock=True)
    if actor.is_system:
        raise Forbidden("the scheduler does not answer warnings")
    answerable = (TRANSFERRED,) if actor.kind == "department" else UNDECIDED
    if warning.status not in answerable:
        raise Conflict(f"warning {warning.id} is {warning.status}; it takes no "
                       f"{'outcome' if actor.kind == 'department' else 'more answers'}",
                       {"status": [warning.status]})
    text = (data.get("text") or "").strip()
    if not text:
        raise Invalid("an answer needs its text", {"text": ["required"]})
    step_id = data.get("step_id")
    if step_id is not None and not asked_in(step_id, warning.id, actor.org_id):
        raise Invalid("the answer names a step that did not ask you",
                      {"step_id": [f"not a step of warning {warning.id} that asked your organisation"]})
    response = WarningResponse(warning_id=warning.id, org_id=actor.org_id, author_id=actor.user_id,
                               kind=RESPONSE_KINDS[actor.kind], text=text, step_id=step_id,
                               evidence_ref=(data.get("evidence_ref") or "").strip() or None, created_at=now)
    db.session.add(response)
    # A body's findings answer a joint investigation, a department's outcome a transfer: each in its
    # own chain, moving nothing the parties under verification read.
    stream = {RESPONSE_KINDS["oversight"]: joint_investigation_stream,
              OUTCOME: transfer_stream}.get(response.kind, warning_stream)(warning.id)
    if stream == warning_stream(warning.id):
        _touch(warning)
    db.session.flush()
    # Before the journal's lock on the stream: the scheduler holds a request's row while it
    # waits for that lock, so the answer must not hold the lock while it waits for the row.
    mark_answered(warning_id=warning.id, org_id=actor.org_id, response_id=response.id, now=now, step_id=step_id)
    record(actor, stream,
           "response_added",
           {"response_id": response.id, "kind": response.kind, "text": response.text,
            "evidence_ref": response.evidence_ref, **({"step_id": step_id} if step_id is not None else {})}, now)
    return response


# --- decisions ------------------------------------------------------------------------------------------

def _undecided(warning: MonitoringWarning, trigger: str, verb: str) -> None:
    if not WARNING.allows(trigger, warning.status):
        raise Conflict(f"warning {warning.id} is already {warning.status}; it cannot be {verb}",
                       {"status": [warning.status]})


def confirm(actor: Actor, warning_id: int, data: dict, now: dt.datetime | None = None):
    """Confirm a warning as a violation (核实确认, Art. 11(三)): open a unit case on the
    chosen rung (Art. 21(一)-(三)) with the fields that rung needs (the case workflow fills
    in defaults such as the order's deadline), link it, make the files given on the warning
    part of the case file (:func:`workflow.warning_files.join_case_file`), and refuse a held
    payment unless ``release_payment``. Returns the case. No commit here.

    Raises NotFound, Forbidden, Conflict (already decided), Invalid (bad rung or fields).
    """
    require(actor, "finance", action="confirm warnings")
    now = now or utcnow()
    warning = get_warning(actor, warning_id, lock=True)
    _undecided(warning, "confirm", "confirmed")
    rung = data.get("rung")
    if rung not in CASE_RUNGS:
        raise Invalid("unknown rung", {"rung": [f"one of {', '.join(CASE_RUNGS)}"]})
    fields = {k: v for k, v in data.items() if k not in ("rung", "release_payment")}
    fields.setdefault("summary", f"{warning.message}（{warning.article}）"[:500])
    case = open_case(actor, machine="unit_case", subject=warning.unit, rung=rung, fields=fields,
                     source={"warning_id": warning.id, "rule": warning.rule, "article": warning.article}, now=now)
    join_case_file(actor, warning.id, case, now)  # the warning is locked: no file is added meanwhile
    payment = warning.payment
    payment_outcome = None
    if payment is not None:
        lock_payment(payment)  # a bank may be refusing it at this moment
    if payment is not None and payment.status == "held":
        why = {"warning_id": warning.id, "decision": "confirmed", "case_id": case.id}
        if data.get("release_payment"):
            release_payment(actor, payment, now, **why)
        else:
            refuse_payment(actor, payment, now, **why)
        payment_outcome = payment.status
    WARNING.move(warning, "confirm", actor=actor)
    stop_chasing(warning.id)  # before the journal's lock on the stream, as in add_response
    warning.case_id = case.id
    warning.status_reason = fields["summary"] if isinstance(fields["summary"], str) else None
    warning.closed_at = now
    _touch(warning)
    record(actor, warning_stream(warning.id), "confirmed",
           {"case_id": case.id, "rung": rung, "summary": warning.status_reason,
            "payment": _payment_ref(payment, payment_outcome)}, now)
    return case


def _payment_ref(payment: Payment | None, outcome: str | None) -> dict | None:
    """A payment as a decision's journal entry names it: what the decision did to it
    (``accepted`` once released, ``refused``), or None where it left it as it was."""
    if payment is None:
        return None
    return {"id": payment.id, "voucher_no": payment.voucher_no, "changed_to": outcome}


def dismiss(actor: Actor, warning_id: int, data: dict, now: dt.datetime | None = None) -> MonitoringWarning:
    """Dismiss a warning with its reason (核实排除). A payment it held is released once no
    other blocking warning on it is undecided or transferred (:data:`HOLDING`). The unit is told the reason, and whether
    its payment was released or is still held. No commit here."""
    require(actor, "finance", action="dismiss warnings")
    now = now or utcnow()
    reason = (data.get("reason") or "").strip()
    warning = get_warning(actor, warning_id, lock=True)
    if not reason:
        raise Invalid("a dismissal needs a reason", {"reason": ["required"]})
    _undecided(warning, "dismiss", "dismissed")
    WARNING.move(warning, "dismiss", actor=actor)
    stop_chasing(warning.id)  # before the journal's lock on the stream, as in add_response
    warning.status_reason = reason
    warning.closed_at = now
    _touch(warning)
    payment = warning.payment
    payment_outcome = None
    if payment is not None:
        # Locked before the other warnings are counted: of two blocking warnings dismissed
        # at once, the second to get the payment sees the first dismissed and releases it.
        lock_payment(payment)
    if payment is not None and payment.status == "held":
        db.session.flush()
        still_blocking = db.session.execute(sa.select(MonitoringWarning.id).where(
            MonitoringWarning.payment_id == payment.id, MonitoringWarning.id != warning.id, MonitoringWarning.level == "block",
            MonitoringWarning.status.in_(HOLDING)).limit(1)).first()
        if still_blocking is None:
            release_payment(actor, payment, now, warning_id=warning.id, decision="dismissed")
            payment_outcome = payment.status
    record(actor, warning_stream(warning.id), "dismissed",
           {"reason": reason, "payment": _payment_ref(payment, payment_outcome)}, now)
    notify(**message_builders.warning_dismissed(
        warning, finance_name=actor.name if actor.is_system else _org(actor).name, reason=reason), now=now)
    return warning


# --- handing on what is not finance's (移交, Art. 11(三)) -----------------------------------------------

def _load_row_fields(actor: Actor, trigger: str, data: dict) -> tuple[dict, dict]:
    """``(values, their JSON form)`` of a warning action's body, loaded with its row's schema
    (:attr:`workflow.machines.lifecycle.Lifecycle.schemas`): a missing or bad field, a receiver
    that is not a department in the caller's reach, or a field the row does not take is named."""
    try:
        return load_fields(WARNING.schemas[trigger], data, SimpleNamespace(actor=actor))
    except ma.ValidationError as exc:
        fields = ", ".join(f.name for f in WARNING.by_trigger[trigger][0].fields if f.required)
        raise Invalid(f"the fields of {trigger} are not valid (it needs {fields})", errors_of(exc)) from None


def transfer(actor: Actor, warning_id: int, data: dict, now: dt.datetime | None = None) -> WarningTransfer:
    """Hand a warning on to the department that owns the matter (移交, Art. 11(三): 不属于职责范围内的，
    按照规定移交有关部门处理): the ``transfer`` row of the warning's table, from ``open`` or
    ``verifying``, by finance of the unit's jurisdiction, with its fields (the receiver's code, the
    matters, the legal basis of the receiver's remit, a reply-by date, materials). Issues the
    numbered 移交函 to the receiver in the same transaction, tells the receiver (the letter, the
    warning to answer) and the unit (that the matter was handed on to that department, so that it
    knows whom it now answers to; not the letter), and journals ``transferred``. No commit here.

    The payment: a blocking warning keeps holding its payment while the matter is with the
    receiver (:data:`~workflow.machines.warning.HOLDING`). Finance confirmed a problem but has no
    power to decide it, so it neither refuses the payment (a refusal is a handling measure of
    finance's own, Art. 21) nor pays out money the receiver's handling may yet stop; it decides
    the payment when it closes the transfer on the receiver's outcome (:func:`close_transfer`).

    Raises NotFound (not the caller's warning), Forbidden (not finance), Conflict (decided
    already), Invalid (fields; a receiver that is unknown, not a department or out of reach).
    """
    require(actor, "finance", action="transfer warnings")
    now = now or utcnow()
    warning = get_warning(actor, warning_id, lock=True)
    _undecided(warning, "transfer", "transferred")
    values, stored = _load_row_fields(actor, "transfer", data)
    receiver: Organisation = values["receiver_code"]
    WARNING.move(warning, "transfer", actor=actor)
    stop_chasing(warning.id)  # handed on: its steps' requests are no longer finance's to chase
    # What the unit reads of the decision: to whom it went. The matters stay in the letter.
    warning.status_reason = f"已移交{receiver.name}处理（{TRANSFER_ARTICLE.chinese}）"
    _touch(warning)
    handed = WarningTransfer(warning_id=warning.id, receiver_id=receiver.id,
                             details={k: v for k, v in stored.items() if k != "receiver_code"},
                             created_by_id=actor.user_id, created_at=now)
    db.session.add(handed)
    db.session.flush()
    issuer = _org(actor)
    payment = warning.payment
    context = {"unit_name": warning.unit.name, "warning_summary": f"{warning.message}（依据{warning.article}）",
               **{k: v for k, v in stored.items() if k != "receiver_code"}}
    if payment is not None:
        context.update(payment_context(payment), amount=payment.amount)
    document = issue_document(actor, kind="transfer_letter", issuer=issuer, addressee=receiver, context=context,
                              warning_id=warning.id, now=now)
    handed.document_id = document.id
    handed.receiver = receiver
    notify_all(message_builders.warning_transferred(warning, handed, document=document, issuer=issuer), now=now)
    letter = {"id": document.id, "kind": document.kind, "number": document.number}
    record(actor, warning_stream(warning.id), "transferred",
           {"receiver_code": receiver.code, "article": TRANSFER_ARTICLE.chinese, "document": letter,
            "payment": _payment_ref(payment, None)}, now)
    record(actor, transfer_stream(warning.id), "transferred",
           {"receiver_code": receiver.code, **handed.details, "document": letter}, now)
    return handed


def close_transfer(actor: Actor, warning_id: int, data: dict, now: dt.datetime | None = None) -> MonitoringWarning:
    """Close a transferred warning once the receiver answered with its outcome (移交办结, Art.
    11(三)): the ``close_transfer`` row, whose guard is that answer (409 before it). A payment
    the warning held is released (``payment``: ``release``, the default) once no other blocking
    warning on it holds it, or refused (``refuse``: the receiver's outcome showed it must not be
    paid). The unit is told. Journaled ``transfer_closed``. No commit here."""
    require(actor, "finance", action="close transfers")
    now = now or utcnow()
    warning = get_warning(actor, warning_id, lock=True)
    _undecided(warning, "close_transfer", "closed as transferred")
    values, stored = _load_row_fields(actor, "close_transfer", data)
    payment = warning.payment
    if payment is not None:
        lock_payment(payment)  # as in dismiss: the other warnings are counted under the payment's lock
    WARNING.move(warning, "close_transfer", actor=actor)
    warning.status_reason = values["summary"]
    warning.closed_at = now
    _touch(warning)
    payment_outcome = None
    if payment is not None and payment.status == "held":
        why = {"warning_id": warning.id, "decision": "transfer_closed"}
        if values.get("payment") == "refuse":
            refuse_payment(actor, payment, now, **why)
            payment_outcome = payment.status
        else:
            db.session.flush()
            still_blocking = db.session.execute(sa.select(MonitoringWarning.id).where(
                MonitoringWarning.payment_id == payment.id, MonitoringWarning.id != warning.id,
                MonitoringWarning.level == "block", MonitoringWarning.status.in_(HOLDING)).limit(1)).first()
            if still_blocking is None:
                release_payment(actor, payment, now, **why)
                payment_outcome = payment.status
    record(actor, warning_stream(warning.id), "transfer_closed",
           {**stored, "article": TRANSFER_ARTICLE.chinese, "payment": _payment_ref(payment, payment_outcome)}, now)
    notify(**message_builders.transfer_closed(warning, finance_name=_org(actor).name, summary=values["summary"]),
           now=now)
    return warning


def refuse_payment(actor: Actor, payment: Payment, now: dt.datetime | None = None, **why) -> None:
    """Refuse a payment: it will not be paid, so it stops counting against the budget.
    Journaled in the payment's stream with ``why`` (the warning, the decision, the reason)."""
    _change_payment(actor, payment, "refuse", "refused", now, why)


def hold_payment(actor: Actor, payment: Payment, now: dt.datetime | None = None, **why) -> None:
    """Hold an accepted payment under a blocking warning finance raised by hand (Art. 12): it
    waits for verification as a payment screening blocked does; journaled like the others."""
    _change_payment(actor, payment, "hold", "held", now, why)


def release_payment(actor: Actor, payment: Payment, now: dt.datetime | None = None, **why) -> None:
    """Release a held payment; journaled like :func:`refuse_payment`."""
    _change_payment(actor, payment, "release", "released", now, why)


def _change_payment(actor: Actor, payment: Payment, trigger: str, action: str, now: dt.datetime | None,
                    why: dict) -> None:
    now = now or utcnow()
    was = payment.status
    change_payment_status(payment, trigger, now, actor=actor)
    record(actor, stream_of("payment", payment.id), action, {"from": was, "to": payment.status, **why}, now)


def open_manual_warning(actor: Actor, *, unit: Organisation, payment: Payment | None, rule: str, level: str,
                        article: Cited, message: str, now: dt.datetime | None = None,
                        source: dict | None = None) -> MonitoringWarning:
    """A warning raised by hand (a complaint, a bank's refusal, finance's own finding, Art. 12
    人工排查) rather than by screening: the warning lifecycle's ``raise`` row, whose roles say
    who may. ``rule`` is a hand-raised kind or a screening rule finance names. ``source`` (e.g.
    the finding) is added to the journal entry. A rule fires at most once per payment: an
    existing one of the same rule is returned."""
    if rule not in WARNING_RULES:
        raise ValueError(f"not a warning's rule: {rule!r}")
    if level not in WARNING_LEVELS:
        raise Invalid("unknown level", {"level": [f"one of {', '.join(WARNING_LEVELS)}"]})
    raising = WARNING.by_trigger["raise"][0]
    if not actor.is_system and actor.kind not in raising.roles:
        raise Forbidden(f"{actor.kind} parties may not raise warnings ({raising.article.chinese})")
    if payment is not None:
        existing = _warning_on(payment, rule)
        if existing is not None:
            return existing
    now = now or utcnow()
    warning = MonitoringWarning(payment_id=payment.id if payment is not None else None, unit_id=unit.id, rule=rule,
                      level=level, article=article.chinese, message=message[:500], rule_set_version=None,
                      status="open", version=1, created_at=now)
    db.session.add(warning)
    db.session.flush()
    record(actor, warning_stream(warning.id), "opened",
           {"rule": rule, "level": level, "article": warning.article, "message": warning.message,
            "unit_code": unit.code, "payment_id": warning.payment_id, **(source or {})}, now)
    return warning


def _warning_on(payment: Payment, rule: str) -> MonitoringWarning | None:
    return db.session.execute(sa.select(MonitoringWarning).where(
        MonitoringWarning.payment_id == payment.id, MonitoringWarning.rule == rule)).scalar_one_or_none()


def _cited(value: dict | None, rule: str | None) -> Cited:
    """The article a hand-raised warning rests on: given as ``{article, item, point}`` and
    rendered as the regulation numbers it, or, for a screening rule, that rule's own."""
    if value is None:
        if rule is None:
            raise Invalid("a finding names the article it rests on", {"article": ["required with a finding"]})
        return RULES_BY_NAME[rule].cites
    if value.get("point") is not None and value.get("item") is None:
        raise Invalid("a point belongs to an item", {"article.point": ["give the item (项) the point belongs to"]})
    return art(value["article"], value.get("item"), value.get("point"))


def raise_warning(actor: Actor, data: dict, now: dt.datetime | None = None) -> MonitoringWarning:
    """Finance raises a warning by hand (人工排查, Art. 12), on a payment of a unit or on the
    unit alone (e.g. after a site visit): ``unit_code``, ``payment_id`` (optional), ``level``,
    ``rule`` (a screening rule) or ``finding`` (free), ``article`` (``{article, item, point}``;
    a rule's own if left out) and ``description``. It is verified like any warning (status
    open), journaled, and told as screening tells (:mod:`workflow.monitoring.alerts`). No commit.

    Raises Forbidden (not finance), Invalid (a unit out of the caller's jurisdiction or
    unknown, a payment not the unit's, neither or both of rule and finding, a finding without
    its article), Conflict (the payment has a warning of this rule already)."""
    require(actor, "finance", action="raise warnings")
    now = now or utcnow()
    unit = db.session.execute(sa.select(Organisation).where(
        Organisation.code == data.get("unit_code"), Organisation.kind == "unit",
        units_of(actor, Organisation.id))).scalar_one_or_none()
    if unit is None:
        raise Invalid("no budget unit of that code in your jurisdiction",
                      {"unit_code": ["not a budget unit in your jurisdiction"]})
    payment = None
    if data.get("payment_id") is not None:
        payment = db.session.execute(sa.select(Payment).where(
            Payment.id == data["payment_id"], Payment.unit_id == unit.id)).scalar_one_or_none()
        if payment is None:
            raise Invalid("the payment is not one of this unit's", {"payment_id": ["not a payment of this unit"]})
    rule, finding = data.get("rule"), (data.get("finding") or "").strip()
    if bool(rule) == bool(finding):
        raise Invalid("name a screening rule or a finding of your own, one of them",
                      {"rule": ["give rule or finding, not both and not neither"]})
    if rule and rule not in RULES_BY_NAME:
        raise Invalid("unknown rule", {"rule": [f"one of {', '.join(RULES_BY_NAME)}"]})
    description = (data.get("description") or "").strip()
    if not description:
        raise Invalid("a warning needs its description", {"description": ["required"]})
    article = _cited(data.get("article"), rule or None)
    stored_rule = rule or "manual"
    if payment is not None:
        existing = _warning_on(payment, stored_rule)
        if existing is not None:
            raise Conflict(f"the payment has warning {existing.id} of this rule already; verify it there",
                           {"rule" if rule else "finding": [f"warning {existing.id} on this payment already"]})
    message = description if rule else f"{finding}：{description}"
    warning = open_manual_warning(actor, unit=unit, payment=payment, rule=stored_rule, level=data.get("level"),
                                  article=article, message=message, now=now,
                                  source={"basis": MANUAL_REVIEW.chinese, "finding": finding or None})
    if payment is not None and warning.level == "block":
        lock_payment(payment)  # a bank may be refusing it, or finance deciding another warning on it
        if payment.status == "accepted":
            hold_payment(actor, payment, now, warning_id=warning.id, decision="raised")
    alerts.tell([alerts.Alert(warning.id, unit.id, warning.level, warning.rule, warning.article, warning.message,
                              *((payment.voucher_no, payment.payee_name, payment.amount, payment.bank_id)
                                if payment is not None else ()))],
                batch=f"warning:{warning.id}", now=now, manual=True)
    return warning


# --- focus list (重点关注, Art. 11(二)4) -----------------------------------------------------------------

def focus_list(actor: Actor, overrides: dict | None = None, now: dt.datetime | None = None) -> dict:
    """Units in the caller's jurisdiction that trigger warnings often, seriously or for
    large amounts (finance only). Each row says which of the three it meets."""
    require(actor, "finance", action="read the focus list")
    now = now or utcnow()
    limits = focus_settings(overrides)
    since = now - dt.timedelta(days=limits["days"])
    counted = sa.and_(MonitoringWarning.created_at >= since, MonitoringWarning.status != "dismissed", units_of(actor, MonitoringWarning.unit_id))
    counts = db.session.execute(
        sa.select(MonitoringWarning.unit_id, sa.func.count(MonitoringWarning.id),
                  sa.func.sum(sa.case((MonitoringWarning.level == "block", 1), else_=0)))
        .where(counted).group_by(MonitoringWarning.unit_id)).all()
    flagged = sa.select(MonitoringWarning.payment_id).where(counted, MonitoringWarning.payment_id.is_not(None)).distinct().subquery()
    amounts = dict(db.session.execute(
        sa.select(Payment.unit_id, sa.func.sum(Payment.amount))
        .where(Payment.id.in_(sa.select(flagged.c.payment_id))).group_by(Payment.unit_id)).all())
    last_letters = dict(db.session.execute(
        sa.select(MonitoringWarning.unit_id, sa.func.max(VerificationStep.created_at))
        .join(VerificationStep, VerificationStep.warning_id == MonitoringWarning.id)
        .where(VerificationStep.kind == "focus_letter", units_of(actor, MonitoringWarning.unit_id))
        .group_by(MonitoringWarning.unit_id)).all())
    rows = []
    for unit_id, total, blocks in counts:
        amount = amounts.get(unit_id) or Decimal("0.00")
        reasons = [name for name, met in (("often", total >= limits["min_warnings"]),
                                          ("serious", (blocks or 0) >= limits["min_blocks"]),
                                          ("large_amount", amount >= limits["min_amount"])) if met]
        if not reasons:
            continue
        unit = db.session.get(Organisation, unit_id)
        letter = last_letters.get(unit_id)
        if letter is not None and letter.tzinfo is None:
            letter = letter.replace(tzinfo=dt.timezone.utc)
        rows.append({"unit_code": unit.code, "unit_name": unit.name, "warnings": total, "block_warnings": blocks or 0,
                     "flagged_amount": amount, "reasons": reasons, "last_focus_letter_at": letter})
    rows.sort(key=lambda r: (-len(r["reasons"]), -r["warnings"], -r["flagged_amount"], r["unit_code"]))
    return {"since": since, "thresholds": limits, "items": rows}

"""Cases (违规问题处理单, Art. 11(五)) and everything that moves them.

A case belongs to one machine (:mod:`workflow.machines`): ``unit_case`` (Art. 21, 23,
24) or ``bank_case`` (Art. 22). It moves only by :func:`apply_action` (and is created
by :func:`open_case`), which in the caller's transaction, in this order:

1. loads the case through the caller's scope (absent or not visible: 404);
2. checks the trigger's party kinds (403), the version the caller saw and the source
   state (409), and the action's fields (422: missing, bad or unknown fields);
3. fires the trigger through the machine's one shared ``transitions.Machine``, whose
   conditions are the rows' guards (refused: 409 with the guard's reason) and whose
   callbacks run the row's effects;
4. writes the state and the next version with ``UPDATE ... WHERE version = :seen``
   (``version_id_col``): of two concurrent actions exactly one wins, the other is a
   409; this also serialises the writes to the case's history chain;
5. issues the row's documents, appends the history event (SHA-256 chained to the
   previous one) and queues the notifications. Nothing here commits.

The history (:class:`CaseEvent`) is append-only: the ORM refuses updates and deletes,
and the migration adds database triggers that refuse them too. :func:`verify_chains`
walks every chain (``flask --app wsgi audit verify``).
"""
from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.orm.exc import StaleDataError

from workflow.budget import BankAccount
from workflow.chain import (  # noqa: F401  (GENESIS, AppendOnlyViolation, chain_hash: re-exported)
    GENESIS, AppendOnlyViolation, ChainedEntry, append_only, broken_links, canonical_json, chain_hash, located)
from workflow.db import AwareDateTime, db, utcnow
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.machines import MACHINES, NEW, SUBJECT_KINDS, CaseMachine
from workflow.machines.base import Context, FieldError, Tell, json_safe, parse_value
from workflow.parties import Actor, Organisation
from workflow.scoping import organisations_for, units_of

MACHINE_NAMES = tuple(MACHINES)
PARTY_ROLES = ("copied", "referred", "closing_bank")
RESOLUTIONS = ("rectified", "revoked", "agreement_terminated")
RESERVED_FIELDS = ("version",)

_writing_state: contextvars.ContextVar[bool] = contextvars.ContextVar("writing_case_state", default=False)


# --- models ----------------------------------------------------------------------------

class Case(db.Model):
    """One confirmed violation of a budget unit or an agent bank, and where it stands."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    machine: Mapped[str] = mapped_column(sa.String(16))
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    finance_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    summary: Mapped[str] = mapped_column(sa.String(500))
    state: Mapped[str] = mapped_column(sa.String(32), index=True)
    rung: Mapped[str] = mapped_column(sa.String(32), index=True)
    resume_state: Mapped[str | None] = mapped_column(sa.String(32))
    # NULL while nothing is due. Indexed with the id by workflow.scheduling.CASES_DEADLINE_ID,
    # which serves every query on the deadline (the scheduler's ranges, the overdue filter).
    deadline: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    # Working days that were left when an appeal paused the deadline (Art. 24).
    deadline_paused_remaining: Mapped[int | None] = mapped_column(sa.Integer)
    funds_suspended: Mapped[bool] = mapped_column(default=False)
    measures: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    version: Mapped[int] = mapped_column(sa.Integer)
    opened_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    resolution: Mapped[str | None] = mapped_column(sa.String(32))

    subject: Mapped[Organisation] = relationship(foreign_keys=[subject_id], lazy="joined", innerjoin=True)
    finance: Mapped[Organisation] = relationship(foreign_keys=[finance_id], lazy="joined", innerjoin=True)
    parties: Mapped[list[CaseParty]] = relationship(back_populates="case", cascade="all, delete-orphan")

    # The version the caller saw is checked on write: UPDATE ... WHERE version = :seen.
    # It is set explicitly, so that it equals the sequence number of the case's last event.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
    __table_args__ = (
        sa.CheckConstraint(machine.in_(MACHINE_NAMES), name="machine"),
        sa.CheckConstraint(resolution.in_(RESOLUTIONS), name="resolution"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
    )

    @validates("state")
    def _only_the_machine_writes_state(self, _key, value):
        if not _writing_state.get():
            raise AttributeError("a case's state changes only through workflow.cases.apply_action")
        return value

    @hybrid_property
    def overdue(self) -> bool:
        return self.deadline is not None and utcnow() > self.deadline

    @overdue.inplace.expression
    @classmethod
    def _overdue_expression(cls):
        return sa.and_(cls.deadline.is_not(None), cls.deadline < utcnow())

    @property
    def spec(self) -> CaseMachine:
        return MACHINES[self.machine]

    @property
    def state_label(self) -> str:
        return self.spec.state(self.state).label


class CaseEvent(ChainedEntry, db.Model):
    """One entry of a case's history; ``hash`` = SHA-256(prev_hash + canonical JSON).
    Besides the chained columns (:class:`workflow.chain.ChainedEntry`): the case, the
    trigger and the states it moved between."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))  # indexed by (case_id, seq)
    trigger: Mapped[str] = mapped_column(sa.String(48))
    from_state: Mapped[str] = mapped_column(sa.String(32))
    to_state: Mapped[str] = mapped_column(sa.String(32))

    __table_args__ = (sa.UniqueConstraint("case_id", "seq", name="uq_case_events_case_seq"),)

    def content(self) -> dict:
        return event_content(self)


def event_content(event) -> dict:
    """What an event's hash covers: every column but the id and the hashes themselves.
    ``event`` is a CaseEvent or a row with the same columns."""
    return {
        "case_id": event.case_id, "seq": event.seq, "actor_user_id": event.actor_user_id,
        "party_org_id": event.party_org_id, "party_kind": event.party_kind, "trigger": event.trigger,
        "from_state": event.from_state, "to_state": event.to_state, "payload": event.payload,
        "created_at": event.created_at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
    }


class CaseParty(db.Model):
    """A party brought into a case beyond its subject: the competent department copied on
    an order (Art. 21(三)), an oversight body it was referred to (Art. 23), a bank asked
    to close accounts (Art. 21(四)). Each may read the case from then on."""

    __tablename__ = "case_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    added_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="parties")
    org: Mapped[Organisation] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("case_id", "org_id", "role", name="uq_case_parties_case_org_role"),
        sa.CheckConstraint(role.in_(PARTY_ROLES), name="role"),
    )


class AccountClosure(db.Model):
    """An account a case closes (Art. 21(四)); closed when its bank confirms."""

    __tablename__ = "case_account_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))  # indexed by (case_id, account_id)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_accounts.id"), index=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(AwareDateTime)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    confirmed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    account: Mapped[BankAccount] = relationship()

    __table_args__ = (sa.UniqueConstraint("case_id", "account_id", name="uq_case_account_closures_case_account"),)


# --- the history is append-only --------------------------------------------------------

append_only(CaseEvent, "case history")


# --- who sees which case ---------------------------------------------------------------

def visible(actor: Actor) -> sa.ColumnElement[bool]:
    """Cases the caller may see (ASVS 8.2.2): finance by jurisdiction over the subject,
    a unit its own, a competent department its units' (and those it was copied on), a
    bank the cases against it and the closures it must execute, an oversight body the
    cases referred to it."""
    if actor.is_system:
        return sa.true()
    brought_in = Case.id.in_(sa.select(CaseParty.case_id).where(CaseParty.org_id == actor.org_id))
    if actor.kind == "bank":
        return sa.or_(sa.and_(Case.machine == "bank_case", Case.subject_id == actor.org_id), brought_in)
    return sa.or_(units_of(actor, Case.subject_id), brought_in)


def cases_for(actor: Actor) -> sa.Select:
    return sa.select(Case).where(visible(actor))


def get_case(actor: Actor, case_id: int) -> Case:
    """The case if the caller may see it; NotFound otherwise (absent and hidden look alike)."""
    case = db.session.execute(cases_for(actor).where(Case.id == case_id)).scalar_one_or_none()
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


# Art. 23 referrals (移送) and what the receiving body answers: the matter goes from finance to
# the same-level people's congress, audit or discipline body, which takes the unit as a focus of
# its own supervision (作为重点监督检查对象). That correspondence stays between finance and the
# body: the subject, its competent department and anyone else who reads the case see that an
# event happened (its trigger, time and the states, so the history they read has no gaps and its
# version numbers add up) but not its content: not the body, the grounds, the materials, the
# letter or the findings. Revealing them would forewarn the unit of the supervision, as a joint
# investigation (Art. 11(二)5) is kept from it for the same reason.
WITHIN_FINANCE_TRIGGERS = ("refer", "record_findings")


def sees_referral(actor: Actor, event: CaseEvent) -> bool:
    """Finance reads every referral event of a case it sees; an oversight body those that
    concern it (referred to it, or its own findings)."""
    if event.trigger not in WITHIN_FINANCE_TRIGGERS or actor.is_system or actor.kind == "finance":
        return True
    if actor.kind != "oversight":
        return False
    if event.party_org_id == actor.org_id:
        return True
    body = db.session.get(Organisation, actor.org_id)
    return (event.payload or {}).get("oversight") == body.code


@dataclass(frozen=True)
class WithheldEvent:
    """A case event as a party that may not read it sees it (:data:`WITHIN_FINANCE_TRIGGERS`):
    where it sits in the chain and what it did to the case, nothing of who or why."""

    id: int
    seq: int
    trigger: str
    from_state: str
    to_state: str
    created_at: dt.datetime
    hash: str
    prev_hash: str
    party_kind: str
    actor_user_id: None = None
    actor: None = None
    party_org_id: None = None
    party: None = None
    payload: dict = field(default_factory=lambda: {"withheld": "第二十三条 (Art. 23)"})


def event_as_seen_by(actor: Actor, event: CaseEvent) -> CaseEvent | WithheldEvent:
    """The event, or its withheld form where the caller may not read it (:func:`sees_referral`)."""
    if sees_referral(actor, event):
        return event
    return WithheldEvent(id=event.id, seq=event.seq, trigger=event.trigger, from_state=event.from_state,
                         to_state=event.to_state, created_at=event.created_at, hash=event.hash,
                         prev_hash=event.prev_hash, party_kind=event.party_kind)


def allowed_actions(actor: Actor, case: Case, now: dt.datetime | None = None) -> list[str]:
    """The triggers the caller's party may fire on ``case`` now, from the table and the
    guards that read only the case and the clock. No machine is built, nothing queried."""
    return MACHINES[case.machine].allowed(actor.kind, case, now or utcnow())


def suspension_in_force() -> sa.ColumnElement[bool]:
    """Cases whose disbursement suspension (Art. 21(四)) is in force: from "funds suspended"
    until the case is closed (rectification accepted or the decision revoked); review,
    appeal and account closure do not lift it. Screening applies it to whole batches."""
    return sa.and_(Case.machine == "unit_case", Case.funds_suspended.is_(True), Case.closed_at.is_(None))


def disbursement_suspended(unit_id: int) -> bool:
    """True while the unit has a case whose disbursement suspension is in force."""
    return db.session.execute(sa.select(Case.id).where(
        Case.subject_id == unit_id, suspension_in_force()).limit(1)).first() is not None


def escalation_target(case: Case) -> str | None:
    """The state ``escalate`` (by ``Actor.system()``) moves the case to once its deadline has
    passed, or None where escalation is not automatic (see ``proposed_action``)."""
    return MACHINES[case.machine].escalation.get(case.state)


def proposed_action(case: Case) -> str | None:
    """The trigger finance would fire by hand on an overdue case (e.g. ``suspend_funds``)."""
    return MACHINES[case.machine].proposals.get(case.state)


# --- opening and acting ------------------------------------------------------------------

def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("naive datetime: a timezone is required")
    return now


def open_case(actor: Actor, *, machine: str, subject: Organisation, rung: str, fields: dict,
              source: dict | None = None, now: dt.datetime | None = None) -> Case:
    """Open a case on ``rung`` (unit_case: warning, decision, order; bank_case:
    refund_or_redo, transmission_fix) against ``subject`` (a budget unit or an agent bank
    in the caller's jurisdiction). ``fields`` are those of the opening row (``summary``
    always). ``source`` (e.g. ``{"warning_id": 7}``) is recorded in the opening event.
    Writes the case, its first event, documents and notifications; no commit.

    Raises Forbidden (not finance), Invalid (unknown machine or rung, wrong or
    unreachable subject, bad fields)."""
    now = _now(now)
    spec = MACHINES.get(machine)
    if spec is None:
        raise Invalid(f"unknown machine {machine!r}", {"machine": [f"one of {', '.join(MACHINES)}"]})
    opening = spec.openings.get(rung)
    if opening is None:
        raise Invalid(f"a {machine} is not opened on {rung!r}", {"rung": [f"one of {', '.join(spec.openings)}"]})
    if actor.kind not in opening.roles:
        raise Forbidden(f"{actor.kind} parties may not open cases")
    if subject.kind != SUBJECT_KINDS[machine] or not _reaches(actor, subject):
        raise Invalid(f"no {SUBJECT_KINDS[machine]} {subject.code} in your jurisdiction",
                      {"subject": [f"not a {SUBJECT_KINDS[machine]} in your jurisdiction"]})
    finance_id = actor.org_id  # the department that opens the case is in charge of it
    with _state_writer():
        case = Case(machine=machine, subject=subject, finance_id=finance_id, summary="", state=NEW, rung=NEW,
                    version=1, measures={}, opened_by=actor.user_id, created_at=now)
    ctx = Context(actor=actor, case=case, machine=spec, trigger=opening.trigger, now=now, from_state=NEW)
    _parse_fields(ctx, spec, opening.trigger, fields or {})
    case.summary = ctx.data["summary"]
    if source is not None:
        ctx.payload["source"] = json_safe(source)
    with db.session.no_autoflush:
        _fire(ctx)
    db.session.add(case)
    db.session.flush()
    _record(ctx)
    return case


def apply_action(actor: Actor, case_id: int, trigger: str, data: dict, now: dt.datetime | None = None) -> Case:
    """Take the action ``trigger`` on a case. ``data`` holds the action's fields and,
    from the API, ``version``: the version the caller saw (the scheduler may leave it out;
    the write is conditional on the loaded version all the same).

    The system's escalation is ``apply_action(Actor.system(), case_id, "escalate", {})``:
    it fires only when the deadline has passed and the machine has a next rung for the
    state (:func:`escalation_target`); otherwise 409.

    Raises NotFound (case not visible, or no such action on this machine), Forbidden
    (the caller's party may not take it), Conflict (stale version, wrong state, a guard
    refused, or a concurrent action won), Invalid (missing, bad or unknown fields)."""
    now = _now(now)
    case = get_case(actor, case_id)
    spec = MACHINES[case.machine]
    rows = spec.by_trigger.get(trigger)
    if not rows:
        raise NotFound(f"no action {trigger!r} on {case.machine} cases")
    if actor.kind not in rows[0].roles:
        raise Forbidden(f"{actor.kind} parties may not {trigger} ({rows[0].article.chinese})")
    data = dict(data or {})
    seen = data.pop("version", None)
    if seen is not None:
        if isinstance(seen, bool) or not isinstance(seen, int):
            raise Invalid("version must be an integer", {"version": ["an integer"]})
        if seen != case.version:
            raise Conflict(f"the case is at version {case.version}, not {seen}: reload it",
                           {"version": [f"stale: current is {case.version}"]})
    if case.state not in spec.sources_of(trigger):
        raise Conflict(f"{trigger} is not possible while the case is {case.state} ({case.state_label})",
                       {"state": [case.state]})
    ctx = Context(actor=actor, case=case, machine=spec, trigger=trigger, now=now, from_state=case.state)
    _parse_fields(ctx, spec, trigger, data)
    # Guards and effects run without autoflush: a refusal leaves the session untouched,
    # and the one write of the case is the conditional UPDATE below.
    with db.session.no_autoflush:
        _fire(ctx)
    case.version = case.version + 1
    try:
        db.session.flush()
    except StaleDataError:
        raise Conflict("the case was changed by someone else meanwhile: reload it",
                       {"version": ["changed concurrently"]}) from None
    _record(ctx)
    return case


# History entries that are not transitions. With the machines' triggers they are every name a
# case event can have (the API's closed vocabulary of an event's ``trigger``).
RECORDED_EVENTS = ("evidence_added",)
EVENT_TRIGGERS = tuple(dict.fromkeys([*(t for m in MACHINES.values() for t in m.by_trigger), *RECORDED_EVENTS]))


def record_event(actor: Actor, case: Case, name: str, payload: dict, now: dt.datetime | None = None) -> CaseEvent:
    """Append a history entry that is not a transition (one of :data:`RECORDED_EVENTS`): the
    case stays where it is but its version moves on, so the chain stays one line."""
    if name not in RECORDED_EVENTS:
        raise ValueError(f"{name} is not a recorded event (a transition goes through apply_action)")
    now = _now(now)
    try:
        case.version = case.version + 1
        db.session.flush()
    except StaleDataError:
        raise Conflict("the case was changed by someone else meanwhile: reload it") from None
    return _append_event(actor, case, name, case.state, case.state, json_safe(payload), now)


def _parse_fields(ctx: Context, spec: CaseMachine, trigger: str, data: dict) -> None:
    """Only the action's fields are accepted (no mass assignment); each is checked."""
    fields = spec.fields_of(trigger)
    known = {f.name for f in fields}
    errors: dict[str, list[str]] = {name: ["unknown field for this action"] for name in data if name not in known}
    for f in fields:
        value = data.get(f.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if f.required:
                errors[f.name] = ["required"]
            continue
        try:
            ctx.data[f.name], ctx.payload[f.name] = parse_value(f, value, ctx)
        except FieldError as exc:
            errors[f.name] = [str(exc)]
    if errors:
        raise Invalid(f"the fields of {trigger} are not valid", errors)


class _state_writer:
    """The one place the state column is written from."""

    def __enter__(self):
        self._token = _writing_state.set(True)

    def __exit__(self, *exc):
        _writing_state.reset(self._token)


def _fire(ctx: Context) -> None:
    case = ctx.case
    new_state = ctx.machine.fire(ctx)
    if new_state is None:
        raise Conflict(f"{ctx.trigger} refused: {ctx.machine.explain_refusal(ctx)}", {"state": [case.state]})
    with _state_writer():
        case.state = new_state
    if ctx.machine.state(new_state).kind == "rung":
        case.rung = new_state


def _record(ctx: Context) -> None:
    """After the state is written: documents, the history event, notifications."""
    row = ctx.row
    assert row is not None
    documents = [_issue(ctx, issue) for issue in row.issues]
    if documents:
        ctx.payload["documents"] = [{"kind": d.kind, "number": d.number, "id": d.id} for d in documents]
    event = _append_event(ctx.actor, ctx.case, row.trigger, ctx.from_state, ctx.case.state, json_safe(ctx.payload),
                          ctx.now)
    for tell in row.tells:
        _tell(ctx, tell, event, documents)


def _append_event(actor: Actor, case: Case, trigger: str, from_state: str, to_state: str, payload: dict,
                  now: dt.datetime) -> CaseEvent:
    seq = case.version
    prev = GENESIS if seq == 1 else db.session.execute(sa.select(CaseEvent.hash).where(
        CaseEvent.case_id == case.id, CaseEvent.seq == seq - 1)).scalar_one()
    event = CaseEvent(case_id=case.id, seq=seq, actor_user_id=actor.user_id, party_org_id=actor.org_id,
                      party_kind=actor.kind, trigger=trigger, from_state=from_state, to_state=to_state,
                      payload=payload, created_at=now, prev_hash=prev)
    event.hash = chain_hash(prev, event.content())
    db.session.add(event)
    return event


def _issue(ctx: Context, issue):
    from workflow.documents import issue_document

    case = ctx.case
    issuer = case.finance if ctx.actor.is_system or ctx.actor.org_id is None \
        else db.session.get(Organisation, ctx.actor.org_id)
    addressee = ctx.data["oversight"] if issue.addressee == "referred" else case.subject
    return issue_document(ctx.actor, kind=issue.kind, issuer=issuer, addressee=addressee,
                          context=issue.context(ctx), case_id=case.id, now=ctx.now)


def _tell(ctx: Context, tell: Tell, event: CaseEvent, documents: list) -> None:
    from notifications.outbox import notify

    case = ctx.case
    spec = ctx.machine
    subject = case.subject
    competent = competent_of(case)
    base = {
        "subject_name": subject.name, "unit_name": subject.name, "trigger": ctx.row.trigger,
        "trigger_label": ctx.row.label, "state": case.state, "state_label": case.state_label,
        "rung": spec.state(case.rung).label if case.rung != NEW else "", "from_rung": spec.state(ctx.from_state).label,
        "deadline": case.deadline.isoformat() if case.deadline else None, "summary": case.summary,
        "article": ctx.row.article.short, "actor_name": ctx.actor.name,
        "document_number": documents[0].number if documents else None,
        "competent_name": competent.name if competent else None,
        "note": next((ctx.payload[k] for k in ("note", "reason", "report", "findings") if ctx.payload.get(k)), None),
        "submission": "书面整改结果及佐证材料", "reason": ctx.payload.get("reason"), "effective": ctx.now.isoformat(),
    }
    key = f"case:{case.id}:v{event.seq}:{tell.template}:{tell.to}"
    if tell.to in ("unit_banks", "closing_banks"):
        accounts = _accounts_by_bank(case, pending_only=tell.to == "closing_banks")
        for bank, numbers in accounts:
            notify(key=f"{key}:{bank.id}", template=tell.template, case_id=case.id, org_ids=[bank.id],
                   context={**base, "bank_name": bank.name, "accounts": numbers, "recipient_name": bank.name})
        return
    recipient = {"subject": subject, "competent": competent, "finance": case.finance,
                 "referred": ctx.data.get("oversight")}[tell.to]
    if recipient is None:
        return
    notify(key=key, template=tell.template, case_id=case.id, org_ids=[recipient.id],
           context={**base, "recipient_name": recipient.name})


# --- helpers the guards and effects use ----------------------------------------------------

def _reaches(actor: Actor, org: Organisation) -> bool:
    return db.session.execute(sa.select(Organisation.id).where(
        Organisation.id == org.id, organisations_for(actor))).first() is not None


def reachable_org(actor: Actor, code: str, kind: str | None) -> Organisation | None:
    stmt = sa.select(Organisation).where(Organisation.code == code, organisations_for(actor))
    if kind:
        stmt = stmt.where(Organisation.kind == kind)
    return db.session.execute(stmt).scalar_one_or_none()


def competent_of(case: Case) -> Organisation | None:
    parent = case.subject.parent
    return parent if parent is not None and parent.kind == "competent" else None


def has_party(case: Case, org_id: int, role: str) -> bool:
    return any(p.org_id == org_id and p.role == role for p in case.parties)


def add_party(ctx: Context, org_id: int, role: str) -> None:
    if not has_party(ctx.case, org_id, role):
        ctx.case.parties.append(CaseParty(org_id=org_id, role=role, added_at=ctx.now))


def accounts_of_subject(case: Case, numbers: Iterable[str]) -> list[BankAccount]:
    return list(db.session.execute(sa.select(BankAccount).where(
        BankAccount.unit_id == case.subject_id, BankAccount.number.in_(list(numbers)))).scalars())


def accounts_to_close(ctx: Context) -> list[BankAccount]:
    """The accounts an action closes: those named, else all the unit's; never one that is
    closed already or waiting for its bank in this case."""
    if "accounts_to_close" not in ctx.cache:
        named = ctx.data.get("accounts")
        stmt = sa.select(BankAccount).where(BankAccount.unit_id == ctx.case.subject_id,
                                            BankAccount.status != "closed")
        if named:
            stmt = stmt.where(BankAccount.id.in_([a.id for a in named]))
        if ctx.case.id is not None:
            stmt = stmt.where(BankAccount.id.not_in(sa.select(AccountClosure.account_id).where(
                AccountClosure.case_id == ctx.case.id)))
        ctx.cache["accounts_to_close"] = list(db.session.execute(stmt.order_by(BankAccount.id)).scalars())
    return ctx.cache["accounts_to_close"]


def schedule_closures(ctx: Context, accounts: list[BankAccount]) -> list[str]:
    for account in accounts:
        db.session.add(AccountClosure(case_id=ctx.case.id, account_id=account.id, bank_id=account.bank_id,
                                      requested_at=ctx.now))
        add_party(ctx, account.bank_id, "closing_bank")
    return [a.number for a in accounts]


def pending_closures(case: Case, bank_id: int | None = None) -> list[AccountClosure]:
    stmt = sa.select(AccountClosure).where(AccountClosure.case_id == case.id, AccountClosure.confirmed_at.is_(None))
    if bank_id is not None:
        stmt = stmt.where(AccountClosure.bank_id == bank_id)
    return list(db.session.execute(stmt.order_by(AccountClosure.id)).scalars())


def confirm_closures(ctx: Context) -> list[str]:
    """The bank's accounts in this closure: confirmed and closed (status ``closed``)."""
    numbers = []
    for closure in pending_closures(ctx.case, bank_id=ctx.actor.org_id):
        closure.confirmed_at = ctx.now
        closure.confirmed_by = ctx.actor.user_id
        closure.account.status = "closed"
        closure.account.changed_at = ctx.now
        numbers.append(closure.account.number)
    return numbers


def _accounts_by_bank(case: Case, *, pending_only: bool) -> list[tuple[Organisation, list[str]]]:
    """Banks and their accounts of the case's unit: those asked to close (pending), or
    all the unit's open accounts (to hold payments under a suspension)."""
    if pending_only:
        stmt = (sa.select(BankAccount).join(AccountClosure, AccountClosure.account_id == BankAccount.id)
                .where(AccountClosure.case_id == case.id, AccountClosure.confirmed_at.is_(None)))
    else:
        stmt = sa.select(BankAccount).where(BankAccount.unit_id == case.subject_id, BankAccount.status != "closed")
    grouped: dict[int, tuple[Organisation, list[str]]] = {}
    for account in db.session.execute(stmt.order_by(BankAccount.id)).scalars():
        grouped.setdefault(account.bank_id, (account.bank, []))[1].append(account.number)
    return list(grouped.values())


# --- verifying the chains ----------------------------------------------------------------

@dataclass(frozen=True)
class ChainProblem:
    case_id: int
    seq: int | None
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        return located(f"case {self.case_id}", "event", self.seq, self.event_id, self.problem)


def verify_case_chain(case: Case | tuple, events: Iterable) -> list[ChainProblem]:
    """Check one case's history: consecutive sequence numbers from 1 to the case's
    version, each hash over its content and the previous hash, and the last event's
    state equal to the case's. ``case`` is a Case or ``(id, version, state)``."""
    case_id, version, state = (case.id, case.version, case.state) if isinstance(case, Case) else case
    links, last = broken_links(events, event_content, noun="event")
    problems = [ChainProblem(case_id, link.seq, link.entry_id, link.problem) for link in links]
    if last is None:
        problems.append(ChainProblem(case_id, None, None, "no history at all (events deleted)"))
        return problems
    if last.seq < version:
        problems.append(ChainProblem(case_id, last.seq + 1, None,
                                     f"events {last.seq + 1}..{version} missing at the end (deleted)"))
    elif last.seq > version:
        problems.append(ChainProblem(case_id, None, None, f"case version {version} is behind its history ({last.seq})"))
    if last.to_state != state:
        problems.append(ChainProblem(case_id, None, None,
                                     f"case state {state!r} differs from its history ({last.to_state!r})"))
    return problems


EVENT_COLUMNS = (CaseEvent.id, CaseEvent.case_id, CaseEvent.seq, CaseEvent.actor_user_id, CaseEvent.party_org_id,
                 CaseEvent.party_kind, CaseEvent.trigger, CaseEvent.from_state, CaseEvent.to_state,
                 CaseEvent.payload, CaseEvent.created_at, CaseEvent.prev_hash, CaseEvent.hash)


def verify_chains(case_ids: Iterable[int] | None = None, batch: int = 1000) -> Iterator[tuple[int, list[ChainProblem]]]:
    """Every case's chain (or those given), in id order: ``(case_id, problems)``. Cases are
    read a batch at a time by keyset, their events as plain rows (nothing enters the
    session), so memory stays flat however long the history grows."""
    wanted = None if case_ids is None else sorted(set(case_ids))
    last = 0
    while True:
        stmt = sa.select(Case.id, Case.version, Case.state).where(Case.id > last).order_by(Case.id).limit(batch)
        if wanted is not None:
            stmt = stmt.where(Case.id.in_(wanted))
        heads = db.session.execute(stmt).all()
        if not heads:
            return
        events: dict[int, list] = {c.id: [] for c in heads}
        rows = db.session.execute(sa.select(*EVENT_COLUMNS).where(CaseEvent.case_id.in_(list(events)))
                                  .order_by(CaseEvent.case_id, CaseEvent.seq))
        for event in rows:
            events[event.case_id].append(event)
        for head in heads:
            yield head.id, verify_case_chain(tuple(head), events[head.id])
        last = heads[-1].id

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
and the migration adds database triggers that refuse them too.
:func:`workflow.audit.verify_chains` walks every chain (``flask --app wsgi audit verify``).

The records this engine moves, and who may see them, are in :mod:`workflow.case_records`;
the machines' tables in :mod:`workflow.machines`.
"""
from __future__ import annotations

import datetime as dt

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from workflow import message_builders
from workflow.case_records import Case, CaseEvent, accounts_by_bank, competent_of, get_case, reaches, state_writer
from workflow.chain import GENESIS, chain_hash
from workflow.db import db, json_safe, utcnow
from workflow.documents import issue_document, recipients_of
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.machines import MACHINES, NEW, SUBJECT_KINDS, CaseMachine
from workflow.machines.base import Context, Tell, load_fields
from workflow.outbox import notify
from workflow.parties import Actor, Organisation
from workflow.schemas import errors_of

# --- what the tables say of a case ------------------------------------------------------

def allowed_actions(actor: Actor, case: Case, now: dt.datetime | None = None) -> list[str]:
    """The triggers the caller's party may fire on ``case`` now, from the table and the
    guards that read only the case and the clock. No machine is built, nothing queried."""
    return MACHINES[case.machine].allowed(actor.kind, case, now or utcnow())


def escalation_target(case: Case) -> str | None:
    """The state ``escalate`` (by ``Actor.system()``) moves the case to once its deadline has
    passed, or None where escalation is not automatic (see ``proposed_action``)."""
    return MACHINES[case.machine].escalation.get(case.state)


def proposed_action(case: Case) -> str | None:
    """The trigger finance would fire by hand on an overdue case (e.g. ``suspend_funds``)."""
    return MACHINES[case.machine].proposals.get(case.state)


def state_label(case: Case) -> str:
    """The state's name in Chinese, from the case's machine."""
    return MACHINES[case.machine].state(case.state).label


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
    if subject.kind != SUBJECT_KINDS[machine] or not reaches(actor, subject):
        raise Invalid(f"no {SUBJECT_KINDS[machine]} {subject.code} in your jurisdiction",
                      {"subject": [f"not a {SUBJECT_KINDS[machine]} in your jurisdiction"]})
    finance_id = actor.org_id  # the department that opens the case is in charge of it
    with state_writer():
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
        raise Conflict(f"{trigger} is not possible while the case is {case.state} ({state_label(case)})",
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
    """Only the action's fields are accepted (no mass assignment), each checked by the
    trigger's schema, generated from its rows (:meth:`CaseMachine.schemas`)."""
    try:
        ctx.data, ctx.payload = load_fields(spec.schemas[trigger], data, ctx)
    except ma.ValidationError as exc:
        raise Invalid(f"the fields of {trigger} are not valid", errors_of(exc)) from None


def _fire(ctx: Context) -> None:
    case = ctx.case
    new_state = ctx.machine.fire(ctx)
    if new_state is None:
        raise Conflict(f"{ctx.trigger} refused: {ctx.machine.explain_refusal(ctx)}", {"state": [case.state]})
    with state_writer():
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
    case = ctx.case
    issuer = case.finance if ctx.actor.is_system or ctx.actor.org_id is None \
        else db.session.get(Organisation, ctx.actor.org_id)
    addressee = ctx.data["oversight"] if issue.addressee == "referred" else case.subject
    return issue_document(ctx.actor, kind=issue.kind, issuer=issuer, addressee=addressee,
                          context=issue.context(ctx), case_id=case.id,
                          circulate_to=issue.circulate(ctx) if issue.circulate else (), now=ctx.now)


def _tell(ctx: Context, tell: Tell, event: CaseEvent, documents: list) -> None:
    case = ctx.case
    competent = competent_of(case)
    facts = message_builders.case_facts(ctx, documents, competent)
    key = f"case:{case.id}:v{event.seq}:{tell.template}:{tell.to}"
    if tell.to in ("unit_banks", "closing_banks"):
        build_for_bank = message_builders.BANK_MESSAGES[tell.template]
        for bank, numbers in accounts_by_bank(case, pending_only=tell.to == "closing_banks"):
            notify(**build_for_bank(facts, key=f"{key}:{bank.id}", case_id=case.id, bank=bank, accounts=numbers))
        return
    if tell.to == "circulation":
        build = message_builders.CIRCULATED_MESSAGES[tell.template]
        for document in documents:
            for org in recipients_of(document, "circulated"):
                notify(**build(facts, key=f"{key}:{document.id}:{org.id}", case_id=case.id, recipient=org,
                               document=document))
        return
    recipient = {"subject": case.subject, "competent": competent, "finance": case.finance,
                 "referred": ctx.data.get("oversight")}[tell.to]
    if recipient is None:
        return
    notify(**message_builders.CASE_MESSAGES[tell.template](facts, key=key, case_id=case.id, recipient=recipient))

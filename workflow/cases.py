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
4. reads what the writes need (the notices' issuer and addressee, the recipients of the
   notifications) and renders the notices;
5. writes, in as few statements as it can, and the case last: the row's documents (each
   takes its department's number, :mod:`workflow.documents`), the notifications (one
   INSERT), then the state, the next version and the new event's hash in one ``UPDATE ...
   WHERE version = :seen`` (``version_id_col``), then the history event (SHA-256 chained
   to the previous one, whose hash the case row keeps). Of two concurrent actions exactly
   one wins the UPDATE, the other is a 409 and rolls back what it wrote; this also
   serialises the writes to the case's history chain. Nothing here commits.

Everything that reads comes before the first write: on SQLite the first write takes the
database's write lock, on PostgreSQL a document's number locks its counter row, and both are
held until the commit (issue 15).

The history (:class:`CaseEvent`) is append-only: the ORM refuses updates and deletes,
and the migration adds database triggers that refuse them too.
:func:`workflow.audit.verify_chains` walks every chain (``flask --app wsgi audit verify``).

The records this engine moves, and who may see them, are in :mod:`workflow.case_records`;
the machines' tables in :mod:`workflow.machines`.
"""
from __future__ import annotations

import datetime as dt

import marshmallow as ma
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from workflow import message_builders
from workflow.case_records import Case, CaseEvent, accounts_by_bank, competent_of, get_case, reaches, state_writer
from workflow.chain import GENESIS, chain_hash
from workflow.db import db, insert_now, json_safe, utcnow
from workflow.documents import PreparedNotice, prepare_notice
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.machines import MACHINES, NEW, SUBJECT_KINDS, CaseMachine
from workflow.machines.base import Context, Tell, load_fields
from workflow.outbox import notify_fresh, recipients_of
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
    # The case is inserted first (its events and documents refer to it) with the chain's start
    # as its last hash; the final write of _record sets the first event's.
    case.last_hash = GENESIS
    db.session.add(case)
    db.session.flush()
    _record(ctx, seq=1)
    return case


# The subject's department comes with the case an action loads: messages and notices name it.
_WITH_DEPARTMENT = joinedload(Case.subject).joinedload(Organisation.parent)


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
    case = get_case(actor, case_id, _WITH_DEPARTMENT)
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
    # and the one write of the case is the conditional UPDATE at the end of _record.
    with db.session.no_autoflush:
        _fire(ctx)
    try:
        _record(ctx, seq=case.version + 1)
    except StaleDataError:
        raise Conflict("the case was changed by someone else meanwhile: reload it",
                       {"version": ["changed concurrently"]}) from None
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
    event = _event(actor, case, case.version + 1, name, case.state, case.state, json_safe(payload), now)
    try:
        _advance(case, event)
    except StaleDataError:
        raise Conflict("the case was changed by someone else meanwhile: reload it") from None
    return event


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


def _record(ctx: Context, seq: int) -> None:
    """After the transition: the documents, the notifications, the case and its history event
    ``seq``. Everything that reads or renders first; then the writes, ending with the case's
    UPDATE and the event's INSERT (StaleDataError if the case moved meanwhile)."""
    row, case = ctx.row, ctx.case
    assert row is not None
    with db.session.no_autoflush:
        competent = competent_of(case)
        notices = [_prepare_notice(ctx, issue) for issue in row.issues]
        audiences = {i: _audience(ctx, tell, competent, notices) for i, tell in enumerate(row.tells)
                     if tell.to not in BANK_AUDIENCES}
    # A bank's message lists the accounts as this action leaves them (closures it scheduled,
    # accounts it closed): read with the session's changes flushed, as any query would.
    audiences.update({i: _audience(ctx, tell, competent, notices) for i, tell in enumerate(row.tells)
                      if tell.to in BANK_AUDIENCES})
    with db.session.no_autoflush:
        recipients = recipients_of(org.id for audience in audiences.values() for org, _ in audience)
        documents = [notice.issue() for notice in notices]
        if documents:
            ctx.payload["documents"] = [{"kind": d.kind, "number": d.number, "id": d.id} for d in documents]
        event = _event(ctx.actor, case, seq, row.trigger, ctx.from_state, case.state, json_safe(ctx.payload), ctx.now)
        facts = message_builders.case_facts(ctx, documents, competent)
        notify_fresh([message for i, tell in enumerate(row.tells)
                    for message in _messages(ctx, tell, audiences[i], facts, seq, documents)], recipients)
        _advance(case, event)


def _event(actor: Actor, case: Case, seq: int, trigger: str, from_state: str, to_state: str, payload: dict,
           now: dt.datetime) -> CaseEvent:
    """Event ``seq`` of the case, chained to the case's last hash (not yet written)."""
    prev = case.last_hash
    event = CaseEvent(case_id=case.id, seq=seq, actor_user_id=actor.user_id, party_org_id=actor.org_id,
                      party_kind=actor.kind, trigger=trigger, from_state=from_state, to_state=to_state,
                      payload=payload, created_at=now, prev_hash=prev)
    event.hash = chain_hash(prev, event.content())
    return event


def _advance(case: Case, event: CaseEvent) -> None:
    """The case's one UPDATE: whatever the action changed, the version and the last hash, on
    condition that the version is still the one read (StaleDataError otherwise); then the
    event, which a concurrent winner's event would collide with were it written first."""
    case.version = event.seq
    case.last_hash = event.hash
    db.session.flush()
    insert_now(event)


def _prepare_notice(ctx: Context, issue) -> PreparedNotice:
    case = ctx.case
    issuer = case.finance if ctx.actor.is_system or ctx.actor.org_id is None \
        else db.session.get(Organisation, ctx.actor.org_id)
    addressee = ctx.data["oversight"] if issue.addressee == "referred" else case.subject
    return prepare_notice(ctx.actor, kind=issue.kind, issuer=issuer, addressee=addressee,
                          context=issue.context(ctx), case_id=case.id,
                          circulate_to=issue.circulate(ctx) if issue.circulate else (), now=ctx.now)


BANK_AUDIENCES = ("unit_banks", "closing_banks")


def _audience(ctx: Context, tell: Tell, competent: Organisation | None, notices: list[PreparedNotice]) -> list[tuple]:
    """Whom ``tell`` goes to: ``(organisation, account numbers)`` for each bank of the unit's
    accounts concerned; ``(organisation, notice index)`` for each party a notice of the action
    is circulated to; else the one party named (none if there is none)."""
    case = ctx.case
    if tell.to in BANK_AUDIENCES:
        return accounts_by_bank(case, pending_only=tell.to == "closing_banks")
    if tell.to == "circulation":  # each notice's circulated recipients, by code: (organisation, notice)
        return [(org, i) for i, notice in enumerate(notices)
                for org in sorted((o for o, role in notice.recipients if role == "circulated"), key=lambda o: o.code)]
    recipient = {"subject": case.subject, "competent": competent, "finance": case.finance,
                 "referred": ctx.data.get("oversight")}[tell.to]
    return [] if recipient is None else [(recipient, [])]


def _messages(ctx: Context, tell: Tell, audience: list, facts: dict, seq: int, documents: list) -> list[dict]:
    """``tell``'s messages to its audience (:func:`_audience`), as :func:`notify_fresh` takes them."""
    case = ctx.case
    key = f"case:{case.id}:v{seq}:{tell.template}:{tell.to}"
    if tell.to in BANK_AUDIENCES:
        build_for_bank = message_builders.BANK_MESSAGES[tell.template]
        return [build_for_bank(facts, key=f"{key}:{bank.id}", case_id=case.id, bank=bank, accounts=numbers)
                for bank, numbers in audience]
    if tell.to == "circulation":
        build = message_builders.CIRCULATED_MESSAGES[tell.template]
        return [build(facts, key=f"{key}:{documents[i].id}:{org.id}", case_id=case.id, recipient=org,
                      document=documents[i]) for org, i in audience]
    build = message_builders.CASE_MESSAGES[tell.template]
    return [build(facts, key=key, case_id=case.id, recipient=recipient) for recipient, _ in audience]

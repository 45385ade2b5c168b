"""Cases (违规问题处理单): open, list, read, act, and the history (Art. 21-24)."""
from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import AwareDateTime, Integer
from api.orgs import OrgRefSchema
from api.pagination import PageQuery, page_schema, paginate
from workflow import case_records, cases
from workflow.case_records import Case, CaseEvent
from workflow.cases import EVENT_TRIGGERS
from workflow.db import commit_without_expiring, utcnow
from workflow.errors import Invalid
from workflow.machines import MACHINES, NEW
from workflow.parties import Organisation, org_by_code

blp = Blueprint("cases", __name__, url_prefix="/api/v1",
                description="Cases (违规问题处理单, Art. 11(五)) moved by the state machines of Art. 21-24")

ALL_STATES = sorted({s for m in MACHINES.values() for s in m.states})
OPENING_RUNGS = sorted({rung for m in MACHINES.values() for rung in m.openings})
ALL_RUNGS = sorted({s.name for m in MACHINES.values() for s in m.states.values() if s.kind == "rung"})


def _action_body(machine, trigger: str) -> type[ma.Schema]:
    """An action's body: ``version`` and the trigger's schema, generated from its rows'
    fields (the same schema the engine loads the fields with)."""
    schema = machine.schemas[trigger]
    return type(schema.__name__, (schema,), {
        "__doc__": schema.__doc__,
        "version": Integer(required=True, strict=True, metadata={"description": "the case version the caller saw"})})


ACTION_BODIES = {f"{m.name}.{trigger}": _action_body(m, trigger) for m in MACHINES.values() for trigger in m.by_trigger
                 if trigger not in {t.trigger for t in m.openings.values()}}
OPENING_FIELDS = {f"{m.name}.{t.trigger}": m.schemas[t.trigger] for m in MACHINES.values() for t in m.openings.values()}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def register_schemas(spec) -> None:
    """Each trigger's schema as a component of the API document (called once per app)."""
    for name, schema in {**OPENING_FIELDS, **ACTION_BODIES}.items():
        spec.components.schema(name, {"description": schema.__doc__} if schema.__doc__ else None, schema=schema)


class CaseSchema(ma.Schema):
    id = Integer(dump_only=True)
    machine = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(tuple(MACHINES)))
    subject = ma.fields.Nested(OrgRefSchema, dump_only=True)
    summary = ma.fields.String(dump_only=True)
    state = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(ALL_STATES))
    state_label = ma.fields.Function(cases.state_label, dump_only=True, metadata={"type": "string"})
    rung = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(ALL_RUNGS))
    deadline = AwareDateTime(dump_only=True, allow_none=True)
    deadline_paused_remaining = Integer(
        dump_only=True, allow_none=True, metadata={"description": "working days left when an appeal paused it"})
    overdue = ma.fields.Boolean(dump_only=True)
    funds_suspended = ma.fields.Boolean(dump_only=True)
    version = Integer(dump_only=True)
    allowed_actions = ma.fields.Method("_allowed", dump_only=True, metadata={"type": "array", "items": {"type": "string"}})
    measures = ma.fields.Dict(dump_only=True)
    finance_code = ma.fields.Function(lambda c: c.finance.code, dump_only=True, metadata={"type": "string"})
    created_at = AwareDateTime(dump_only=True)
    closed_at = AwareDateTime(dump_only=True, allow_none=True)
    resolution = ma.fields.String(dump_only=True, allow_none=True, validate=ma.validate.OneOf(case_records.RESOLUTIONS))

    def _allowed(self, case: Case) -> list[str]:
        return cases.allowed_actions(current_actor(), case)


class CaseCreateSchema(ma.Schema):
    machine = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(MACHINES)))
    subject = ma.fields.String(required=True, metadata={"description": "code of the budget unit or agent bank"})
    rung = ma.fields.String(required=True, validate=ma.validate.OneOf(OPENING_RUNGS), metadata={
        "description": "unit_case: warning, decision, order; bank_case: refund_or_redo, transmission_fix"})
    fields = ma.fields.Dict(load_default=dict, metadata={
        "description": "the opening row's fields (GET /workflow/unit-case): summary, measures, ...",
        "anyOf": [_ref(name) for name in OPENING_FIELDS]})


class CaseQuery(PageQuery):
    machine = ma.fields.String(validate=ma.validate.OneOf(tuple(MACHINES)))
    state = ma.fields.String(validate=ma.validate.OneOf(ALL_STATES))
    rung = ma.fields.String(validate=ma.validate.OneOf(ALL_STATES))
    subject = ma.fields.String(metadata={"description": "organisation code"})
    overdue = ma.fields.Boolean()


class ActionSchema(ma.Schema):
    """``version`` plus the action's own fields. Which fields depends on the trigger in the
    path, so they are loaded by the engine with the trigger's schema (unknown ones refused,
    each named) and documented as one component per trigger (``ACTION_BODIES``)."""

    class Meta:
        unknown = ma.INCLUDE

    version = Integer(required=True, strict=True,
                                metadata={"description": "the case version the caller saw"})


class EventSchema(ma.Schema):
    id = Integer()
    seq = Integer()
    actor = ma.fields.Function(lambda e: {"user_id": e.actor_user_id, "name": e.actor.name if e.actor else None},
                               metadata={"type": "object", "properties": {
                                   "user_id": {"type": "integer", "nullable": True},
                                   "name": {"type": "string", "nullable": True}}})
    party = ma.fields.Function(lambda e: {"org_id": e.party_org_id, "kind": e.party_kind,
                                          "code": e.party.code if e.party else None},
                               metadata={"type": "object", "properties": {
                                   "org_id": {"type": "integer", "nullable": True},
                                   "kind": {"type": "string"}, "code": {"type": "string", "nullable": True}}})
    trigger = ma.fields.String(validate=ma.validate.OneOf(EVENT_TRIGGERS))
    from_ = ma.fields.String(attribute="from_state", data_key="from", validate=ma.validate.OneOf([NEW, *ALL_STATES]))
    to = ma.fields.String(attribute="to_state", validate=ma.validate.OneOf(ALL_STATES))
    payload = ma.fields.Dict()
    time = AwareDateTime(attribute="created_at")
    hash = ma.fields.String()
    prev_hash = ma.fields.String()


@blp.route("/cases")
class Cases(MethodView):
    @blp.arguments(CaseQuery, location="query")
    @blp.response(200, page_schema(CaseSchema))
    def get(self, args):
        """Cases the caller may see, by machine, state, rung, subject and overdue."""
        actor = current_actor()
        stmt = case_records.cases_for(actor, visibility=False)
        for name in ("machine", "state", "rung"):
            if args.get(name):
                stmt = stmt.where(getattr(Case, name) == args[name])
        if args.get("subject"):
            stmt = stmt.where(Case.subject_id == sa.select(Organisation.id).where(
                Organisation.code == args["subject"]).scalar_subquery())
        if "overdue" in args:
            now = utcnow()
            due = sa.and_(Case.deadline.is_not(None), Case.deadline < now)
            stmt = stmt.where(due if args["overdue"] else sa.not_(due))
        return paginate(stmt, Case.id, args, case_records.reach(actor))

    @blp.arguments(CaseCreateSchema)
    @blp.response(201, CaseSchema)
    def post(self, data):
        """Finance opens a case on a budget unit or agent bank (a complaint, an audit finding...)."""
        subject = org_by_code(data["subject"])
        if subject is None:
            raise Invalid("unknown subject", {"subject": [f"no organisation {data['subject']!r}"]})
        case = cases.open_case(current_actor(), machine=data["machine"], subject=subject, rung=data["rung"],
                               fields=data["fields"])
        commit_without_expiring()  # the answer is the case as written: no reload
        return case


@blp.route("/cases/<int:case_id>")
class CaseView(MethodView):
    @blp.response(200, CaseSchema)
    def get(self, case_id):
        """A case with the actions the caller may take now (404 unless visible)."""
        return case_records.get_case(current_actor(), case_id)


@blp.route("/cases/<int:case_id>/actions/<trigger>")
class CaseAction(MethodView):
    # anyOf, not oneOf: the trigger in the path says which body applies, and a body of only
    # ``version`` fits every action that takes no required field.
    @blp.doc(requestBody={"content": {"application/json": {"schema": {
        "description": "the body of the action named in the path: component <machine>.<trigger>",
        "anyOf": [_ref(name) for name in ACTION_BODIES]}}}})
    @blp.arguments(ActionSchema)
    @blp.response(200, CaseSchema)
    def post(self, data, case_id, trigger):
        """Take an action: 403 if the caller's party may not, 409 if the case is not in a
        source state or ``version`` is stale, 422 for missing or bad fields."""
        case = cases.apply_action(current_actor(), case_id, trigger, data)
        commit_without_expiring()  # the answer is the case as written: no reload
        return case


@blp.route("/cases/<int:case_id>/events")
class CaseEvents(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_schema(EventSchema))
    def get(self, args, case_id):
        """The case's history, oldest first, each event chained to the previous by SHA-256. A
        referral (Art. 23) and the body's findings are withheld from all but finance and that body:
        the event keeps its place, trigger and states; its actor, party code and payload are empty."""
        case = case_records.get_case(current_actor(), case_id)
        stmt = (sa.select(CaseEvent).where(CaseEvent.case_id == case.id)
                .options(sa.orm.joinedload(CaseEvent.actor), sa.orm.joinedload(CaseEvent.party)))
        actor = current_actor()
        return paginate(stmt, CaseEvent.id, args,
                        shown=lambda events: [case_records.event_as_seen_by(actor, e) for e in events])

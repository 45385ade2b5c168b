"""The warning rules' versioned parameters per finance department (Art. 5-7, 12): finance reads
the set in force for it, drafts changes, and a second officer publishes them (four eyes)."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import AwareDateTime, Integer
from api.pagination import page_schema
from workflow.db import db
from workflow.monitoring import rulesets
from workflow.monitoring.models import WARNING_LEVELS
from workflow.monitoring.rules import RULES

blp = Blueprint("rules", __name__, url_prefix="/api/v1", description="Warning rules and their versions (Art. 12-19)")


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def register_schemas(spec) -> None:
    """Each rule's parameters and changes, generated from its declared parameters, as
    components of the API document (called once per app)."""
    for rule in RULES:
        for schema in (rule.parameters_schema, rule.change_schema):
            spec.components.schema(schema.__name__, {"description": schema.__doc__}, schema=schema)


class RuleSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.OneOf(tuple(rule.name for rule in RULES)))
    title = ma.fields.String()
    article = ma.fields.String()
    level = ma.fields.String(validate=ma.validate.OneOf(WARNING_LEVELS))
    enabled = ma.fields.Boolean()
    description = ma.fields.String()
    parameters = ma.fields.Dict(metadata={
        "description": "the rule's parameters (RuleParameters.<rule name>)",
        "anyOf": [_ref(rule.parameters_schema.__name__) for rule in RULES]})
    parameter_docs = ma.fields.Dict()
    stricter = ma.fields.Dict(metadata={"description": "parameter -> which way it is stricter (lower, higher, "
                                                       "more, fewer, fixed): a lower level may move it only so"})
    sources = ma.fields.Dict(metadata={"description": "setting (enabled, level, each parameter) -> "
                                                      "{department, version} whose set gave its value; "
                                                      "department \"\" for the rule's declared default"})


class ChainLinkSchema(ma.Schema):
    department = ma.fields.String()
    version = Integer()


class RuleSetSchema(ma.Schema):
    version = Integer(metadata={"description": "the version of the nearest set (``department``'s)"})
    department = ma.fields.String(metadata={"description": "the nearest finance department with a set of its own"})
    for_department = ma.fields.String(metadata={"description": "the department the set is in force for"})
    created_at = AwareDateTime()
    effective_from = AwareDateTime()
    note = ma.fields.String()
    chain = ma.fields.List(ma.fields.Nested(ChainLinkSchema), metadata={
        "description": "the sets composed, from the province down"})
    open = ma.fields.List(ma.fields.String(), metadata={
        "description": "settings (rule.setting) the levels above opened to this department's changes"})
    rules = ma.fields.List(ma.fields.Nested(RuleSchema))


class RuleSetChangeSchema(ma.Schema):
    rules = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Dict(), required=True, metadata={
        "description": "rule name -> {enabled, level, parameter: value}, checked by the rule's RuleChange schema",
        "properties": {rule.name: _ref(rule.change_schema.__name__) for rule in RULES},
        "additionalProperties": False})
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))


class DraftSchema(ma.Schema):
    id = Integer()
    department = ma.fields.String()
    changes = ma.fields.Dict(metadata={"description": "{rules, inherit, open, replace} as proposed"})
    reason = ma.fields.String()
    author = ma.fields.String(allow_none=True)
    author_id = Integer()
    created_at = AwareDateTime()
    updated_at = AwareDateTime()
    diff = ma.fields.List(ma.fields.Dict(), metadata={"description": "what publishing it now would change"})
    refused = ma.fields.Dict(metadata={"description": "why publishing it now would be refused, if it would"})


_RULES_FIELD_DOC = {
    "description": "rule name -> {enabled, level, parameter: value}, checked by the rule's RuleChange schema",
    "properties": {rule.name: _ref(rule.change_schema.__name__) for rule in RULES},
    "additionalProperties": False}


class DraftCreateSchema(ma.Schema):
    rules = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Dict(), load_default=dict,
                           metadata=_RULES_FIELD_DOC)
    inherit = ma.fields.List(ma.fields.String(), load_default=list, metadata={
        "description": "settings (rule.setting) to stop setting: inherited again (the province: the default)"})
    open = ma.fields.List(ma.fields.String(), allow_none=True, load_default=None, metadata={
        "description": "settings (rule.setting) open to local change below this department (replaces the "
                       "list; left out: unchanged). Only what is open to the department itself"})
    replace = ma.fields.Boolean(load_default=False, metadata={
        "description": "the rules given are the department's whole own set (others inherited or default)"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


class DraftEditSchema(ma.Schema):
    rules = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Dict(), metadata=_RULES_FIELD_DOC)
    inherit = ma.fields.List(ma.fields.String())
    open = ma.fields.List(ma.fields.String(), allow_none=True)
    replace = ma.fields.Boolean()
    reason = ma.fields.String(validate=ma.validate.Length(min=1, max=500))

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("nothing to change", "_schema")


class PublishSchema(ma.Schema):
    effective_from = AwareDateTime(load_default=None, metadata={
        "description": "when the version takes effect (a future time); left out: now. Until then the "
                       "previous version serves"})


class VersionSchema(ma.Schema):
    department = ma.fields.String()
    version = Integer()
    reason = ma.fields.String()
    author = ma.fields.String(allow_none=True)
    author_id = Integer(allow_none=True)
    approver = ma.fields.String(allow_none=True)
    approver_id = Integer(allow_none=True)
    published_at = AwareDateTime()
    effective_from = AwareDateTime()
    settings = ma.fields.Dict(metadata={"description": "the department's own settings in this version"})
    open = ma.fields.List(ma.fields.String())
    diff = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "{rule, setting, before, after} against the previous version (null: not set)"})


class RuleSetQuery(ma.Schema):
    version = Integer(validate=ma.validate.Range(min=1))


@blp.route("/rules")
class Rules(MethodView):
    @blp.arguments(RuleSetQuery, location="query")
    @blp.response(200, RuleSetSchema)
    def get(self, args):
        """The active rule set (or ``?version=N``): each rule's article, level and parameters."""
        return rulesets.read_rule_set(current_actor(), args.get("version"))

    @blp.arguments(RuleSetChangeSchema)
    @blp.response(202, DraftSchema)
    def put(self, data):
        """Propose replacing the caller's department's own set: a draft (rules left out are inherited,
        at the province their defaults) that a second officer publishes (four eyes)."""
        return self._propose(data, replace=True)

    @blp.arguments(RuleSetChangeSchema)
    @blp.response(202, DraftSchema)
    def patch(self, data):
        """Propose changing some settings of the caller's department's set: a draft a second officer
        publishes (``POST /rule-sets/{dept}/drafts/{id}/publish``)."""
        return self._propose(data, replace=False)

    @staticmethod
    def _propose(data, *, replace):
        draft = rulesets.propose_change(current_actor(), {"rules": data["rules"]}, replace=replace,
                                        note=data["note"])
        db.session.commit()
        return draft


@blp.route("/rule-sets/<dept>/drafts")
class Drafts(MethodView):
    @blp.response(200, page_schema(DraftSchema))
    def get(self, dept):
        """The department's drafts (its officers only)."""
        return {"items": rulesets.read_drafts(current_actor(), dept), "next_cursor": None}

    @blp.arguments(DraftCreateSchema)
    @blp.response(201, DraftSchema)
    def post(self, data, dept):
        """Draft a change with a reason (an officer of the department): checked as publication
        would check it; a looser value than the level above allows is a 422 naming the bound."""
        reason = data.pop("reason")
        draft = rulesets.create_draft(current_actor(), dept, data, reason)
        db.session.commit()
        return draft


@blp.route("/rule-sets/<dept>/drafts/<int:draft>")
class Draft(MethodView):
    @blp.response(200, DraftSchema)
    def get(self, dept, draft):
        """A draft, with what publishing it now would change (or why it would be refused)."""
        return rulesets.read_draft(current_actor(), dept, draft)

    @blp.arguments(DraftEditSchema)
    @blp.response(200, DraftSchema)
    def patch(self, data, dept, draft):
        """The author edits the draft: given fields replace the draft's."""
        actor = current_actor()
        reason = data.pop("reason", None)
        changes = None
        if data:
            current = rulesets.read_draft(actor, dept, draft)["changes"]
            changes = {**current, **data}
        result = rulesets.edit_draft(actor, dept, draft, changes, reason)
        db.session.commit()
        return result


@blp.route("/rule-sets/<dept>/drafts/<int:draft>/publish")
class Publish(MethodView):
    @blp.arguments(PublishSchema)
    @blp.response(201, VersionSchema)
    def post(self, data, dept, draft):
        """A second officer of the department publishes the draft as its next version (four eyes:
        the author gets 403), in force from ``effective_from`` (a future time) or now."""
        version = rulesets.publish_draft(current_actor(), dept, draft, data["effective_from"])
        db.session.commit()
        return version


@blp.route("/rule-sets/<dept>/versions")
class Versions(MethodView):
    @blp.response(200, page_schema(VersionSchema))
    def get(self, dept):
        """Every version of the department's set, newest first: author, approver, reason, when it
        took effect and the difference from the version before (the department's own officers, the
        departments above it and those of its region)."""
        return {"items": rulesets.read_versions(current_actor(), dept), "next_cursor": None}

"""The warning rules' versioned parameters (Art. 12): finance reads and changes them."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import AwareDateTime, Integer
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


class RuleSetSchema(ma.Schema):
    version = Integer()
    created_at = AwareDateTime()
    note = ma.fields.String()
    rules = ma.fields.List(ma.fields.Nested(RuleSchema))


class RuleSetChangeSchema(ma.Schema):
    rules = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Dict(), required=True, metadata={
        "description": "rule name -> {enabled, level, parameter: value}, checked by the rule's RuleChange schema",
        "properties": {rule.name: _ref(rule.change_schema.__name__) for rule in RULES},
        "additionalProperties": False})
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))


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
    @blp.response(200, RuleSetSchema)
    def put(self, data):
        """Replace the rule set: a new version; rules or parameters left out return to their defaults."""
        return self._change(data, replace=True)

    @blp.arguments(RuleSetChangeSchema)
    @blp.response(200, RuleSetSchema)
    def patch(self, data):
        """Change some rules' parameters: a new version built on the active one."""
        return self._change(data, replace=False)

    @staticmethod
    def _change(data, *, replace):
        actor = current_actor()
        rulesets.change_rule_set(actor, {"rules": data["rules"]}, replace=replace, note=data["note"])
        db.session.commit()
        return rulesets.read_rule_set(actor)

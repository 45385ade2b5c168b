"""Budget indicators (预算指标): listed by scope, loaded in bulk as JSON or CSV."""
import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.errors import flatten_errors
from api.fields import Integer, Money, non_negative
from api.pagination import PageQuery, page_schema, paginate
from api.uploads import read_csv
from workflow import budget
from workflow.budget import EXPENDITURE_KINDS, FUND_SOURCES, Indicator
from workflow.db import db
from workflow.errors import Invalid
from workflow.parties import Organisation, require

blp = Blueprint("indicators", __name__, url_prefix="/api/v1", description="Budget indicators")

CODE = ma.validate.Regexp(r"^[0-9]{3,10}$", error="digits only, 3 to 10 of them")


class IndicatorSchema(ma.Schema):
    id = Integer(dump_only=True)
    unit_code = ma.fields.String(required=True)
    year = Integer(required=True, validate=ma.validate.Range(min=2000, max=2100))
    functional_code = ma.fields.String(required=True, validate=CODE)
    economic_code = ma.fields.String(required=True, validate=CODE)
    fund_source = ma.fields.String(required=True, validate=ma.validate.OneOf(FUND_SOURCES))
    expenditure_kind = ma.fields.String(required=True, validate=ma.validate.OneOf(EXPENDITURE_KINDS))
    project = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    amount = Money(required=True, validate=non_negative)
    frozen = ma.fields.Boolean(load_default=False)


class IndicatorQuery(PageQuery):
    unit_code = ma.fields.String()
    year = Integer()
    functional_code = ma.fields.String()
    economic_code = ma.fields.String()


class IndicatorListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(IndicatorSchema))


UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "description": "A JSON array of indicators (or {\"items\": [...]}), or a multipart upload "
                       "with a CSV file in field `file`, UTF-8 or GBK, header row with the same names. "
                       "A bad row gets 422 naming `row N.field` (N counts data rows from 1); nothing is written.",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Indicator"}}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}}},
        },
    }
}


def _incoming_rows() -> list[dict]:
    if request.files:
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("no file uploaded", {"file": ["missing"]})
        rows = read_csv(upload.read())
    else:
        body = request.get_json(silent=True)
        rows = body.get("items") if isinstance(body, dict) else body
        if not isinstance(rows, list):
            raise Invalid("expected a JSON array of indicators", {"_": ["expected a JSON array or {\"items\": [...]}"]})
    if not rows:
        raise Invalid("nothing to load", {"_": ["no rows"]})
    try:
        return IndicatorSchema(many=True).load(rows)
    except ma.ValidationError as exc:
        raise Invalid("the upload was rejected; nothing was written", flatten_errors(exc.messages)) from exc


@blp.route("/indicators")
class Indicators(MethodView):
    @blp.arguments(IndicatorQuery, location="query")
    @blp.response(200, page_schema(IndicatorSchema))
    def get(self, args):
        """List budget indicators the caller may see."""
        stmt = budget.indicators_for(current_actor())
        if args.get("unit_code"):
            stmt = stmt.join(Organisation, Organisation.id == Indicator.unit_id).where(
                Organisation.code == args["unit_code"])
        for field in ("year", "functional_code", "economic_code"):
            if args.get(field) is not None:
                stmt = stmt.where(getattr(Indicator, field) == args[field])
        return paginate(stmt, Indicator.id, args)

    @blp.doc(**UPLOAD_DOC)
    @blp.response(201, IndicatorListSchema)
    def post(self):
        """Load indicators in bulk (finance): all rows are written, or none."""
        actor = current_actor()
        require(actor, "finance", action="load budget indicators")
        created = budget.import_indicators(actor, _incoming_rows())
        db.session.commit()
        return {"items": created}

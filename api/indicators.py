"""Budget indicators (预算指标): listed by scope with their execution (支出进度), loaded in bulk
as JSON or CSV, adjusted by finance (调整、调剂、冻结、收回; Art. 9, 10(一), 10(三)14, 14)."""
import re
from decimal import Decimal, InvalidOperation

import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.errors import flatten_errors
from api.fields import AwareDateTime, Date, Integer, Money, non_negative
from api.journal import JournalPage
from api.pagination import PageQuery, page_schema, paginate, paginate_rows
from api.uploads import read_csv
from workflow import execution
from workflow.budget import ADJUSTMENT_KINDS as KIND_NAMES
from workflow.budget import EXPENDITURE_KINDS, FUND_SOURCES, Indicator, IndicatorAdjustment
from workflow.db import db
from workflow.errors import Invalid
from workflow.execution import ADJUSTMENT_KINDS
from workflow.journal import JournalEntry, entries_of, stream_of
from workflow.parties import require

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
    amount = Money(required=True, validate=non_negative, metadata={
        "description": "the budget in force: as loaded, then as adjusted and transferred"})
    frozen = ma.fields.Boolean(load_default=False)
    approved_on = Date(allow_none=True, metadata={"description": "when the people's congress approved the budget (for funds from "
                                                "above: when they were received); with issued_on, Art. 10(一)1"})
    issued_on = Date(allow_none=True, metadata={"description": "when finance issued the indicator (预算指标下达)"})
    recovered = Money(dump_only=True, metadata={"description": "marked for recovery (应收回), not to be spent"})
    available = Money(dump_only=True, metadata={"description": "amount less recovered"})
    spent = Money(dump_only=True, attribute="execution.spent", metadata={
        "description": "accepted payments counted against it (the running total screening keeps)"})
    held = Money(dump_only=True, attribute="execution.held", metadata={"description": "held payments, not yet paid"})
    remaining = Money(dump_only=True, attribute="execution.remaining", metadata={
        "description": "available less spent and held"})
    execution_rate = ma.fields.Function(
        lambda i: None if i.execution.rate is None else f"{i.execution.rate:.2f}", dump_only=True, allow_none=True,
        metadata={"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$",
                  "description": "支出进度: spent over available, a percentage to two places (null when nothing "
                                 "is available)"})

    @ma.pre_load
    def _blank_dates_are_missing(self, data, **kwargs):
        # a CSV row gives an empty cell for a date it does not have
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (k in ("approved_on", "issued_on") and v in ("", None))}
        return data


class Percentage(ma.fields.Field):
    """A percentage with at most two places, 0 to 100000 (a rate may pass 100 when overspent)."""

    def __init__(self, **kwargs):
        metadata = kwargs.setdefault("metadata", {})
        metadata.update(type="string", pattern=r"^[0-9]{1,6}(\.[0-9]{1,2})?$", example="50.00")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,6}(\.[0-9]{1,2})?", value):
            raise ma.ValidationError("a percentage such as 50 or 37.5, at most two places")
        try:
            rate = Decimal(value)
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
            raise ma.ValidationError("not a number") from exc
        if rate > 100000:
            raise ma.ValidationError("at most 100000")
        return rate


SORTS = ("id", "rate", "-rate")


class IndicatorQuery(PageQuery):
    unit_code = ma.fields.String()
    year = Integer()
    functional_code = ma.fields.String()
    economic_code = ma.fields.String()
    expenditure_kind = ma.fields.String(validate=ma.validate.OneOf(EXPENDITURE_KINDS))
    frozen = ma.fields.Boolean()
    rate_below = Percentage(metadata={"description": "execution rate under this percentage"})
    rate_above = Percentage(metadata={"description": "execution rate over this percentage"})
    sort = ma.fields.String(load_default="id", validate=ma.validate.OneOf(SORTS), metadata={
        "description": "id (default), rate (lowest first) or -rate (highest first); the rate to a hundredth of a "
                       "percent, then id; indicators with nothing available come first by rate"})


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
        """List budget indicators the caller may see, with their execution (支出进度, Art. 9)."""
        stmt = execution.execution_select(current_actor(), args)
        sort = args.get("sort", "id")
        return paginate_rows(stmt, Indicator.id, args, sort_key=None if sort == "id" else execution.rate_key(),
                             descending=sort == "-rate", shown=execution.with_execution)

    @blp.doc(**UPLOAD_DOC)
    @blp.response(201, IndicatorListSchema)
    def post(self):
        """Load indicators in bulk (finance): all rows are written, or none. Indicators issued late
        after the budget's approval, or project funds not detailed to a project, raise warnings on
        the issuing finance department itself (Art. 10(一))."""
        actor = current_actor()
        require(actor, "finance", action="load budget indicators")
        created = execution.load_indicators(actor, _incoming_rows())
        db.session.commit()
        return {"items": created}


@blp.route("/indicators/<int:indicator_id>")
class IndicatorDetail(MethodView):
    @blp.response(200, IndicatorSchema)
    def get(self, indicator_id):
        """One indicator with its execution (404 unless the caller may see it)."""
        indicator = execution.get_indicator(current_actor(), indicator_id)
        indicator.execution = execution.execution_of(indicator)
        return indicator


class AdjustmentSchema(ma.Schema):
    id = Integer()
    indicator_id = Integer()
    kind = ma.fields.String(validate=ma.validate.OneOf(KIND_NAMES))
    change = Money(allow_none=True, metadata={
        "description": "signed: what the amount moved by (adjust, transfer), or what recovered grew by (recover)"})
    counterpart_id = Integer(allow_none=True, metadata={"description": "a transfer's other indicator"})
    reason = ma.fields.String()
    document_ref = ma.fields.String(metadata={"description": "文号"})
    amount_after = Money()
    recovered_after = Money()
    frozen_after = ma.fields.Boolean()
    org_code = ma.fields.String(allow_none=True, metadata={"description": "the finance department"})
    created_by_id = Integer(allow_none=True)
    created_at = AwareDateTime()


class AdjustmentCreateSchema(ma.Schema):
    """``kind`` and that kind's fields: each kind's body is its row in
    ``workflow.execution.ADJUSTMENT_KINDS`` (loaded with the row's schema there)."""

    class Meta:
        unknown = ma.INCLUDE

    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(ADJUSTMENT_KINDS)))


class AdjustmentResultSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AdjustmentSchema), metadata={
        "description": "the ledger rows written: one, or two for a transfer (this indicator's first)"})
    indicator = ma.fields.Nested(IndicatorSchema)


ADJUSTMENT_BODIES = {kind.schema.__name__: kind.schema for kind in ADJUSTMENT_KINDS.values()}


def register_schemas(spec) -> None:
    """Each adjustment kind's body as a component (called once per app)."""
    for name, schema in ADJUSTMENT_BODIES.items():
        spec.components.schema(name, {"description": schema.__doc__} if schema.__doc__ else None, schema=schema)


@blp.route("/indicators/<int:indicator_id>/adjustments")
class IndicatorAdjustments(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_schema(AdjustmentSchema))
    def get(self, args, indicator_id):
        """The indicator's ledger of adjustments, oldest first (404 unless the caller may see it)."""
        return paginate(execution.adjustments_of(current_actor(), indicator_id), IndicatorAdjustment.id, args)

    @blp.doc(requestBody={"content": {"application/json": {"schema": {
        "description": "the body of the kind named in kind: component IndicatorAdjustment.<kind>",
        "anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in ADJUSTMENT_BODIES]}}}})
    @blp.arguments(AdjustmentCreateSchema)
    @blp.response(201, AdjustmentResultSchema)
    def post(self, data, indicator_id):
        """Finance adjusts the indicator (Art. 14, 10(三)14): ``adjust`` up or down, ``transfer`` to
        another indicator, ``freeze``, ``unfreeze``, ``recover``; each with a reason and a document
        reference. 409 naming the figures if less would be available than spent and held."""
        actor = current_actor()
        rows = execution.adjust(actor, indicator_id, data)
        db.session.commit()
        indicator = execution.get_indicator(actor, indicator_id)
        indicator.execution = execution.execution_of(indicator)
        return {"items": rows, "indicator": indicator}


@blp.route("/indicators/<int:indicator_id>/events")
class IndicatorEvents(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, JournalPage)
    def get(self, args, indicator_id):
        """The indicator's journal: each adjustment, transfer, freeze and recovery (404 unless the
        caller may see the indicator)."""
        indicator = execution.get_indicator(current_actor(), indicator_id)
        return paginate(entries_of(stream_of("indicator", indicator.id)), JournalEntry.id, args)

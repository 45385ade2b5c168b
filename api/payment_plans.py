"""Monthly payment plans (用款计划, Art. 10(二)1, 10(三)15): units file them in bulk (JSON or CSV),
finance approves or returns them, and the quota view sets each approved plan against what was paid."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.errors import flatten_errors
from api.fields import AwareDateTime, Integer, Money, non_negative
from api.indicators import CODE
from api.journal import JournalPage
from api.pagination import PageQuery, page_schema, paginate
from api.uploads import incoming_rows
from workflow.budget import EXPENDITURE_KINDS, FUND_SOURCES
from workflow.db import db
from workflow.errors import Invalid
from workflow.journal import JournalEntry
from workflow.monitoring import plans
from workflow.monitoring.plans import FILING_ACTIONS, PLAN_STATUSES, PaymentPlan, parse_month
from workflow.parties import Organisation
from workflow.schemas import Text

blp = Blueprint("payment_plans", __name__, url_prefix="/api/v1",
                description="Monthly payment plans and the authorised quota (Art. 10(二)1, 10(三)15)")

MONTH = ma.validate.Regexp(r"^20[0-9]{2}-(0[1-9]|1[0-2])$", error="a month as YYYY-MM, 2000-01 to 2099-12")
MAX_PLAN_ROWS = 10000


class PlanRowSchema(ma.Schema):
    """One filed plan: the unit, the month, the indicator by its codes and the amount."""

    unit_code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    month = ma.fields.String(required=True, validate=MONTH, metadata={"example": "2021-03"})
    functional_code = ma.fields.String(required=True, validate=CODE)
    economic_code = ma.fields.String(required=True, validate=CODE)
    project = ma.fields.String(load_default="", validate=ma.validate.Length(max=200),
                               metadata={"description": "the project's name; empty for basic expenditure"})
    fund_source = ma.fields.String(validate=ma.validate.OneOf(FUND_SOURCES), metadata={
        "description": "needed only when the unit has indicators for these codes from several fund sources"})
    amount = Money(required=True, validate=non_negative)

    @ma.post_load
    def _split_month(self, data, **kwargs):
        data["year"], data["month"] = parse_month(data["month"])
        return data


def register_schemas(spec) -> None:
    """The filed row as a component of the API document (the upload's body reads it by reference)."""
    spec.components.schema("PlanRow", {"description": PlanRowSchema.__doc__}, schema=PlanRowSchema)


class PaymentPlanSchema(ma.Schema):
    id = Integer()
    unit_code = ma.fields.String()
    indicator_id = Integer()
    month = ma.fields.String(attribute="month_text", metadata={"example": "2021-03"})
    functional_code = ma.fields.Function(lambda p: p.indicator.functional_code, metadata={"type": "string"})
    economic_code = ma.fields.Function(lambda p: p.indicator.economic_code, metadata={"type": "string"})
    fund_source = ma.fields.Function(lambda p: p.indicator.fund_source,
                                     metadata={"type": "string", "enum": list(FUND_SOURCES)})
    expenditure_kind = ma.fields.Function(lambda p: p.indicator.expenditure_kind,
                                          metadata={"type": "string", "enum": list(EXPENDITURE_KINDS)})
    project = ma.fields.Function(lambda p: p.indicator.project, metadata={"type": "string"})
    amount = Money(metadata={"description": "the amount filed last"})
    approved_amount = Money(allow_none=True, metadata={
        "description": "the month's quota in force (授权额度): the amount finance approved last; null until then"})
    status = ma.fields.String(validate=ma.validate.OneOf(PLAN_STATUSES))
    uneven = ma.fields.Boolean(metadata={
        "description": "basic expenditure putting more than the rule set's over_payment_plan.uneven_percent of "
                       "the indicator's annual amount into this month (年度均衡性, Art. 10(三)15)"})
    annual_share = ma.fields.Function(
        lambda p: None if p.annual_share is None else f"{p.annual_share}",
        metadata={"type": "string", "nullable": True, "description": "percent of the indicator's annual amount"})
    return_reason = ma.fields.String(allow_none=True)
    filed_at = AwareDateTime()
    decided_at = AwareDateTime(allow_none=True)


class FilingSchema(PaymentPlanSchema):
    action = ma.fields.String(validate=ma.validate.OneOf(FILING_ACTIONS), metadata={
        "description": "filed (new), amended (changed before the decision), refiled (after a return), revised "
                       "(an approved plan filed again: its approved amount stays in force until approved), "
                       "unchanged"})
    uneven_note = ma.fields.String(allow_none=True, metadata={"description": "why the plan is flagged uneven"})


class FilingListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(FilingSchema))


class PlanQuery(PageQuery):
    month = ma.fields.String(validate=MONTH)
    year = Integer(validate=ma.validate.Range(min=2000, max=2099))
    unit_code = ma.fields.String()
    economic_code = ma.fields.String()
    status = ma.fields.String(validate=ma.validate.OneOf(PLAN_STATUSES))
    uneven = ma.fields.Boolean()


class QuotaQuery(PageQuery):
    month = ma.fields.String(validate=MONTH)
    year = Integer(validate=ma.validate.Range(min=2000, max=2099))
    unit_code = ma.fields.String()
    economic_code = ma.fields.String()


class QuotaSchema(ma.Schema):
    plan_id = Integer()
    unit_code = ma.fields.String()
    indicator_id = Integer()
    month = ma.fields.String()
    functional_code = ma.fields.String()
    economic_code = ma.fields.String()
    project = ma.fields.String()
    status = ma.fields.String(validate=ma.validate.OneOf(PLAN_STATUSES))
    approved = Money(allow_none=True, metadata={"description": "授权额度: the approved amount in force, or null"})
    paid = Money(metadata={"description": "支付: counted payments (accepted and held) on the indicator in the month"})
    remaining = Money(allow_none=True, metadata={"description": "approved minus paid (negative: over the plan)"})
    over = ma.fields.Boolean(metadata={"description": "paid more than approved (or paid without an approved plan)"})


class ReturnSchema(ma.Schema):
    reason = Text(required=True, max_length=500, metadata={"description": "why the plan is returned"})


class BulkApproveSchema(ma.Schema):
    plan_ids = ma.fields.List(Integer(validate=ma.validate.Range(min=1)), required=True,
                              validate=ma.validate.Length(min=1, max=1000))


class PlanListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(PaymentPlanSchema))


UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "description": f"A JSON array of plans (at most {MAX_PLAN_ROWS}; or {{\"items\": [...]}}), or a multipart "
                       "upload with a CSV file in field `file`, UTF-8 or GBK, header row with the same names. A bad "
                       "row gets 422 naming `row N.field` (N counts data rows from 1); nothing is written. A row for "
                       "a plan that exists files it again (amended, refiled or revised by its status).",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/PlanRow"}}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}}},
        },
    }
}


def _rows() -> list[dict]:
    rows = incoming_rows("payment plans")
    if len(rows) > MAX_PLAN_ROWS:
        raise Invalid("too many rows", {"_": [f"at most {MAX_PLAN_ROWS} rows"]})
    try:
        return PlanRowSchema(many=True).load(rows)
    except ma.ValidationError as exc:
        raise Invalid("the payment plans were rejected; nothing was written", flatten_errors(exc.messages)) from exc


def _filtered(stmt, args: dict):
    if args.get("unit_code"):
        stmt = stmt.where(PaymentPlan.unit_id.in_(
            db.select(Organisation.id).where(Organisation.code == args["unit_code"])))
    if args.get("month"):
        year, month = parse_month(args["month"])
        stmt = stmt.where(PaymentPlan.year == year, PaymentPlan.month == month)
    if args.get("year") is not None:
        stmt = stmt.where(PaymentPlan.year == args["year"])
    if args.get("economic_code"):
        stmt = stmt.where(PaymentPlan.indicator.has(economic_code=args["economic_code"]))
    if args.get("status"):
        stmt = stmt.where(PaymentPlan.status == args["status"])
    if args.get("uneven") is not None:
        stmt = stmt.where(PaymentPlan.uneven.is_(args["uneven"]))
    return stmt


class Filed:
    """A filing as the answer shows it: the plan's fields, what filing did and why it is uneven."""

    def __init__(self, filing: plans.Filing):
        self._plan, self.action, self.uneven_note = filing.plan, filing.action, filing.uneven_note

    def __getattr__(self, name):
        return getattr(self._plan, name)


@blp.route("/payment-plans")
class PaymentPlans(MethodView):
    @blp.arguments(PlanQuery, location="query")
    @blp.response(200, page_schema(PaymentPlanSchema))
    def get(self, args):
        """List payment plans: a unit its own, a competent department its units', finance its region's
        (filters `month` as YYYY-MM, `year`, `unit_code`, `economic_code`, `status`, `uneven`)."""
        actor = current_actor()
        return paginate(_filtered(plans.plans_for(actor, visibility=False), args), PaymentPlan.id, args,
                        plans.reach(actor))

    @blp.doc(**UPLOAD_DOC)
    @blp.response(201, FilingListSchema)
    def post(self):
        """File monthly payment plans (a unit, for itself): all rows or none. Each answer says what was
        done and flags a basic-expenditure plan that is uneven over the year (Art. 10(三)15)."""
        filings = plans.file_plans(current_actor(), _rows())
        db.session.commit()
        return {"items": [Filed(f) for f in filings]}


@blp.route("/payment-plans/approve")
class BulkApproval(MethodView):
    @blp.arguments(BulkApproveSchema)
    @blp.response(200, PlanListSchema)
    def post(self, data):
        """Approve filed plans in bulk (finance, Art. 10(二)1): all or none; a plan out of reach is 404,
        one that is not filed 409, each named."""
        decided = plans.decide_plans(current_actor(), data["plan_ids"], "approve")
        db.session.commit()
        return {"items": decided}


@blp.route("/payment-plans/quota")
class Quota(MethodView):
    @blp.arguments(QuotaQuery, location="query")
    @blp.response(200, page_schema(QuotaSchema))
    def get(self, args):
        """The monthly authorised quota against what was paid (授权额度 vs 支付), one item per plan in
        reach: the approved amount in force, the counted payments on its indicator in its month, what
        remains, and whether it is over (filters `month`, `year`, `unit_code`, `economic_code`)."""
        actor = current_actor()
        page = paginate(_filtered(plans.plans_for(actor, visibility=False), args), PaymentPlan.id, args,
                        plans.reach(actor))
        paid = plans.paid_by_plan(page["items"])
        items = []
        for plan in page["items"]:
            approved, spent = plan.approved_amount, paid[plan.id]
            items.append({
                "plan_id": plan.id, "unit_code": plan.unit_code, "indicator_id": plan.indicator_id,
                "month": plan.month_text, "functional_code": plan.indicator.functional_code,
                "economic_code": plan.indicator.economic_code, "project": plan.indicator.project,
                "status": plan.status, "approved": approved, "paid": spent,
                "remaining": None if approved is None else approved - spent,
                "over": spent > (approved if approved is not None else 0)})
        return {"items": items, "next_cursor": page["next_cursor"]}


@blp.route("/payment-plans/<int:plan_id>")
class PaymentPlanView(MethodView):
    @blp.response(200, PaymentPlanSchema)
    def get(self, plan_id):
        return plans.get_plan(current_actor(), plan_id)


@blp.route("/payment-plans/<int:plan_id>/approve")
class Approval(MethodView):
    @blp.response(200, PaymentPlanSchema)
    def post(self, plan_id):
        """Approve a filed plan (finance, Art. 10(二)1): its amount becomes the month's quota."""
        decided = plans.decide_plans(current_actor(), [plan_id], "approve", field="plan_id")
        db.session.commit()
        return decided[0]


@blp.route("/payment-plans/<int:plan_id>/return")
class Return(MethodView):
    @blp.arguments(ReturnSchema)
    @blp.response(200, PaymentPlanSchema)
    def post(self, data, plan_id):
        """Return a filed plan to the unit with the reason (finance, Art. 10(二)1); an approved amount in
        force stays so."""
        decided = plans.decide_plans(current_actor(), [plan_id], "return", reason=data["reason"], field="plan_id")
        db.session.commit()
        return decided[0]


@blp.route("/payment-plans/<int:plan_id>/events")
class PlanEvents(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, JournalPage)
    def get(self, args, plan_id):
        """The plan's filings and decisions, SHA-256 chained (404 unless the caller may see the plan)."""
        return paginate(plans.history(current_actor(), plan_id), JournalEntry.id, args)

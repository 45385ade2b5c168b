"""What agent banks report: refusals (拒付, Art. 28(三)), suspected violations without a refusal
(Art. 10(四)6) and settlements (Art. 10(四), 28(四))."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import AwareDateTime, Integer, Money, positive
from api.pagination import PageQuery, page_schema, paginate
from workflow import bank_intake
from workflow.bank_intake import BankRefusal, BankReport
from workflow.db import db
from workflow.errors import Invalid
from workflow.monitoring.models import PAYMENT_STATUSES

blp = Blueprint("bank_intake", __name__, url_prefix="/api/v1",
                description="Agent banks: refused payments (Art. 28(三)), suspected violations reported "
                            "without refusing (Art. 10(四)6) and settlement reports compared with the payment "
                            "instructions (Art. 10(四), 22)")

MAX_SETTLEMENT_LINES = 10_000


class RefusalCreateSchema(ma.Schema):
    voucher_no = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    unit_code = ma.fields.String(validate=ma.validate.Length(min=1, max=32), metadata={
        "description": "the paying unit: needed only when two units' payments carried by the bank share the "
                       "voucher number (voucher numbers are per unit)"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


class RefusalSchema(ma.Schema):
    id = Integer()
    voucher_no = ma.fields.String()
    bank_code = ma.fields.Function(lambda r: r.bank.code, metadata={"type": "string"})
    reason = ma.fields.String()
    warning_id = Integer()
    payment_status = ma.fields.Function(lambda r: "refused", metadata={"type": "string", "enum": ["refused"]})
    reported_at = AwareDateTime()


class BankReportCreateSchema(ma.Schema):
    voucher_no = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    unit_code = ma.fields.String(validate=ma.validate.Length(min=1, max=32), metadata={
        "description": "the paying unit: needed only when two units' payments carried by the bank share the "
                       "voucher number"})
    finding = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000),
                               metadata={"description": "what the bank found, in its words"})


class BankReportSchema(ma.Schema):
    id = Integer()
    voucher_no = ma.fields.String()
    bank_code = ma.fields.Function(lambda r: r.bank.code, metadata={"type": "string"})
    finding = ma.fields.String()
    article = ma.fields.String(metadata={"description": "第十条（四）6"})
    warning_id = Integer()
    payment_status = ma.fields.Function(lambda r: r.payment.status, metadata={
        "type": "string", "enum": list(PAYMENT_STATUSES), "description": "as it was: a report does not refuse"})
    reported_at = AwareDateTime()


class SettlementLineSchema(ma.Schema):
    voucher_no = ma.fields.String(validate=ma.validate.Length(max=64), allow_none=True)
    payer_account = ma.fields.String(required=True, validate=ma.validate.Length(min=4, max=40))
    amount = Money(required=True, validate=positive)
    payee_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    payee_account = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    paid_at = AwareDateTime(required=True)


class FindingSchema(ma.Schema):
    code = ma.fields.String(validate=ma.validate.OneOf(tuple(bank_intake.FINDINGS)))
    article = ma.fields.String()
    message = ma.fields.String()


class SettlementAnswerSchema(ma.Schema):
    line = Integer(metadata={"description": "position in the report, from 1"})
    outcome = ma.fields.String(validate=ma.validate.OneOf(bank_intake.SETTLEMENT_ANSWERS))
    settlement_line_id = Integer()
    voucher_no = ma.fields.String(allow_none=True)
    payment_id = Integer(allow_none=True)
    case_id = Integer(allow_none=True)
    findings = ma.fields.List(ma.fields.Nested(FindingSchema))


class SettlementResultSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SettlementAnswerSchema))


SETTLEMENT_DOC = {
    "requestBody": {
        "required": True,
        "description": f"A JSON array of what the bank actually paid (at most {MAX_SETTLEMENT_LINES} lines). "
                       "A bad line gets 422 naming `row N.field`; nothing is written.",
        # the schema class, not a hand-written $ref: apispec registers it and writes the reference
        "content": {"application/json": {"schema": {"type": "array", "items": SettlementLineSchema}}},
    }
}


@blp.route("/bank-refusals")
class BankRefusals(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_schema(RefusalSchema))
    def get(self, args):
        """Refusals: a bank its own; finance those on units of its jurisdiction."""
        return paginate(bank_intake.refusals_for(current_actor()), BankRefusal.id, args)

    @blp.arguments(RefusalCreateSchema)
    @blp.response(201, RefusalSchema)
    def post(self, data):
        """A bank refuses a payment it carries (Art. 28(三)): the payment is refused, a
        warning opened, finance and the unit told the reason. 409 if refused already."""
        refusal = bank_intake.refuse(current_actor(), data)
        db.session.commit()
        return refusal


@blp.route("/bank-reports")
class BankReports(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_schema(BankReportSchema))
    def get(self, args):
        """Reports of suspected violations: a bank its own; finance those on units of its jurisdiction."""
        return paginate(bank_intake.reports_for(current_actor()), BankReport.id, args)

    @blp.arguments(BankReportCreateSchema)
    @blp.response(201, BankReportSchema)
    def post(self, data):
        """A bank reports a suspected violation on a payment it carries without refusing it
        (Art. 10(四)6): a warning with its finding is opened for finance to verify and finance
        is told; the payment stays as it is. 409 if the bank reported this payment already."""
        report = bank_intake.report_suspicion(current_actor(), data)
        db.session.commit()
        return report


@blp.route("/bank-settlements")
class BankSettlements(MethodView):
    @blp.arguments(SettlementLineSchema(many=True), as_kwargs=False)
    @blp.response(200, SettlementResultSchema)
    @blp.doc(**SETTLEMENT_DOC)
    def post(self, lines):
        """A bank reports what it paid. Each line is answered ``matched`` (its instruction is
        settled), ``case_opened`` (paid without an instruction, or differing in amount or
        payee: an agent-bank case, Art. 22) or ``duplicate`` (reported before)."""
        if len(lines) > MAX_SETTLEMENT_LINES:
            raise Invalid(f"at most {MAX_SETTLEMENT_LINES} lines per report", {"_": ["too many lines"]})
        answers = bank_intake.report_settlements(current_actor(), lines)
        db.session.commit()
        return {"items": answers}

"""Payments (支付信息, Art. 9): intake with screening, and listing by scope."""
import marshmallow as ma
from flask import jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import AwareDateTime, Integer, Money
from api.pagination import PageQuery, page_schema, paginate
from api.uploads import read_csv
from workflow.db import DATE_RANGE_TEXT, MONEY_PATTERN, db
from workflow.errors import Invalid
from workflow.monitoring import payments
from workflow.monitoring.intake import FIELD_SPECS, MAX_ROWS, REQUIRED
from workflow.monitoring.models import (
    EXCEPTIONS,
    METHODS,
    PAYEE_KINDS,
    PAYMENT_STATUSES,
    SETTLEMENTS,
    WARNING_LEVELS,
    WARNING_STATUSES,
    Payment,
)
from workflow.monitoring.rules import WARNING_RULES
from workflow.monitoring.screening import screen_payments
from workflow.parties import Organisation

blp = Blueprint("payments", __name__, url_prefix="/api/v1", description="Payments and their screening (Art. 9, 13-19)")


class RaisedWarningSchema(ma.Schema):
    id = Integer()
    rule = ma.fields.String(validate=ma.validate.OneOf(WARNING_RULES))
    level = ma.fields.String(validate=ma.validate.OneOf(WARNING_LEVELS))
    article = ma.fields.String()
    message = ma.fields.String()


class ScreenedSchema(ma.Schema):
    id = Integer()
    voucher_no = ma.fields.String()
    status = ma.fields.String(validate=ma.validate.OneOf(PAYMENT_STATUSES))
    warnings = ma.fields.List(ma.fields.Nested(RaisedWarningSchema))


class ScreenedListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ScreenedSchema))


class PaymentWarningSchema(RaisedWarningSchema):
    status = ma.fields.String(validate=ma.validate.OneOf(WARNING_STATUSES))
    rule_set_version = Integer(allow_none=True)


class PaymentSchema(ma.Schema):
    id = Integer()
    voucher_no = ma.fields.String()
    unit_code = ma.fields.Function(lambda p: p.unit.code, metadata={"type": "string"})
    payer_account = ma.fields.String()
    amount = Money()
    paid_at = AwareDateTime()
    settlement = ma.fields.String(validate=ma.validate.OneOf(SETTLEMENTS))
    method = ma.fields.String(validate=ma.validate.OneOf(METHODS))
    functional_code = ma.fields.String()
    economic_code = ma.fields.String()
    summary = ma.fields.String()
    payee_name = ma.fields.String()
    payee_account = ma.fields.String()
    payee_kind = ma.fields.String(validate=ma.validate.OneOf(PAYEE_KINDS))
    payee_id_number = ma.fields.String(allow_none=True)
    project = ma.fields.String()
    approval_ref = ma.fields.String(allow_none=True)
    exception = ma.fields.String(allow_none=True, validate=ma.validate.OneOf(EXCEPTIONS))
    exception_ref = ma.fields.String(allow_none=True)
    indicator_id = Integer(allow_none=True)
    bank_code = ma.fields.Function(lambda p: p.bank.code if p.bank else None, metadata={"type": "string", "nullable": True})
    status = ma.fields.String(validate=ma.validate.OneOf(PAYMENT_STATUSES))
    created_at = AwareDateTime()
    warnings = ma.fields.List(ma.fields.Nested(PaymentWarningSchema))


class PaymentQuery(PageQuery):
    status = ma.fields.String(validate=ma.validate.OneOf(PAYMENT_STATUSES))
    unit_code = ma.fields.String()
    voucher_no = ma.fields.String()


def _row_schema() -> dict:
    """The JSON schema of one posted payment, from the screening's own field specifications, so
    that a generated client has a payment model and the document cannot drift from the checks."""
    properties = {"amount": {"type": "string", "pattern": MONEY_PATTERN, "example": "1500.00",
                             "description": "yuan, decimal string with at most two places"},
                  "paid_at": {"type": "string", "format": "date-time",
                              "description": f"ISO 8601 with an offset, {DATE_RANGE_TEXT}"}}
    for name, required, length, choices, _, pattern, _ in FIELD_SPECS:
        if name in properties:
            continue
        prop = {"type": "string"}
        if length:
            prop["maxLength"] = length
        if choices:
            prop["enum"] = sorted(choices)
        if pattern:
            prop["pattern"] = f"^(?:{pattern[0].pattern})$"
        if not required:
            prop["nullable"] = True
        properties[name] = prop
    return {"type": "object", "required": list(REQUIRED), "properties": properties, "additionalProperties": False}


UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "description": f"A JSON array of payments (at most {MAX_ROWS}; or {{\"items\": [...]}}), or a multipart "
                       "upload with a CSV file in field `file`, UTF-8 or GBK, header row with the same names. "
                       "Fields: voucher_no, unit_code, payer_account, amount (yuan, decimal string), paid_at "
                       "(ISO 8601 with offset), settlement (transfer/cash/card), method (direct/authorized), "
                       "functional_code, economic_code, summary, payee_name, payee_account, payee_kind "
                       "(unit/company/individual), payee_id_number, project, approval_ref, exception "
                       "(purchased_services, union_tax_payroll, student_aid, social_insurance, "
                       "approved_reimbursement, other_approved) with exception_ref. A bad row gets 422 naming "
                       "`row N.field`; nothing is written. Voucher numbers are per unit. A voucher of the unit already stored answers its stored record, status "
                       "and warnings (nothing is stored or raised twice) when the row is the same payment; one "
                       "with different content is a 409 naming `row N.voucher_no` and each `row N.<field>` that "
                       "differs, and the same voucher twice in one request with different content is a 422. "
                       "Either way nothing of the request is written. An exception covers only the economic "
                       "codes the rule set's `real_fund_transfer.exception_scope` gives it.",
        "content": {
            "application/json": {"schema": {"type": "array", "minItems": 1, "maxItems": MAX_ROWS,
                                            "items": _row_schema()}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}}},
        },
    }
}


def _incoming_rows() -> list:
    if request.files:
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("no file uploaded", {"file": ["missing"]})
        return read_csv(upload.read())
    body = request.get_json(silent=True)
    rows = body.get("items") if isinstance(body, dict) else body
    if not isinstance(rows, list):
        raise Invalid("expected a JSON array of payments", {"_": ["expected a JSON array or {\"items\": [...]}"]})
    return rows


@blp.route("/payments")
class Payments(MethodView):
    @blp.arguments(PaymentQuery, location="query")
    @blp.response(200, page_schema(PaymentSchema))
    def get(self, args):
        """List payments the caller may see (finance: jurisdiction; unit: own; competent: its units;
        bank: those it carries), newest id last."""
        actor = current_actor()
        stmt = payments.payments_for(actor, visibility=False)
        if args.get("unit_code"):
            stmt = stmt.where(Payment.unit_id.in_(
                db.select(Organisation.id).where(Organisation.code == args["unit_code"])))
        for field in ("status", "voucher_no"):
            if args.get(field):
                stmt = stmt.where(getattr(Payment, field) == args[field])
        return paginate(stmt, Payment.id, args, payments.reach(actor))

    @blp.doc(**UPLOAD_DOC)
    @blp.response(201, ScreenedListSchema)
    def post(self):
        """Post payments for screening (finance; a bank for the payments it carries). All rows or none:
        422 for a bad row or a request that repeats a voucher with different content, 409 for a voucher
        of the unit stored with different content (voucher numbers are per unit)."""
        result = screen_payments(current_actor(), _incoming_rows())
        db.session.commit()
        # The items are built by screening in ScreenedListSchema's own shape (plain ints and
        # strings, fields in its order), so they are sent as they are: dumping a 10,000-row
        # answer through marshmallow cost about as much as screening it (issue 15 item 3).
        # The schema above still documents the answer; tests compare the two.
        return jsonify({"items": result.items}), 201


@blp.route("/payments/<int:payment_id>")
class PaymentView(MethodView):
    @blp.response(200, PaymentSchema)
    def get(self, payment_id):
        return payments.get_payment(current_actor(), payment_id)

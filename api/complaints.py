"""Complaints and reports (投诉举报, Art. 20): public intake, finance's triage.

Three schemas on purpose (ASVS 15.3.1): the public gets a receipt, finance gets the
report with the reporter's identity; :class:`ComplaintSchema` (without it) is the shape
for anyone else a report may ever be shown to.
"""
import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor, public
from api.errors import error_body
from api.fields import AwareDateTime, Integer
from api.pagination import PageQuery, page_schema, paginate
from workflow import complaints
from workflow.complaints import COMPLAINT_STATUSES, TRIAGE_OUTCOMES, Complaint, RateLimited
from workflow.db import db
from workflow.monitoring.models import WARNING_LEVELS
from workflow.settings import current
from workflow.verification import CASE_RUNGS

blp = Blueprint("complaints", __name__, url_prefix="/api/v1",
                description="Complaints and reports from anyone (Art. 20); the reporter's identity is seen by finance alone")


class ComplaintCreateSchema(ma.Schema):
    unit_code = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    unit_name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    finance_code = ma.fields.String(validate=ma.validate.Length(min=1, max=32),
                                    metadata={"description": "the finance department addressed, if the unit is unknown"})
    description = ma.fields.String(required=True, validate=ma.validate.Length(min=5, max=5000))
    voucher_no = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    reporter_name = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    reporter_phone = ma.fields.String(validate=ma.validate.Regexp(r"^[0-9+()\- ]{5,40}$", error="a phone number"))
    reporter_email = ma.fields.Email(validate=ma.validate.Length(max=255))

    @ma.validates_schema(skip_on_field_errors=False)
    def names_a_unit(self, data, **kwargs):
        if not data.get("unit_code") and not data.get("unit_name"):
            raise ma.ValidationError("give unit_code or unit_name", "unit_code")


class ComplaintReceiptSchema(ma.Schema):
    """What the public sees of its report: that it arrived, and its number."""

    id = Integer()
    status = ma.fields.String(validate=ma.validate.OneOf(COMPLAINT_STATUSES))
    received_at = AwareDateTime()


class ComplaintSchema(ma.Schema):
    """A report without its reporter (never the identity fields)."""

    id = Integer()
    status = ma.fields.String(validate=ma.validate.OneOf(COMPLAINT_STATUSES))
    finance_code = ma.fields.String()
    unit_code = ma.fields.String(allow_none=True)
    subject_text = ma.fields.String()
    description = ma.fields.String()
    voucher_no = ma.fields.String(allow_none=True)
    received_at = AwareDateTime()
    triaged_at = AwareDateTime(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    warning_id = Integer(allow_none=True)
    case_id = Integer(allow_none=True)


class ComplaintFinanceSchema(ComplaintSchema):
    """Finance's view (Art. 20: the identity is confidential, finance alone sees it)."""

    reporter_name = ma.fields.String(allow_none=True)
    reporter_phone = ma.fields.String(allow_none=True)
    reporter_email = ma.fields.String(allow_none=True)


class ComplaintQuery(PageQuery):
    status = ma.fields.String(validate=ma.validate.OneOf(COMPLAINT_STATUSES))


class TriageSchema(ma.Schema):
    into = ma.fields.String(required=True, validate=ma.validate.OneOf(TRIAGE_OUTCOMES))
    reason = ma.fields.String(validate=ma.validate.Length(min=1, max=2000), metadata={"description": "dismissed: why"})
    rung = ma.fields.String(validate=ma.validate.OneOf(CASE_RUNGS),
                            metadata={"description": "case: the rung to open on (Art. 21)"})
    fields = ma.fields.Dict(metadata={"description": "case: the fields that rung takes"})
    level = ma.fields.String(validate=ma.validate.OneOf(WARNING_LEVELS), metadata={"description": "warning: its level"})
    message = ma.fields.String(validate=ma.validate.Length(min=1, max=500),
                               metadata={"description": "warning: its text (default names the report's number only)"})
    unit_code = ma.fields.String(validate=ma.validate.Length(min=1, max=32))
    voucher_no = ma.fields.String(validate=ma.validate.Length(min=1, max=64))


def client_address() -> str | None:
    """The reporter's address for rate limiting. Behind ``FUNDWATCH_PROXY_HOPS`` trusted
    reverse proxies (default 0), the address the outermost of them saw in X-Forwarded-For;
    never an address the client could write itself."""
    hops = current().proxy_hops
    if hops > 0:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr


@blp.app_errorhandler(RateLimited)
def too_many(error: RateLimited):
    db.session.rollback()
    return error_body(429, error.message, error.errors), 429, {"Retry-After": str(error.retry_after)}


@blp.route("/complaints")
class Complaints(MethodView):
    @blp.arguments(ComplaintQuery, location="query")
    @blp.response(200, page_schema(ComplaintFinanceSchema))
    def get(self, args):
        """Reports routed to the caller's finance department or those below it (finance only)."""
        stmt = complaints.complaints_for(current_actor())
        if args.get("status"):
            stmt = stmt.where(Complaint.status == args["status"])
        return paginate(stmt, Complaint.id, args)

    @public
    @blp.arguments(ComplaintCreateSchema)
    @blp.response(201, ComplaintReceiptSchema)
    def post(self, data):
        """Report a suspected violation (Art. 20). No token needed; limited per address
        (429 with Retry-After beyond the limit). Your identity, if you give it, is seen
        by the finance department alone."""
        complaint = complaints.submit(data, client_address=client_address())
        db.session.commit()
        return complaint


@blp.route("/complaints/<int:complaint_id>")
class ComplaintView(MethodView):
    @blp.response(200, ComplaintFinanceSchema)
    def get(self, complaint_id):
        return complaints.get_complaint(current_actor(), complaint_id)


@blp.route("/complaints/<int:complaint_id>/triage")
class ComplaintTriage(MethodView):
    @blp.arguments(TriageSchema)
    @blp.response(200, ComplaintFinanceSchema)
    def post(self, data, complaint_id):
        """Finance turns a report into a warning or a case, or dismisses it with a reason.
        409 if it was triaged already."""
        complaint = complaints.triage(current_actor(), complaint_id, data)
        db.session.commit()
        return complaint

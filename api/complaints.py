"""Complaints and reports (投诉举报, Art. 20): the public form and intake, calls to the
hotlines recorded by finance, the reporter's status look-up, finance's triage.

Separate schemas on purpose (ASVS 15.3.1): the public gets the form, a receipt and the
coarse status (:class:`ComplaintReceiptSchema`, :class:`ComplaintPublicStatusSchema`), which
name neither the warning nor the case a report became; finance gets the report with the
reporter's identity; :class:`ComplaintSchema` (without it) is the shape for anyone else a
report may ever be shown to.
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
from workflow.complaints import (
    CHANNELS,
    COMPLAINT_STATUSES,
    PUBLIC_STATUSES,
    TRIAGE_OUTCOMES,
    Complaint,
    RateLimited,
)
from workflow.db import db, utcnow
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


class PhoneComplaintSchema(ComplaintCreateSchema):
    """A call to a hotline, as the finance officer who took it records it."""

    received_at = AwareDateTime(required=True, metadata={"description": "when the call came in (not in the future)"})


RECEIPT_CODE = ma.fields.String(allow_none=True, metadata={
    "description": "given once, only to a reporter who left a phone number or e-mail address: keep it to look "
                   "up the report's status (POST /api/v1/complaints/status); it is not stored and cannot be "
                   "shown again"})
HOTLINES = ma.fields.List(ma.fields.String(), metadata={"description": "举报电话: the hotline numbers (Art. 20)"})


class ComplaintReceiptSchema(ma.Schema):
    """What the public sees of its report: that it arrived, its number, the receipt code, the hotlines."""

    id = Integer()
    status = ma.fields.String(attribute="public_status", validate=ma.validate.OneOf(PUBLIC_STATUSES))
    received_at = AwareDateTime()
    receipt_code = RECEIPT_CODE
    hotlines = HOTLINES


class ComplaintFormSchema(ma.Schema):
    """How to report (Art. 20): the hotlines, where to send the form, how to follow it up."""

    hotlines = HOTLINES
    instructions = ma.fields.String()
    submit = ma.fields.String(metadata={"description": "POST here the report (ComplaintCreate)"})
    status_lookup = ma.fields.String(metadata={"description": "POST here a receipt code to learn the status"})
    reports_per_window = Integer()
    window_seconds = Integer()


class ReceiptCodeSchema(ma.Schema):
    receipt_code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64),
                                    metadata={"description": "as given on the receipt, e.g. 7K2M-QX4P-9TRD-B3WN"})


class ComplaintPublicStatusSchema(ma.Schema):
    """What the holder of a receipt code learns: the report's coarse status and dates, nothing
    of the warning or case it became, nor its outcome."""

    status = ma.fields.String(validate=ma.validate.OneOf(PUBLIC_STATUSES))
    received_at = AwareDateTime()
    handled_from = AwareDateTime(allow_none=True, metadata={"description": "when finance took the report up"})
    concluded_at = AwareDateTime(allow_none=True, metadata={"description": "when its handling ended"})
    hotlines = HOTLINES


class ComplaintSchema(ma.Schema):
    """A report without its reporter (never the identity fields)."""

    id = Integer()
    status = ma.fields.String(validate=ma.validate.OneOf(COMPLAINT_STATUSES))
    channel = ma.fields.String(validate=ma.validate.OneOf(CHANNELS))
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
    recorded_by = ma.fields.String(attribute="recorded_by_name", allow_none=True,
                                   metadata={"description": "phone: the officer who recorded the call"})
    has_receipt_code = ma.fields.Boolean(metadata={"description": "the reporter was given a receipt code"})


class PhoneReceiptSchema(ComplaintFinanceSchema):
    """The recorded call, and the receipt code to read out to the caller (once)."""

    receipt_code = RECEIPT_CODE


class ComplaintQuery(PageQuery):
    status = ma.fields.String(validate=ma.validate.OneOf(COMPLAINT_STATUSES))
    channel = ma.fields.String(validate=ma.validate.OneOf(CHANNELS))


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


# A receipt code must not linger in a shared or browser cache (ASVS 14.2.2).
NO_STORE = {"Cache-Control": "no-store"}


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
        for name in ("status", "channel"):
            if args.get(name):
                stmt = stmt.where(getattr(Complaint, name) == args[name])
        return paginate(stmt, Complaint.id, args)

    @public
    @blp.arguments(ComplaintCreateSchema)
    @blp.response(201, ComplaintReceiptSchema)
    def post(self, data):
        """Report a suspected violation (Art. 20). No token needed; limited per address
        (429 with Retry-After beyond the limit). Your identity, if you give it, is seen
        by the finance department alone. Leave a phone number or e-mail address to be given a
        receipt code, shown once, to look up the report's status."""
        receipt = complaints.submit(data, client_address=client_address())
        db.session.commit()
        return receipt, 201, NO_STORE


@blp.route("/complaints/form")
class ComplaintForm(MethodView):
    @public
    @blp.response(200, ComplaintFormSchema)
    def get(self):
        """How to report a suspected violation (Art. 20): the hotlines (举报电话), where to send the
        written report and how to follow it up. No token needed."""
        per_window, seconds = complaints.rate_limit()
        return {"hotlines": complaints.hotlines(), "submit": "/api/v1/complaints",
                "status_lookup": "/api/v1/complaints/status",
                "instructions": "可拨打举报电话，或通过本表单书面举报，写明被举报单位和违规事实，可附支付凭证号。"
                                "举报人信息依法保密，仅由财政部门掌握。留下联系电话或电子邮箱的，将获得一个回执码"
                                "（仅显示一次），凭回执码可查询举报的办理状态。",
                "reports_per_window": per_window, "window_seconds": seconds}


@blp.route("/complaints/status")
class ComplaintStatus(MethodView):
    @public
    @blp.arguments(ReceiptCodeSchema)
    @blp.response(200, ComplaintPublicStatusSchema)
    def post(self, data):
        """The status of your report, by its receipt code (in the body, never in the URL): received,
        being handled or concluded, with dates. A wrong or unknown code is 404; look-ups are
        limited per address (429 with Retry-After)."""
        complaints.count_lookup(client_address(), utcnow())
        db.session.commit()  # the count holds whether the code is found or not
        return complaints.status_by_receipt_code(data["receipt_code"]), 200, NO_STORE


@blp.route("/complaints/phone")
class PhoneComplaints(MethodView):
    @blp.arguments(PhoneComplaintSchema)
    @blp.response(201, PhoneReceiptSchema)
    def post(self, data):
        """Finance records a report received on a hotline (Art. 20): when the call came in; the
        officer is the caller. Routed and triaged as a written report; the receipt code, if the
        caller left a contact, is in this answer only."""
        receipt = complaints.record_phone(current_actor(), data)
        db.session.commit()
        return receipt, 201, NO_STORE


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

"""Registers that make payments legitimate (issue 11): account changes reported by units
(Art. 13(一)), the register of approved 归垫 (Art. 10(三)10, 13(三)5, 13(四)) and units' internal
rules for special funds (Art. 17). Each list is scoped by reach: a unit its own, a competent
department its units', finance its region's."""
import marshmallow as ma
from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.evidence import DOWNLOAD_HEADERS, UPLOAD_DOC
from api.fields import AwareDateTime, Date, Integer
from api.pagination import PageQuery, page_schema, paginate
from workflow import registers
from workflow.accounts import ACCOUNT_CHANGES, ACCOUNT_KINDS, AccountChangeReport
from workflow.db import db
from workflow.errors import Invalid
from workflow.monitoring.models import SPECIAL_FUND_RULES_STATUSES, ReimbursementApproval, SpecialFundRules
from workflow.schemas import Money, positive
from workflow.settings import current

blp = Blueprint("registers", __name__, url_prefix="/api/v1",
                description="Registers: account changes (Art. 13(一)), approved 归垫 (Art. 13(三)5, 13(四)), "
                            "internal rules for special funds (Art. 17)")

NUMBER = ma.validate.Regexp(r"^[0-9A-Za-z-]{4,40}$", error="letters, digits and '-' only, 4 to 40 of them")


# --- account changes (Art. 13(一)) ---------------------------------------------------------------

class AccountChangeReportSchema(ma.Schema):
    id = Integer(dump_only=True)
    unit_code = ma.fields.String(required=True)
    number = ma.fields.String(required=True, validate=NUMBER)
    change = ma.fields.String(required=True, validate=ma.validate.OneOf(ACCOUNT_CHANGES),
                              metadata={"description": "开立 opened, 变更 changed, 撤销 closed at the bank"})
    changed_on = Date(required=True, metadata={"description": "the day it happened at the bank"})
    details = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))
    bank_code = ma.fields.String(load_only=True, metadata={"description": "opened: the agent bank"})
    kind = ma.fields.String(load_only=True, validate=ma.validate.OneOf(ACCOUNT_KINDS),
                            metadata={"description": "opened: the account's kind"})
    account_id = Integer(dump_only=True)
    due_at = AwareDateTime(dump_only=True, metadata={"description": "end of the fifth working day after changed_on"})
    late = ma.fields.Boolean(dump_only=True)
    warning_id = Integer(dump_only=True, allow_none=True)
    reported_at = AwareDateTime(dump_only=True)


class AccountChangeReportQuery(PageQuery):
    late = ma.fields.Boolean()


@blp.route("/account-changes")
class AccountChanges(MethodView):
    @blp.arguments(AccountChangeReportQuery, location="query")
    @blp.response(200, page_schema(AccountChangeReportSchema))
    def get(self, args):
        """Reports of account changes in reach (``late`` filter)."""
        stmt = registers.account_changes_for(current_actor())
        if args.get("late") is not None:
            stmt = stmt.where(AccountChangeReport.late.is_(args["late"]))
        return paginate(stmt, AccountChangeReport.id, args)

    @blp.arguments(AccountChangeReportSchema)
    @blp.response(201, AccountChangeReportSchema)
    def post(self, data):
        """A unit reports a change of its account at the bank (finance may record one for a unit of
        its region); later than five working days after ``changed_on`` opens a warning."""
        row = registers.report_account_change(current_actor(), data)
        db.session.commit()
        return row


@blp.route("/account-changes/<int:report_id>")
class AccountChange(MethodView):
    @blp.response(200, AccountChangeReportSchema)
    def get(self, report_id):
        return registers.get_account_change(current_actor(), report_id)


# --- approved 归垫 (Art. 10(三)10, 13(三)5, 13(四)) ------------------------------------------------

class DrawSchema(ma.Schema):
    payment_id = Integer()
    amount = Money()
    returned = ma.fields.Boolean(metadata={"description": "the payment was refused and gave the amount back"})
    created_at = AwareDateTime()


class AdvanceSchema(ma.Schema):
    id = Integer(dump_only=True)
    unit_code = ma.fields.String(required=True)
    indicator_id = Integer(required=True, metadata={"description": "the indicator the money goes back from"})
    amount = Money(required=True, validate=positive)
    remaining = Money(dump_only=True, metadata={"description": "what payments claiming it may still draw"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))
    document_ref = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200), metadata={
        "description": "the approval document; a payment claims it as exception_ref"})
    created_at = AwareDateTime(dump_only=True)


class AdvanceDetailSchema(AdvanceSchema):
    draws = ma.fields.List(ma.fields.Nested(DrawSchema), dump_only=True,
                           metadata={"description": "the payments honoured on it, in order"})


@blp.route("/reimbursements")
class Advances(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_schema(AdvanceSchema))
    def get(self, args):
        """Approved 归垫 in reach (Art. 13(三)5, 13(四)): each with what is left."""
        return paginate(registers.advances_for(current_actor()), ReimbursementApproval.id, args)

    @blp.arguments(AdvanceSchema)
    @blp.response(201, AdvanceSchema)
    def post(self, data):
        """Finance enters a 归垫 it approved; a payment claiming exception 5 with ``document_ref`` is
        honoured only while the entry has money left for it, and draws it down."""
        row = registers.register_advance(current_actor(), data)
        db.session.commit()
        return row


@blp.route("/reimbursements/<int:entry_id>")
class Advance(MethodView):
    @blp.response(200, AdvanceDetailSchema)
    def get(self, entry_id):
        """One entry with the payments that drew on it."""
        return registers.get_advance(current_actor(), entry_id)


# --- internal rules for special funds (Art. 17) ----------------------------------------------------

class SpecialFundRulesSchema(ma.Schema):
    id = Integer(dump_only=True)
    unit_code = ma.fields.String(required=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200),
                            metadata={"description": "e.g. 群众联建工作经费管理办法"})
    fund_code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200), metadata={
        "description": "the special fund, as its indicators name it (their project)"})
    document_ref = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    status = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(SPECIAL_FUND_RULES_STATUSES))
    status_reason = ma.fields.String(dump_only=True, allow_none=True)
    filename = ma.fields.String(dump_only=True, allow_none=True)
    size = Integer(dump_only=True, allow_none=True)
    sha256 = ma.fields.String(dump_only=True, allow_none=True)
    decided_at = AwareDateTime(dump_only=True, allow_none=True)
    created_at = AwareDateTime(dump_only=True)


class SpecialFundRulesQuery(PageQuery):
    status = ma.fields.String(validate=ma.validate.OneOf(SPECIAL_FUND_RULES_STATUSES),
                              metadata={"description": "pending: finance's list of filings awaiting it"})


class RejectReasonSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1000))


@blp.route("/special-fund-rules")
class SpecialFundRulesList(MethodView):
    @blp.arguments(SpecialFundRulesQuery, location="query")
    @blp.response(200, page_schema(SpecialFundRulesSchema))
    def get(self, args):
        """Internal rules for special funds in reach (``status`` filter)."""
        stmt = registers.special_fund_rules_for(current_actor())
        if args.get("status"):
            stmt = stmt.where(SpecialFundRules.status == args["status"])
        return paginate(stmt, SpecialFundRules.id, args)

    @blp.arguments(SpecialFundRulesSchema)
    @blp.response(201, SpecialFundRulesSchema)
    def post(self, data):
        """A unit files its internal rules for a special fund; they apply once finance approves them."""
        row = registers.file_special_fund_rules(current_actor(), data)
        db.session.commit()
        return row


@blp.route("/special-fund-rules/<int:filing_id>")
class SpecialFundRulesItem(MethodView):
    @blp.response(200, SpecialFundRulesSchema)
    def get(self, filing_id):
        return registers.get_special_fund_rules(current_actor(), filing_id)


@blp.route("/special-fund-rules/<int:filing_id>/file")
class SpecialFundRulesFile(MethodView):
    @blp.doc(responses={"200": {"description": "The rules' text, as an attachment",
                                "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                     "format": "binary"}}}}})
    def get(self, filing_id):
        """Download the rules' text (404 if none is attached or the filing is out of reach)."""
        row = registers.get_special_fund_rules(current_actor(), filing_id)
        path = registers.special_fund_rules_file(row, current().upload_dir)
        response = send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.filename,
                             max_age=0, etag=row.sha256)
        response.headers["Content-Type"] = row.content_type
        response.headers.update(DOWNLOAD_HEADERS)
        return response

    @blp.doc(**UPLOAD_DOC)
    @blp.response(200, SpecialFundRulesSchema)
    def post(self, filing_id):
        """The filing unit attaches the rules' text while the filing is pending: checked by size,
        extension and content like evidence (413, 422)."""
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("no file uploaded", {"file": ["missing"]})
        limit = current().evidence_max_bytes
        data = upload.stream.read(limit + 1)  # one byte more tells "too large" without reading it all
        row = registers.attach_special_fund_rules_text(current_actor(), filing_id, data=data, filename=upload.filename,
                                                       declared_type=upload.mimetype, upload_dir=current().upload_dir,
                                                       max_bytes=limit)
        db.session.commit()
        return row


@blp.route("/special-fund-rules/<int:filing_id>/approve")
class SpecialFundRulesApprove(MethodView):
    @blp.response(200, SpecialFundRulesSchema)
    def post(self, filing_id):
        """Finance approves the rules (审定备案, Art. 17); payments from the fund are then not warned."""
        row = registers.decide_special_fund_rules(current_actor(), filing_id, "approve")
        db.session.commit()
        return row


@blp.route("/special-fund-rules/<int:filing_id>/reject")
class SpecialFundRulesReject(MethodView):
    @blp.arguments(RejectReasonSchema)
    @blp.response(200, SpecialFundRulesSchema)
    def post(self, data, filing_id):
        """Finance rejects the rules with its reason; the unit files revised rules anew."""
        row = registers.decide_special_fund_rules(current_actor(), filing_id, "reject", data["reason"])
        db.session.commit()
        return row

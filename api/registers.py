"""Registers that make payments legitimate (issue 11): account changes reported by units
(Art. 13(一)), the register of approved 归垫 (Art. 10(三)10, 13(三)5, 13(四)) and units' internal
rules for special funds (Art. 17). Each list is scoped by reach: a unit its own, a competent
department its units', finance its region's."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import AwareDateTime, Date, Integer
from api.pagination import PageQuery, page_schema, paginate
from workflow import registers
from workflow.accounts import ACCOUNT_CHANGES, ACCOUNT_KINDS, AccountChangeReport
from workflow.db import db
from workflow.monitoring.models import ReimbursementApproval
from workflow.schemas import Money, positive

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

"""Individual payees filed with finance (Art. 16)."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import AwareDateTime, Integer
from api.pagination import PageQuery, page_schema, paginate
from api.patching import ChangeSchema
from workflow.db import db
from workflow.monitoring import payees
from workflow.monitoring.models import PAYEE_STATUSES, PayeeRegistration
from workflow.parties import Organisation

blp = Blueprint("payees", __name__, url_prefix="/api/v1", description="Individual payees (Art. 16)")

ID_NUMBER = ma.validate.Regexp(r"^([0-9]{17}[0-9Xx]|[0-9]{15})$", error="an identity card number of 18 (or 15) characters")
ACCOUNT = ma.validate.Regexp(r"^[0-9A-Za-z-]{4,64}$", error="letters, digits and '-' only, 4 to 64 of them")


class PayeeSchema(ma.Schema):
    id = Integer(dump_only=True)
    unit_code = ma.fields.String(required=True)
    id_number = ma.fields.String(required=True, validate=ID_NUMBER)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    employer = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    account = ma.fields.String(required=True, validate=ACCOUNT)
    status = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(PAYEE_STATUSES), metadata={
        "description": "pending until finance confirms (核实确认, Art. 16); only a confirmed filing makes "
                       "payments to the person legitimate"})
    status_reason = ma.fields.String(dump_only=True, allow_none=True, metadata={"description": "why finance rejected it"})
    decided_at = AwareDateTime(dump_only=True, allow_none=True)
    created_at = AwareDateTime(dump_only=True)
    updated_at = AwareDateTime(dump_only=True)


class RejectSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1000))


class PayeeChangeSchema(ChangeSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    employer = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    title = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    account = ma.fields.String(validate=ACCOUNT)


class PayeeQuery(PageQuery):
    unit_code = ma.fields.String()
    id_number = ma.fields.String()
    status = ma.fields.String(validate=ma.validate.OneOf(PAYEE_STATUSES),
                              metadata={"description": "pending: finance's list of filings awaiting confirmation"})


@blp.route("/payees")
class Payees(MethodView):
    @blp.arguments(PayeeQuery, location="query")
    @blp.response(200, page_schema(PayeeSchema))
    def get(self, args):
        """List filed payees: a unit its own, finance its jurisdiction's (``status=pending``: those
        awaiting its confirmation)."""
        stmt = payees.payees_for(current_actor())
        if args.get("status"):
            stmt = stmt.where(PayeeRegistration.status == args["status"])
        if args.get("unit_code"):
            stmt = stmt.where(PayeeRegistration.unit_id.in_(
                db.select(Organisation.id).where(Organisation.code == args["unit_code"])))
        if args.get("id_number"):
            stmt = stmt.where(PayeeRegistration.id_number == args["id_number"].upper())
        return paginate(stmt, PayeeRegistration.id, args)

    @blp.arguments(PayeeSchema)
    @blp.response(201, PayeeSchema)
    def post(self, data):
        """File an individual payee (a unit for itself; finance for a unit in its jurisdiction)."""
        row = payees.file_payee(current_actor(), data)
        db.session.commit()
        return row


@blp.route("/payees/<int:payee_id>")
class Payee(MethodView):
    @blp.response(200, PayeeSchema)
    def get(self, payee_id):
        return payees.get_payee(current_actor(), payee_id)

    @blp.arguments(PayeeChangeSchema)
    @blp.response(200, PayeeSchema)
    def patch(self, changes, payee_id):
        """Correct a filing: a new account, employer or title. A unit's change waits for finance's
        confirmation again (status ``pending``); finance's keeps the status."""
        row = payees.change_payee(current_actor(), payee_id, changes)
        db.session.commit()
        return row


@blp.route("/payees/<int:payee_id>/confirm")
class PayeeConfirm(MethodView):
    @blp.response(200, PayeeSchema)
    def post(self, payee_id):
        """Finance confirms a pending filing (核实确认, Art. 16); 403 for anyone else, 409 unless pending."""
        row = payees.confirm_payee(current_actor(), payee_id)
        db.session.commit()
        return row


@blp.route("/payees/<int:payee_id>/reject")
class PayeeReject(MethodView):
    @blp.arguments(RejectSchema)
    @blp.response(200, PayeeSchema)
    def post(self, data, payee_id):
        """Finance rejects a pending filing with its reason; the unit may correct it and file again."""
        row = payees.reject_payee(current_actor(), payee_id, data["reason"])
        db.session.commit()
        return row

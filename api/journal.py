"""The journal of a record (操作日志): every action on it, SHA-256 chained, oldest first.

Each list has the visibility of its record: a warning, notice, payment, complaint, bank
account or payee filing the caller cannot see answers 404 here as well.
"""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import AwareDateTime, Integer
from api.pagination import PageQuery, page_schema, paginate
from workflow import budget, complaints, documents, verification
from workflow.journal import ACTIONS, PUBLIC, STREAM_ACTIONS, JournalEntry, entries_of, stream_of
from workflow.monitoring.payees import get_payee
from workflow.monitoring.payments import get_payment
from workflow.parties import ORG_KINDS, Actor

blp = Blueprint("journal", __name__, url_prefix="/api/v1",
                description="The tamper-evident journal of warnings, payments, complaints and notices")


class JournalActorSchema(ma.Schema):
    user_id = Integer(allow_none=True, metadata={"description": "null for the system or the public"})
    name = ma.fields.String(allow_none=True)


class JournalPartySchema(ma.Schema):
    org_id = Integer(allow_none=True)
    kind = ma.fields.String(validate=ma.validate.OneOf((*ORG_KINDS, Actor.system().kind, PUBLIC.kind)))
    code = ma.fields.String(allow_none=True)


class JournalEntrySchema(ma.Schema):
    id = Integer()
    stream = ma.fields.String(metadata={"description": "e.g. warning:42"})
    seq = Integer(metadata={"description": "1, 2, ... within the stream"})
    action = ma.fields.String(validate=ma.validate.OneOf(ACTIONS), metadata={
        "description": "by stream: " + "; ".join(f"{kind}: {', '.join(actions)}" for kind, actions in STREAM_ACTIONS.items())})
    actor = ma.fields.Nested(JournalActorSchema, attribute="actor_ref")
    party = ma.fields.Nested(JournalPartySchema, attribute="party_ref")
    payload = ma.fields.Dict()
    created_at = AwareDateTime()
    prev_hash = ma.fields.String(metadata={"description": "the previous entry's hash; 64 zeros for the first"})
    hash = ma.fields.String(metadata={"description": "SHA-256 over prev_hash and the entry's canonical JSON"})


JournalPage = page_schema(JournalEntrySchema)


@blp.route("/warnings/<int:warning_id>/events")
class WarningEvents(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, JournalPage)
    def get(self, args, warning_id):
        """What was done on the warning: steps, answers, the decision (404 unless the caller
        may see the warning; a joint investigation only for finance and the body asked)."""
        return paginate(verification.history(current_actor(), warning_id), JournalEntry.id, args)


@blp.route("/documents/<int:document_id>/events")
class DocumentEvents(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, JournalPage)
    def get(self, args, document_id):
        """The notice's issue (with the SHA-256 of its HTML) and acknowledgement (404 unless
        the caller may see the notice)."""
        return paginate(documents.history(current_actor(), document_id), JournalEntry.id, args)


@blp.route("/payments/<int:payment_id>/events")
class PaymentEvents(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, JournalPage)
    def get(self, args, payment_id):
        """Releases and refusals of the payment after screening (404 unless the caller may see it)."""
        payment = get_payment(current_actor(), payment_id)
        return paginate(entries_of(stream_of("payment", payment.id)), JournalEntry.id, args)


@blp.route("/complaints/<int:complaint_id>/events")
class ComplaintEvents(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, JournalPage)
    def get(self, args, complaint_id):
        """The report's receipt and triage (finance; never the reporter's identity)."""
        return paginate(complaints.history(current_actor(), complaint_id), JournalEntry.id, args)


@blp.route("/accounts/<int:account_id>/events")
class AccountEvents(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, JournalPage)
    def get(self, args, account_id):
        """The account's record and each change of its registration or status (Art. 13(一);
        404 unless the caller may see the account)."""
        account = budget.get_account(current_actor(), account_id)
        return paginate(entries_of(stream_of("account", account.id)), JournalEntry.id, args)


@blp.route("/payees/<int:payee_id>/events")
class PayeeEvents(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, JournalPage)
    def get(self, args, payee_id):
        """The payee's filing and each correction (Art. 16; identity numbers masked; 404
        unless the caller may see the filing)."""
        payee = get_payee(current_actor(), payee_id)
        return paginate(entries_of(stream_of("payee", payee.id)), JournalEntry.id, args)

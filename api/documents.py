"""Numbered notices: metadata, the printable notice, the addressee's acknowledgement."""
import marshmallow as ma
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import AwareDateTime, Integer
from api.orgs import OrgRefSchema
from api.pagination import PageQuery, page_schema, paginate
from workflow import documents
from workflow.db import db
from workflow.documents import KINDS, Document

blp = Blueprint("documents", __name__, url_prefix="/api/v1",
                description="Numbered notices (约谈通知书, 实地核证通知书, 关注函, 处理决定, 责令整改意见, 通报, 移送函)")

# The stored notice is our own HTML with inline CSS only: nothing else may load or run.
HTML_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Cache-Control": "private, no-store",
}


class DocumentSchema(ma.Schema):
    id = Integer()
    kind = ma.fields.String(validate=ma.validate.OneOf(tuple(KINDS)))
    title = ma.fields.String()
    number = ma.fields.String(metadata={"description": "编号, e.g. 2026年第3号"})
    issuer = ma.fields.Nested(OrgRefSchema)
    addressee = ma.fields.Nested(OrgRefSchema)
    case_id = Integer(allow_none=True)
    warning_id = Integer(allow_none=True)
    issued_at = AwareDateTime()
    acknowledged_at = AwareDateTime(allow_none=True)


@blp.route("/documents/<int:document_id>")
class DocumentView(MethodView):
    @blp.response(200, DocumentSchema)
    def get(self, document_id):
        """A notice's metadata (404 unless the caller may see it)."""
        return documents.get_document(current_actor(), document_id)


@blp.route("/documents/<int:document_id>/html")
class DocumentHtml(MethodView):
    @blp.doc(responses={"200": {"description": "The printable notice, as issued",
                                "content": {"text/html": {"schema": {"type": "string"}}}}})
    def get(self, document_id):
        """The printable notice (A4), exactly as it was rendered when issued."""
        document = documents.get_document(current_actor(), document_id)
        return Response(document.html, mimetype="text/html", headers=HTML_HEADERS)


@blp.route("/documents/<int:document_id>/acknowledge")
class DocumentAcknowledge(MethodView):
    @blp.response(200, DocumentSchema)
    def post(self, document_id):
        """The addressee acknowledges receipt (the annex forms' signed and stamped return).
        403 for other parties who can see it, 409 if already acknowledged."""
        document = documents.acknowledge(current_actor(), document_id)
        db.session.commit()
        return document


@blp.route("/cases/<int:case_id>/documents")
class CaseDocuments(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_schema(DocumentSchema))
    def get(self, args, case_id):
        """The case's notices, each with its number (404 unless the caller may see the case)."""
        stmt = documents.case_documents(current_actor(), case_id)
        return paginate(stmt, Document.id, args)

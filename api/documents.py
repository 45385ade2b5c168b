"""Numbered notices: the caller's own list, metadata, the printable notice (HTML and PDF), the
addressee's acknowledgement with its signed copy."""
import marshmallow as ma
from flask import Response, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.evidence import DOWNLOAD_HEADERS
from api.fields import AwareDateTime, Integer
from api.orgs import OrgRefSchema
from api.pagination import PageQuery, page_schema, paginate
from workflow.pdf import render_pdf
from workflow import documents
from workflow.db import db
from workflow.documents import KINDS, Document
from workflow.evidence import SERVED_CONTENT_TYPES
from workflow.files import checked_upload
from workflow.settings import current

blp = Blueprint("documents", __name__, url_prefix="/api/v1",
                description="Numbered notices (约谈通知书, 实地核证通知书, 关注函, 处理决定, 责令整改意见, 通报, 移送函)")

# The stored notice is our own HTML with inline CSS only: nothing else may load or run.
HTML_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Cache-Control": "private, no-store",
}
PDF_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}


class SignedCopySchema(ma.Schema):
    filename = ma.fields.String(attribute="signed_filename")
    content_type = ma.fields.String(attribute="signed_content_type", validate=ma.validate.OneOf(SERVED_CONTENT_TYPES))
    size = Integer(attribute="signed_size")
    sha256 = ma.fields.String(attribute="signed_sha256")


class DocumentSchema(ma.Schema):
    id = Integer()
    kind = ma.fields.String(validate=ma.validate.OneOf(tuple(KINDS)))
    title = ma.fields.String()
    number = ma.fields.String(metadata={"description": "编号, e.g. 2026年第3号"})
    year = Integer()
    issuer = ma.fields.Nested(OrgRefSchema)
    addressee = ma.fields.Nested(OrgRefSchema)
    case_id = Integer(allow_none=True)
    warning_id = Integer(allow_none=True)
    issued_at = AwareDateTime()
    acknowledged_at = AwareDateTime(allow_none=True)
    signed_copy = ma.fields.Method("_signed_copy", metadata={
        "description": "the signed and stamped copy returned with the acknowledgement, if any "
                       "(download: /documents/{id}/signed-copy)",
        "type": "object", "nullable": True, "properties": {
            "filename": {"type": "string"},
            "content_type": {"type": "string", "enum": list(SERVED_CONTENT_TYPES)}, "size": {"type": "integer"}, "sha256": {"type": "string"}}})

    def _signed_copy(self, document: Document):
        return SignedCopySchema().dump(document) if document.signed_stored_name else None


DocumentPage = page_schema(DocumentSchema)  # one component, for both lists


class DocumentQuery(PageQuery):
    kind = ma.fields.String(validate=ma.validate.OneOf(tuple(KINDS)))
    year = Integer(validate=ma.validate.Range(min=2000, max=2099),
                   metadata={"description": "the year of the number (编号的年度, Beijing time)"})
    unacknowledged = ma.fields.Boolean(metadata={
        "description": "true: only notices their addressee has not acknowledged yet; false: only acknowledged ones"})


@blp.route("/documents")
class Documents(MethodView):
    @blp.arguments(DocumentQuery, location="query")
    @blp.response(200, DocumentPage)
    def get(self, args):
        """The notices the caller's party issued or received (as addressee, as the competent
        department copied, or in the scope of a 通报, Art. 21(五)): its own only."""
        stmt = documents.own_documents(current_actor(), kind=args.get("kind"), year=args.get("year"),
                                       unacknowledged=args.get("unacknowledged"))
        return paginate(stmt, Document.id, args)


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


@blp.route("/documents/<int:document_id>/pdf")
class DocumentPdf(MethodView):
    @blp.doc(responses={"200": {"description": "The notice as a PDF (A4), typeset from the HTML stored when it "
                                               "was issued, so both say the same; CJK fonts from the system",
                                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, document_id):
        """The printable notice as PDF, beside ``/html``: the same stored HTML, typeset."""
        document = documents.get_document(current_actor(), document_id)
        return Response(render_pdf(document.html), mimetype="application/pdf", headers={
            **PDF_HEADERS, "Content-Disposition": f"inline; filename=document-{document.id}.pdf"})


ACKNOWLEDGE_DOC = {
    "requestBody": {
        "required": False,
        "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "the signed and stamped copy (optional): pdf, png, jpg, ofd, docx, xlsx, txt "
                                    "or csv; checked by content, as case evidence is"}}}}},
    }
}


@blp.route("/documents/<int:document_id>/acknowledge")
class DocumentAcknowledge(MethodView):
    @blp.doc(**ACKNOWLEDGE_DOC)
    @blp.response(200, DocumentSchema)
    def post(self, document_id):
        """The addressee acknowledges receipt (the annex forms' signed and stamped return), with
        the signed copy as ``file`` if it has one. 403 for other parties who can see it, 409 if
        already acknowledged, 413 over the size limit, 422 for a file outside the allowlist."""
        actor = current_actor()
        upload = request.files.get("file")
        copy = None
        if upload is not None:
            documents.acknowledgeable(actor, document_id)  # 404, 403, 409 before the file is read
            limit = current().evidence_max_bytes
            data = upload.stream.read(limit + 1)  # one byte more tells "too large" without reading it all
            copy = checked_upload(data, upload.filename, upload.mimetype, limit)
        document = documents.acknowledge(actor, document_id, signed_copy=copy, upload_dir=current().upload_dir)
        db.session.commit()
        return document


@blp.route("/documents/<int:document_id>/signed-copy")
class DocumentSignedCopy(MethodView):
    @blp.doc(responses={"200": {"description": "The signed copy, as an attachment",
                                "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                     "format": "binary"}}}}})
    def get(self, document_id):
        """The signed and stamped copy the addressee returned (404 unless the caller may see the
        notice and a copy was returned)."""
        document, path = documents.signed_copy_path(current_actor(), document_id, current().upload_dir)
        response = send_file(path, mimetype=document.signed_content_type, as_attachment=True,
                             download_name=document.signed_filename, max_age=0, etag=document.signed_sha256)
        response.headers["Content-Type"] = document.signed_content_type
        response.headers.update(DOWNLOAD_HEADERS)
        return response


@blp.route("/cases/<int:case_id>/documents")
class CaseDocuments(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, DocumentPage)
    def get(self, args, case_id):
        """The case's notices, each with its number (404 unless the caller may see the case)."""
        stmt = documents.case_documents(current_actor(), case_id)
        return paginate(stmt, Document.id, args)

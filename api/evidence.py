"""Evidence files on a case: upload (multipart), list, download as an attachment."""
import marshmallow as ma
from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import AwareDateTime, Integer
from api.pagination import PageQuery, page_schema, paginate
from workflow import evidence
from workflow.case_records import Evidence
from workflow.db import db
from workflow.errors import Invalid
from workflow.evidence import FILE_TYPES, SERVED_CONTENT_TYPES
from workflow.settings import current

blp = Blueprint("evidence", __name__, url_prefix="/api/v1", description="Evidence on cases (佐证材料)")

# Served bytes are the uploader's: never rendered inline, never sniffed, never scripted.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}


class EvidenceSchema(ma.Schema):
    id = Integer()
    case_id = Integer()
    filename = ma.fields.String()
    file_type = ma.fields.String(validate=ma.validate.OneOf(tuple(FILE_TYPES)))
    content_type = ma.fields.String(validate=ma.validate.OneOf(SERVED_CONTENT_TYPES))
    size = Integer()
    sha256 = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    uploader_org = ma.fields.Function(lambda e: e.uploader_org.code if e.uploader_org else None, metadata={"type": "string", "nullable": True})
    origin = ma.fields.Dict(allow_none=True, metadata={
        "description": "null for a file uploaded to the case; for one given at the warning stage and joined to "
                       "the case file when the warning was confirmed: stage (warning), warning_id, "
                       "warning_file_id, response_id (the answer it came with) or step_id and step_kind (the "
                       "step record it came with), confidential"})
    created_at = AwareDateTime()


UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "pdf, png, jpg, ofd, docx, xlsx, txt or csv; checked by content"},
            "note": {"type": "string", "maxLength": 1000}}}}},
    }
}


def _max_bytes() -> int:
    return current().evidence_max_bytes


@blp.route("/cases/<int:case_id>/evidence")
class CaseEvidence(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_schema(EvidenceSchema))
    def get(self, args, case_id):
        """The case's evidence, for whoever may see the case."""
        return paginate(evidence.evidence_of_case(current_actor(), case_id), Evidence.id, args)

    @blp.doc(**UPLOAD_DOC)
    @blp.response(201, EvidenceSchema)
    def post(self, case_id):
        """Attach a file (the case's subject, or finance). 413 over the size limit, 422 for a
        type outside the allowlist or content that does not match its extension."""
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("no file uploaded", {"file": ["missing"]})
        limit = _max_bytes()
        data = upload.stream.read(limit + 1)  # one byte more tells "too large" without reading it all
        row = evidence.add_evidence(current_actor(), case_id, data=data, filename=upload.filename,
                                    declared_type=upload.mimetype, note=request.form.get("note"),
                                    upload_dir=current().upload_dir, max_bytes=limit)
        db.session.commit()
        return row


@blp.route("/evidence/<int:evidence_id>/download")
class EvidenceDownload(MethodView):
    @blp.doc(responses={"200": {"description": "The file, as an attachment",
                                "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                     "format": "binary"}}}}})
    def get(self, evidence_id):
        """Download a file (404 unless the caller may see its case)."""
        row = evidence.get_evidence(current_actor(), evidence_id)
        path = evidence.path_of(row, current().upload_dir)
        response = send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.filename,
                             max_age=0, etag=row.sha256)
        # The stored type already names its charset ("text/plain; charset=utf-8"); Werkzeug would
        # append a second one to any text/* mimetype, so the header is set as stored.
        response.headers["Content-Type"] = row.content_type
        response.headers.update(DOWNLOAD_HEADERS)
        return response

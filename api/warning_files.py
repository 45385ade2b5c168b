"""Files and records at the warning stage: files attached to an answer (Art. 11(二)2, 26(二),
27(三)), the record an interview or an on-site check ends with (Art. 11(二)3), the warning's
files listed and downloaded. Checked, stored and served as case evidence is (``api.evidence``)."""
import marshmallow as ma
from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.evidence import DOWNLOAD_HEADERS, UPLOAD_DOC
from api.fields import AwareDateTime, Integer
from api.inputs import json_field
from api.pagination import PageQuery, page_schema, paginate
from workflow import verification_files
from workflow.db import db
from workflow.errors import Invalid
from workflow.files import FILE_TYPES, SERVED_CONTENT_TYPES
from workflow.settings import current
from workflow.verification_steps import STEP_KINDS
from workflow.warning_files import RECORD_STEP_KINDS, WarningFile

blp = Blueprint("warning-files", __name__, url_prefix="/api/v1",
                description="Files and records at the warning stage: answers with files (Art. 11(二)2, 26(二), "
                            "27(三)), records of interviews and on-site checks (约谈记录, 实地核证记录, Art. 11(二)3)")


class WarningFileSchema(ma.Schema):
    id = Integer()
    warning_id = Integer()
    response_id = Integer(allow_none=True, metadata={"description": "the answer it came with"})
    record_id = Integer(allow_none=True, metadata={"description": "the step record it came with"})
    step_id = Integer(allow_none=True, metadata={"description": "the step of that record"})
    filename = ma.fields.String()
    file_type = ma.fields.String(validate=ma.validate.OneOf(tuple(FILE_TYPES)))
    content_type = ma.fields.String(validate=ma.validate.OneOf(SERVED_CONTENT_TYPES))
    size = Integer()
    sha256 = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    confidential = ma.fields.Boolean(metadata={
        "description": "an answer to a joint investigation: only finance and the body asked see it"})
    uploader_org = ma.fields.String(attribute="uploader_org_code")
    created_at = AwareDateTime()


class StepRecordSchema(ma.Schema):
    id = Integer()
    step_id = Integer()
    warning_id = Integer()
    kind = ma.fields.String(validate=ma.validate.OneOf(RECORD_STEP_KINDS))
    title = ma.fields.Function(lambda r: STEP_KINDS[r.kind].record.title, metadata={
        "type": "string", "description": "约谈记录 or 实地核证记录"})
    article = ma.fields.Function(lambda r: STEP_KINDS[r.kind].article.chinese, metadata={"type": "string"})
    details = ma.fields.Dict(metadata={"description": "the record's fields: component StepRecord.<kind>"})
    org_code = ma.fields.String(metadata={"description": "the finance department that made it"})
    recorded_by_id = Integer(allow_none=True)
    files = ma.fields.List(ma.fields.Nested(WarningFileSchema))
    created_at = AwareDateTime()


RECORD_BODIES = {kind.record_schema.__name__: kind.record_schema for kind in STEP_KINDS.values() if kind.record}


def register_schemas(spec) -> None:
    """Each step kind's record body as a component (called once per app)."""
    for name, schema in RECORD_BODIES.items():
        spec.components.schema(name, {"description": schema.__doc__} if schema.__doc__ else None, schema=schema)


def _record_body_doc() -> dict:
    one_of = {"description": "the record's fields, as the step's kind takes them: component StepRecord.<kind>",
              "anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in RECORD_BODIES]}
    return {"requestBody": {"required": True, "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["record"], "properties": {
                "record": {**one_of, "description": "JSON text: " + one_of["description"]},
                "file": {"type": "array", "maxItems": max(k.record.attachments_max for k in STEP_KINDS.values()
                                                          if k.record),
                         "items": {"type": "string", "format": "binary"},
                         "description": "attachments (the signed record, photos): pdf, png, jpg, ofd, docx, xlsx, "
                                        "txt or csv; checked by content, as case evidence is"}}},
            "encoding": {"record": {"contentType": "application/json"}}},
        "application/json": {"schema": one_of}}}}


def _max_bytes() -> int:
    return current().evidence_max_bytes


def _read(upload, limit: int) -> tuple[bytes, str | None, str | None]:
    return upload.stream.read(limit + 1), upload.filename, upload.mimetype  # one byte more tells "too large"


@blp.route("/warnings/<int:warning_id>/responses/<int:response_id>/files")
class ResponseFiles(MethodView):
    @blp.doc(**UPLOAD_DOC)
    @blp.response(201, WarningFileSchema)
    def post(self, warning_id, response_id):
        """Attach a file to the caller's own answer on a warning (the unit's signed explanation,
        its competent department's or the bank's vouchers, contracts, statements; an oversight
        body's findings). 403 for another party's answer, 409 once the warning is decided, 413
        over the size limit, 422 for a type outside the allowlist or content that does not
        match its extension."""
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("no file uploaded", {"file": ["missing"]})
        limit = _max_bytes()
        data, filename, declared = _read(upload, limit)
        row = verification_files.add_response_file(
            current_actor(), warning_id, response_id, data=data, filename=filename, declared_type=declared,
            note=request.form.get("note"), upload_dir=current().upload_dir, max_bytes=limit)
        db.session.commit()
        return row


@blp.route("/warnings/<int:warning_id>/files")
class WarningFiles(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_schema(WarningFileSchema))
    def get(self, args, warning_id):
        """The files of the warning the caller sees: of the answers it sees and of the steps'
        records (404 unless the caller may see the warning)."""
        return paginate(verification_files.files_of_warning(current_actor(), warning_id), WarningFile.id, args)


@blp.route("/warning-files/<int:file_id>/download")
class WarningFileDownload(MethodView):
    @blp.doc(responses={"200": {"description": "The file, as an attachment",
                                "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                     "format": "binary"}}}}})
    def get(self, file_id):
        """Download a file (404 unless the caller sees what it belongs to)."""
        row = verification_files.get_warning_file(current_actor(), file_id)
        response = send_file(verification_files.path_of(row, current().upload_dir), mimetype=row.content_type,
                             as_attachment=True, download_name=row.filename, max_age=0, etag=row.sha256)
        response.headers["Content-Type"] = row.content_type  # as stored, with its charset (api.evidence)
        response.headers.update(DOWNLOAD_HEADERS)
        return response


@blp.route("/warnings/<int:warning_id>/steps/<int:step_id>/record")
class StepRecordView(MethodView):
    @blp.doc(**_record_body_doc())
    @blp.response(201, StepRecordSchema)
    def post(self, warning_id, step_id):
        """Finance records an interview or an on-site check (约谈记录, 实地核证记录; Art. 11(二)3:
        written and electronic records, archived): JSON, or multipart with the record as the
        JSON part ``record`` and its attachments as ``file`` parts. Once per step, never changed
        (409 for a second record, for a step of another kind, or once the warning is decided);
        413 for a file over the size limit, 422 naming the field or file; nothing is written
        unless everything is."""
        if request.is_json:
            data, files = request.get_json(silent=True), []
        else:
            raw = request.form.get("record")
            if raw is None:
                raise Invalid("the record's fields come as the JSON part record", {"record": ["missing"]})
            data, files = json_field(raw, "record"), request.files.getlist("file")
        limit = _max_bytes()
        row = verification_files.make_record(current_actor(), warning_id, step_id, data,
                                             attachments=[_read(upload, limit) for upload in files],
                                             upload_dir=current().upload_dir, max_bytes=limit)
        db.session.commit()
        return row

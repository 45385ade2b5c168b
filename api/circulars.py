"""Circulars of common problems (问题通报, Art. 11(四), 26(三)): finance compiles one from chosen
statistics and typical cases and sends it to the competent departments of its level (and their
units) for a self-check; each recipient answers with its result and files."""
import marshmallow as ma
from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.evidence import DOWNLOAD_HEADERS
from api.fields import AwareDateTime, Date, Integer
from api.pagination import PageQuery, page_schema, paginate
from workflow import circulars, statistics
from workflow.circulars import Circular, CircularAnswer
from workflow.db import db
from workflow.errors import Invalid
from workflow.machines.circular import CIRCULAR, CIRCULAR_ANSWER
from workflow.schemas import choice
from workflow.settings import current

blp = Blueprint("circulars", __name__, url_prefix="/api/v1",
                description="Circulars of common problems and the recipients' self-checks (问题通报, 自查自纠; "
                            "Art. 11(四), 26(三))")

TEXT_MAX = 5000


class CircularCreateSchema(ma.Schema):
    from_ = Date(data_key="from", required=True, metadata={"description": "first local date of the statistics"})
    to = Date(required=True, metadata={"description": "last local date, included"})
    group_by = choice(statistics.GROUPINGS, load_default="unit")
    case_ids = ma.fields.List(Integer(), load_default=list, validate=ma.validate.Length(max=circulars.MAX_CASES),
                              metadata={"description": "typical cases, in the caller's reach"})
    anonymised = ma.fields.Boolean(load_default=True, metadata={
        "description": "hide the units' names and codes in the circular's text (default true)"})
    recipients = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=32)), load_default=None,
                                validate=ma.validate.Length(min=1, max=200), metadata={
                                    "description": "codes of competent departments of the caller's level "
                                                   "(default: all of them)"})
    include_units = ma.fields.Boolean(load_default=False, metadata={"description": "also send it to their units"})
    due_on = Date(required=True, metadata={"description": "the self-check is due by this local date (after today)"})
    requirements = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=500)), load_default=list,
                                  validate=ma.validate.Length(max=20))


class CircularFileSchema(ma.Schema):
    id = Integer()
    filename = ma.fields.String()
    file_type = ma.fields.String()
    content_type = ma.fields.String()
    size = Integer()
    sha256 = ma.fields.String()
    created_at = AwareDateTime()


class AnswerSchema(ma.Schema):
    id = Integer()
    circular_id = Integer()
    org_code = ma.fields.String()
    org_name = ma.fields.String()
    status = ma.fields.String(validate=ma.validate.OneOf(CIRCULAR_ANSWER.statuses))
    result = ma.fields.String(allow_none=True)
    answered_at = AwareDateTime(allow_none=True)
    files = ma.fields.List(ma.fields.Nested(CircularFileSchema))


class CircularSchema(ma.Schema):
    id = Integer()
    number = ma.fields.String(metadata={"description": "the document's number"})
    document_id = Integer()
    issuer_code = ma.fields.String()
    status = ma.fields.String(validate=ma.validate.OneOf(CIRCULAR.statuses))
    period = ma.fields.Function(lambda c: {"from": c.period_first.isoformat(), "to": c.period_last.isoformat()},
                                metadata={"type": "object"})
    group_by = ma.fields.String()
    figures = ma.fields.Dict(metadata={"description": "the statistics as they stood when compiled "
                                                      "(GET /statistics's answer)"})
    case_ids = ma.fields.List(Integer())
    anonymised = ma.fields.Boolean()
    include_units = ma.fields.Boolean()
    due_on = Date()
    created_at = AwareDateTime()
    closed_at = AwareDateTime(allow_none=True)


class CircularQuery(PageQuery):
    status = choice(CIRCULAR.statuses, load_default=None)


@blp.route("/circulars")
class Circulars(MethodView):
    @blp.arguments(CircularQuery, location="query")
    @blp.response(200, page_schema(CircularSchema))
    def get(self, args):
        """Circulars in reach: finance its own and, read-only, those of the regions below; a
        competent department or a unit those it received. Banks and oversight bodies: none."""
        return paginate(circulars.circulars_for(current_actor(), status=args.get("status")), Circular.id, args)

    @blp.arguments(CircularCreateSchema)
    @blp.response(201, CircularSchema)
    def post(self, data):
        """Finance compiles and issues a circular (Art. 11(四)): the statistics of a period and
        grouping (embedded), typical cases (anonymised by default), sent as a numbered document
        (问题通报) to the competent departments of its level (and their units) with a self-check
        due date; each gets it in its inbox and its document list. Others 403."""
        row = circulars.compile_circular(current_actor(), data)
        db.session.commit()
        return row


@blp.route("/circulars/<int:circular_id>")
class CircularItem(MethodView):
    @blp.response(200, CircularSchema)
    def get(self, circular_id):
        """A circular in reach (404 otherwise)."""
        return circulars.get_circular(current_actor(), circular_id)


@blp.route("/circulars/<int:circular_id>/close")
class CircularClose(MethodView):
    @blp.response(200, CircularSchema)
    def post(self, circular_id):
        """The issuing finance department closes the circular: no more answers (409 if closed)."""
        row = circulars.close_circular(current_actor(), circular_id)
        db.session.commit()
        return row


ANSWER_DOC = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["result"], "properties": {
        "result": {"type": "string", "maxLength": TEXT_MAX, "description": "the self-check result (自查自纠情况)"},
        "file": {"type": "array", "maxItems": circulars.MAX_FILES, "items": {"type": "string", "format": "binary"},
                 "description": "supporting files: pdf, png, jpg, ofd, docx, xlsx, txt or csv; checked by content"}}}},
    "application/json": {"schema": {"type": "object", "required": ["result"], "properties": {
        "result": {"type": "string", "maxLength": TEXT_MAX}}}}}}}


def _answer_input() -> tuple[str, list]:
    if request.mimetype == "multipart/form-data":
        result = request.form.get("result")
        limit = current().evidence_max_bytes
        uploads = [(f.stream.read(limit + 1), f.filename, f.mimetype) for f in request.files.getlist("file")]
    else:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise Invalid("a JSON object or a multipart form is expected", {"result": ["required"]})
        result, uploads = body.get("result"), []
    if not isinstance(result, str) or not result.strip():
        raise Invalid("the self-check result is required", {"result": ["required: the self-check result as text"]})
    if len(result) > TEXT_MAX:
        raise Invalid("the self-check result is too long", {"result": [f"at most {TEXT_MAX} characters"]})
    return result, uploads


@blp.route("/circulars/<int:circular_id>/answers")
class CircularAnswers(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_schema(AnswerSchema))
    def get(self, args, circular_id):
        """The answer status per recipient (finance: every recipient; a recipient: its own)."""
        return paginate(circulars.answers_of(current_actor(), circular_id), CircularAnswer.id, args)

    @blp.doc(**ANSWER_DOC)
    @blp.response(201, AnswerSchema)
    def post(self, circular_id):
        """A recipient answers with its self-check result (``result``) and files (``file`` parts),
        once (Art. 11(四), 26(三)): 409 for a second answer or a closed circular, 403 for finance,
        422 naming the field for a missing result or a file refused by its type or content."""
        actor = current_actor()
        circulars.get_circular(actor, circular_id)  # 404 before the body is read
        result, uploads = _answer_input()
        row = circulars.answer_circular(actor, circular_id, result=result, uploads=uploads,
                                        upload_dir=current().upload_dir, max_bytes=current().evidence_max_bytes)
        db.session.commit()
        return row


@blp.route("/circular-files/<int:file_id>/download")
class CircularFileDownload(MethodView):
    @blp.doc(responses={"200": {"description": "The file, as an attachment", "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, file_id):
        """Download a file of an answer the caller sees (404 otherwise)."""
        row = circulars.get_file(current_actor(), file_id)
        response = send_file(circulars.file_path(row, current().upload_dir), mimetype=row.content_type,
                             as_attachment=True, download_name=row.filename, max_age=0, etag=row.sha256)
        response.headers["Content-Type"] = row.content_type
        response.headers.update(DOWNLOAD_HEADERS)
        return response

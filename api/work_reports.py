"""Reports up the levels (Art. 11(五), 25(三)): a city or county finance department's periodic work
report to the finance department above, and major problems reported at once."""
import json

import marshmallow as ma
from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.evidence import DOWNLOAD_HEADERS
from api.fields import AwareDateTime, Date, Integer, Money
from api.pagination import PageQuery, page_schema, paginate
from workflow import work_reports
from workflow.db import db
from workflow.errors import Invalid
from workflow.machines.circular import WORK_REPORT
from workflow.schemas import choice
from workflow.settings import current
from workflow.work_reports import MajorProblem, WorkReport

blp = Blueprint("work-reports", __name__, url_prefix="/api/v1",
                description="Reports up the levels: periodic work reports and major problems (Art. 11(五), 25(三))")

NARRATIVE_MAX = 20000


class PeriodArgs(ma.Schema):
    from_ = Date(data_key="from", required=True, metadata={"description": "first local date of the period"})
    to = Date(required=True, metadata={"description": "last local date, included"})


class NarrativeSchema(ma.Schema):
    narrative = ma.fields.String(required=True, validate=ma.validate.Length(max=NARRATIVE_MAX),
                                 metadata={"description": "the department's account of its monitoring work"})


class WorkReportSchema(ma.Schema):
    id = Integer()
    org_code = ma.fields.String()
    org_name = ma.fields.String()
    upper_code = ma.fields.String(metadata={"description": "the finance department it reports to"})
    period = ma.fields.Function(lambda r: {"from": r.period_first.isoformat(), "to": r.period_last.isoformat()},
                                metadata={"type": "object"})
    status = ma.fields.String(validate=ma.validate.OneOf(WORK_REPORT.statuses))
    figures = ma.fields.Dict(metadata={"description": "the period's statistics grouped by the finance departments "
                                                      "below (GET /statistics?group_by=finance), as drafted"})
    narrative = ma.fields.String()
    created_at = AwareDateTime()
    submitted_at = AwareDateTime(allow_none=True)


class WorkReportQuery(PageQuery):
    status = choice(WORK_REPORT.statuses, load_default=None)
    org_code = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=32))


class OverviewItem(ma.Schema):
    org_code = ma.fields.String()
    org_name = ma.fields.String()
    level = ma.fields.String(allow_none=True)
    status = ma.fields.String(validate=ma.validate.OneOf(("missing",) + WORK_REPORT.statuses))
    report_id = Integer(allow_none=True, metadata={"description": "the submitted report"})
    submitted_at = AwareDateTime(allow_none=True)


class OverviewSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(OverviewItem))


@blp.route("/work-reports")
class WorkReports(MethodView):
    @blp.arguments(WorkReportQuery, location="query")
    @blp.response(200, page_schema(WorkReportSchema))
    def get(self, args):
        """The work reports of the finance departments of the caller's region (its own, and those
        below: the province its cities', a city its counties'). Finance only."""
        return paginate(work_reports.reports_for(current_actor(), status=args.get("status"),
                                                 org_code=args.get("org_code")), WorkReport.id, args)

    @blp.arguments(PeriodArgs)
    @blp.response(201, WorkReportSchema)
    def post(self, data):
        """A city or county finance department drafts its work report for a period, filled from
        the period's statistics (Art. 11(五)); 409 if it has one for the period, 403 for the
        province (no level above) and for other parties."""
        row = work_reports.create_draft(current_actor(), data["from_"], data["to"])
        db.session.commit()
        return row


@blp.route("/work-reports/overview")
class WorkReportOverview(MethodView):
    @blp.arguments(PeriodArgs, location="query")
    @blp.response(200, OverviewSchema)
    def get(self, args):
        """Who of the finance departments directly below has submitted its report for the period
        (``submitted``), has only a draft (``draft``) or nothing (``missing``). Finance only."""
        return {"items": work_reports.overview(current_actor(), args["from_"], args["to"])}


@blp.route("/work-reports/<int:report_id>")
class WorkReportItem(MethodView):
    @blp.response(200, WorkReportSchema)
    def get(self, report_id):
        """A report of the caller's region (404 otherwise; 403 for parties other than finance)."""
        return work_reports.get_report(current_actor(), report_id)

    @blp.arguments(NarrativeSchema)
    @blp.response(200, WorkReportSchema)
    def patch(self, data, report_id):
        """The reporting department writes its narrative while the report is a draft (409 once
        submitted; 403 for the level above, which reads it only)."""
        row = work_reports.edit_draft(current_actor(), report_id, data["narrative"])
        db.session.commit()
        return row


@blp.route("/work-reports/<int:report_id>/submit")
class WorkReportSubmit(MethodView):
    @blp.response(200, WorkReportSchema)
    def post(self, report_id):
        """Submit the report to the level above, which is told at once; immutable from then (409)."""
        row = work_reports.submit(current_actor(), report_id)
        db.session.commit()
        return row


# --- major problems ---------------------------------------------------------------------------------

class ProblemFileSchema(ma.Schema):
    id = Integer()
    filename = ma.fields.String()
    file_type = ma.fields.String()
    size = Integer()
    sha256 = ma.fields.String()


class MajorProblemSchema(ma.Schema):
    id = Integer(dump_only=True)
    org_code = ma.fields.String(dump_only=True)
    upper_code = ma.fields.String(dump_only=True)
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=NARRATIVE_MAX))
    amount = Money(load_default=None, allow_none=True)
    unit_codes = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=32)), load_default=list,
                                validate=ma.validate.Length(max=work_reports.MAX_UNITS))
    reported_at = AwareDateTime(dump_only=True)
    files = ma.fields.List(ma.fields.Nested(ProblemFileSchema), dump_only=True)


PROBLEM_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/MajorProblem"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["problem"], "properties": {
        "problem": {"type": "string", "description": "JSON text: the fields of the JSON body"},
        "file": {"type": "array", "maxItems": 10, "items": {"type": "string", "format": "binary"},
                 "description": "pdf, png, jpg, ofd, docx, xlsx, txt or csv; checked by content"}}},
        "encoding": {"problem": {"contentType": "application/json"}}}}}}


def _problem_input() -> tuple[dict, list]:
    uploads = []
    if request.mimetype == "multipart/form-data":
        text = request.form.get("problem")
        try:
            body = json.loads(text) if text is not None else None
        except ValueError:
            raise Invalid("the problem part is not JSON", {"problem": ["not JSON"]}) from None
        limit = current().evidence_max_bytes
        uploads = [(f.stream.read(limit + 1), f.filename, f.mimetype) for f in request.files.getlist("file")]
        if len(uploads) > 10:
            raise Invalid("too many files", {"file": ["at most 10"]})
    else:
        body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("a JSON object is expected", {"title": ["required"], "description": ["required"]})
    try:
        data = MajorProblemSchema().load(body)
    except ma.ValidationError as exc:
        raise Invalid("the major problem has bad fields", exc.normalized_messages()) from None
    return data, uploads


@blp.route("/major-problems")
class MajorProblems(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_schema(MajorProblemSchema))
    def get(self, args):
        """Major problems reported by the finance departments of the caller's region. Finance only."""
        return paginate(work_reports.problems_for(current_actor()), MajorProblem.id, args)

    @blp.doc(**PROBLEM_DOC)
    @blp.response(201, MajorProblemSchema)
    def post(self):
        """A city or county finance department reports a major problem at once (Art. 11(五)):
        JSON, or multipart with the JSON part ``problem`` and ``file`` parts. The finance
        department above is told immediately. 403 for the province and other parties."""
        actor = current_actor()
        work_reports.upper_of(actor)  # 403 before the body is read
        data, uploads = _problem_input()
        row = work_reports.report_problem(actor, data, uploads=uploads, upload_dir=current().upload_dir,
                                          max_bytes=current().evidence_max_bytes)
        db.session.commit()
        return row


@blp.route("/major-problems/<int:problem_id>")
class MajorProblemItem(MethodView):
    @blp.response(200, MajorProblemSchema)
    def get(self, problem_id):
        """A major problem of the caller's region (404 otherwise)."""
        return work_reports.get_problem(current_actor(), problem_id)


@blp.route("/major-problem-files/<int:file_id>/download")
class MajorProblemFileDownload(MethodView):
    @blp.doc(responses={"200": {"description": "The file, as an attachment", "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, file_id):
        """Download a file of a major problem the caller sees (404 otherwise)."""
        row = work_reports.get_problem_file(current_actor(), file_id)
        response = send_file(work_reports.problem_file_path(row, current().upload_dir), mimetype=row.content_type,
                             as_attachment=True, download_name=row.filename, max_age=0, etag=row.sha256)
        response.headers["Content-Type"] = row.content_type
        response.headers.update(DOWNLOAD_HEADERS)
        return response

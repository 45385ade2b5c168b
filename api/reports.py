"""Periodic analysis reports (监控分析报告, Art. 11(四)(五)): generate on demand, list, read, and the
XLSX annex of the report's tables. The report itself is a numbered document: its HTML and PDF are
the documents' routes (``/documents/{id}/html``, ``/documents/{id}/pdf``)."""
import io
from decimal import Decimal

import marshmallow as ma
from flask import send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from openpyxl import Workbook
from openpyxl.styles import Font

from api.auth import current_actor
from api.exports import XLSX, cell
from api.fields import AwareDateTime, Integer
from api.orgs import OrgRefSchema
from api.pagination import PageQuery, page_schema, paginate
from workflow import analysis_reports
from workflow.analysis_reports import PERIOD_KINDS, AnalysisReport
from workflow.db import db
from workflow.schemas import choice

blp = Blueprint("reports", __name__, url_prefix="/api/v1",
                description="Periodic analysis reports of each finance department (监控分析报告, Art. 11(四)(五))")


class ReportRequest(ma.Schema):
    kind = choice(PERIOD_KINDS, required=True)
    period = ma.fields.String(required=True, validate=ma.validate.Length(max=10), metadata={
        "description": "monthly: 2026-10; quarterly: 2026-Q4; annual: 2026. The period must have ended"})


class ReportDocumentSchema(ma.Schema):
    id = Integer()
    number = ma.fields.String()
    title = ma.fields.String()
    html = ma.fields.Function(lambda d: f"/api/v1/documents/{d.id}/html")
    pdf = ma.fields.Function(lambda d: f"/api/v1/documents/{d.id}/pdf")


class ReportSchema(ma.Schema):
    id = Integer()
    kind = ma.fields.String(attribute="period_kind", validate=ma.validate.OneOf(PERIOD_KINDS))
    period = ma.fields.Function(lambda r: r.tables["period"]["code"], metadata={"description": "2026-10, 2026-Q4, 2026"})
    label = ma.fields.Function(lambda r: r.tables["period"]["label"], metadata={"description": "2026年第四季度"})
    from_ = ma.fields.Date(attribute="first", data_key="from")
    to = ma.fields.Date(attribute="last")
    finance = ma.fields.Nested(OrgRefSchema)
    document = ma.fields.Nested(ReportDocumentSchema)
    annex = ma.fields.Function(lambda r: f"/api/v1/reports/{r.id}/annex.xlsx",
                               metadata={"description": "the tables as a workbook"})
    generated_by = ma.fields.String(validate=ma.validate.OneOf(("scheduler", "on_demand")))
    created_at = AwareDateTime()


class ReportQuery(PageQuery):
    kind = choice(PERIOD_KINDS)
    year = Integer(validate=ma.validate.Range(min=2000, max=2099), metadata={"description": "the year the period begins in"})
    finance_code = ma.fields.String(validate=ma.validate.Length(max=64),
                                    metadata={"description": "one department of the caller's region"})


@blp.route("/reports")
class Reports(MethodView):
    @blp.arguments(ReportQuery, location="query")
    @blp.response(200, page_schema(ReportSchema))
    def get(self, args):
        """The reports of the caller's finance department and of the departments below it
        (finance only; others 403)."""
        stmt = analysis_reports.reports_for(current_actor(), kind=args.get("kind"), year=args.get("year"),
                                            finance_code=args.get("finance_code"))
        return paginate(stmt, AnalysisReport.id, args)

    @blp.arguments(ReportRequest)
    @blp.response(201, ReportSchema)
    @blp.alt_response(200, schema=ReportSchema, description="The report of that period, issued before: a report "
                                                            "is not generated twice")
    def post(self, body):
        """Generate the caller's own department's report for a period that has ended (finance
        only). A period already reported answers the report issued then, 200; a new one 201."""
        generated = analysis_reports.generate(current_actor(), body["kind"], body["period"])
        db.session.commit()
        return generated.report, 201 if generated.created else 200


@blp.route("/reports/<int:report_id>")
class ReportView(MethodView):
    @blp.response(200, ReportSchema)
    def get(self, report_id):
        """A report of the caller's department or one below it (404 otherwise)."""
        return analysis_reports.get_report(current_actor(), report_id)


# The annex's sheets: (sheet title, table key, [(column title, row key)]).
ANNEX = (
    ("总体情况", "summary", [("指标", "label"), ("本期", "current"), ("上期", "previous"), ("增减", "difference"),
                         ("增减幅度（%）", "change")]),
    ("分月", "months", [("月份", "month"), ("监控支付笔数", "screened"), ("监控支付金额（元）", "amount"),
                      ("预警笔数", "raised"), ("预警涉及金额（元）", "warned_amount"), ("确认违规笔数", "confirmed"),
                      ("确认违规金额（元）", "confirmed_amount"), ("处理单", "cases")]),
    ("按规则", "rules", [("规则", "rule"), ("名称", "title"), ("预警", "raised"), ("拦截级", "block"),
                      ("确认", "confirmed"), ("排除", "dismissed"), ("待核实", "pending"),
                      ("确认率（%）", "confirmation_rate"), ("涉及金额（元）", "amount"),
                      ("确认违规金额（元）", "confirmed_amount")]),
    ("按单位", "units", [("单位代码", "code"), ("单位", "name"), ("监控支付笔数", "screened"),
                      ("监控支付金额（元）", "amount"), ("拦截", "intercepted"), ("预警", "raised"),
                      ("确认违规", "confirmed"), ("确认违规金额（元）", "confirmed_amount"),
                      ("确认率（%）", "confirmation_rate"), ("处理单", "cases")]),
    ("按主管部门", "competent", [("代码", "code"), ("主管部门", "name"), ("监控支付笔数", "screened"),
                            ("监控支付金额（元）", "amount"), ("预警", "raised"), ("确认违规", "confirmed"),
                            ("确认率（%）", "confirmation_rate"), ("处理单", "cases")]),
    ("按地区", "regions", [("代码", "code"), ("财政部门", "name"), ("监控支付笔数", "screened"),
                        ("监控支付金额（元）", "amount"), ("预警", "raised"), ("确认违规", "confirmed"),
                        ("确认率（%）", "confirmation_rate"), ("处理单", "cases")]),
    ("处理层级", "rungs", [("层级", "rung"), ("名称", "label"), ("件数", "count")]),
    ("典型案例", "cases", [("处理单", "case_id"), ("单位代码", "unit_code"), ("单位", "unit_name"),
                       ("问题摘要", "summary"), ("处理层级", "rung_label"), ("涉及金额（元）", "amount"),
                       ("立案日期", "opened_on")]),
)
NUMERIC_COLUMNS = {"current", "previous", "difference", "change", "screened", "amount", "raised", "warned_amount",
                   "confirmed", "confirmed_amount", "cases", "block", "dismissed", "pending", "confirmation_rate",
                   "intercepted", "count", "case_id"}


def _value(key: str, value):
    """Figures as numbers (Decimal: exact, never float), text neutralised as the exports do."""
    if value is None:
        return None
    if key in NUMERIC_COLUMNS and isinstance(value, (int, str)):
        try:
            return Decimal(value) if isinstance(value, str) else value
        except ArithmeticError:
            return cell(value)
    return cell(value)


def annex_workbook(report: AnalysisReport) -> io.BytesIO:
    tables = report.tables
    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for title, key, columns in ANNEX:
        sheet = book.create_sheet(title)
        sheet.append([f"{report.finance.name} {tables['period']['label']} 预算执行动态监控分析报告附表"])
        sheet.append([heading for heading, _ in columns])
        for c in sheet[2]:
            c.font = bold
        for row in tables[key]:
            sheet.append([_value(name, row.get(name)) for _, name in columns])
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


@blp.route("/reports/<int:report_id>/annex.xlsx")
class ReportAnnex(MethodView):
    @blp.doc(responses={"200": {"description": "The report's tables as a workbook, one sheet a table, as issued",
                                "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}})
    def get(self, report_id):
        """The XLSX annex (附表): every table of the report, from the figures it was issued with."""
        report = analysis_reports.get_report(current_actor(), report_id)
        name = f"analysis-report-{report.tables['period']['code']}-{report.finance.code}.xlsx"
        return send_file(annex_workbook(report), mimetype=XLSX, as_attachment=True, download_name=name, max_age=0)

"""Periodic analysis reports (监控分析报告, Art. 11(四)(五)): each finance department's monthly,
quarterly and annual account of what monitoring found, as a numbered document.

A report is a document of kind ``analysis_report`` (预算执行动态监控分析报告, :data:`workflow.documents.KINDS`)
issued by the department and addressed to itself, copied (抄送) to the finance department above
it, so it is in both their document lists and read through the documents' own routes (HTML, PDF).
It holds, for the department's reach (its region and the regions below, as
:func:`workflow.statistics.statistics` computes it; no figure is counted here a second time):

- the period's totals, and the same figures of the previous period of the same kind with the
  difference and the change in percent (环比);
- warnings by rule (with each rule's confirmation rate), figures by unit, by competent
  department, by the finance departments below, and by month;
- the top rules and units by findings (warnings raised), and the typical cases (典型案例): the
  largest cases opened in the period by the amount of the payments their warnings were on;
- five charts drawn on the server as SVG and embedded in the HTML (so they print, work offline
  and are typeset into the PDF): warnings by month, amounts by month, rules by volume and
  confirmation rate, units by findings, cases by rung.

The tables behind the report are stored with it (:class:`AnalysisReport.tables`, JSON), so the
XLSX annex says what the HTML says, however the data changes afterwards: like every notice, a
report is rendered once, when it is issued, and kept.

Charts: pygal. It is maintained (3.x, 2023-), pure Python with no further dependency, and writes
SVG directly, with the text as text (selectable, searchable in the PDF, typeset by WeasyPrint
with the document's CJK font). matplotlib's SVG backend would do too but brings numpy, a font
cache and glyphs drawn as paths; svgwrite would leave axes, scales and legends to us. The charts
are rendered without pygal's tooltip script (``js=[]``): the documents' Content-Security-Policy
allows no script, and a printed report needs none.

Generation (one per department, kind and period, :class:`AnalysisReport`'s unique key):

- on demand (:func:`generate`): finance, for its own department, for a period that has ended;
  asking again for the same period answers the report already issued (``created`` false): a
  report is a record of what was known when it was issued, not regenerated;
- by the scheduler (:func:`scheduled_reports`), on the first working day (Asia/Shanghai,
  :mod:`workflow.deadlines`) after each period, from ``FUNDWATCH_REPORT_TIME`` (07:00 local), for
  every finance department; a run after downtime still issues the last period's report. The
  report row is written first with ``INSERT ... ON CONFLICT DO NOTHING``
  (:func:`workflow.scheduling.claim_effect`) in the transaction that issues the document, so of
  several schedulers exactly one issues each report and the others skip it.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import sys
from dataclasses import dataclass, field
from decimal import Decimal

import pygal
import sqlalchemy as sa
from markupsafe import Markup
from pygal.style import Style
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow import deadlines, documents, statistics
from workflow.case_records import Case
from workflow.db import AwareDateTime, db, utcnow
from workflow.errors import Invalid, NotFound
from workflow.machines import MACHINES
from workflow.monitoring.models import MonitoringWarning, Payment
from workflow.monitoring.rules import RULES_BY_NAME
from workflow.parties import Actor, Organisation, require
from workflow.scheduling import claim_effect
from workflow.scoping import units_of
from workflow.settings import current, local_zone

log = logging.getLogger(__name__)

# pygal appends a finder of its own to sys.meta_path (for its map plugins, which are not used
# here) that has only the legacy ``find_module``: Python 3.11 warns (ImportWarning) at every import
# that falls through to it (an optional dependency probed and missing, e.g. openpyxl's numpy),
# and 3.12 ignores it. Taken out again, so that importing the charts changes no import.
sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__module__ != "pygal"]

PERIOD_KINDS = ("monthly", "quarterly", "annual")
KIND = "analysis_report"
TOP = 10            # rules and units in the top lists and their charts
TYPICAL_CASES = 5   # typical cases listed
QUARTERS = "一二三四"
# Warnings raised by people rather than by a screening rule: their names as the report prints them.
MANUAL_RULE_TITLES = {"bank_refusal": "代理银行拒付", "bank_report": "代理银行报告", "complaint": "举报线索",
                      "manual": "人工发现", "account_change_late": "账户变更逾期报告"}


class AnalysisReport(db.Model):
    """One department's report for one period: the document, and the tables it was drawn from."""

    __tablename__ = "analysis_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    finance_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    period_kind: Mapped[str] = mapped_column(sa.String(10))
    first: Mapped[dt.date] = mapped_column(sa.Date)
    last: Mapped[dt.date] = mapped_column(sa.Date)
    # Set in the transaction that claimed the row, once the document has its number.
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("documents.id"))
    tables: Mapped[dict] = mapped_column(sa.JSON)
    generated_by: Mapped[str] = mapped_column(sa.String(12))  # "scheduler" or "on_demand"
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    finance: Mapped[Organisation] = relationship(foreign_keys=[finance_id], lazy="joined", innerjoin=True)
    document: Mapped[documents.Document | None] = relationship(foreign_keys=[document_id])

    __table_args__ = (sa.UniqueConstraint("finance_id", "period_kind", "first", name="uq_analysis_reports_period"),)


# --- periods -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportPeriod:
    kind: str
    first: dt.date
    last: dt.date

    @property
    def code(self) -> str:
        """How the API names it: ``2026-10``, ``2026-Q4``, ``2026``."""
        if self.kind == "monthly":
            return f"{self.first:%Y-%m}"
        if self.kind == "quarterly":
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        return str(self.first.year)

    @property
    def label(self) -> str:
        """How the report names it: 2026年10月, 2026年第四季度, 2026年度."""
        if self.kind == "monthly":
            return f"{self.first.year}年{self.first.month}月"
        if self.kind == "quarterly":
            return f"{self.first.year}年第{QUARTERS[(self.first.month - 1) // 3]}季度"
        return f"{self.first.year}年度"

    def previous(self) -> ReportPeriod:
        return containing(self.kind, self.first - dt.timedelta(days=1))

    def statistics_period(self) -> statistics.Period:
        return statistics.period(self.first, self.last)


def containing(kind: str, day: dt.date) -> ReportPeriod:
    """The period of ``kind`` that ``day`` falls in."""
    if kind == "monthly":
        first = day.replace(day=1)
        months = 1
    elif kind == "quarterly":
        first = dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        months = 3
    else:
        first, months = dt.date(day.year, 1, 1), 12
    year, month = divmod(first.month - 1 + months, 12)
    return ReportPeriod(kind, first, dt.date(first.year + year, month + 1, 1) - dt.timedelta(days=1))


PERIOD_FORMS = {"monthly": re.compile(r"^(\d{4})-(\d{2})$"), "quarterly": re.compile(r"^(\d{4})-Q([1-4])$"),
                "annual": re.compile(r"^(\d{4})$")}
PERIOD_EXAMPLES = {"monthly": "2026-10", "quarterly": "2026-Q4", "annual": "2026"}


def parse_period(kind: str, text: str) -> ReportPeriod:
    """``kind`` and its period as the API writes it; Invalid naming the field otherwise."""
    if kind not in PERIOD_KINDS:
        raise Invalid("unknown report kind", {"kind": [f"one of {', '.join(PERIOD_KINDS)}"]})
    match = PERIOD_FORMS[kind].match(text or "")
    if match is None:
        raise Invalid(f"a {kind} report's period reads like {PERIOD_EXAMPLES[kind]}",
                      {"period": [f"expected like {PERIOD_EXAMPLES[kind]}"]})
    year = int(match.group(1))
    if not 2000 <= year <= 2099:
        raise Invalid("the period's year is out of range", {"period": ["a year from 2000 to 2099"]})
    if kind == "monthly":
        month = int(match.group(2))
        if not 1 <= month <= 12:
            raise Invalid("no such month", {"period": ["a month from 01 to 12"]})
        return containing(kind, dt.date(year, month, 1))
    if kind == "quarterly":
        return containing(kind, dt.date(year, (int(match.group(2)) - 1) * 3 + 1, 1))
    return containing(kind, dt.date(year, 1, 1))


# --- the figures --------------------------------------------------------------------------------------

def department_actor(org: Organisation) -> Actor:
    """The department itself as the reader of its statistics (the scheduler acts for it)."""
    return Actor(user_id=None, org_id=org.id, kind="finance", finance_path=org.finance_path, name=org.name)


# The summary's lines: (label, section, figure, kind); kind "money", "count" or "rate".
SUMMARY = (
    ("监控支付笔数", "payments", "screened", "count"),
    ("监控支付金额（元）", "payments", "amount", "money"),
    ("拦截支付笔数", "payments", "intercepted", "count"),
    ("拦截支付金额（元）", "payments", "intercepted_amount", "money"),
    ("拒绝支付笔数", "payments", "refused", "count"),
    ("拒绝支付金额（元）", "payments", "refused_amount", "money"),
    ("预警笔数", "warnings", "raised", "count"),
    ("预警涉及金额（元）", "warnings", "amount", "money"),
    ("确认违规笔数", "warnings", "confirmed", "count"),
    ("确认违规金额（元）", "warnings", "confirmed_amount", "money"),
    ("排除疑点笔数", "warnings", "dismissed", "count"),
    ("待核实笔数", "warnings", "pending", "count"),
    ("预警确认率（%）", "warnings", "confirmation_rate", "rate"),
    ("立案（处理单）件数", "cases", "opened", "count"),
    ("办结件数", "cases", "closed", "count"),
    ("逾期未办结件数", "cases", "overdue", "count"),
    ("复议诉讼件数", "cases", "appealed", "count"),
)


def _number(value, kind: str) -> Decimal | int | None:
    if value is None:
        return None
    if kind == "count":
        return int(value)
    return Decimal(str(value))


def _compare(now, before, kind: str) -> dict:
    """One line of the comparison with the previous period: difference and change in percent
    (None when the previous figure is nothing to divide by)."""
    a, b = _number(now, kind), _number(before, kind)
    difference = None if a is None or b is None else a - b
    change = None
    if difference is not None and kind != "rate" and b:
        change = str((Decimal(difference) / Decimal(b) * 100).quantize(Decimal("0.01")))
    return {"current": _text(a), "previous": _text(b), "difference": _text(difference), "change": change}


def _text(value) -> str | int | None:
    return str(value) if isinstance(value, Decimal) else value


def rule_title(name: str) -> str:
    rule = RULES_BY_NAME.get(name)
    return rule.title if rule is not None else MANUAL_RULE_TITLES.get(name, name)


def _rung_label(rung: str) -> str:
    for machine in MACHINES.values():
        if rung in machine.states:
            return machine.state(rung).label
    return rung


def _organisation_rows(body: dict) -> list[dict]:
    rows = []
    for g in body["groups"]:
        payments, warnings, cases = g["payments"] or {}, g["warnings"] or {}, g["cases"] or {}
        rows.append({"code": g["code"], "name": g["name"] or "（未归属）",
                     "screened": payments.get("screened", 0), "amount": str(payments.get("amount", "0.00")),
                     "intercepted": payments.get("intercepted", 0), "raised": warnings.get("raised", 0),
                     "confirmed": warnings.get("confirmed", 0),
                     "confirmed_amount": str(warnings.get("confirmed_amount", "0.00")),
                     "confirmation_rate": warnings.get("confirmation_rate"), "cases": cases.get("opened", 0)})
    return rows


def typical_cases(actor: Actor, p: statistics.Period, limit: int = TYPICAL_CASES) -> list[dict]:
    """The largest cases opened in the period in the actor's reach, by the amount of the distinct
    payments their warnings were on (a case opened by hand, with no warning, counts 0)."""
    paid = (sa.select(MonitoringWarning.case_id.label("case_id"), Payment.id.label("payment_id"),
                      sa.type_coerce(Payment.amount, sa.BigInteger).label("fen"))
            .join(Payment, Payment.id == MonitoringWarning.payment_id)
            .where(MonitoringWarning.case_id.is_not(None)).distinct().subquery())
    amounts = sa.select(paid.c.case_id, sa.func.sum(paid.c.fen).label("fen")).group_by(paid.c.case_id).subquery()
    fen = sa.func.coalesce(amounts.c.fen, 0)
    rows = db.session.execute(
        sa.select(Case.id, Case.machine, Case.summary, Case.rung, Case.created_at, Organisation.code,
                  Organisation.name, fen.label("fen"))
        .join(Organisation, Organisation.id == Case.subject_id)
        .outerjoin(amounts, amounts.c.case_id == Case.id)
        .where(units_of(actor, Case.subject_id), Case.created_at >= p.start, Case.created_at < p.end)
        .order_by(fen.desc(), Case.id).limit(limit)).all()
    return [{"case_id": r.id, "summary": r.summary, "unit_code": r.code, "unit_name": r.name, "rung": r.rung,
             "rung_label": _rung_label(r.rung),
             "amount": str(Decimal(int(r.fen or 0)).scaleb(-2)),
             "opened_on": r.created_at.astimezone(local_zone()).date().isoformat()} for r in rows]


def build_tables(org: Organisation, rp: ReportPeriod) -> dict:
    """Every table of the report, JSON-safe (amounts as strings), from the statistics."""
    actor = department_actor(org)
    p, before = rp.statistics_period(), rp.previous()
    by_rule = statistics.statistics(actor, p, "rule")
    by_unit = statistics.statistics(actor, p, "unit")
    by_competent = statistics.statistics(actor, p, "competent")
    by_region = statistics.statistics(actor, p, "finance")
    by_month = statistics.statistics(actor, p, "month")
    previous = statistics.statistics(actor, before.statistics_period(), "level")["total"]
    total = by_rule["total"]
    summary = [{"label": label, "kind": kind,
                **_compare(total[section][figure], previous[section][figure], kind)}
               for label, section, figure, kind in SUMMARY]
    rules = sorted(({"rule": g["key"], "title": rule_title(g["key"]), **{
        k: g["warnings"][k] for k in ("raised", "pending", "confirmed", "dismissed", "block", "confirmation_rate")},
        "amount": str(g["warnings"]["amount"]), "confirmed_amount": str(g["warnings"]["confirmed_amount"])}
        for g in by_rule["groups"]), key=lambda r: (-r["raised"], r["rule"]))
    units = sorted(_organisation_rows(by_unit), key=lambda r: (-r["raised"], -Decimal(r["amount"]), r["code"] or ""))
    months = [{"month": g["key"], "screened": g["payments"]["screened"], "amount": str(g["payments"]["amount"]),
               "raised": g["warnings"]["raised"], "warned_amount": str(g["warnings"]["amount"]),
               "confirmed": g["warnings"]["confirmed"], "confirmed_amount": str(g["warnings"]["confirmed_amount"]),
               "cases": g["cases"]["opened"]}
              for g in _every_month(by_month, p)]
    rungs = [{"rung": rung, "label": _rung_label(rung), "count": n}
             for rung, n in sorted(total["cases"]["by_rung"].items(), key=lambda kv: (-kv[1], kv[0]))]
    execution = total["execution"]
    return {
        "period": {"kind": rp.kind, "code": rp.code, "label": rp.label, "from": rp.first.isoformat(),
                   "to": rp.last.isoformat()},
        "previous": {"code": before.code, "label": before.label, "from": before.first.isoformat(),
                     "to": before.last.isoformat()},
        "summary": summary,
        "execution": {"year": execution["year"], "budget": str(execution["budget"]), "spent": str(execution["spent"]),
                      "rate": execution["rate"]},
        "days": {"to_decision": total["warnings"]["days_to_decision"], "to_closure": total["cases"]["days_to_closure"]},
        "rules": rules, "top_rules": [r for r in rules if r["raised"]][:TOP],
        "units": units, "top_units": [u for u in units if u["raised"]][:TOP],
        "competent": sorted(_organisation_rows(by_competent), key=lambda r: (-r["raised"], r["code"] or "")),
        "regions": _organisation_rows(by_region),
        "months": months, "rungs": rungs,
        "cases": typical_cases(actor, p),
    }


def _every_month(body: dict, p: statistics.Period) -> list[dict]:
    """Each month of the period, those with nothing in them too (a trend has no gaps)."""
    groups = {g["key"]: g for g in body["groups"]}
    nothing = {"payments": {"screened": 0, "amount": "0.00"},
               "warnings": {"raised": 0, "amount": "0.00", "confirmed": 0, "confirmed_amount": "0.00"},
               "cases": {"opened": 0}}
    return [groups.get(label) or {"key": label, **nothing} for label, _, _ in p.months()]


# --- charts -------------------------------------------------------------------------------------------

CHART_STYLE = Style(
    font_family='"WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei", sans-serif',
    background="white", plot_background="white", foreground="#222", foreground_strong="#000",
    foreground_subtle="#888", colors=("#1f4e8c", "#c0392b", "#2e8b57", "#d68910", "#7d3c98", "#5d6d7e"),
    title_font_size=16, label_font_size=11, major_label_font_size=11, legend_font_size=12,
    value_font_size=10, opacity="1", opacity_hover="1", transition="0s")


def _chart(kind, title: str, **options):
    config = {"style": CHART_STYLE, "width": 760, "height": 340, "explicit_size": True, "js": [],
              "disable_xml_declaration": True, "legend_at_bottom": True, "title": title,
              "print_values": False, "show_y_guides": True, "truncate_label": -1,
              "no_data_text": "本期无数据", **options}
    return kind(**config)


# pygal writes its configuration for the tooltips as a <script> even with no script files
# (``js=[]``), and comments naming its web site: neither belongs in a printed document served
# under a CSP that allows no script. Both are taken out of pygal's own output (never of text
# from the data: values and labels are escaped by pygal, so no "<script" or "<!--" of theirs remains).
# The legend's anchors (``id="activate-serie-0"``) are the same in every chart: several charts in
# one page would repeat an id, so they go too (they serve the script only).
_SCRIPT_OR_COMMENT = re.compile(r"<script\b.*?</script>|<!--.*?-->| id=\"activate-serie-\d+\"", re.S)


def _svg(chart) -> Markup:
    return Markup(_SCRIPT_OR_COMMENT.sub("", chart.render(is_unicode=True)))


def _yuan_10k(text: str) -> float:
    """Chart values only (never stored or summed): amounts in 万元 for the axis."""
    return float(Decimal(text) / 10000)


def _short(name: str, limit: int = 16) -> str:
    """A long official name shortened for a chart's axis (the tables print it whole)."""
    return name if len(name) <= limit else name[:limit - 1] + "…"


def _label_room(labels: list[str]) -> int:
    """The left margin a horizontal bar chart needs beyond pygal's own: pygal sizes labels at
    0.6 em a character, a Chinese character is a full em wide."""
    return 20 + int(0.45 * CHART_STYLE.label_font_size * max((len(label) for label in labels), default=0))


def charts(tables: dict) -> dict[str, Markup]:
    """The five charts as inline SVG: warnings by month, amounts by month, rules (volume, and the
    confirmation rate in each label), units by findings, cases by rung. Horizontal bars are
    listed bottom-up by pygal: the lists are reversed so the largest is on top."""
    months = tables["months"]
    rotation = 0 if len(months) <= 12 else 45
    count = {"value_formatter": lambda v: f"{v:g}", "min_scale": 1}
    trend = _chart(pygal.Bar, "预警笔数（按月）", x_labels=[m["month"][2:] for m in months], x_label_rotation=rotation,
                   height=300, **count)
    trend.add("预警笔数", [m["raised"] for m in months])
    trend.add("确认违规笔数", [m["confirmed"] for m in months])
    amounts = _chart(pygal.Line, "预警涉及金额与确认违规金额（万元，按月）", x_labels=[m["month"][2:] for m in months],
                     x_label_rotation=rotation, height=300, value_formatter=lambda v: f"{v:,.2f}", dots_size=3)
    amounts.add("预警涉及金额", [_yuan_10k(m["warned_amount"]) for m in months])
    amounts.add("确认违规金额", [_yuan_10k(m["confirmed_amount"]) for m in months])
    rules = list(reversed(tables["top_rules"]))
    labels = [f"{r['title']}（确认率{r['confirmation_rate'] + '%' if r['confirmation_rate'] else '—'}）" for r in rules]
    by_rule = _chart(pygal.HorizontalBar, "预警规则：笔数与确认率", height=120 + 40 * max(1, len(rules)), **count,
                     x_labels=labels, margin_left=_label_room(labels))
    by_rule.add("预警笔数", [r["raised"] for r in rules])
    by_rule.add("确认违规笔数", [r["confirmed"] for r in rules])
    units = list(reversed(tables["top_units"]))
    labels = [_short(u["name"]) for u in units]
    by_unit = _chart(pygal.HorizontalBar, "预警较多的单位", height=120 + 40 * max(1, len(units)), **count,
                     x_labels=labels, margin_left=_label_room(labels))
    by_unit.add("预警笔数", [u["raised"] for u in units])
    by_unit.add("确认违规笔数", [u["confirmed"] for u in units])
    rungs = _chart(pygal.Pie, "违规问题处理单按处理层级分布", inner_radius=0.45, print_values=True, height=300,
                   value_formatter=lambda v: f"{v:g}件")
    for r in tables["rungs"]:
        rungs.add(r["label"], r["count"])
    return {"trend": _svg(trend), "amounts": _svg(amounts), "rules": _svg(by_rule), "units": _svg(by_unit),
            "rungs": _svg(rungs)}


# --- issuing ------------------------------------------------------------------------------------------

@dataclass
class Generated:
    report: AnalysisReport
    created: bool


def _existing(org_id: int, rp: ReportPeriod) -> AnalysisReport | None:
    return db.session.execute(sa.select(AnalysisReport).where(
        AnalysisReport.finance_id == org_id, AnalysisReport.period_kind == rp.kind,
        AnalysisReport.first == rp.first)).scalar_one_or_none()


def _issue(org: Organisation, rp: ReportPeriod, generated_by: str, now: dt.datetime) -> Generated:
    """In the caller's transaction: claim the (department, kind, period) row, then issue the
    document and link it. The tables and charts are computed before the claim, so the claim
    (which a concurrent issuer of the same report waits on) is held for the writes only."""
    tables = build_tables(org, rp)
    prepared = documents.prepare_notice(
        Actor.system(), kind=KIND, issuer=org, addressee=org, now=now,
        context={"period_kind": rp.kind, "period_label": rp.label, "period_from": rp.first.isoformat(),
                 "period_to": rp.last.isoformat()},
        extra={"report": tables, "charts": charts(tables)})
    claimed = claim_effect(AnalysisReport, {"finance_id": org.id, "period_kind": rp.kind, "first": rp.first,
                                            "last": rp.last, "tables": tables, "generated_by": generated_by,
                                            "created_at": now}, ["finance_id", "period_kind", "first"])
    if not claimed:
        return Generated(_existing(org.id, rp), False)
    document = prepared.issue()
    db.session.execute(sa.update(AnalysisReport).where(
        AnalysisReport.finance_id == org.id, AnalysisReport.period_kind == rp.kind, AnalysisReport.first == rp.first)
        .values(document_id=document.id).execution_options(synchronize_session=False))
    report = _existing(org.id, rp)
    db.session.refresh(report)
    return Generated(report, True)


def generate(actor: Actor, kind: str, period_text: str, now: dt.datetime | None = None) -> Generated:
    """A report on demand, for the caller's own finance department (no commit here).

    Invalid (422) for an unknown kind, a malformed period or one that has not ended; Forbidden
    (403) for any party but finance. The same period asked again answers the report issued before
    (``created`` false): reports are not regenerated."""
    require(actor, "finance", action="generate analysis reports")
    if actor.is_system:
        raise Invalid("a report is generated for a department", {"org": ["the scheduler uses scheduled_reports"]})
    now = now or utcnow()
    rp = parse_period(kind, period_text)
    today = deadlines.current_calendar().local_date(now)
    if rp.last >= today:
        raise Invalid("the period has not ended yet", {"period": [f"ends on {rp.last.isoformat()}, after today"]})
    existing = _existing(actor.org_id, rp)
    if existing is not None:
        return Generated(existing, False)
    return _issue(db.session.get(Organisation, actor.org_id), rp, "on_demand", now)


def visible(actor: Actor) -> sa.ColumnElement[bool]:
    """Reports of the caller's department and of the departments below it (finance only)."""
    region = sa.select(Organisation.id).where(Organisation.finance_path.startswith(actor.finance_path))
    return AnalysisReport.finance_id.in_(region)


def reports_for(actor: Actor, *, kind: str | None = None, year: int | None = None,
                finance_code: str | None = None) -> sa.Select:
    require(actor, "finance", action="read analysis reports")
    stmt = sa.select(AnalysisReport).where(visible(actor), AnalysisReport.document_id.is_not(None))
    if kind is not None:
        stmt = stmt.where(AnalysisReport.period_kind == kind)
    if year is not None:
        stmt = stmt.where(AnalysisReport.first >= dt.date(year, 1, 1), AnalysisReport.first <= dt.date(year, 12, 31))
    if finance_code is not None:
        stmt = stmt.where(AnalysisReport.finance_id.in_(sa.select(Organisation.id).where(
            Organisation.code == finance_code)))
    return stmt


def get_report(actor: Actor, report_id: int) -> AnalysisReport:
    """A report the caller may read; NotFound otherwise (another region's is as absent as none)."""
    require(actor, "finance", action="read analysis reports")
    report = db.session.execute(reports_for(actor).where(AnalysisReport.id == report_id)).scalar_one_or_none()
    if report is None:
        raise NotFound(f"no analysis report {report_id}")
    return report


# --- the scheduler ------------------------------------------------------------------------------------

def report_time() -> tuple[int, int]:
    text = str(current().report_time).strip()
    try:
        moment = dt.time.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"FUNDWATCH_REPORT_TIME: expected HH:MM, got {text!r}") from exc
    return moment.hour, moment.minute


def due_periods(now: dt.datetime) -> list[ReportPeriod]:
    """The last ended period of each kind whose first working day after it has come, at or after
    the report time: what the scheduler issues (once) as of ``now``."""
    calendar = deadlines.current_calendar()
    local = now.astimezone(calendar.zone)
    today = local.date()
    out = []
    for kind in PERIOD_KINDS:
        rp = containing(kind, today).previous()
        due_day = calendar.shift(rp.last, 1)
        if today > due_day or (today == due_day and (local.hour, local.minute) >= report_time()):
            out.append(rp)
    return out


@dataclass
class ScheduledResult:
    issued: list[tuple[int, str, str]] = field(default_factory=list)  # (finance id, kind, period code)
    failed: list[tuple[int, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.issued or self.failed)

    def __str__(self) -> str:
        return f"{len(self.issued)} analysis reports issued, {len(self.failed)} failed"


def scheduled_reports(now: dt.datetime | None = None) -> ScheduledResult:
    """Issue every due report not issued yet, one department and period per transaction; a
    failure is logged and retried by the next run."""
    now = now or utcnow()
    result = ScheduledResult()
    periods = due_periods(now)
    if not periods:
        return result
    departments = db.session.execute(sa.select(Organisation.id).where(Organisation.kind == "finance")
                                     .order_by(Organisation.id)).scalars().all()
    done = {(r.finance_id, r.period_kind, r.first) for r in db.session.execute(
        sa.select(AnalysisReport.finance_id, AnalysisReport.period_kind, AnalysisReport.first).where(
            AnalysisReport.first.in_([rp.first for rp in periods])))}
    db.session.commit()
    for org_id in departments:
        for rp in periods:
            if (org_id, rp.kind, rp.first) in done:
                continue
            try:
                generated = _issue(db.session.get(Organisation, org_id), rp, "scheduler", now)
                db.session.commit()
            except Exception:
                db.session.rollback()
                result.failed.append((org_id, rp.code))
                log.exception("analysis report %s %s of finance department %s failed; the next run retries it",
                              rp.kind, rp.code, org_id)
                continue
            if generated.created:
                result.issued.append((org_id, rp.kind, rp.code))
    return result

"""Issue 13, "Periodic analysis reports" (监控分析报告, Art. 11(四)(五)): each finance department's
monthly, quarterly and annual report is a numbered document with the period's statistics, the
comparison with the previous period, the top rules and units, typical cases and server-drawn SVG
charts; HTML and PDF through the documents' routes, an XLSX annex of the tables; generated on
demand and by the scheduler on the first working day after the period, exactly once.

The data set: in May 2021 one held cash payment of the demo unit; in June 2021 the statistics
tests' findings (two held cash payments of the unit, one confirmed into a case and one dismissed,
a clean transfer, a held payment of the other unit left pending). Each is posted with the clock
set in its month, so warnings and cases fall in the period too.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import threading
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from openpyxl import load_workbook
from pypdf import PdfReader
from verification_support import OTHER_UNIT, UNIT, cash_travel, clean_transfer, held_payment, post_payments

from workflow import analysis_reports
from workflow.analysis_reports import AnalysisReport, due_periods, parse_period, scheduled_reports
from workflow.db import db
from workflow.documents import Document, DocumentRecipient
from workflow.parties import Organisation

SH = ZoneInfo("Asia/Shanghai")
URL = "/api/v1/reports"
CITY = "653000-CZ"


@pytest.fixture
def findings(as_city_finance):
    with time_machine.travel(dt.datetime(2021, 5, 10, 12, 0, tzinfo=SH), tick=True):
        held_payment(as_city_finance, paid_at="2021-05-10T10:00:00+08:00")
    with time_machine.travel(dt.datetime(2021, 6, 1, 12, 0, tzinfo=SH), tick=True):
        confirmed, confirmed_warning = held_payment(as_city_finance)
        dismissed, dismissed_warning = held_payment(as_city_finance)
        post_payments(as_city_finance, [clean_transfer()])
        held_payment(as_city_finance, unit_code=OTHER_UNIT, payer_account="6501000200300045678")
        case = as_city_finance.post(f"/api/v1/warnings/{confirmed_warning}/confirm", json={"rung": "warning"})
        assert case.status_code == 201, case.get_json()
        dismissal = as_city_finance.post(f"/api/v1/warnings/{dismissed_warning}/dismiss",
                                         json={"reason": "经核实为公务卡还款"})
        assert dismissal.status_code == 200
    return case.get_json()


def generate(party, kind="monthly", period="2021-06", status=201) -> dict:
    response = party.post(URL, json={"kind": kind, "period": period})
    assert response.status_code == status, response.get_json()
    return response.get_json()


def tables(report_id: int) -> dict:
    db.session.expire_all()
    return db.session.get(AnalysisReport, report_id).tables


def line(t: dict, label: str) -> dict:
    return next(s for s in t["summary"] if s["label"] == label)


def test_art11_4_the_citys_june_report_holds_the_hand_counted_figures(as_city_finance, findings):
    report = generate(as_city_finance)
    assert report["kind"] == "monthly" and report["period"] == "2021-06" and report["label"] == "2021年6月"
    assert (report["from"], report["to"]) == ("2021-06-01", "2021-06-30")
    assert report["finance"]["code"] == CITY and report["document"]["number"].endswith("年第1号")
    t = tables(report["id"])
    # Four payments in June: 3 × 1,500 cash held (intercepted), 800 transfer; one refused on confirmation.
    assert line(t, "监控支付笔数")["current"] == 4 and line(t, "监控支付金额（元）")["current"] == "5300.00"
    assert line(t, "拦截支付笔数")["current"] == 3 and line(t, "拦截支付金额（元）")["current"] == "4500.00"
    assert line(t, "拒绝支付笔数")["current"] == 1 and line(t, "拒绝支付金额（元）")["current"] == "1500.00"
    # Warnings: each of the unit's cash payments two (over the cash limit, official card), the other
    # unit's three (with no budget of its own): 7, on 1,500 each.
    assert line(t, "预警笔数")["current"] == 7 and line(t, "预警涉及金额（元）")["current"] == "10500.00"
    assert [line(t, name)["current"] for name in ("确认违规笔数", "排除疑点笔数", "待核实笔数")] == [1, 1, 5]
    assert line(t, "确认违规金额（元）")["current"] == "1500.00" and line(t, "预警确认率（%）")["current"] == "50.00"
    assert line(t, "立案（处理单）件数")["current"] == 1
    assert [(r["rule"], r["raised"], r["confirmation_rate"]) for r in t["top_rules"]] == [
        ("cash_over_limit", 3, "50.00"), ("official_card_required", 3, None), ("no_budget", 1, None)]
    assert t["top_rules"][0]["title"] == "现金支付超限额"
    assert [(u["code"], u["raised"], u["confirmed"]) for u in t["top_units"]] == [(UNIT, 4, 1), (OTHER_UNIT, 3, 0)]
    assert [m["month"] for m in t["months"]] == ["2021-06"] and t["months"][0]["raised"] == 7
    assert t["rungs"] == [{"rung": "warning", "label": t["rungs"][0]["label"], "count": 1}]
    (case,) = t["cases"]
    assert (case["case_id"], case["unit_code"], case["rung"], case["amount"]) == (findings["id"], UNIT, "warning", "1500.00")
    assert case["unit_name"] == "中国人民政治协商会议克孜勒苏柯尔克孜自治州委员会机关" and case["opened_on"] == "2021-06-01"


def test_art11_4_the_report_compares_with_the_previous_period(as_city_finance, findings):
    t = tables(generate(as_city_finance)["id"])
    assert t["previous"]["code"] == "2021-05"
    raised = line(t, "预警笔数")
    assert (raised["current"], raised["previous"], raised["difference"], raised["change"]) == (7, 2, 5, "250.00")
    screened = line(t, "监控支付金额（元）")
    assert (screened["previous"], screened["difference"], screened["change"]) == ("1500.00", "3800.00", "253.33")
    cases = line(t, "立案（处理单）件数")
    assert (cases["previous"], cases["difference"], cases["change"]) == (0, 1, None), "no percentage of nothing"
    may = tables(generate(as_city_finance, period="2021-05")["id"])
    assert line(may, "预警笔数")["current"] == 2 and line(may, "预警笔数")["previous"] == 0


def test_art11_4_the_report_is_a_document_with_inline_svg_charts_and_no_script(as_city_finance, findings):
    report = generate(as_city_finance, "quarterly", "2021-Q2")
    html = as_city_finance.get(report["document"]["html"])
    assert html.status_code == 200
    text = html.get_data(as_text=True)
    assert text.count("<svg") == 5, "warnings and amounts by month, rules, units, rungs"
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org", "")
    assert "预算执行动态监控分析报告" in text and "2021年第二季度" in text and "现金支付超限额" in text
    assert "中国人民政治协商会议克孜勒苏柯尔克孜自治州委员会机关" in text and "典型案例" in text
    assert [m["month"] for m in tables(report["id"])["months"]] == ["2021-04", "2021-05", "2021-06"], \
        "a trend has every month of the period, empty ones too"
    listed = as_city_finance.get("/api/v1/documents", query_string={"kind": "analysis_report"}).get_json()["items"]
    assert [d["id"] for d in listed] == [report["document"]["id"]]


def test_art11_4_the_xlsx_annex_holds_the_tables(as_city_finance, findings):
    report = generate(as_city_finance)
    response = as_city_finance.get(report["annex"])
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["总体情况", "分月", "按规则", "按单位", "按主管部门", "按地区", "处理层级", "典型案例"]
    summary = {row[0]: row[1:] for row in book["总体情况"].iter_rows(min_row=3, values_only=True)}
    assert summary["预警笔数"][:3] == (7, 2, 5)
    assert str(summary["监控支付金额（元）"][0]) == "5300"
    rules = [row[:3] for row in book["按规则"].iter_rows(min_row=3, values_only=True)]
    assert rules == [("cash_over_limit", "现金支付超限额", 3), ("official_card_required", rules[1][1], 3),
                     ("no_budget", rules[2][1], 1)]
    (case,) = list(book["典型案例"].iter_rows(min_row=3, values_only=True))
    assert case[1] == UNIT and str(case[5]) == "1500"


def _cjk_font_installed() -> bool:
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return False
    return bool(listed.stdout.strip())


@pytest.mark.skipif(not os.environ.get("CI") and not _cjk_font_installed(),
                    reason="no CJK font (Debian: fonts-wqy-zenhei); under CI this never skips")
def test_art11_4_the_annual_report_is_served_as_pdf_with_its_charts(as_city_finance, findings):
    report = generate(as_city_finance, "annual", "2021")
    response = as_city_finance.get(report["document"]["pdf"])
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    text = "".join("".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "预算执行动态监控分析报告" in text and "2021年度" in text
    assert "预警笔数（按月）" in text and "违规问题处理单按处理层级分布" in text, "the charts' text is typeset, not dropped"


def test_art11_5_the_level_above_reads_the_report_and_the_county_does_not(as_city_finance, as_finance,
                                                                         as_county_finance, as_unit, findings):
    report = generate(as_city_finance)
    assert as_finance.get(f"{URL}/{report['id']}").status_code == 200
    assert [r["id"] for r in as_finance.get(URL).get_json()["items"]] == [report["id"]]
    assert as_finance.get(report["document"]["html"]).status_code == 200
    province_documents = as_finance.get("/api/v1/documents", query_string={"kind": "analysis_report"}).get_json()
    assert [d["id"] for d in province_documents["items"]] == [report["document"]["id"]], "copied (抄送) above"
    for url in (f"{URL}/{report['id']}", report["annex"], report["document"]["html"], report["document"]["pdf"]):
        assert as_county_finance.get(url).status_code == 404, url
    assert as_county_finance.get(URL).get_json()["items"] == []
    assert as_unit.get(URL).status_code == 403 and as_unit.post(URL, json={"kind": "annual", "period": "2021"}).status_code == 403
    acknowledge = as_city_finance.post(f"/api/v1/documents/{report['document']['id']}/acknowledge")
    assert acknowledge.status_code == 409, "a department's own report is not signed for"


def test_art11_4_the_same_period_twice_answers_the_report_issued(as_city_finance, findings):
    first = generate(as_city_finance)
    again = generate(as_city_finance, status=200)
    assert again["id"] == first["id"] and again["document"] == first["document"]
    assert db.session.execute(sa.select(sa.func.count()).select_from(Document).where(
        Document.kind == "analysis_report")).scalar_one() == 1


@pytest.mark.parametrize("body, field", [
    ({"kind": "weekly", "period": "2021-06"}, "kind"),
    ({"kind": "monthly", "period": "2021-13"}, "period"),
    ({"kind": "monthly", "period": "2021-Q2"}, "period"),
    ({"kind": "quarterly", "period": "2021-Q5"}, "period"),
    ({"kind": "annual", "period": "21"}, "period"),
    ({"kind": "annual", "period": "2999"}, "period"),
    ({"kind": "annual"}, "period"),
    ({"kind": "annual", "period": str(dt.datetime.now(SH).year)}, "period"),  # not ended yet
])
def test_bad_requests_are_422_naming_the_field(as_city_finance, body, field):
    response = as_city_finance.post(URL, json=body)
    assert response.status_code == 422, response.get_json()
    assert field in str(response.get_json()["errors"]), response.get_json()
    assert db.session.execute(sa.select(sa.func.count()).select_from(AnalysisReport)).scalar_one() == 0


def test_periods_are_read_and_their_previous_found():
    assert parse_period("quarterly", "2026-Q1").previous() == parse_period("quarterly", "2025-Q4")
    assert (parse_period("monthly", "2024-02").last, parse_period("monthly", "2024-03").previous().code) == (
        dt.date(2024, 2, 29), "2024-02")
    assert parse_period("annual", "2025").label == "2025年度"


def test_art11_4_the_scheduler_reports_on_the_first_working_day_after_the_period(app):
    with app.app_context():
        # September 2026 and the third quarter end on Wednesday 30 September; 1-7 October is the
        # National Day holiday, so the first working day after them is Thursday 8 October.
        holiday = {rp.code for rp in due_periods(dt.datetime(2026, 10, 7, 9, 0, tzinfo=SH))}
        assert "2026-09" not in holiday and "2026-Q3" not in holiday
        assert "2026-08" not in holiday, "the period before the last is not the scheduler's to issue"
        early = {rp.code for rp in due_periods(dt.datetime(2026, 10, 8, 6, 59, tzinfo=SH))}
        assert "2026-09" not in early, "before FUNDWATCH_REPORT_TIME"
        due = {rp.code for rp in due_periods(dt.datetime(2026, 10, 8, 7, 0, tzinfo=SH))}
        assert due == {"2026-09", "2026-Q3", "2025"}


def test_art11_4_two_schedulers_issue_each_report_once_for_every_finance_department(app, demo, backend):
    now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=SH)  # Tuesday: November, Q3 (late) and 2025 are due
    departments = db.session.execute(sa.select(Organisation.id).where(Organisation.kind == "finance")).scalars().all()
    db.session.commit()
    start = threading.Barrier(2)
    results, errors = [], []

    def scheduler():
        try:
            with app.app_context():
                start.wait()
                results.append(scheduled_reports(now))
                db.session.remove()
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == [] and [r.failed for r in results] == [[], []]
    issued = sorted(item for r in results for item in r.issued)
    expected = sorted((org_id, kind, code) for org_id in departments
                      for kind, code in (("monthly", "2026-11"), ("quarterly", "2026-Q3"), ("annual", "2025")))
    assert issued == expected, "each report by exactly one of the two"
    db.session.expire_all()
    rows = db.session.execute(sa.select(AnalysisReport.finance_id, AnalysisReport.period_kind,
                                        AnalysisReport.document_id, AnalysisReport.generated_by)).all()
    assert len(rows) == len(expected) and all(r.document_id is not None and r.generated_by == "scheduler" for r in rows)
    numbers = db.session.execute(sa.select(Document.issuer_id, Document.year, Document.number).where(
        Document.kind == "analysis_report")).all()
    assert len(numbers) == len(expected) == len(set(numbers))
    assert not scheduled_reports(now + dt.timedelta(days=1)), "a later run issues nothing again"


def test_art11_5_the_report_is_copied_to_the_finance_department_above(app, demo):
    city = db.session.execute(sa.select(Organisation).where(Organisation.code == CITY)).scalar_one()
    generated = analysis_reports.generate(analysis_reports.department_actor(city), "annual", "2021")
    db.session.commit()
    copies = db.session.execute(sa.select(DocumentRecipient.org_id, DocumentRecipient.role).where(
        DocumentRecipient.document_id == generated.report.document_id)).all()
    assert copies == [(city.parent_id, "copy")]

"""Reports up the levels (Art. 11(五), 25(三); issue 13).

Art. 11(五): city and county finance departments report their monitoring work to the level above
regularly, and major problems at once. A work report is drafted from the period's statistics (the
figures stored with it, equal to what the statistics endpoint answers), completed with the
department's narrative while it is a draft, then submitted: immutable from then, the level above
told. The level above lists who has submitted and who has not, and reads each report; the
province sees its cities, a city its counties. A major problem is its own item, told at once."""
from __future__ import annotations

import io
import json

import sqlalchemy as sa
from verification_support import held_payment
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from workflow.db import db
from workflow.journal import JournalEntry
from workflow.outbox import OutboxMessage
from workflow.parties import org_by_code
from workflow.statistics import local_today

PERIOD = {"from": "2020-01-01", "to": local_today().isoformat()}
PROVINCE, CITY, COUNTY = "650000-CZ", "653000-CZ", "653001-CZ"
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _draft(party, period=PERIOD) -> dict:
    response = party.post("/api/v1/work-reports", json=period)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _told(template: str) -> list[tuple[str, int]]:
    return list(db.session.execute(sa.select(OutboxMessage.key, OutboxMessage.recipient_org_id).where(
        OutboxMessage.template == template, OutboxMessage.channel == "inbox")).all())


def test_art11_5_a_draft_is_filled_with_the_figures_the_statistics_endpoint_answers(as_city_finance):
    held_payment(as_city_finance)
    report = _draft(as_city_finance)
    stats = as_city_finance.get("/api/v1/statistics", query_string={**PERIOD, "group_by": "finance"}).get_json()
    assert report["status"] == "draft" and report["upper_code"] == PROVINCE and report["narrative"] == ""
    assert report["figures"]["total"] == stats["total"] and report["figures"]["groups"] == stats["groups"]
    assert report["figures"]["total"]["warnings"]["raised"] >= 1
    assert as_city_finance.post("/api/v1/work-reports", json=PERIOD).status_code == 409  # one per period


def test_art11_5_the_narrative_changes_while_a_draft_and_a_submitted_report_is_immutable(as_city_finance,
                                                                                        as_finance):
    report = _draft(as_city_finance)
    url = f"/api/v1/work-reports/{report['id']}"
    assert as_city_finance.post(f"{url}/submit").status_code == 422  # no narrative yet
    edited = as_city_finance.patch(url, json={"narrative": "本期共监控支付，发现问题已督促整改。"})
    assert edited.status_code == 200 and edited.get_json()["narrative"] == "本期共监控支付，发现问题已督促整改。"
    assert as_finance.patch(url, json={"narrative": "上级改写"}).status_code == 403  # the level above reads only
    submitted = as_city_finance.post(f"{url}/submit")
    assert submitted.status_code == 200, submitted.get_json()
    assert submitted.get_json()["status"] == "submitted" and submitted.get_json()["submitted_at"]
    late = as_city_finance.patch(url, json={"narrative": "改"})
    assert late.status_code == 409 and late.get_json()["errors"]["status"] == ["submitted"]
    assert as_city_finance.post(f"{url}/submit").status_code == 409
    assert as_finance.get(url).get_json()["narrative"] == "本期共监控支付，发现问题已督促整改。"
    assert _told("work_report_submitted") == [(f"work_report:{report['id']}:submitted", org_by_code(PROVINCE).id)]
    events = db.session.execute(sa.select(JournalEntry.action).where(
        JournalEntry.stream == f"work_report:{report['id']}").order_by(JournalEntry.seq)).scalars().all()
    assert events == ["drafted", "edited", "submitted"]  # journaled, hash-chained


def test_art11_5_the_level_above_lists_who_has_submitted_and_who_has_not(as_finance, as_city_finance,
                                                                          as_county_finance):
    missing = as_finance.get("/api/v1/work-reports/overview", query_string=PERIOD).get_json()["items"]
    assert [(i["org_code"], i["status"]) for i in missing] == [(CITY, "missing")]
    report = _draft(as_city_finance)
    as_city_finance.patch(f"/api/v1/work-reports/{report['id']}", json={"narrative": "工作情况"})
    assert [i["status"] for i in as_finance.get("/api/v1/work-reports/overview", query_string=PERIOD)
            .get_json()["items"]] == ["draft"]
    as_city_finance.post(f"/api/v1/work-reports/{report['id']}/submit")
    [city] = as_finance.get("/api/v1/work-reports/overview", query_string=PERIOD).get_json()["items"]
    assert (city["status"], city["report_id"]) == ("submitted", report["id"])
    # the city sees its counties: the county has not reported
    assert [(i["org_code"], i["status"]) for i in as_city_finance.get(
        "/api/v1/work-reports/overview", query_string=PERIOD).get_json()["items"]] == [(COUNTY, "missing")]
    county = _draft(as_county_finance)
    assert county["upper_code"] == CITY
    assert as_city_finance.get(f"/api/v1/work-reports/{county['id']}").status_code == 200
    assert {r["org_code"] for r in as_finance.get("/api/v1/work-reports").get_json()["items"]} == {CITY, COUNTY}


def test_art11_5_only_finance_reads_reports_and_another_region_not_at_all(as_city_finance, as_county_finance,
                                                                           as_finance, as_unit, as_competent,
                                                                           as_bank):
    report = _draft(as_city_finance)
    assert as_county_finance.get(f"/api/v1/work-reports/{report['id']}").status_code == 404
    assert as_county_finance.patch(f"/api/v1/work-reports/{report['id']}", json={"narrative": "x"}).status_code == 404
    for party in (as_unit, as_competent, as_bank):
        assert party.get("/api/v1/work-reports").status_code == 403
        assert party.get(f"/api/v1/work-reports/{report['id']}").status_code == 403
        assert party.post("/api/v1/work-reports", json=PERIOD).status_code == 403
    assert as_finance.post("/api/v1/work-reports", json=PERIOD).status_code == 403  # no level above the province


def test_art11_5_a_major_problem_is_told_to_the_level_above_at_once(as_city_finance, as_county_finance, as_finance):
    form = MultiDict([("problem", json.dumps({"title": "某单位套取专项资金", "description": "虚列支出套取资金，已暂停支付",
                                               "amount": "1250000.00", "unit_codes": ["653000-301001"]})),
                      ("file", FileStorage(io.BytesIO(PDF), filename="情况报告.pdf", content_type="application/pdf"))])
    boundary, body = encode_multipart(form)
    response = as_city_finance.post("/api/v1/major-problems", data=body,
                                    content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 201, response.get_json()
    problem = response.get_json()
    assert problem["upper_code"] == PROVINCE and problem["amount"] == "1250000.00" and len(problem["files"]) == 1
    # told in the same transaction as the report: no scheduler has run
    assert _told("major_problem_reported") == [(f"major_problem:{problem['id']}:reported", org_by_code(PROVINCE).id)]
    assert as_finance.get(f"/api/v1/major-problems/{problem['id']}").status_code == 200
    assert as_county_finance.get(f"/api/v1/major-problems/{problem['id']}").status_code == 404
    county = as_county_finance.post("/api/v1/major-problems", json={"title": "县级重大问题", "description": "情况"})
    assert county.status_code == 201
    told = _told("major_problem_reported")
    assert (f"major_problem:{county.get_json()['id']}:reported", org_by_code(CITY).id) in told


def test_art11_5_bad_input_is_422_naming_the_field(as_city_finance):
    for body, field in (({"from": "2021-01-01"}, "to"), ({"from": "2021-02-01", "to": "2021-01-01"}, "to")):
        response = as_city_finance.post("/api/v1/work-reports", json=body)
        assert response.status_code == 422 and field in str(response.get_json()["errors"]), response.get_json()
    report = _draft(as_city_finance)
    response = as_city_finance.patch(f"/api/v1/work-reports/{report['id']}", json={"text": "x"})
    assert response.status_code == 422 and "narrative" in str(response.get_json()["errors"])
    for body, field in (({"title": "t", "description": "d", "amount": "1e9"}, "amount"),
                        ({"title": "t", "description": "d", "unit_codes": ["653001-999"]}, "unit_codes"),
                        ({"description": "d"}, "title")):
        response = as_city_finance.post("/api/v1/major-problems", json=body)
        assert response.status_code == 422 and field in response.get_json()["errors"], (field, response.get_json())
    assert as_city_finance.get("/api/v1/major-problems").get_json()["items"] == []

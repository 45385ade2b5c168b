"""Complaints and reports (投诉举报, Art. 20, 25(四)): public intake, rate limit, confidentiality, triage."""
import datetime as dt

import pytest
from verification_support import UNIT, count, held_payment, outbox

from workflow.complaints import Complaint, ComplaintRate, client_digest

REPORT = {"unit_code": UNIT, "description": "该单位用现金报销大额差旅费，疑似虚列支出",
          "reporter_name": "王举报", "reporter_phone": "13800001111", "reporter_email": "wang@example.invalid"}
IDENTITY = ("reporter_name", "reporter_phone", "reporter_email")


def report(client, body=None, address="203.0.113.7"):
    return client.post("/api/v1/complaints", json=body or REPORT, environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def limited(app):
    app.config["FUNDWATCH_COMPLAINTS_PER_WINDOW"] = 2
    app.config["FUNDWATCH_COMPLAINT_WINDOW_SECONDS"] = 3600
    return app


def test_art20_anyone_may_report_without_a_token(client, demo):
    response = report(client)
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    assert set(receipt) == {"id", "status", "received_at"}
    assert receipt["status"] == "received"


def test_art20_only_the_intake_is_public_the_list_needs_a_token(client, demo):
    assert client.get("/api/v1/complaints").status_code == 401
    assert client.post("/api/v1/complaints/1/triage", json={"into": "warning"}).status_code == 401


def test_art20_a_report_must_name_the_unit_and_say_what_happened(client, demo):
    response = report(client, {"description": "有问题"})
    assert response.status_code == 422
    assert {"unit_code", "description"} <= set(response.get_json()["errors"])
    assert count(Complaint) == 0


def test_art20_finance_in_charge_is_told_without_the_reporters_identity(client, as_city_finance):
    report(client)
    [message] = outbox("complaint_received")
    assert message.recipient_org_id == as_city_finance.org.id
    assert "现金报销" in message.body
    for secret in ("王举报", "13800001111", "wang@example.invalid"):
        assert secret not in message.body and secret not in message.subject


def test_art20_the_reporters_identity_is_seen_by_finance_alone(client, as_city_finance, as_finance, as_unit,
                                                                as_competent, as_oversight, as_bank):
    complaint_id = report(client).get_json()["id"]
    for party in (as_city_finance, as_finance):  # the department in charge, and the province above it
        listed = party.get("/api/v1/complaints").get_json()["items"]
        assert [(c["id"], c["reporter_name"], c["reporter_phone"]) for c in listed] == [
            (complaint_id, "王举报", "13800001111")]
    for party in (as_unit, as_competent, as_oversight, as_bank):
        assert party.get("/api/v1/complaints").status_code == 403
        assert party.get(f"/api/v1/complaints/{complaint_id}").status_code == 403


def test_art20_a_finance_department_sees_only_reports_of_its_jurisdiction(client, as_county_finance):
    complaint_id = report(client).get_json()["id"]
    assert as_county_finance.get("/api/v1/complaints").get_json()["items"] == []
    assert as_county_finance.get(f"/api/v1/complaints/{complaint_id}").status_code == 404


def test_art20_public_intake_is_rate_limited_per_address(client, demo, limited):
    assert [report(client).status_code for _ in range(2)] == [201, 201]
    refused = report(client)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert refused.get_json()["code"] == 429
    assert count(Complaint) == 2
    assert report(client, address="198.51.100.9").status_code == 201  # another address has its own count


def test_art20_rate_counts_live_in_the_database_and_store_no_address(client, demo, limited):
    import sqlalchemy as sa

    from workflow.db import db

    report(client)
    [row] = db.session.execute(sa.select(ComplaintRate)).scalars().all()
    assert row.client == client_digest("203.0.113.7") and row.hits == 1
    assert "203.0.113.7" not in row.client


def test_art20_the_limit_resets_in_the_next_window(app, demo, limited):
    from workflow import complaints
    from workflow.db import db
    from workflow.errors import DomainError

    start = dt.datetime(2026, 3, 2, 9, 0, 10, tzinfo=dt.timezone.utc)
    for _ in range(2):
        complaints.count_report("192.0.2.1", start)
    with pytest.raises(complaints.RateLimited) as refused:
        complaints.count_report("192.0.2.1", start)
    assert refused.value.retry_after == 3600 - 10
    assert isinstance(refused.value, DomainError) and refused.value.status == 429
    db.session.rollback()
    complaints.count_report("192.0.2.1", start + dt.timedelta(hours=1))  # a new window: accepted


def test_art20_triage_into_a_warning_on_the_named_payment(client, as_city_finance, as_unit):
    item, _ = held_payment(as_city_finance)
    complaint_id = report(client, {**REPORT, "voucher_no": item["voucher_no"]}).get_json()["id"]
    response = as_city_finance.post(f"/api/v1/complaints/{complaint_id}/triage", json={"into": "warning"})
    assert response.status_code == 200, response.get_json()
    triaged = response.get_json()
    assert triaged["status"] == "warning" and triaged["warning_id"]

    warning = as_unit.get(f"/api/v1/warnings/{triaged['warning_id']}").get_json()
    assert (warning["rule"], warning["article"]) == ("complaint", "第二十条")
    assert warning["payment"]["voucher_no"] == item["voucher_no"]
    text = str(warning)
    for secret in ("王举报", "13800001111", "wang@example.invalid", "虚列支出"):
        assert secret not in text


def test_art20_triage_into_a_case(client, as_city_finance):
    complaint_id = report(client).get_json()["id"]
    response = as_city_finance.post(f"/api/v1/complaints/{complaint_id}/triage", json={
        "into": "case", "rung": "decision",
        "fields": {"summary": "超范围使用现金报销差旅费", "measures": ["return_funds", "adjust_accounts"]}})
    assert response.status_code == 200, response.get_json()
    triaged = response.get_json()
    assert triaged["status"] == "case" and triaged["case_id"]
    case = as_city_finance.get(f"/api/v1/cases/{triaged['case_id']}").get_json()
    assert case["state"] == "decision" and case["subject"]["code"] == UNIT


def test_art20_a_case_needs_its_rung(client, as_city_finance):
    complaint_id = report(client).get_json()["id"]
    response = as_city_finance.post(f"/api/v1/complaints/{complaint_id}/triage", json={"into": "case"})
    assert response.status_code == 422
    assert "rung" in response.get_json()["errors"]


def test_art20_dismissal_needs_a_reason_and_a_report_is_triaged_once(client, as_city_finance):
    complaint_id = report(client).get_json()["id"]
    url = f"/api/v1/complaints/{complaint_id}/triage"
    assert as_city_finance.post(url, json={"into": "dismissed"}).status_code == 422
    done = as_city_finance.post(url, json={"into": "dismissed", "reason": "经核查，差旅费已按规定用公务卡结算"})
    assert done.status_code == 200 and done.get_json()["status"] == "dismissed"
    assert as_city_finance.post(url, json={"into": "warning"}).status_code == 409


def test_art20_a_report_naming_no_known_unit_goes_to_the_default_department(client, as_finance, as_city_finance):
    response = report(client, {"unit_name": "某不存在的单位", "description": "违规发放津补贴"})
    assert response.status_code == 201
    complaint_id = response.get_json()["id"]
    assert [c["id"] for c in as_finance.get("/api/v1/complaints").get_json()["items"]] == [complaint_id]
    assert as_city_finance.get("/api/v1/complaints").get_json()["items"] == []
    # finance identifies the unit when it triages
    triaged = as_finance.post(f"/api/v1/complaints/{complaint_id}/triage",
                              json={"into": "warning", "unit_code": UNIT})
    assert triaged.status_code == 200, triaged.get_json()
    assert triaged.get_json()["unit_code"] == UNIT


def test_art20_only_finance_triages(client, as_unit, demo):
    complaint_id = report(client).get_json()["id"]
    assert as_unit.post(f"/api/v1/complaints/{complaint_id}/triage", json={"into": "dismissed", "reason": "x"}
                        ).status_code == 403

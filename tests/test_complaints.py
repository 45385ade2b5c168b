"""Complaints and reports (投诉举报, Art. 20, 25(四); issue 10 "Complaints"): public form and intake,
hotlines, calls recorded by finance, receipt codes and the reporter's status look-up, rate limits,
confidentiality, triage."""
import datetime as dt
import re

import pytest
from verification_support import UNIT, count, held_payment, outbox

from workflow.complaints import (
    Complaint,
    ComplaintRate,
    client_digest,
    new_receipt_code,
    normal_receipt_code,
    receipt_digest,
)
from workflow.db import db

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
    assert set(receipt) == {"id", "status", "received_at", "receipt_code", "hotlines"}
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


# --- hotlines (举报电话) ----------------------------------------------------------------------------

HOTLINES = "0908-4222222（克州财政局）; 12345"


@pytest.fixture
def hotlines(app):
    app.config["FUNDWATCH_COMPLAINT_HOTLINES"] = HOTLINES
    return ["0908-4222222（克州财政局）", "12345"]


def test_art20_the_public_form_shows_the_configured_hotlines_without_a_token(client, demo, hotlines):
    response = client.get("/api/v1/complaints/form")
    assert response.status_code == 200
    form = response.get_json()
    assert form["hotlines"] == hotlines
    assert (form["submit"], form["status_lookup"]) == ("/api/v1/complaints", "/api/v1/complaints/status")
    assert "回执码" in form["instructions"] and "保密" in form["instructions"]


def test_art20_receipts_and_status_answers_carry_the_hotlines(client, demo, hotlines):
    receipt = report(client).get_json()
    assert receipt["hotlines"] == hotlines
    status = client.post("/api/v1/complaints/status", json={"receipt_code": receipt["receipt_code"]}).get_json()
    assert status["hotlines"] == hotlines


def test_art20_no_hotline_configured_shows_none(client, demo):
    assert client.get("/api/v1/complaints/form").get_json()["hotlines"] == []


# --- receipt codes and the reporter's look-up --------------------------------------------------------

def lookup(client, code, address="203.0.113.7"):
    return client.post("/api/v1/complaints/status", json={"receipt_code": code}, environ_base={"REMOTE_ADDR": address})


def test_art20_a_reporter_who_leaves_a_contact_gets_a_receipt_code_shown_once_and_stored_as_a_digest(client, as_city_finance):
    answer = report(client)
    assert answer.headers["Cache-Control"] == "no-store"
    receipt = answer.get_json()
    code = receipt["receipt_code"]
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", code)
    row = db.session.get(Complaint, receipt["id"])
    assert row.receipt_code_sha256 == receipt_digest(normal_receipt_code(code)) and code not in str(vars(row))
    seen = as_city_finance.get(f"/api/v1/complaints/{receipt['id']}").get_json()
    assert seen["has_receipt_code"] is True and code not in str(seen)
    assert code not in str(as_city_finance.get(f"/api/v1/complaints/{receipt['id']}/events").get_json())
    assert all(code not in m.body for m in outbox("complaint_received"))


def test_art20_an_anonymous_reporter_gets_no_code(client, demo):
    receipt = report(client, {"unit_code": UNIT, "description": "该单位违规发放津贴补贴"}).get_json()
    assert receipt["receipt_code"] is None


def test_art20_codes_are_unguessable_and_distinct():
    codes = {new_receipt_code() for _ in range(1000)}
    assert len(codes) == 1000
    assert all(normal_receipt_code(c) and len(normal_receipt_code(c)) == 16 for c in codes)


def test_art20_the_code_tells_the_status_received_then_being_handled_then_concluded(client, as_city_finance):
    receipt = report(client).get_json()
    code, url = receipt["receipt_code"], f"/api/v1/complaints/{receipt['id']}/triage"
    first = lookup(client, code).get_json()
    assert first == {"status": "received", "received_at": receipt["received_at"], "handled_from": None,
                     "concluded_at": None, "hotlines": []}

    triaged = as_city_finance.post(url, json={"into": "warning"}).get_json()
    handled = lookup(client, code).get_json()
    assert handled["status"] == "being_handled" and handled["handled_from"] and handled["concluded_at"] is None

    as_city_finance.post(f"/api/v1/warnings/{triaged['warning_id']}/dismiss", json={"reason": "查无实据"})
    concluded = lookup(client, code).get_json()
    assert concluded["status"] == "concluded" and concluded["concluded_at"]


def test_art20_a_report_dismissed_at_triage_is_concluded(client, as_city_finance):
    receipt = report(client).get_json()
    as_city_finance.post(f"/api/v1/complaints/{receipt['id']}/triage", json={"into": "dismissed", "reason": "重复举报"})
    status = lookup(client, receipt["receipt_code"]).get_json()
    assert status["status"] == "concluded" and status["handled_from"] == status["concluded_at"]


def test_art20_the_reporter_learns_nothing_of_the_unit_s_case(client, as_city_finance):
    receipt = report(client).get_json()
    triaged = as_city_finance.post(f"/api/v1/complaints/{receipt['id']}/triage", json={
        "into": "case", "rung": "decision",
        "fields": {"summary": "超范围使用现金报销差旅费", "measures": ["return_funds"]}}).get_json()
    status = lookup(client, receipt["receipt_code"]).get_json()
    assert set(status) == {"status", "received_at", "handled_from", "concluded_at", "hotlines"}
    assert status["status"] == "being_handled"  # the case is open: nothing says what it is
    assert triaged["case_id"] and status["hotlines"] == []
    for name in ("received_at", "handled_from", "concluded_at"):  # dates, or none: no number, rung or text
        assert status[name] is None or dt.datetime.fromisoformat(status[name])


def test_art20_the_code_is_read_forgivingly(client, demo):
    code = report(client).get_json()["receipt_code"]
    for written in (code.lower(), code.replace("-", " "), code.replace("-", "")):
        assert lookup(client, written).status_code == 200


def test_art20_an_unknown_code_is_the_same_404_as_a_malformed_one(client, demo):
    code = report(client).get_json()["receipt_code"]
    wrong = ("0" if code[0] != "0" else "1") + code[1:]
    answers = [lookup(client, c) for c in (wrong, "not-a-code", "U" * 16)]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert len({str(a.get_json()) for a in answers}) == 1


def test_art20_look_ups_are_rate_limited_per_address_apart_from_reports(client, demo, limited):
    code = report(client).get_json()["receipt_code"]
    app = client.application
    app.config["FUNDWATCH_COMPLAINT_LOOKUPS_PER_WINDOW"] = 3
    assert [lookup(client, "0000-0000-0000-0000").status_code for _ in range(3)] == [404] * 3
    refused = lookup(client, code)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert lookup(client, code, address="198.51.100.9").status_code == 200
    assert report(client).status_code == 201  # look-ups do not use up the address's reports


def test_art20_the_code_travels_in_the_body_never_in_the_url(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/complaints/status"]
    assert set(operation) == {"post"} and operation["post"]["security"] == []
    assert "requestBody" in operation["post"] and not operation["post"].get("parameters")


# --- calls to the hotline, recorded by finance ----------------------------------------------------------

CALL = {"unit_code": UNIT, "description": "来电反映该单位以会议费名义列支旅游费用", "reporter_phone": "13900002222",
        "received_at": "2026-03-02T09:15:00+08:00"}


def test_art20_finance_records_a_call_with_channel_recorder_and_time(client, as_city_finance):
    response = as_city_finance.post("/api/v1/complaints/phone", json=CALL)
    assert response.status_code == 201, response.get_json()
    recorded = response.get_json()
    assert (recorded["channel"], recorded["recorded_by"], recorded["status"]) == (
        "phone", as_city_finance.user.name, "received")
    assert recorded["received_at"] == "2026-03-02T09:15:00+08:00"  # when the call came in, not when typed
    assert recorded["reporter_phone"] == "13900002222" and normal_receipt_code(recorded["receipt_code"])
    # the caller, told the code, looks the report up like any reporter
    assert lookup(client, recorded["receipt_code"]).get_json()["status"] == "received"
    [message] = outbox("complaint_received")
    assert "举报电话" in message.body and as_city_finance.user.name in message.body and "13900002222" not in message.body


def test_art20_a_recorded_call_enters_the_same_triage(client, as_city_finance):
    complaint_id = as_city_finance.post("/api/v1/complaints/phone", json=CALL).get_json()["id"]
    listed = as_city_finance.get("/api/v1/complaints?channel=phone").get_json()["items"]
    assert [c["id"] for c in listed] == [complaint_id]
    triaged = as_city_finance.post(f"/api/v1/complaints/{complaint_id}/triage", json={"into": "warning"})
    assert triaged.status_code == 200 and triaged.get_json()["warning_id"]
    [received, _] = as_city_finance.get(f"/api/v1/complaints/{complaint_id}/events").get_json()["items"]
    assert received["payload"]["channel"] == "phone" and received["actor"]["user_id"] == as_city_finance.user.id


def test_art20_a_call_naming_no_known_unit_stays_with_the_recording_department(as_county_finance, as_finance):
    recorded = as_county_finance.post("/api/v1/complaints/phone", json={
        "unit_name": "某不存在的单位", "description": "来电反映违规发放补贴", "received_at": CALL["received_at"]})
    assert recorded.status_code == 201, recorded.get_json()
    assert recorded.get_json()["finance_code"] == as_county_finance.org.code
    assert recorded.get_json()["receipt_code"] is None


def test_art20_only_finance_records_calls_and_a_call_is_not_in_the_future(client, as_city_finance, as_unit):
    assert client.post("/api/v1/complaints/phone", json=CALL).status_code == 401
    assert as_unit.post("/api/v1/complaints/phone", json=CALL).status_code == 403
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()
    refused = as_city_finance.post("/api/v1/complaints/phone", json={**CALL, "received_at": future})
    assert refused.status_code == 422 and "received_at" in refused.get_json()["errors"]
    missing = as_city_finance.post("/api/v1/complaints/phone", json={k: v for k, v in CALL.items() if k != "received_at"})
    assert missing.status_code == 422 and "received_at" in missing.get_json()["errors"]

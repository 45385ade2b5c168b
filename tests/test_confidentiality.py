"""Confidentiality as the regulation means it (issue 16, item 4).

- Art. 11(二)5: a joint investigation (部门协查) is hidden from the parties under verification
  (the unit, its competent department, the bank), and so is everything the oversight body
  answered to it, wherever it surfaces: the warning, its journal.
- Art. 23: a referral (移送) goes from finance to the receiving body. The subject and its
  competent department see that the case was referred (the event keeps its place in the
  history) but not the letter, the body, the grounds, the materials or the body's findings.
- Finance sees its region: a city reads the province's notice to one of its units.
- Art. 16: individual payees are filed with finance; the competent department does not read them.
"""
from __future__ import annotations

import pytest

from tests.cases_support import OVERSIGHT, act_ok, open_case
from tests.verification_support import held_payment
from workflow.chain import GENESIS

STEPS = "/api/v1/warnings/{}/steps"
UNDER_VERIFICATION = ("unit", "competent", "bank")


def _joint_investigation_answered(as_city_finance, as_oversight, as_unit) -> int:
    _, warning_id = held_payment(as_city_finance)
    assert as_city_finance.post(STEPS.format(warning_id), json={
        "kind": "joint_investigation", "oversight_code": OVERSIGHT, "matters": "核查现金支付差旅费"}).status_code == 201
    assert as_oversight.post(f"/api/v1/warnings/{warning_id}/responses",
                             json={"text": "审计局协查意见：票据存疑"}).status_code == 201
    assert as_unit.post(f"/api/v1/warnings/{warning_id}/responses",
                        json={"text": "单位情况说明：出差人员无公务卡"}).status_code == 201
    return warning_id


@pytest.mark.parametrize("party", UNDER_VERIFICATION)
def test_art11_2_5_the_oversight_bodys_answer_is_as_hidden_as_the_joint_investigation(
        request, as_city_finance, as_oversight, as_unit, party):
    warning_id = _joint_investigation_answered(as_city_finance, as_oversight, as_unit)
    client = request.getfixturevalue(f"as_{party}")
    seen = client.get(f"/api/v1/warnings/{warning_id}").get_json()
    assert seen["steps"] == []
    assert [r["kind"] for r in seen["responses"]] == ["explanation"]
    journal = client.get(f"/api/v1/warnings/{warning_id}/events").get_json()["items"]
    assert "审计局协查意见" not in str(journal) and OVERSIGHT not in str(journal)
    assert [e["action"] for e in journal] == ["response_added"]  # the unit's own explanation
    inbox = client.get("/api/v1/notifications").get_json()["items"]
    assert "审计" not in str(inbox) and "协查" not in str(inbox)


@pytest.mark.parametrize("party", UNDER_VERIFICATION)
def test_art11_2_5_nothing_the_parties_under_verification_read_betrays_the_joint_investigation(
        request, as_city_finance, as_oversight, party):
    """No trace either: the warning's status and version stay as they were, and the journal
    they read is numbered without gaps from the genesis hash."""
    _, warning_id = held_payment(as_city_finance)
    client = request.getfixturevalue(f"as_{party}")
    before = client.get(f"/api/v1/warnings/{warning_id}").get_json()
    assert as_city_finance.post(STEPS.format(warning_id), json={
        "kind": "joint_investigation", "oversight_code": OVERSIGHT, "matters": "核查"}).status_code == 201
    assert as_oversight.post(f"/api/v1/warnings/{warning_id}/responses", json={"text": "协查意见"}).status_code == 201
    after = client.get(f"/api/v1/warnings/{warning_id}").get_json()
    assert (after["status"], after["version"]) == (before["status"], before["version"])
    assert as_city_finance.post(STEPS.format(warning_id), json={"kind": "phone", "summary": "电话核实"}).status_code == 201
    journal = client.get(f"/api/v1/warnings/{warning_id}/events").get_json()["items"]
    assert [e["seq"] for e in journal] == list(range(1, len(journal) + 1))
    assert journal[0]["prev_hash"] == GENESIS
    assert [e["action"] for e in journal] == ["step_added"]


@pytest.mark.parametrize("party", ["city_finance", "finance", "oversight"])
def test_art11_2_5_finance_and_the_body_asked_read_the_answer(request, as_city_finance, as_oversight, as_unit, party):
    warning_id = _joint_investigation_answered(as_city_finance, as_oversight, as_unit)
    client = request.getfixturevalue(f"as_{party}")
    seen = client.get(f"/api/v1/warnings/{warning_id}").get_json()
    assert [r["kind"] for r in seen["responses"]] == ["findings", "explanation"]
    journal = client.get(f"/api/v1/warnings/{warning_id}/events").get_json()["items"]
    assert [e["action"] for e in journal] == ["joint_investigation_requested", "response_added", "response_added"]


def _referred_case(as_city_finance, as_oversight) -> int:
    case_id = open_case(as_city_finance, "order")["id"]
    act_ok(as_city_finance, case_id, "refer", oversight=OVERSIGHT, reason="违规金额较大，情节严重",
           materials=["支付凭证复印件"])
    act_ok(as_oversight, case_id, "record_findings", findings="列为重点监督检查对象")
    return case_id


@pytest.mark.parametrize("party", ["unit", "competent"])
def test_art23_the_subject_sees_that_its_case_was_referred_but_not_the_letter_or_the_grounds(
        request, as_city_finance, as_oversight, party):
    case_id = _referred_case(as_city_finance, as_oversight)
    client = request.getfixturevalue(f"as_{party}")
    documents = client.get(f"/api/v1/cases/{case_id}/documents").get_json()["items"]
    assert [d["kind"] for d in documents] == ["rectification_order"]
    letter = as_city_finance.get(f"/api/v1/cases/{case_id}/documents").get_json()["items"][-1]
    assert letter["kind"] == "referral_letter"
    for path in ("", "/html", "/events"):
        assert client.get(f"/api/v1/documents/{letter['id']}{path}").status_code == 404

    events = client.get(f"/api/v1/cases/{case_id}/events").get_json()["items"]
    assert [e["seq"] for e in events] == [1, 2, 3]  # no gap: the referral keeps its place
    refer, findings = events[1], events[2]
    assert (refer["trigger"], refer["from"], refer["to"]) == ("refer", "order", "order")
    assert findings["trigger"] == "record_findings"
    for event in (refer, findings):
        assert event["payload"] == {"withheld": "第二十三条 (Art. 23)"}
        assert event["party"]["code"] is None and event["actor"]["user_id"] is None
    text = str(events) + str(client.get("/api/v1/notifications").get_json())
    assert OVERSIGHT not in text and "情节严重" not in text and "重点监督" not in text and "移送函" not in text


@pytest.mark.parametrize("party", ["city_finance", "finance", "oversight"])
def test_art23_finance_and_the_receiving_body_read_the_referral(request, as_city_finance, as_oversight, party):
    case_id = _referred_case(as_city_finance, as_oversight)
    client = request.getfixturevalue(f"as_{party}")
    kinds = [d["kind"] for d in client.get(f"/api/v1/cases/{case_id}/documents").get_json()["items"]]
    assert kinds == ["rectification_order", "referral_letter"]
    events = client.get(f"/api/v1/cases/{case_id}/events").get_json()["items"]
    assert events[1]["payload"]["reason"] == "违规金额较大，情节严重"
    assert events[2]["payload"]["findings"] == "列为重点监督检查对象"


def test_finance_reads_the_provinces_notice_to_a_unit_of_its_region(as_finance, as_city_finance, as_county_finance):
    _, warning_id = held_payment(as_finance)
    response = as_finance.post(STEPS.format(warning_id), json={
        "kind": "interview", "interview_at": "2021-06-10T10:00:00+08:00", "room": "财政厅302"})
    assert response.status_code == 201, response.get_json()
    document_id = response.get_json()["document_id"]
    assert as_city_finance.get(f"/api/v1/documents/{document_id}").status_code == 200
    assert as_city_finance.get(f"/api/v1/warnings/{warning_id}").get_json()["document_ids"] == [document_id]
    assert as_county_finance.get(f"/api/v1/documents/{document_id}").status_code == 404


def test_art16_payee_filings_are_read_by_the_unit_and_finance_only(as_unit, as_city_finance, as_competent):
    response = as_unit.post("/api/v1/payees", json={
        "unit_code": "653000-301001", "name": "张三", "id_number": "653001199001011234",
        "employer": "克州政协机关", "title": "科员", "account": "6222000011113333"})
    assert response.status_code == 201, response.get_json()
    payee_id = response.get_json()["id"]
    for path in (f"/api/v1/payees/{payee_id}", f"/api/v1/payees/{payee_id}/events"):
        assert as_unit.get(path).status_code == 200
        assert as_city_finance.get(path).status_code == 200
        assert as_competent.get(path).status_code == 404
    assert as_competent.get("/api/v1/payees").get_json()["items"] == []

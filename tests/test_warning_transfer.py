"""Handing on what is not finance's (移交, Art. 11(三): 对核实确认的违规问题……不属于职责范围内的，
按照规定移交有关部门处理; issue 10).

Finance hands an open or verifying warning on to the department that owns the matter with a
numbered 移交函; the department alone (besides finance) sees it, answers with its outcome, and
finance closes the matter (移交办结). A blocking warning keeps its payment held until then.
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from race_support import one_winner, race
from test_statistics import group, stats
from verification_support import OVERSIGHT, UNIT, count, held_payment, outbox, payment_status, warning_row

from workflow.db import db
from workflow.documents import Document
from workflow.journal import JournalEntry

DEPARTMENT = "653000-SCJG"  # the prefecture's market regulation bureau (demo)
PROVINCE_DEPARTMENT = "650000-RST"  # the region's human resources department (demo)


def body(**over) -> dict:
    data = {"receiver_code": DEPARTMENT, "matters": ["收款单位涉嫌虚开发票", "收款单位无证经营"],
            "basis": "《中华人民共和国市场主体登记管理条例》", "reply_by": "2021-07-15",
            "materials": ["支付凭证复印件", "发票复印件"]}
    data.update(over)
    return data


def transfer(finance, warning_id: int, **over):
    return finance.post(f"/api/v1/warnings/{warning_id}/transfer", json=body(**over))


def transferred(finance) -> tuple[dict, int, dict]:
    """A held payment, its blocking warning handed on to the prefecture's market regulation bureau."""
    item, warning_id = held_payment(finance)
    response = transfer(finance, warning_id)
    assert response.status_code == 201, response.get_json()
    return item, warning_id, response.get_json()


def answer(party, warning_id: int, text: str = "已立案查处，责令收款单位补开合规发票"):
    return party.post(f"/api/v1/warnings/{warning_id}/responses", json={"text": text})


def close(finance, warning_id: int, **over):
    return finance.post(f"/api/v1/warnings/{warning_id}/close-transfer",
                        json={"summary": "市场监管局已查处，财政部门办结", **over})


# --- the transfer -------------------------------------------------------------------------------

def test_art11_3_finance_hands_an_open_warning_on_with_a_numbered_transfer_letter(as_city_finance):
    item, warning_id, handed = transferred(as_city_finance)
    assert handed["receiver_code"] == DEPARTMENT
    assert handed["details"]["matters"] == ["收款单位涉嫌虚开发票", "收款单位无证经营"]
    assert handed["details"]["reply_by"] == "2021-07-15"
    warning = as_city_finance.get(f"/api/v1/warnings/{warning_id}").get_json()
    assert warning["status"] == "transferred"
    assert warning["transfer"]["document_id"] == handed["document_id"]
    assert handed["document_id"] in warning["document_ids"]

    letter = as_city_finance.get(f"/api/v1/documents/{handed['document_id']}").get_json()
    assert letter["kind"] == "transfer_letter" and letter["warning_id"] == warning_id
    assert re.fullmatch(r"\d{4}年第1号", letter["number"])
    assert letter["issuer"]["code"] == "653000-CZ" and letter["addressee"]["code"] == DEPARTMENT
    html = as_city_finance.get(f"/api/v1/documents/{handed['document_id']}/html").get_data(as_text=True)
    for text in ("预算执行动态监控问题移交函", f"编号：{letter['number']}", "克孜勒苏柯尔克孜自治州市场监督管理局（演示）",
                 "中国人民政治协商会议克孜勒苏柯尔克孜自治州委员会机关", item["voucher_no"], "1,500.00元",
                 "收款单位涉嫌虚开发票", "依据《预算执行动态监控管理办法》第十一条第（三）项",
                 "《中华人民共和国市场主体登记管理条例》", "2021年7月15日", "发票复印件", "克孜勒苏柯尔克孜自治州财政局"):
        assert text in html, text

    again = transferred(as_city_finance)[2]
    second = as_city_finance.get(f"/api/v1/documents/{again['document_id']}").get_json()
    assert second["number"] == letter["number"].replace("第1号", "第2号")  # per issuer, year and kind


def test_art11_3_a_warning_being_verified_can_be_handed_on(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/steps",
                                json={"kind": "phone", "summary": "电话核实：收款单位无营业执照"}).status_code == 201
    assert warning_row(warning_id).status == "verifying"
    assert transfer(as_city_finance, warning_id).status_code == 201
    assert warning_row(warning_id).status == "transferred"


def test_art11_3_a_decided_warning_cannot_be_handed_on_nor_a_transferred_one_decided_again(as_city_finance):
    _, dismissed = held_payment(as_city_finance)
    assert as_city_finance.post(f"/api/v1/warnings/{dismissed}/dismiss", json={"reason": "误报"}).status_code == 200
    refused = transfer(as_city_finance, dismissed)
    assert refused.status_code == 409 and refused.get_json()["errors"] == {"status": ["dismissed"]}

    _, confirmed = held_payment(as_city_finance)
    assert as_city_finance.post(f"/api/v1/warnings/{confirmed}/confirm", json={"rung": "warning"}).status_code == 201
    assert transfer(as_city_finance, confirmed).status_code == 409

    _, warning_id, _ = transferred(as_city_finance)
    for action, data in (("confirm", {"rung": "warning"}), ("dismiss", {"reason": "误报"}), ("transfer", body())):
        response = as_city_finance.post(f"/api/v1/warnings/{warning_id}/{action}", json=data)
        assert response.status_code == 409, action
        assert response.get_json()["errors"] == {"status": ["transferred"]}
    assert count(Document, Document.kind == "transfer_letter") == 1


def test_art11_3_only_finance_of_the_units_jurisdiction_hands_a_warning_on(
        as_city_finance, as_county_finance, as_unit, as_competent, as_department):
    _, warning_id = held_payment(as_city_finance)
    assert transfer(as_county_finance, warning_id).status_code == 404  # not its region: as if none
    for party in (as_unit, as_competent, as_department):
        assert transfer(party, warning_id).status_code == 403
    assert warning_row(warning_id).status == "open"


def test_art11_3_the_receiver_must_be_a_department_in_reach_and_the_fields_complete(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    for code in ("NO-SUCH-ORG", OVERSIGHT, "653000-301001", PROVINCE_DEPARTMENT):  # the province's: out of the city's reach
        response = transfer(as_city_finance, warning_id, receiver_code=code)
        assert response.status_code == 422, code
        assert "receiver_code" in response.get_json()["errors"], code
    missing = as_city_finance.post(f"/api/v1/warnings/{warning_id}/transfer", json={"receiver_code": DEPARTMENT})
    assert missing.status_code == 422
    assert {"matters", "basis"} <= set(missing.get_json()["errors"])
    foreign = transfer(as_city_finance, warning_id, rung="warning")
    assert foreign.status_code == 422 and "rung" in foreign.get_json()["errors"]
    bad_date = transfer(as_city_finance, warning_id, reply_by="next week")
    assert bad_date.status_code == 422 and "reply_by" in bad_date.get_json()["errors"]
    assert warning_row(warning_id).status == "open"
    assert count(Document, Document.kind == "transfer_letter") == 0  # nothing half-written


def test_art11_3_the_province_hands_on_to_its_own_department(as_finance, as_city_finance, as_province_department):
    _, warning_id = held_payment(as_city_finance)
    assert transfer(as_finance, warning_id, receiver_code=PROVINCE_DEPARTMENT).status_code == 201
    assert as_province_department.get(f"/api/v1/warnings/{warning_id}").status_code == 200


# --- who sees it --------------------------------------------------------------------------------

def test_art11_3_the_receiver_sees_the_warning_its_payment_and_its_letter_and_no_one_else_does(
        as_city_finance, as_department, as_province_department, as_other_unit, as_unit, as_oversight):
    item, warning_id, handed = transferred(as_city_finance)
    _, untouched = held_payment(as_city_finance)
    seen = as_department.get(f"/api/v1/warnings/{warning_id}").get_json()
    assert seen["status"] == "transferred" and seen["payment"]["voucher_no"] == item["voucher_no"]
    assert seen["transfer"]["receiver_code"] == DEPARTMENT and seen["document_ids"] == [handed["document_id"]]
    assert [w["id"] for w in as_department.get("/api/v1/warnings").get_json()["items"]] == [warning_id]
    assert as_department.get(f"/api/v1/warnings/{untouched}").status_code == 404
    own = as_department.get("/api/v1/documents").get_json()["items"]
    assert [(d["id"], d["kind"]) for d in own] == [(handed["document_id"], "transfer_letter")]
    assert as_department.get(f"/api/v1/documents/{handed['document_id']}/html").status_code == 200
    assert as_department.get(f"/api/v1/warnings/{warning_id}/events").status_code == 200

    for other in (as_province_department, as_other_unit, as_oversight):
        assert other.get(f"/api/v1/warnings/{warning_id}").status_code == 404
        assert other.get(f"/api/v1/documents/{handed['document_id']}").status_code == 404
        assert answer(other, warning_id).status_code in (403, 404)
    # The unit reads that its warning was handed on, not the letter or its matters.
    mine = as_unit.get(f"/api/v1/warnings/{warning_id}").get_json()
    assert mine["status"] == "transferred" and mine["transfer"] is None
    assert mine["status_reason"] == "已移交克孜勒苏柯尔克孜自治州市场监督管理局（演示）处理（第十一条（三））"
    assert handed["document_id"] not in mine["document_ids"]
    assert as_unit.get(f"/api/v1/documents/{handed['document_id']}").status_code == 404


def test_art11_3_the_receiver_and_the_unit_are_told_and_the_transfer_is_journaled(
        as_city_finance, as_department, as_unit):
    item, warning_id, handed = transferred(as_city_finance)
    told = {m.recipient_org_id: m for m in outbox("warning_transferred")}
    assert set(told) == {as_department.org.id, as_unit.org.id}
    to_receiver, to_unit = told[as_department.org.id], told[as_unit.org.id]
    assert to_receiver.subject == "【问题移交】克孜勒苏柯尔克孜自治州财政局移交中国人民政治协商会议克孜勒苏柯尔克孜自治州委员会机关有关问题"
    letter = as_city_finance.get(f"/api/v1/documents/{handed['document_id']}").get_json()
    assert f"移交函（编号：{letter['number']}）" in to_receiver.body and "2021年7月15日" in to_receiver.body
    assert to_unit.subject == "【问题移交】你单位的疑点问题已移交克孜勒苏柯尔克孜自治州市场监督管理局（演示）处理"
    assert "第十一条第（三）项" in to_unit.body and "仍暂停支付" in to_unit.body
    assert "收款单位涉嫌虚开发票" not in to_unit.body  # the matters stay in the letter
    db.session.expire_all()
    entry = db.session.execute(sa.select(JournalEntry).where(
        JournalEntry.stream == f"warning:{warning_id}", JournalEntry.action == "transferred")).scalar_one()
    assert entry.payload["receiver_code"] == DEPARTMENT and entry.payload["article"] == "第十一条（三）"
    assert entry.payload["document"]["id"] == handed["document_id"]


# --- the receiver answers, finance closes -------------------------------------------------------

def test_art11_3_the_payment_stays_held_until_finance_closes_on_the_receivers_outcome(
        as_city_finance, as_department, as_unit):
    item, warning_id, _ = transferred(as_city_finance)
    assert payment_status(item["voucher_no"]) == "held"
    early = close(as_city_finance, warning_id)
    assert early.status_code == 409 and "has not answered" in early.get_json()["message"]
    assert answer(as_unit, warning_id, "情况说明").status_code == 409  # decided on finance's side
    outcome = answer(as_department, warning_id)
    assert outcome.status_code == 201 and outcome.get_json()["kind"] == "outcome"
    assert close(as_department, warning_id).status_code == 403
    closed = close(as_city_finance, warning_id)
    assert closed.status_code == 200, closed.get_json()
    assert closed.get_json()["status"] == "transfer_closed" and closed.get_json()["closed_at"]
    assert payment_status(item["voucher_no"]) == "accepted"
    assert answer(as_department, warning_id).status_code == 409  # closed: no more answers
    assert close(as_city_finance, warning_id).status_code == 409
    body = outbox("transfer_closed")[0].body
    assert "已解除暂停" in body and "市场监管局已查处" in body


def test_art11_3_the_matters_and_the_outcome_stay_between_finance_and_the_receiver(
        as_city_finance, as_department, as_unit, as_competent, as_bank):
    _, warning_id, _ = transferred(as_city_finance)
    assert answer(as_department, warning_id, "已立案查处收款单位").status_code == 201
    for party in (as_city_finance, as_department):
        detail = party.get(f"/api/v1/warnings/{warning_id}").get_json()
        assert [r["kind"] for r in detail["responses"]] == ["outcome"]
        journal = str(party.get(f"/api/v1/warnings/{warning_id}/events").get_json())
        assert "已立案查处收款单位" in journal and "收款单位涉嫌虚开发票" in journal
    for party in (as_unit, as_competent, as_bank):
        detail = party.get(f"/api/v1/warnings/{warning_id}").get_json()
        assert detail["status"] == "transferred" and detail["responses"] == []
        events = party.get(f"/api/v1/warnings/{warning_id}/events").get_json()["items"]
        assert [e["action"] for e in events][-1] == "transferred"
        assert "已立案查处收款单位" not in str(events) and "收款单位涉嫌虚开发票" not in str(events)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))  # no gap betrays the rest


def test_art11_3_finance_may_refuse_the_payment_on_the_receivers_outcome(as_city_finance, as_department):
    item, warning_id, _ = transferred(as_city_finance)
    assert answer(as_department, warning_id, "收款单位虚开发票属实，已移送税务机关").status_code == 201
    bad = close(as_city_finance, warning_id, payment="keep")
    assert bad.status_code == 422 and "payment" in bad.get_json()["errors"]
    assert close(as_city_finance, warning_id, payment="refuse").status_code == 200
    assert payment_status(item["voucher_no"]) == "refused"


def test_art11_3_the_table_declares_the_rows_and_the_api_documents_their_fields(client, as_city_finance):
    table = as_city_finance.get("/api/v1/workflow/warning").get_json()
    rows = {t["trigger"]: t for t in table["transitions"]}
    assert rows["transfer"]["source"] == ["open", "verifying"] and rows["transfer"]["dest"] == "transferred"
    assert rows["transfer"]["article"] == "第十一条（三）" and rows["transfer"]["roles"] == ["finance"]
    fields = {f["name"]: f for f in rows["transfer"]["fields"]}
    assert fields["receiver_code"]["org_kind"] == "department" and fields["receiver_code"]["required"]
    assert {"matters", "basis", "reply_by"} <= set(fields)
    assert rows["close_transfer"]["guards"][0]["name"] == "receiver_answered"
    spec = client.get("/api/v1/openapi.json").get_json()
    components = spec["components"]["schemas"]
    assert {"receiver_code", "matters", "basis", "reply_by"} <= set(components["warning.transfer"]["properties"])
    assert components["warning.transfer"]["required"] == ["basis", "matters", "receiver_code"]
    assert "department" in components["Org"]["properties"]["kind"]["enum"]


# --- races ----------------------------------------------------------------------------------------

def test_art11_3_two_transfers_of_one_warning_at_once_issue_one_letter(app, as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    url = f"/api/v1/warnings/{warning_id}/transfer"
    one_winner(race(app, [("post", url, as_city_finance.headers, body())] * 2), 201)
    assert count(Document, Document.kind == "transfer_letter", Document.warning_id == warning_id) == 1
    assert warning_row(warning_id).status == "transferred"


def test_art11_3_a_confirmation_and_a_transfer_at_once_one_decides(app, as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    headers = as_city_finance.headers
    answers = race(app, [("post", f"/api/v1/warnings/{warning_id}/confirm", headers, {"rung": "warning"}),
                         ("post", f"/api/v1/warnings/{warning_id}/transfer", headers, body())])
    assert sorted(a.status for a in answers) == [201, 409], [(a.status, a.json) for a in answers]
    status = warning_row(warning_id).status
    assert status == ("confirmed" if answers[0].status == 201 else "transferred")
    assert count(Document, Document.kind == "transfer_letter") == (1 if status == "transferred" else 0)


# --- what "decided" means elsewhere ---------------------------------------------------------------

def test_art11_3_a_transferred_blocking_warning_still_holds_its_payment_when_another_is_dismissed(
        as_city_finance, as_department):
    item, warning_id = held_payment(as_city_finance)
    second = as_city_finance.post("/api/v1/warnings", json={
        "unit_code": UNIT, "payment_id": item["id"], "level": "block", "finding": "收款单位营业执照已吊销",
        "article": {"article": 12}, "description": "人工排查发现收款单位无经营资格"})
    assert second.status_code == 201, second.get_json()
    assert transfer(as_city_finance, second.get_json()["id"]).status_code == 201
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/dismiss", json={"reason": "已补审批"}).status_code == 200
    assert payment_status(item["voucher_no"]) == "held"  # the matter handed on still holds it
    assert answer(as_department, second.get_json()["id"]).status_code == 201
    assert close(as_city_finance, second.get_json()["id"]).status_code == 200
    assert payment_status(item["voucher_no"]) == "accepted"


def test_art11_2_4_a_focus_letter_recites_the_undecided_warnings_not_those_handed_on(as_city_finance, as_unit):
    handed_item, _, _ = transferred(as_city_finance)  # its cash-over-limit warning (13(二)1⑦) handed on
    item, undecided = held_payment(as_city_finance)
    step = as_city_finance.post(f"/api/v1/warnings/{undecided}/steps", json={"kind": "focus_letter"}).get_json()
    findings = db.session.get(Document, step["document_id"]).context["findings"]
    lines = {(voucher, "第十三条（二）1⑦" in line) for line in findings
             for voucher in (handed_item["voucher_no"], item["voucher_no"]) if voucher in line}
    # Each payment's official-card warning (13(二)2) is undecided; of the cash-over-limit ones,
    # only the payment whose warning was not handed on is recited.
    assert lines == {(handed_item["voucher_no"], False), (item["voucher_no"], False), (item["voucher_no"], True)}


def test_art20_a_reported_matter_handed_on_is_concluded_when_finance_closes_it(client, as_city_finance, as_department):
    receipt = client.post("/api/v1/complaints", json={"unit_code": UNIT, "description": "收款单位无证经营",
                                                      "reporter_phone": "13800001111"},
                          environ_base={"REMOTE_ADDR": "203.0.113.77"}).get_json()
    warning_id = as_city_finance.post(f"/api/v1/complaints/{receipt['id']}/triage",
                                      json={"into": "warning"}).get_json()["warning_id"]
    handed = transfer(as_city_finance, warning_id)  # a complaint's warning has no payment to recite
    assert handed.status_code == 201, handed.get_json()
    html = as_department.get(f"/api/v1/documents/{handed.get_json()['document_id']}/html").get_data(as_text=True)
    assert "支付凭证号" not in html and "收款单位无证经营" in html

    def status():
        return client.post("/api/v1/complaints/status", json={"receipt_code": receipt["receipt_code"]},
                           environ_base={"REMOTE_ADDR": "203.0.113.77"}).get_json()

    assert status()["status"] == "being_handled"
    assert answer(as_department, warning_id).status_code == 201
    assert close(as_city_finance, warning_id).status_code == 200
    assert status()["status"] == "concluded"


def test_art11_4_statistics_count_a_matter_handed_on_as_decided_otherwise(as_city_finance, as_department):
    _, warning_id, _ = transferred(as_city_finance)
    warnings = group(stats(as_city_finance, group_by="unit"), UNIT)["warnings"]
    # the cash-over-limit warning handed on; the payment's official-card warning still undecided
    assert (warnings["raised"], warnings["pending"], warnings["other"]) == (2, 1, 1)
    assert (warnings["confirmed"], warnings["dismissed"], warnings["confirmation_rate"]) == (0, 0, None)
    assert answer(as_department, warning_id).status_code == 201
    assert close(as_city_finance, warning_id).status_code == 200
    warnings = group(stats(as_city_finance, group_by="unit"), UNIT)["warnings"]
    assert warnings["other"] == 1 and warnings["days_to_decision"]["count"] == 1  # decided when closed

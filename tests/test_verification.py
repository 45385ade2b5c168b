"""Verification of warnings (疑点核实, Art. 11(二)) and finance's decision on them (Art. 11(三))."""
import datetime as dt

import pytest
import sqlalchemy as sa
from verification_support import (
    OVERSIGHT,
    UNIT,
    clean_transfer,
    held_payment,
    outbox,
    payment_status,
    post_payments,
    warning_row,
)

from workflow.db import db
from workflow.parties import User, create_org, org_by_code


def steps_url(warning_id):
    return f"/api/v1/warnings/{warning_id}/steps"


def document_html(party, document_id):
    response = party.get(f"/api/v1/documents/{document_id}/html")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- the steps ---------------------------------------------------------------------------------

def test_art11_2_1_phone_check_moves_an_open_warning_to_verifying(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    assert warning_row(warning_id).status == "open"
    response = as_city_finance.post(steps_url(warning_id), json={
        "kind": "phone", "contact": "单位财务科 李会计", "summary": "单位称系出差人员垫付住宿费"})
    assert response.status_code == 201, response.get_json()
    step = response.get_json()
    assert step["kind"] == "phone" and step["article"] == "第十一条（二）1"
    assert step["details"]["summary"] == "单位称系出差人员垫付住宿费"
    assert step["document_id"] is None
    assert warning_row(warning_id).status == "verifying"


def test_art11_2_2_document_request_needs_the_list_and_a_due_date(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(steps_url(warning_id), json={"kind": "documents"})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"documents", "due_date"}
    assert warning_row(warning_id).status == "open"  # nothing half-written

    response = as_city_finance.post(steps_url(warning_id), json={
        "kind": "documents", "documents": ["会计原始凭证", "差旅审批单"], "due_date": "2021-06-10"})
    assert response.status_code == 201
    assert response.get_json()["details"] == {"documents": ["会计原始凭证", "差旅审批单"], "due_date": "2021-06-10"}


def test_art11_2_2_the_unit_and_the_carrying_bank_are_asked_for_the_materials(as_city_finance, as_unit, as_bank):
    item, warning_id = held_payment(as_city_finance)
    as_city_finance.post(steps_url(warning_id), json={
        "kind": "documents", "documents": ["会计原始凭证", "差旅审批单"], "due_date": "2021-06-10"})
    messages = outbox("materials_requested")
    assert sorted(m.recipient_org_id for m in messages) == sorted([as_unit.org.id, as_bank.org.id])
    for message in messages:
        assert "差旅审批单" in message.body and "2021年6月10日" in message.body and item["voucher_no"] in message.body


def test_art11_2_a_field_of_another_step_kind_is_refused(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(steps_url(warning_id), json={
        "kind": "phone", "summary": "已电话核实", "room": "302"})
    assert response.status_code == 422
    assert "room" in response.get_json()["errors"]


def test_art11_2_a_field_no_step_takes_is_refused_by_name(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(steps_url(warning_id), json={"kind": "phone", "summary": "已核实", "bogus": 1})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"bogus": ["not a field of a phone step"]}
    assert warning_row(warning_id).status == "open"


@pytest.mark.parametrize("body, field", [
    ({"kind": "interview", "interview_at": "2021-06-08T10:30:00+08:00", "room": "302", "attendees": 21}, "attendees"),
    ({"kind": "interview", "interview_at": "2021-06-08T10:30:00", "room": "302"}, "interview_at"),
    ({"kind": "interview", "interview_at": "9999-12-31T23:00:00-12:00", "room": "302"}, "interview_at"),
    ({"kind": "documents", "documents": [f"材料{i}" for i in range(101)], "due_date": "2021-06-10"}, "documents"),
    ({"kind": "documents", "documents": ["材" * 201], "due_date": "2021-06-10"}, "documents"),
    ({"kind": "onsite", "team": ["甲", "乙", "丙"], "team_size": 2}, "team_size"),
    ({"kind": "onsite", "team": ["甲"], "team_size": 101}, "team_size"),
    ({"kind": "focus_letter", "findings": [f"事项{i}" for i in range(51)]}, "findings"),
])
def test_art11_2_the_rows_bounds_are_checked(as_city_finance, body, field):
    _, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(steps_url(warning_id), json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]


def test_art11_2_3_interview_issues_annex1_notice_with_voucher_and_room(as_city_finance, as_unit):
    item, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(steps_url(warning_id), json={
        "kind": "interview", "interview_at": "2021-06-08T10:30:00+08:00", "room": "财政局302室"})
    assert response.status_code == 201, response.get_json()
    step = response.get_json()
    assert step["article"] == "第十一条（二）3" and step["document_id"]
    html = document_html(as_unit, step["document_id"])  # the unit, its addressee, reads it
    assert "预算执行动态监控约谈通知书" in html
    for text in (item["voucher_no"], "财政局302室", "2021年6月8日10时30分", "克州迎宾馆", "差旅费报销", "2021年6月1日"):
        assert text in html, text
    document = as_unit.get(f"/api/v1/documents/{step['document_id']}").get_json()
    assert document["kind"] == "interview_notice" and document["warning_id"] == warning_id
    assert [m.recipient_org_id for m in outbox("document_issued")] == [as_unit.org.id]


def test_art11_2_3_onsite_verification_issues_annex2_notice_with_the_team(as_city_finance, as_unit):
    item, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(steps_url(warning_id), json={
        "kind": "onsite", "team": ["阿依古丽", "王建国"], "team_size": 3, "agency": "新疆天正会计师事务所"})
    assert response.status_code == 201, response.get_json()
    html = document_html(as_unit, response.get_json()["document_id"])
    assert "预算执行动态监控实地核证通知书" in html
    for text in (item["voucher_no"], "阿依古丽、王建国", ">3<", "新疆天正会计师事务所"):
        assert text in html, text


def test_art11_2_3_onsite_verification_needs_its_team(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(steps_url(warning_id), json={"kind": "onsite", "agency": "某会计师事务所"})
    assert response.status_code == 422
    assert "team" in response.get_json()["errors"]


def test_art11_2_4_focus_letter_goes_to_the_unit_and_its_competent_department(as_city_finance, as_unit, as_competent):
    _, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(steps_url(warning_id), json={"kind": "focus_letter", "reply_by": "2021-06-20"})
    assert response.status_code == 201, response.get_json()
    document_id = response.get_json()["document_id"]
    html = document_html(as_competent, document_id)
    assert "关注函" in html and "现金支付1500.00元" in html  # the warning's finding is recited
    assert "抄送：" + as_competent.org.name in html
    assert as_unit.get(f"/api/v1/documents/{document_id}").status_code == 200
    assert sorted(m.recipient_org_id for m in outbox("document_issued")) == sorted([as_unit.org.id, as_competent.org.id])


def test_art11_2_5_joint_investigation_shows_the_warning_to_that_oversight_body_only(
        as_city_finance, as_oversight, client):
    _, warning_id = held_payment(as_city_finance)
    other_body = create_org(code="653000-JW", name="克州纪委监委（演示）", kind="oversight",
                            finance=org_by_code("653000-CZ"))
    db.session.add(User(org=other_body, name="纪委", email="jw@demo.fundwatch.invalid"))
    db.session.flush()
    from workflow.tokens import issue_token
    _, other_token = issue_token(db.session.execute(sa.select(User).where(User.org_id == other_body.id)).scalar_one())
    db.session.commit()
    other = {"Authorization": f"Bearer {other_token}"}

    assert as_oversight.get(f"/api/v1/warnings/{warning_id}").status_code == 404
    response = as_city_finance.post(steps_url(warning_id), json={
        "kind": "joint_investigation", "oversight_code": OVERSIGHT, "matters": "核查现金支付差旅费的真实性",
        "reply_by": "2021-06-30"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["addressee_code"] == OVERSIGHT

    seen = as_oversight.get(f"/api/v1/warnings/{warning_id}")
    assert seen.status_code == 200
    assert [s["kind"] for s in seen.get_json()["steps"]] == ["joint_investigation"]
    assert [w["id"] for w in as_oversight.get("/api/v1/warnings").get_json()["items"]] == [warning_id]
    assert client.get(f"/api/v1/warnings/{warning_id}", headers=other).status_code == 404
    assert client.get("/api/v1/warnings", headers=other).get_json()["items"] == []
    [message] = outbox("joint_investigation")
    assert message.recipient_org_id == as_oversight.org.id
    assert "核查现金支付差旅费的真实性" in message.body and "2021年6月30日" in message.body


def test_art11_2_5_the_unit_does_not_see_that_the_matter_went_to_audit(as_city_finance, as_unit):
    _, warning_id = held_payment(as_city_finance)
    as_city_finance.post(steps_url(warning_id), json={"kind": "phone", "summary": "已核实"})
    as_city_finance.post(steps_url(warning_id), json={"kind": "joint_investigation", "oversight_code": OVERSIGHT})
    assert [s["kind"] for s in as_unit.get(f"/api/v1/warnings/{warning_id}").get_json()["steps"]] == ["phone"]


def test_art11_2_joint_investigation_needs_a_known_oversight_body(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(steps_url(warning_id), json={
        "kind": "joint_investigation", "oversight_code": "653000-301"})  # a competent department
    assert response.status_code == 422
    assert "oversight_code" in response.get_json()["errors"]


def test_art25_only_finance_verifies(as_city_finance, as_unit):
    _, warning_id = held_payment(as_city_finance)
    response = as_unit.post(steps_url(warning_id), json={"kind": "phone", "summary": "自己核实"})
    assert response.status_code == 403


# --- answers -------------------------------------------------------------------------------------

def test_art27_3_unit_explains_and_art26_2_competent_department_adds_materials(
        as_city_finance, as_unit, as_competent):
    _, warning_id = held_payment(as_city_finance)
    explained = as_unit.post(f"/api/v1/warnings/{warning_id}/responses", json={
        "text": "出差地无法刷卡，已补办审批", "evidence_ref": "记账凭证2021-06第18号"})
    assert explained.status_code == 201, explained.get_json()
    assert explained.get_json()["kind"] == "explanation"
    materials = as_competent.post(f"/api/v1/warnings/{warning_id}/responses", json={"text": "经核，情况属实"})
    assert materials.status_code == 201
    assert materials.get_json()["kind"] == "materials"
    detail = as_city_finance.get(f"/api/v1/warnings/{warning_id}").get_json()
    assert [(r["org_code"], r["kind"]) for r in detail["responses"]] == [
        (UNIT, "explanation"), (as_competent.org.code, "materials")]
    assert detail["responses"][0]["evidence_ref"] == "记账凭证2021-06第18号"


def test_art27_3_another_unit_cannot_answer_a_warning_it_cannot_see(as_city_finance, as_other_unit):
    _, warning_id = held_payment(as_city_finance)
    response = as_other_unit.post(f"/api/v1/warnings/{warning_id}/responses", json={"text": "与我无关"})
    assert response.status_code == 404


# --- confirm and dismiss --------------------------------------------------------------------------

def test_art11_3_confirm_opens_a_case_and_refuses_the_held_payment(as_city_finance, as_unit):
    item, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "order",
                                    "grounds": "not_corrected_in_time"})
    assert response.status_code == 201, response.get_json()
    case = response.get_json()
    assert case["id"] and case["state"] == "order"
    assert dt.datetime.fromisoformat(case["deadline"]).utcoffset() == dt.timedelta(hours=8)
    assert payment_status(item["voucher_no"]) == "refused"
    warning = warning_row(warning_id)
    assert (warning.status, warning.case_id) == ("confirmed", case["id"])
    assert as_unit.get(f"/api/v1/warnings/{warning_id}").get_json()["case_id"] == case["id"]
    assert as_city_finance.get(f"/api/v1/cases/{case['id']}").get_json()["id"] == case["id"]


def test_art21_1_confirm_on_the_warning_rung_takes_the_default_summary(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["state"] == "warning"
    assert response.get_json()["deadline"]


def test_art11_3_confirm_with_release_payment_lets_the_payment_go(as_city_finance):
    item, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm",
                                    json={"rung": "warning", "release_payment": True})
    assert response.status_code == 201, response.get_json()
    assert payment_status(item["voucher_no"]) == "accepted"


def test_art21_3_confirm_on_the_order_rung_needs_its_grounds_and_writes_nothing_without(as_city_finance):
    item, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "order"})
    assert response.status_code == 422
    assert "grounds" in response.get_json()["errors"]
    assert warning_row(warning_id).status == "open"
    assert payment_status(item["voucher_no"]) == "held"


def test_art11_3_confirm_refuses_fields_the_rung_does_not_take(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm",
                                    json={"rung": "warning", "measures": ["return_funds"]})
    assert response.status_code == 422
    assert "measures" in response.get_json()["errors"]


def test_art11_3_confirm_names_a_field_no_opening_takes(as_city_finance):
    item, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning", "bogus": 1})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["bogus"]
    assert warning_row(warning_id).status == "open"
    assert payment_status(item["voucher_no"]) == "held"


def test_issue9_the_confirmation_body_is_documented_from_the_opening_rows(client):
    spec = client.get("/api/v1/openapi.json").json
    body = spec["paths"]["/api/v1/warnings/{warning_id}/confirm"]["post"]["requestBody"]
    refs = [s["$ref"].rsplit("/", 1)[-1] for s in body["content"]["application/json"]["schema"]["anyOf"]]
    assert refs == ["WarningConfirm.warning", "WarningConfirm.decision", "WarningConfirm.order"]
    for ref in refs:
        rung = ref.split(".")[1]
        component = spec["components"]["schemas"][ref]
        opening = spec["components"]["schemas"][f"unit_case.open_{rung}"]
        assert component["properties"]["rung"]["enum"] == [rung]
        assert set(component["properties"]) == {"rung", "release_payment", *opening["properties"]}
        assert set(component["required"]) == {"rung", *opening["required"]} - {"summary"}  # summary defaults
        assert component["additionalProperties"] is False


def test_art11_3_confirm_needs_a_known_rung(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "funds_suspended"})
    assert response.status_code == 422
    assert "rung" in response.get_json()["errors"]
    assert warning_row(warning_id).status == "open"


def test_art11_2_dismissal_needs_a_reason(as_city_finance):
    item, warning_id = held_payment(as_city_finance)
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/dismiss", json={}).status_code == 422
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/dismiss", json={"reason": "  "}).status_code == 422
    assert warning_row(warning_id).status == "open"
    assert payment_status(item["voucher_no"]) == "held"


def test_art11_2_dismissal_releases_the_held_payment(as_city_finance):
    item, warning_id = held_payment(as_city_finance)
    response = as_city_finance.post(f"/api/v1/warnings/{warning_id}/dismiss",
                                    json={"reason": "经财政部门和开户银行批准，批准文号补录"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "dismissed"
    assert response.get_json()["status_reason"] == "经财政部门和开户银行批准，批准文号补录"
    assert payment_status(item["voucher_no"]) == "accepted"


def test_art11_2_dismissal_keeps_the_payment_held_while_another_blocking_warning_is_undecided(as_city_finance):
    # cash over the limit (block) and, with an unregistered account, account_not_registered (block)
    item = post_payments(as_city_finance, [clean_transfer(settlement="cash", amount="1500.00",
                                                          payer_account="3009000100000000001")])[0]
    blocking = [w["id"] for w in item["warnings"] if w["level"] == "block"]
    assert len(blocking) >= 2, item
    as_city_finance.post(f"/api/v1/warnings/{blocking[0]}/dismiss", json={"reason": "已批准"})
    assert payment_status(item["voucher_no"]) == "held"
    for warning_id in blocking[1:]:
        as_city_finance.post(f"/api/v1/warnings/{warning_id}/dismiss", json={"reason": "已登记"})
    assert payment_status(item["voucher_no"]) == "accepted"


def test_art11_3_a_decided_warning_cannot_be_decided_again(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning"}).status_code == 201
    again = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning"})
    assert again.status_code == 409
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/dismiss", json={"reason": "误报"}).status_code == 409
    assert as_city_finance.post(steps_url(warning_id), json={"kind": "phone", "summary": "x"}).status_code == 409

    _, dismissed_id = held_payment(as_city_finance)
    assert as_city_finance.post(f"/api/v1/warnings/{dismissed_id}/dismiss", json={"reason": "误报"}).status_code == 200
    assert as_city_finance.post(f"/api/v1/warnings/{dismissed_id}/confirm", json={"rung": "warning"}).status_code == 409


def test_art11_3_only_finance_confirms_or_dismisses(as_city_finance, as_unit, as_competent):
    _, warning_id = held_payment(as_city_finance)
    assert as_unit.post(f"/api/v1/warnings/{warning_id}/dismiss", json={"reason": "误报"}).status_code == 403
    assert as_competent.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning"}).status_code == 403


# --- who sees what -------------------------------------------------------------------------------

def test_art11_another_partys_warning_is_not_found(as_city_finance, as_other_unit, as_other_competent,
                                                   as_county_finance, as_other_bank):
    _, warning_id = held_payment(as_city_finance)
    for party in (as_other_unit, as_other_competent, as_county_finance, as_other_bank):
        assert party.get(f"/api/v1/warnings/{warning_id}").status_code == 404
        assert party.get("/api/v1/warnings").get_json()["items"] == []
    assert as_county_finance.post(f"/api/v1/warnings/{warning_id}/dismiss", json={"reason": "x"}).status_code == 404


def test_art11_warnings_are_listed_for_unit_competent_and_the_carrying_bank(as_city_finance, as_unit,
                                                                           as_competent, as_bank):
    _, warning_id = held_payment(as_city_finance)
    for party in (as_city_finance, as_unit, as_competent, as_bank):
        ids = [w["id"] for w in party.get("/api/v1/warnings").get_json()["items"]]
        assert warning_id in ids, party.org.code


def test_art11_warning_list_filters_by_status_rule_level_and_unit(as_city_finance):
    _, first = held_payment(as_city_finance)
    _, second = held_payment(as_city_finance)
    as_city_finance.post(f"/api/v1/warnings/{second}/dismiss", json={"reason": "误报"})

    def ids(query):
        return [w["id"] for w in as_city_finance.get(f"/api/v1/warnings?{query}").get_json()["items"]]

    assert first in ids("status=open") and second not in ids("status=open")
    assert ids("status=dismissed") == [second]
    assert set(ids("rule=cash_over_limit")) == {first, second}
    assert set(ids("rule=cash_over_limit&level=block")) == {first, second}
    assert ids("level=remind") == []
    assert first in ids(f"unit_code={UNIT}")
    assert ids("unit_code=653000-302001") == []
    assert as_city_finance.get("/api/v1/warnings?status=bogus").status_code == 422


def test_art11_warning_detail_lists_steps_answers_and_notices(as_city_finance, as_unit):
    item, warning_id = held_payment(as_city_finance)
    step = as_city_finance.post(steps_url(warning_id), json={
        "kind": "interview", "interview_at": "2021-06-08T10:30:00+08:00", "room": "302"}).get_json()
    as_unit.post(f"/api/v1/warnings/{warning_id}/responses", json={"text": "按时参加约谈"})
    detail = as_unit.get(f"/api/v1/warnings/{warning_id}").get_json()
    assert detail["payment"]["voucher_no"] == item["voucher_no"]
    assert detail["rule"] == "cash_over_limit" and detail["article"] == "第十三条（二）1⑦"
    assert [s["id"] for s in detail["steps"]] == [step["id"]]
    assert detail["document_ids"] == [step["document_id"]]
    assert [r["text"] for r in detail["responses"]] == ["按时参加约谈"]

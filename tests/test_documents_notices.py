"""Issue 10, "Notices that say what happened, and reach whom they say":

- annexes 1 and 2 (Art. 11(二)3) state what became of the payment: held, paid after a warning,
  or refused; "现已被预算管理一体化系统监控拦截" only of a held payment;
- a 通报 (Art. 21(五)) is circulated "在一定范围内": the scope is a choice of recipients (the
  competent department, its units, the region), each told in its inbox and listing the notice;
- ``GET /api/v1/documents`` lists a party's own notices, filtered by kind, year and
  acknowledgement; the acknowledgement may carry the signed and stamped copy as a file.
"""
import datetime as dt
import io

import pytest
import sqlalchemy as sa
from cases_support import COMPETENT, OTHER_UNIT, UNIT, act, act_ok, documents_of, open_case, outbox_to
from verification_support import held_payment

from notifications.delivery import deliver_pending
from workflow.db import db
from workflow.documents import KINDS, PAYMENT_STATUS_WORDING, DocumentRecipient, issue_document
from workflow.machines import NEW, PAYMENT
from workflow.parties import Actor, User, create_org, org_by_code

BEIJING = dt.timezone(dt.timedelta(hours=8))
CITY = "653000-CZ"
OTHER_COMPETENT = "653000-302"
BLOCKED = "现已被预算管理一体化系统监控拦截"
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00" + b"\x00" * 60


def _interview(status: str, issued=dt.datetime(2026, 3, 2, 10, 0, tzinfo=BEIJING), **over):
    context = {"payment_date": "2026-02-27", "payee": "克州迎宾馆", "voucher_number": "ZF2026-000318",
               "summary": "接待费（现金）", "payment_status": status, "interview_date": "2026-03-06",
               "room": "财政局302室", **over}
    document = issue_document(Actor.system(), kind="interview_notice", issuer=org_by_code(CITY),
                              addressee=org_by_code(UNIT), context=context, now=issued)
    db.session.commit()
    return document


# --- annexes 1-2: the payment's actual status ------------------------------------------------------

def test_issue10_the_annex_wording_covers_every_status_of_the_payment_lifecycle():
    assert {code for code, _ in PAYMENT_STATUS_WORDING} == set(PAYMENT.states) - {NEW}
    spec = next(f for f in KINDS["interview_notice"].fields if f.name == "payment_status")
    assert spec.required and spec.choices == tuple(code for code, _ in PAYMENT_STATUS_WORDING)


@pytest.mark.parametrize("status, says", [
    ("held", BLOCKED), ("accepted", "该笔资金已予支付"), ("refused", "现已被拒绝支付")])
def test_issue10_art11_2_3_the_annex_states_what_became_of_the_payment(demo, status, says):
    document = _interview(status)
    assert says in document.html
    assert (BLOCKED in document.html) == (status == "held")
    assert document.context["payment_status"] == status  # the code is kept; the page has its wording


def test_issue10_art11_2_3_a_status_outside_the_lifecycle_is_refused_by_name(demo):
    from workflow.errors import Invalid

    with pytest.raises(Invalid) as raised:
        _interview("paid")
    assert "context.payment_status" in raised.value.errors


def test_issue10_art11_2_3_an_interview_on_a_warned_and_paid_payment_does_not_say_it_was_blocked(
        as_city_finance, as_unit):
    item, blocking = held_payment(as_city_finance)
    others = [w["id"] for w in item["warnings"] if w["id"] != blocking]
    assert others, item  # cash travel also asks for the official card: a warning that does not hold it
    dismissed = as_city_finance.post(f"/api/v1/warnings/{blocking}/dismiss", json={"reason": "经批准的现金支付"})
    assert dismissed.status_code == 200, dismissed.get_json()
    step = as_city_finance.post(f"/api/v1/warnings/{others[0]}/steps", json={
        "kind": "interview", "interview_at": "2021-06-10T10:00:00+08:00", "room": "财政局302室"})
    assert step.status_code == 201, step.get_json()
    html = as_unit.get(f"/api/v1/documents/{step.get_json()['document_id']}/html").get_data(as_text=True)
    assert BLOCKED not in html and "已对其发出监控预警，该笔资金已予支付" in html


def test_issue10_art11_2_3_an_interview_on_a_held_payment_says_it_is_held(as_city_finance, as_unit):
    _, blocking = held_payment(as_city_finance)
    step = as_city_finance.post(f"/api/v1/warnings/{blocking}/steps", json={
        "kind": "interview", "interview_at": "2021-06-10T10:00:00+08:00", "room": "财政局302室"})
    assert step.status_code == 201, step.get_json()
    assert BLOCKED in as_unit.get(f"/api/v1/documents/{step.get_json()['document_id']}/html").get_data(as_text=True)


# --- Art. 21(五): the scope of a 通报 is its recipients ------------------------------------------------

def _recipients(document_id: int) -> dict[str, str]:
    rows = db.session.execute(sa.select(DocumentRecipient).where(DocumentRecipient.document_id == document_id))
    return {r.org.code: r.role for r in rows.scalars()}


def _publish(finance, scope: str, rung: str = "decision") -> tuple[int, int]:
    case_id = open_case(finance, rung)["id"]
    act_ok(finance, case_id, "publish_notice", scope=scope, handling=["责令退回违规资金"])
    notice = documents_of(case_id)[-1]
    assert notice.kind == "public_notice"
    return case_id, notice.id


def test_issue10_art21_5_the_scope_is_a_choice_of_recipients_in_the_action_body(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    body = spec["components"]["schemas"]["unit_case.publish_notice"]
    assert body["properties"]["scope"]["enum"] == ["competent", "department_units", "region_units"]
    assert "scope" in body["required"]


def test_issue10_art21_5_a_notice_to_the_competent_department_reaches_it_alone(as_city_finance, as_competent,
                                                                             as_other_unit):
    case_id, notice = _publish(as_city_finance, "competent")
    assert _recipients(notice) == {COMPETENT: "circulated"}
    assert outbox_to(COMPETENT, "notice_circulated", case_id) == 1
    assert outbox_to(OTHER_UNIT, "notice_circulated", case_id) == 0
    html = as_competent.get(f"/api/v1/documents/{notice}/html").get_data(as_text=True)
    assert '<p class="addressee"><span class="fill">中国人民政治协商会议克孜勒苏柯尔克孜自治州委员会</span>：' in html
    assert "（通报范围：违规单位的主管部门）" in html
    assert as_other_unit.get(f"/api/v1/documents/{notice}").status_code == 404


def test_issue10_art21_5_a_notice_to_the_units_of_the_department_reaches_each_of_them(demo, as_city_finance):
    sibling = create_org(code="653000-301002", name="政协克州委员会机关服务中心（演示）", kind="unit",
                         parent=org_by_code(COMPETENT), finance=org_by_code(CITY))
    db.session.add(User(org=sibling, name="服务中心财务", email="fw-centre@example.org"))
    db.session.commit()
    case_id, notice = _publish(as_city_finance, "department_units")
    assert _recipients(notice) == {COMPETENT: "circulated", sibling.code: "circulated"}
    assert outbox_to(sibling.code, "notice_circulated", case_id) == 1
    assert outbox_to(UNIT, "notice_circulated", case_id) == 0  # the unit is the addressee, told of the action
    assert "中国人民政治协商会议克孜勒苏柯尔克孜自治州委员会及其所属各单位" in documents_of(case_id)[-1].html


def test_issue10_art21_5_a_notice_to_the_region_reaches_every_department_and_unit_there(
        as_city_finance, as_other_unit, as_bank, as_county_finance):
    case_id, notice = _publish(as_city_finance, "region_units")
    assert _recipients(notice) == {COMPETENT: "circulated", OTHER_COMPETENT: "circulated",
                                   OTHER_UNIT: "circulated"}
    for code in (COMPETENT, OTHER_COMPETENT, OTHER_UNIT):
        assert outbox_to(code, "notice_circulated", case_id) == 1, code
    deliver_pending()
    inbox = as_other_unit.get("/api/v1/notifications?limit=100").get_json()["items"]
    assert any(n["link"].endswith(f"/api/v1/documents/{notice}") and "通报" in n["subject"] for n in inbox)
    listed = as_other_unit.get("/api/v1/documents?kind=public_notice").get_json()["items"]
    assert [d["id"] for d in listed] == [notice]
    assert "克孜勒苏柯尔克孜自治州财政局管辖范围内各部门、各单位" in documents_of(case_id)[-1].html
    for outsider in (as_bank, as_county_finance):
        assert outsider.get(f"/api/v1/documents/{notice}").status_code == 404


def test_issue10_art21_5_a_unit_without_a_competent_department_is_circulated_in_the_region(demo, as_city_finance):
    create_org(code="653000-399001", name="克州直属单位（演示）", kind="unit", finance=org_by_code(CITY))
    db.session.commit()
    case_id = open_case(as_city_finance, "decision", subject="653000-399001")["id"]
    refused = act(as_city_finance, case_id, "publish_notice", scope="competent")
    assert refused.status_code == 409 and "no competent department" in refused.get_json()["message"]
    assert documents_of(case_id)[-1].kind == "handling_decision"
    act_ok(as_city_finance, case_id, "publish_notice", scope="region_units")


def test_issue10_art21_5_an_unknown_scope_is_422_naming_the_field(as_city_finance):
    case_id = open_case(as_city_finance, "decision")["id"]
    response = act(as_city_finance, case_id, "publish_notice", scope="全州预算单位")
    assert response.status_code == 422 and "scope" in response.get_json()["errors"]


# --- GET /api/v1/documents: a party's own notices ----------------------------------------------------

def _ids(client, query: str = "") -> list[int]:
    response = client.get(f"/api/v1/documents{query}")
    assert response.status_code == 200, response.get_json()
    return [d["id"] for d in response.get_json()["items"]]


def test_issue10_each_party_lists_the_notices_it_issued_or_received(as_city_finance, as_finance, as_unit,
                                                                   as_competent, as_other_unit, as_bank):
    case_id = open_case(as_city_finance, "order")["id"]  # a written order, copied to the competent department
    [order] = [d.id for d in documents_of(case_id)]
    assert _ids(as_city_finance) == [order]  # issued
    assert _ids(as_unit) == [order]  # addressed
    assert _ids(as_competent) == [order]  # copied (抄送, Art. 21(三))
    assert _ids(as_finance) == []  # the province may read it, but did not issue or receive it
    assert as_finance.get(f"/api/v1/documents/{order}").status_code == 200
    assert _ids(as_other_unit) == [] and _ids(as_bank) == []


def test_issue10_the_list_filters_by_kind_year_and_acknowledgement(demo, as_city_finance, as_unit):
    first = _interview("held").id
    later = _interview("held", issued=dt.datetime(2027, 1, 5, 10, 0, tzinfo=BEIJING)).id
    case_id = open_case(as_city_finance, "decision")["id"]
    decision = documents_of(case_id)[-1].id
    assert as_unit.post(f"/api/v1/documents/{first}/acknowledge").status_code == 200
    assert _ids(as_unit) == [first, later, decision]
    assert _ids(as_unit, "?kind=interview_notice") == [first, later]
    assert _ids(as_unit, "?year=2027") == [later]
    assert _ids(as_unit, "?unacknowledged=true") == [later, decision]
    assert _ids(as_unit, "?unacknowledged=false") == [first]
    page = as_unit.get("/api/v1/documents?limit=2").get_json()
    assert [d["id"] for d in page["items"]] == [first, later] and page["next_cursor"]
    assert _ids(as_unit, f"?limit=2&cursor={page['next_cursor']}") == [decision]


@pytest.mark.parametrize("query, field", [("?kind=memo", "kind"), ("?year=1999", "year"),
                                          ("?unacknowledged=maybe", "unacknowledged"), ("?limit=0", "limit")])
def test_issue10_bad_list_filters_are_422_naming_the_field(as_unit, query, field):
    response = as_unit.get(f"/api/v1/documents{query}")
    assert response.status_code == 422 and field in str(response.get_json()["errors"])


# --- the signed and stamped copy (annexes 1-2: "签字并加盖公章后，返还我单位存档") ---------------------------

def _acknowledge(client, document_id: int, data: bytes, name: str = "约谈通知书回执.pdf",
                 mimetype: str = "application/pdf"):
    return client.post(f"/api/v1/documents/{document_id}/acknowledge", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(data), name, mimetype)})


def test_issue10_annex_the_acknowledgement_carries_the_signed_copy_for_those_who_see_the_notice(
        demo, as_unit, as_competent, as_city_finance, as_other_unit):
    notice = _interview("held").id
    response = _acknowledge(as_unit, notice, PDF)
    assert response.status_code == 200, response.get_json()
    copy = response.get_json()["signed_copy"]
    assert copy["filename"] == "约谈通知书回执.pdf" and copy["content_type"] == "application/pdf"
    assert copy["size"] == len(PDF) and len(copy["sha256"]) == 64
    for reader in (as_unit, as_competent, as_city_finance):
        download = reader.get(f"/api/v1/documents/{notice}/signed-copy")
        assert download.status_code == 200 and download.data == PDF
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        download.close()  # a download streams its file
    assert as_other_unit.get(f"/api/v1/documents/{notice}/signed-copy").status_code == 404
    events = as_city_finance.get(f"/api/v1/documents/{notice}/events").get_json()["items"]
    assert events[-1]["payload"]["signed_copy"]["sha256"] == copy["sha256"]


def test_issue10_without_a_file_the_notice_is_acknowledged_and_has_no_copy(demo, as_unit):
    notice = _interview("held").id
    response = as_unit.post(f"/api/v1/documents/{notice}/acknowledge")
    assert response.status_code == 200 and response.get_json()["signed_copy"] is None
    assert as_unit.get(f"/api/v1/documents/{notice}/signed-copy").status_code == 404


@pytest.mark.parametrize("data, name, status", [(EXE, "回执.pdf", 422), (PDF, "回执.exe", 422), (b"", "回执.pdf", 422)])
def test_issue10_a_copy_that_fails_the_evidence_checks_leaves_the_notice_unacknowledged(
        app, demo, as_unit, data, name, status):
    notice = _interview("held").id
    response = _acknowledge(as_unit, notice, data, name)
    assert response.status_code == status and list(response.get_json()["errors"]) == ["file"]
    assert as_unit.get(f"/api/v1/documents/{notice}").get_json()["acknowledged_at"] is None


def test_issue10_a_copy_over_the_size_limit_is_413(app, demo, as_unit):
    app.config["FUNDWATCH_EVIDENCE_MAX_BYTES"] = 1024
    notice = _interview("held").id
    assert _acknowledge(as_unit, notice, PDF + b"0" * 2048).status_code == 413
    assert as_unit.get(f"/api/v1/documents/{notice}").get_json()["acknowledged_at"] is None


def test_issue10_only_the_addressee_returns_a_copy_and_only_once(demo, as_competent, as_unit):
    notice = _interview("held").id
    assert _acknowledge(as_competent, notice, EXE).status_code == 403  # refused before the file is read
    assert _acknowledge(as_unit, notice, PDF).status_code == 200
    again = _acknowledge(as_unit, notice, PDF, name="另一份回执.pdf")
    assert again.status_code == 409
    assert as_unit.get(f"/api/v1/documents/{notice}").get_json()["signed_copy"]["filename"] == "约谈通知书回执.pdf"

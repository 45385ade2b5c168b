"""Circulars of common problems (问题通报, Art. 11(四), 26(三); issue 13).

Art. 11(四): finance circulates the common problems, typical cases and risks monitoring found to
the competent departments, which check themselves and correct (自查自纠); Art. 26(三): the
competent department organises its units' self-check. A circular embeds the statistics finance
chose, names the typical cases (anonymised if finance chooses: no unit's name or code in the
text), is a numbered document delivered to each recipient's inbox and document list, and is
answered by each recipient with its result and files; the scheduler reminds and tells finance who
has not answered, each once however many schedulers run."""
from __future__ import annotations

import datetime as dt
import io
import threading

import sqlalchemy as sa
from cases_support import UNIT, open_case
from verification_support import held_payment
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from notifications.delivery import deliver_pending
from workflow.circulars import CircularEffect
from workflow.db import db
from workflow.outbox import OutboxMessage
from workflow.parties import org_by_code
from workflow.scheduling import run_deadline_checks
from workflow.settings import local_zone
from workflow.statistics import local_today

COMPETENT = "653000-301"
UNIT_NAME = "中国人民政治协商会议克孜勒苏柯尔克孜自治州委员会机关"
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PERIOD = {"from": "2020-01-01", "to": local_today().isoformat()}


def _due_on(days: int = 10) -> dt.date:
    return local_today() + dt.timedelta(days=days)


def _compile(city, **over) -> dict:
    case = open_case(city, "warning", summary=f"{UNIT_NAME}（{UNIT}）差旅费以现金支付1500元，超过现金结算起点")
    body = {**PERIOD, "group_by": "unit", "case_ids": [case["id"]], "anonymised": True,
            "recipients": [COMPETENT], "include_units": True, "due_on": _due_on().isoformat(),
            "requirements": ["对照问题逐笔清理现金支付"], **over}
    response = city.post("/api/v1/circulars", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _answer(party, circular_id: int, result: str = "已自查，未发现同类问题", files=()):
    form = MultiDict([("result", result)] + [
        ("file", FileStorage(io.BytesIO(data), filename=name, content_type="application/pdf")) for data, name in files])
    boundary, body = encode_multipart(form)
    return party.post(f"/api/v1/circulars/{circular_id}/answers", data=body,
                      content_type=f"multipart/form-data; boundary={boundary}")


def _messages(template: str) -> list[tuple[str, int]]:
    return list(db.session.execute(sa.select(OutboxMessage.key, OutboxMessage.recipient_org_id).where(
        OutboxMessage.template == template, OutboxMessage.channel == "inbox").order_by(OutboxMessage.id)).all())


def test_art11_4_a_circular_embeds_the_chosen_statistics_and_an_anonymised_typical_case(as_city_finance):
    held_payment(as_city_finance)
    circular = _compile(as_city_finance)
    stats = as_city_finance.get("/api/v1/statistics", query_string={**PERIOD, "group_by": "unit"}).get_json()
    assert circular["figures"]["total"] == stats["total"]
    assert circular["figures"]["total"]["warnings"]["raised"] >= 1
    assert circular["anonymised"] is True and circular["status"] == "issued"
    html = as_city_finance.get(f"/api/v1/documents/{circular['document_id']}/html").get_data(as_text=True)
    assert "关于预算执行动态监控发现共性问题的通报" in html and circular["number"] in html
    assert "差旅费以现金支付1500元" in html and "某单位" in html  # the typical case, without its unit
    assert UNIT_NAME not in html and UNIT not in html
    assert f"发出预警{stats['total']['warnings']['raised']}条" in html  # the figures are printed


def test_art11_4_not_anonymised_the_circular_names_the_unit(as_city_finance):
    circular = _compile(as_city_finance, anonymised=False)
    html = as_city_finance.get(f"/api/v1/documents/{circular['document_id']}/html").get_data(as_text=True)
    assert UNIT_NAME in html


def test_art11_4_each_recipient_gets_it_in_its_inbox_and_document_list(as_city_finance, as_competent, as_unit,
                                                                        as_other_competent, as_other_unit):
    circular = _compile(as_city_finance)
    deliver_pending()
    for party in (as_competent, as_unit):
        inbox = party.get("/api/v1/notifications").get_json()["items"]
        assert any(circular["number"] in n["subject"] for n in inbox), inbox
        listed = party.get("/api/v1/documents", query_string={"kind": "problem_circular"}).get_json()["items"]
        assert [d["id"] for d in listed] == [circular["document_id"]]
        assert party.get(f"/api/v1/circulars/{circular['id']}").status_code == 200
    for party in (as_other_competent, as_other_unit):  # not addressed: as absent
        assert party.get(f"/api/v1/circulars/{circular['id']}").status_code == 404
        assert party.get("/api/v1/circulars").get_json()["items"] == []


def test_art11_4_26_3_a_recipient_answers_its_self_check_with_a_file_once(as_city_finance, as_unit, as_competent):
    circular = _compile(as_city_finance)
    answered = _answer(as_unit, circular["id"], files=[(PDF, "自查报告.pdf")])
    assert answered.status_code == 201, answered.get_json()
    body = answered.get_json()
    assert body["status"] == "answered" and body["org_code"] == UNIT and len(body["files"]) == 1
    again = _answer(as_unit, circular["id"], result="再次报送")
    assert again.status_code == 409 and again.get_json()["errors"]["status"] == ["answered"]
    # finance sees the status per recipient; a recipient sees its own answer only
    status = {a["org_code"]: a["status"] for a in
              as_city_finance.get(f"/api/v1/circulars/{circular['id']}/answers").get_json()["items"]}
    assert status == {COMPETENT: "pending", UNIT: "answered"}
    assert [a["org_code"] for a in as_competent.get(f"/api/v1/circulars/{circular['id']}/answers")
            .get_json()["items"]] == [COMPETENT]
    download = as_city_finance.get(f"/api/v1/circular-files/{body['files'][0]['id']}/download")
    content = download.get_data()
    download.close()  # the file is streamed: close it as a server would
    assert download.status_code == 200 and content == PDF
    assert as_competent.get(f"/api/v1/circular-files/{body['files'][0]['id']}/download").status_code == 404
    assert as_city_finance.post(f"/api/v1/circulars/{circular['id']}/answers",
                                json={"result": "财政部门不自查"}).status_code == 403


def test_art11_4_a_file_refused_by_its_content_writes_no_answer(as_city_finance, as_unit):
    circular = _compile(as_city_finance)
    refused = _answer(as_unit, circular["id"], files=[(b"MZ\x90\x00" + b"\x00" * 60, "自查报告.pdf")])
    assert refused.status_code == 422 and "file" in refused.get_json()["errors"]
    status = {a["org_code"]: a["status"] for a in
              as_city_finance.get(f"/api/v1/circulars/{circular['id']}/answers").get_json()["items"]}
    assert status[UNIT] == "pending"


def test_art11_4_the_scheduler_reminds_and_reports_who_has_not_answered_exactly_once_across_two(
        app, as_city_finance, as_unit):
    circular = _compile(as_city_finance)
    assert _answer(as_unit, circular["id"]).status_code == 201
    due_on = dt.date.fromisoformat(circular["due_on"])
    on_the_day = dt.datetime.combine(due_on, dt.time(10), local_zone())
    after = dt.datetime.combine(due_on + dt.timedelta(days=1), dt.time(10), local_zone())
    competent_id = org_by_code(COMPETENT).id
    for now in (on_the_day, after):
        start, errors = threading.Barrier(2), []

        def scheduler(at=now):
            try:
                with app.app_context():
                    start.wait(30)
                    run_deadline_checks(at)
                    db.session.remove()
            except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
                errors.append(exc)

        threads = [threading.Thread(target=scheduler) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
    db.session.expire_all()
    # reminded once, the recipient that has not answered only (the unit answered)
    assert [org for _, org in _messages("circular_reminder")] == [competent_id]
    # finance told once, after the due date, who has not answered
    assert _messages("circular_overdue") == [(f"circular:{circular['id']}:overdue",
                                              org_by_code("653000-CZ").id)]
    body = db.session.execute(sa.select(OutboxMessage.body).where(
        OutboxMessage.template == "circular_overdue")).scalars().first()
    assert "中国人民政治协商会议克孜勒苏柯尔克孜自治州委员会" in body and UNIT_NAME not in body
    assert db.session.execute(sa.select(sa.func.count()).select_from(CircularEffect)).scalar_one() == 2
    run_deadline_checks(after)  # a later run adds nothing
    assert len(_messages("circular_overdue")) == 1


def test_art11_4_finance_of_other_regions_and_the_parties_outside_do_not_see_it(
        as_city_finance, as_finance, as_county_finance, as_bank, as_oversight):
    circular = _compile(as_city_finance)
    assert as_finance.get(f"/api/v1/circulars/{circular['id']}").status_code == 200  # the region below: read-only
    assert as_finance.post(f"/api/v1/circulars/{circular['id']}/close").status_code == 403
    for party in (as_county_finance, as_bank, as_oversight):
        assert party.get(f"/api/v1/circulars/{circular['id']}").status_code == 404
    closed = as_city_finance.post(f"/api/v1/circulars/{circular['id']}/close")
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert as_city_finance.post(f"/api/v1/circulars/{circular['id']}/close").status_code == 409


def test_art11_4_bad_input_is_422_naming_the_field_and_writes_nothing(as_city_finance, as_competent, as_unit):
    base = {**PERIOD, "due_on": _due_on().isoformat()}
    cases = [({**base, "due_on": local_today().isoformat()}, "due_on"),
             ({**base, "recipients": ["653000-SJ"]}, "recipients"),
             ({**base, "case_ids": [987654]}, "case_ids"),
             ({**base, "group_by": "colour"}, "group_by"),
             ({k: v for k, v in base.items() if k != "due_on"}, "due_on"),
             ({**base, "to": "2019-01-01"}, "to")]
    for body, field in cases:
        response = as_city_finance.post("/api/v1/circulars", json=body)
        assert response.status_code == 422, (field, response.get_json())
        assert field in str(response.get_json()["errors"]), (field, response.get_json())
    assert as_city_finance.get("/api/v1/circulars").get_json()["items"] == []
    assert as_competent.post("/api/v1/circulars", json=base).status_code == 403
    circular = _compile(as_city_finance)
    empty = as_unit.post(f"/api/v1/circulars/{circular['id']}/answers", json={"result": "  "})
    assert empty.status_code == 422 and "result" in empty.get_json()["errors"]

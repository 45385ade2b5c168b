"""Files and records at the warning stage (issue 10).

The parties answer a warning with files, not only text (Art. 11(二)2 调阅材料, Art. 26(二) the
competent department's materials, Art. 27(三) the unit's explanation, Art. 28(二) the bank's),
checked as case evidence is (ASVS 5.2-5.4: a size limit, the type by content, a server-chosen
name); each file is seen by whoever sees the answer it belongs to, and an answer to a joint
investigation (Art. 11(二)5) stays hidden from the parties under verification. Interviews and
on-site checks end with a record (Art. 11(二)3: 书面和电子记录, archived), made once. When the
warning is confirmed (Art. 11(三)), its files are part of the case file."""
from __future__ import annotations

import hashlib
import io
import json
import os

import pytest
import sqlalchemy as sa
from race_support import race
from race_support import statuses as sorted_statuses
from verification_support import OVERSIGHT, held_payment
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from workflow import verification_files
from workflow.case_records import Evidence
from workflow.chain import AppendOnlyViolation
from workflow.db import db
from workflow.errors import Invalid
from workflow.journal import JournalEntry
from workflow.parties import Actor
from workflow.warning_files import StepRecord, WarningFile

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 40 + b"PE\x00\x00"

RECORD = {"held_at": "2021-06-10T10:00:00+08:00", "place": "克州财政局302会议室",
          "participants": [{"name": "王科长", "side": "finance"}, {"name": "李会计", "side": "unit"},
                           {"name": "赵处长", "side": "other"}],
          "minutes": "单位说明该笔现金系出差人员在无刷卡条件的县城垫付住宿费，承诺补充票据。", "kept_by": "张记录"}


# --- helpers --------------------------------------------------------------------------------------

def _multipart(url_client, url, form: MultiDict):
    # Encoded here, in memory: the test client would spool a large body to a temporary file it
    # never closes (a ResourceWarning, an error in this suite).
    boundary, body = encode_multipart(form)
    return url_client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _answer(party, warning_id: int, text: str = "情况说明") -> int:
    response = party.post(f"/api/v1/warnings/{warning_id}/responses", json={"text": text})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _attach(party, warning_id: int, response_id: int, data: bytes = PDF, name: str = "情况说明（签字）.pdf",
            mimetype: str = "application/pdf", note: str | None = None):
    form = MultiDict([("file", FileStorage(io.BytesIO(data), name, content_type=mimetype))])
    if note is not None:
        form.add("note", note)
    return _multipart(party, f"/api/v1/warnings/{warning_id}/responses/{response_id}/files", form)


def _attached(party, warning_id: int, response_id: int, **kw) -> dict:
    response = _attach(party, warning_id, response_id, **kw)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _step(finance, warning_id: int, kind: str = "interview", **fields) -> int:
    body = {"interview": {"interview_at": "2021-06-10T10:00:00+08:00", "room": "302"},
            "onsite": {"team": ["王五", "赵六"]}, "phone": {"summary": "电话核实"}}.get(kind, {})
    response = finance.post(f"/api/v1/warnings/{warning_id}/steps", json={"kind": kind, **body, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _record(party, warning_id: int, step_id: int, record: dict | None = None, files=()):
    form = MultiDict([("record", json.dumps(RECORD if record is None else record, ensure_ascii=False))])
    for data, name, mimetype in files:
        form.add("file", FileStorage(io.BytesIO(data), name, content_type=mimetype))
    return _multipart(party, f"/api/v1/warnings/{warning_id}/steps/{step_id}/record", form)


def _joint_investigation(finance, warning_id: int) -> None:
    _step(finance, warning_id, "joint_investigation", oversight_code=OVERSIGHT)


def _stored(app) -> list[str]:
    folder = app.config["FUNDWATCH_UPLOAD_DIR"]
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def _count(model) -> int:
    db.session.expire_all()
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def _journal(stream: str) -> list[JournalEntry]:
    db.session.expire_all()
    return list(db.session.execute(sa.select(JournalEntry).where(JournalEntry.stream == stream)
                                   .order_by(JournalEntry.seq)).scalars())


def _download(party, url: str) -> tuple[int, bytes, dict]:
    response = party.get(url)
    body = response.get_data()
    response.close()  # the file is streamed: close it as a server would
    return response.status_code, body, response.headers


def _version(party, warning_id: int) -> int:
    return party.get(f"/api/v1/warnings/{warning_id}").get_json()["version"]


# --- answers with files ------------------------------------------------------------------------------

def test_art27_3_the_unit_answers_with_its_signed_explanation_stored_under_a_server_chosen_name(
        app, as_city_finance, as_unit):
    _, warning_id = held_payment(as_city_finance)
    response_id = _answer(as_unit, warning_id, "情况说明见附件（已签字盖章）")
    before = _version(as_unit, warning_id)
    body = _attached(as_unit, warning_id, response_id, note="单位负责人签字")
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert (body["filename"], body["file_type"], body["size"], body["note"]) == (
        "情况说明（签字）.pdf", "pdf", len(PDF), "单位负责人签字")
    assert (body["response_id"], body["record_id"], body["uploader_org"], body["confidential"]) == (
        response_id, None, "653000-301001", False)
    [stored] = _stored(app)
    assert stored != "情况说明（签字）.pdf" and stored.endswith(".pdf") and len(stored) == 36  # uuid4 hex + .pdf
    with open(os.path.join(app.config["FUNDWATCH_UPLOAD_DIR"], stored), "rb") as handle:
        assert handle.read() == PDF
    assert _version(as_unit, warning_id) == before + 1  # an answer's file moves the warning as an answer does

    [answer] = as_unit.get(f"/api/v1/warnings/{warning_id}").get_json()["responses"]
    assert [f["id"] for f in answer["files"]] == [body["id"]]
    [entry] = [e for e in _journal(f"warning:{warning_id}") if e.action == "file_added"]
    assert entry.payload["sha256"] == body["sha256"] and entry.payload["response_id"] == response_id


def test_art26_2_and_28_2_the_competent_department_and_the_bank_attach_to_their_own_answers(
        as_city_finance, as_competent, as_bank):
    _, warning_id = held_payment(as_city_finance)
    for party, name, data, mimetype in ((as_competent, "部门审核意见.pdf", PDF, "application/pdf"),
                                        (as_bank, "银行流水.csv", "日期,金额\n2021-06-01,1500.00\n".encode(), "text/csv")):
        response_id = _answer(party, warning_id, "补充材料")
        assert _attached(party, warning_id, response_id, data=data, name=name, mimetype=mimetype)["filename"] == name
    files = as_city_finance.get(f"/api/v1/warnings/{warning_id}/files").get_json()["items"]
    assert [(f["uploader_org"], f["file_type"]) for f in files] == [("653000-301", "pdf"), ("BANK-ICBC-KZ", "csv")]


def test_art27_3_a_file_goes_on_ones_own_answer_only(as_city_finance, as_unit, as_competent, as_other_unit):
    _, warning_id = held_payment(as_city_finance)
    response_id = _answer(as_unit, warning_id)
    assert _attach(as_competent, warning_id, response_id).status_code == 403  # sees it, did not give it
    assert _attach(as_city_finance, warning_id, response_id).status_code == 403  # finance does not answer
    assert _attach(as_other_unit, warning_id, response_id).status_code == 404  # does not see it
    _, other_warning = held_payment(as_city_finance)
    assert _attach(as_unit, other_warning, response_id).status_code == 404  # not an answer on that warning
    assert _count(WarningFile) == 0


def test_asvs_5_2_an_oversize_file_is_413_and_nothing_is_written(app, as_city_finance, as_unit):
    app.config["FUNDWATCH_EVIDENCE_MAX_BYTES"] = 1024
    _, warning_id = held_payment(as_city_finance)
    response_id = _answer(as_unit, warning_id)
    before = _version(as_unit, warning_id)
    response = _attach(as_unit, warning_id, response_id, data=PDF + b"0" * 2048)
    assert response.status_code == 413
    assert list(response.get_json()["errors"]) == ["file"]
    assert _stored(app) == [] and _count(WarningFile) == 0 and _version(as_unit, warning_id) == before
    assert [e.action for e in _journal(f"warning:{warning_id}")] == ["response_added"]


def test_asvs_5_2_a_disguised_type_is_refused_and_nothing_is_written(app, as_city_finance, as_unit):
    _, warning_id = held_payment(as_city_finance)
    response_id = _answer(as_unit, warning_id)
    response = _attach(as_unit, warning_id, response_id, data=EXE, name="情况说明.pdf")
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"file": ["content is not pdf"]}
    response = _attach(as_unit, warning_id, response_id, data=EXE, name="说明.exe", mimetype="application/octet-stream")
    assert response.status_code == 422
    assert _stored(app) == [] and _count(WarningFile) == 0


def test_an_upload_without_a_file_names_the_field(as_city_finance, as_unit):
    _, warning_id = held_payment(as_city_finance)
    response_id = _answer(as_unit, warning_id)
    response = as_unit.post(f"/api/v1/warnings/{warning_id}/responses/{response_id}/files", data={"note": "无附件"},
                            content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"file": ["missing"]}


@pytest.mark.parametrize("party", ["unit", "competent", "bank", "city_finance", "finance"])
def test_art26_1_a_file_is_seen_by_whoever_sees_the_answer(request, as_city_finance, as_unit, party):
    _, warning_id = held_payment(as_city_finance)
    file_id = _attached(as_unit, warning_id, _answer(as_unit, warning_id))["id"]
    client = request.getfixturevalue(f"as_{party}")
    assert [f["id"] for f in client.get(f"/api/v1/warnings/{warning_id}/files").get_json()["items"]] == [file_id]
    status, body, headers = _download(client, f"/api/v1/warning-files/{file_id}/download")
    assert (status, body) == (200, PDF)
    assert headers["Content-Disposition"].startswith("attachment;")
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Content-Type"] == "application/pdf"


@pytest.mark.parametrize("party", ["other_unit", "other_competent", "county_finance", "other_bank", "oversight"])
def test_art26_1_a_party_that_does_not_see_the_warning_finds_no_file(request, as_city_finance, as_unit, party):
    _, warning_id = held_payment(as_city_finance)
    file_id = _attached(as_unit, warning_id, _answer(as_unit, warning_id))["id"]
    client = request.getfixturevalue(f"as_{party}")
    assert client.get(f"/api/v1/warnings/{warning_id}/files").status_code == 404
    assert _download(client, f"/api/v1/warning-files/{file_id}/download")[0] == 404
    assert _download(client, "/api/v1/warning-files/999999/download")[0] == 404  # the same as a hidden one


def test_art11_2_5_a_joint_investigations_files_stay_with_finance_and_the_body_asked(
        as_city_finance, as_oversight, as_unit, as_competent, as_bank):
    _, warning_id = held_payment(as_city_finance)
    _joint_investigation(as_city_finance, warning_id)
    before = _version(as_unit, warning_id)
    findings = _answer(as_oversight, warning_id, "审计局协查意见")
    body = _attached(as_oversight, warning_id, findings, name="协查报告.pdf")
    assert body["confidential"] is True
    assert _version(as_unit, warning_id) == before  # no trace in what the unit reads

    for party in (as_unit, as_competent, as_bank):
        assert party.get(f"/api/v1/warnings/{warning_id}/files").get_json()["items"] == []
        assert _download(party, f"/api/v1/warning-files/{body['id']}/download")[0] == 404
        assert "协查报告" not in party.get(f"/api/v1/warnings/{warning_id}").get_data(as_text=True)
        assert "协查报告" not in party.get(f"/api/v1/warnings/{warning_id}/events").get_data(as_text=True)
        # Nor may a party under verification attach to the answer it cannot see.
        assert _attach(party, warning_id, findings).status_code == 404
    for party in (as_city_finance, as_oversight):
        assert [f["id"] for f in party.get(f"/api/v1/warnings/{warning_id}/files").get_json()["items"]] == [body["id"]]
        assert _download(party, f"/api/v1/warning-files/{body['id']}/download")[:2] == (200, PDF)
    # Journaled in the investigation's own chain, with the file's SHA-256.
    [entry] = [e for e in _journal(f"joint_investigation:{warning_id}") if e.action == "file_added"]
    assert entry.payload["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert [e.action for e in _journal(f"warning:{warning_id}")] == []


@pytest.mark.parametrize("decision", ["dismiss", "confirm"])
def test_art11_3_a_decided_warning_takes_no_more_files_nor_records(app, as_city_finance, as_unit, decision):
    _, warning_id = held_payment(as_city_finance)
    response_id = _answer(as_unit, warning_id)
    step_id = _step(as_city_finance, warning_id)
    body = {"dismiss": {"reason": "核实无误"}, "confirm": {"rung": "warning"}}[decision]
    assert as_city_finance.post(f"/api/v1/warnings/{warning_id}/{decision}", json=body).status_code in (200, 201)
    response = _attach(as_unit, warning_id, response_id)
    assert response.status_code == 409 and "status" in response.get_json()["errors"]
    response = _record(as_city_finance, warning_id, step_id)
    assert response.status_code == 409
    assert _stored(app) == [] and _count(WarningFile) == 0 and _count(StepRecord) == 0


# --- the case file ------------------------------------------------------------------------------------

def test_art11_3_confirmed_the_warnings_files_are_part_of_the_case_file(
        app, as_city_finance, as_unit, as_competent, as_oversight, as_bank):
    """The unit's explanation and the interview record's attachment join the case's evidence
    with their origin, over the same stored bytes; the audit bureau's findings (Art. 11(二)5)
    join too, but only finance reads them there."""
    _, warning_id = held_payment(as_city_finance)
    explanation = _attached(as_unit, warning_id, _answer(as_unit, warning_id), name="情况说明.pdf")
    step_id = _step(as_city_finance, warning_id)
    recorded = _record(as_city_finance, warning_id, step_id, files=[(PNG, "约谈现场.png", "image/png")])
    assert recorded.status_code == 201, recorded.get_json()
    [photo] = recorded.get_json()["files"]
    _joint_investigation(as_city_finance, warning_id)
    findings = _attached(as_oversight, warning_id, _answer(as_oversight, warning_id, "协查意见"), name="协查报告.pdf")
    stored_before = _stored(app)

    case = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning"})
    assert case.status_code == 201, case.get_json()
    case_id = case.get_json()["id"]
    assert _stored(app) == stored_before  # referenced, not copied

    for party in (as_unit, as_competent):
        listed = party.get(f"/api/v1/cases/{case_id}/evidence").get_json()["items"]
        assert [(e["filename"], e["origin"]["stage"], e["origin"]["response_id"], e["origin"]["step_id"],
                 e["origin"]["step_kind"]) for e in listed] == [
            ("情况说明.pdf", "warning", explanation["response_id"], None, None),
            ("约谈现场.png", "warning", None, step_id, "interview")]
        assert [e["sha256"] for e in listed] == [explanation["sha256"], photo["sha256"]]
        assert _download(party, f"/api/v1/evidence/{listed[0]['id']}/download")[:2] == (200, PDF)
    finance_view = as_city_finance.get(f"/api/v1/cases/{case_id}/evidence").get_json()["items"]
    assert [e["filename"] for e in finance_view] == ["情况说明.pdf", "约谈现场.png", "协查报告.pdf"]
    confidential = finance_view[2]
    assert confidential["origin"]["confidential"] is True
    assert confidential["origin"]["warning_file_id"] == findings["id"]
    for party in (as_unit, as_competent):
        assert _download(party, f"/api/v1/evidence/{confidential['id']}/download")[0] == 404
    assert _download(as_city_finance, f"/api/v1/evidence/{confidential['id']}/download")[:2] == (200, PDF)
    assert as_bank.get(f"/api/v1/cases/{case_id}/evidence").status_code == 404  # not a party to a unit case
    # Each joined file is journaled in its evidence stream, with its SHA-256.
    [joined] = _journal(f"evidence:{finance_view[0]['id']}")
    assert (joined.action, joined.payload["sha256"], joined.payload["case_id"]) == (
        "joined", explanation["sha256"], case_id)


def test_art21_1_a_warning_stage_explanation_is_not_the_rectifications_evidence(as_city_finance, as_unit):
    """The written result of a rectification comes with its own evidence (Art. 21(一)): what
    the unit gave while the warning was verified does not stand in for it."""
    _, warning_id = held_payment(as_city_finance)
    _attached(as_unit, warning_id, _answer(as_unit, warning_id))
    case_id = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning"}).get_json()["id"]
    version = as_unit.get(f"/api/v1/cases/{case_id}").get_json()["version"]
    response = as_unit.post(f"/api/v1/cases/{case_id}/actions/submit_rectification",
                            json={"version": version, "report": "已整改"})
    assert response.status_code == 409, response.get_json()


# --- records of interviews and on-site checks ----------------------------------------------------------

def test_art11_2_3_an_interview_ends_with_its_record_and_attachments_journaled_by_sha256(
        app, as_city_finance, as_unit, as_bank):
    _, warning_id = held_payment(as_city_finance)
    step_id = _step(as_city_finance, warning_id)
    response = _record(as_city_finance, warning_id, step_id, files=[
        (PDF, "约谈记录（签字）.pdf", "application/pdf"), (PNG, "约谈现场.png", "image/png")])
    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    assert (made["step_id"], made["kind"], made["title"], made["article"], made["org_code"]) == (
        step_id, "interview", "约谈记录", "第十一条（二）3", "653000-CZ")
    assert made["details"]["participants"] == RECORD["participants"]
    assert (made["details"]["minutes"], made["details"]["kept_by"]) == (RECORD["minutes"], "张记录")
    assert [(f["filename"], f["record_id"], f["step_id"]) for f in made["files"]] == [
        ("约谈记录（签字）.pdf", made["id"], step_id), ("约谈现场.png", made["id"], step_id)]
    assert len(_stored(app)) == 2

    for party in (as_unit, as_bank, as_city_finance):  # whoever sees the step sees its record
        [step] = party.get(f"/api/v1/warnings/{warning_id}").get_json()["steps"]
        assert step["record"]["id"] == made["id"]
        assert [f["sha256"] for f in step["record"]["files"]] == [hashlib.sha256(PDF).hexdigest(),
                                                                   hashlib.sha256(PNG).hexdigest()]
    [entry] = [e for e in _journal(f"warning:{warning_id}") if e.action == "record_made"]
    assert entry.payload["details"]["kept_by"] == "张记录"
    assert [f["sha256"] for f in entry.payload["files"]] == [hashlib.sha256(PDF).hexdigest(),
                                                             hashlib.sha256(PNG).hexdigest()]


def test_art11_2_3_an_onsite_check_is_recorded_too_and_json_serves_a_record_without_attachments(
        as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    step_id = _step(as_city_finance, warning_id, "onsite")
    response = as_city_finance.post(f"/api/v1/warnings/{warning_id}/steps/{step_id}/record", json=RECORD)
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["title"], response.get_json()["files"]) == ("实地核证记录", [])


def test_art11_2_3_a_step_is_recorded_once(app, as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    step_id = _step(as_city_finance, warning_id)
    assert _record(as_city_finance, warning_id, step_id).status_code == 201
    again = _record(as_city_finance, warning_id, step_id, record={**RECORD, "minutes": "改写"},
                    files=[(PDF, "补充.pdf", "application/pdf")])
    assert again.status_code == 409
    assert "step_id" in again.get_json()["errors"]
    assert _count(StepRecord) == 1 and _count(WarningFile) == 0 and _stored(app) == []


def test_art11_2_3_two_officers_recording_one_step_at_once_one_wins(app, as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    step_id = _step(as_city_finance, warning_id)
    url = f"/api/v1/warnings/{warning_id}/steps/{step_id}/record"
    statuses = sorted_statuses(race(app, [("post", url, as_city_finance.headers, RECORD)] * 2))
    assert statuses == [201, 409]
    assert _count(StepRecord) == 1


@pytest.mark.parametrize("kind", ["phone", "documents", "focus_letter", "joint_investigation"])
def test_art11_2_3_only_interviews_and_onsite_checks_take_a_record(as_city_finance, kind):
    _, warning_id = held_payment(as_city_finance)
    fields = {"documents": {"documents": ["原始凭证"], "due_date": "2021-06-10"},
              "joint_investigation": {"oversight_code": OVERSIGHT}}.get(kind, {})
    step_id = _step(as_city_finance, warning_id, kind, **fields)
    response = _record(as_city_finance, warning_id, step_id)
    assert response.status_code == 409
    assert response.get_json()["errors"] == {"kind": [f"{kind} takes no record"]}
    assert "interview, onsite" in response.get_json()["message"]
    assert _count(StepRecord) == 0


@pytest.mark.parametrize("change, field", [
    ({"minutes": None}, "minutes"), ({"kept_by": ""}, "kept_by"), ({"participants": []}, "participants"),
    ({"participants": [{"name": "王科长", "side": "auditor"}]}, "participants"),
    ({"held_at": "2021-06-10T10:00:00"}, "held_at"), ({"held_at": "2099-01-01T10:00:00+08:00"}, "held_at"),
    ({"colour": "red"}, "colour")])
def test_art11_2_3_the_records_fields_are_checked_by_name_and_nothing_is_written(
        app, as_city_finance, change, field):
    _, warning_id = held_payment(as_city_finance)
    step_id = _step(as_city_finance, warning_id)
    record = {key: value for key, value in {**RECORD, **change}.items() if value is not None}
    response = _record(as_city_finance, warning_id, step_id, record=record, files=[(PDF, "记录.pdf", "application/pdf")])
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert _count(StepRecord) == 0 and _count(WarningFile) == 0 and _stored(app) == []


def test_art11_2_3_a_multipart_record_needs_its_json_part(as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    step_id = _step(as_city_finance, warning_id)
    url = f"/api/v1/warnings/{warning_id}/steps/{step_id}/record"
    response = _multipart(as_city_finance, url, MultiDict([("minutes", "散装字段")]))
    assert (response.status_code, response.get_json()["errors"]) == (422, {"record": ["missing"]})
    response = _multipart(as_city_finance, url, MultiDict([("record", "{not json")]))
    assert (response.status_code, response.get_json()["errors"]) == (422, {"record": ["not JSON text"]})


def test_atomicity_one_bad_attachment_leaves_no_record_no_row_and_no_stored_file(app, as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    step_id = _step(as_city_finance, warning_id)
    version = _version(as_city_finance, warning_id)
    response = _record(as_city_finance, warning_id, step_id, files=[
        (PDF, "约谈记录.pdf", "application/pdf"), (PNG, "照片.png", "image/png"), (EXE, "照片2.jpg", "image/jpeg")])
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"file": ["content is not jpeg"]}
    assert _count(StepRecord) == 0 and _count(WarningFile) == 0 and _stored(app) == []
    assert _version(as_city_finance, warning_id) == version
    assert "record_made" not in [e.action for e in _journal(f"warning:{warning_id}")]


def test_atomicity_an_oversize_attachment_is_413_and_leaves_nothing(app, as_city_finance):
    app.config["FUNDWATCH_EVIDENCE_MAX_BYTES"] = 1024
    _, warning_id = held_payment(as_city_finance)
    step_id = _step(as_city_finance, warning_id)
    response = _record(as_city_finance, warning_id, step_id, files=[
        (PDF, "约谈记录.pdf", "application/pdf"), (PDF + b"0" * 2048, "扫描件.pdf", "application/pdf")])
    assert response.status_code == 413
    assert _count(StepRecord) == 0 and _count(WarningFile) == 0 and _stored(app) == []


def test_atomicity_a_record_whose_transaction_rolls_back_leaves_no_file(app, demo, as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    step_id = _step(as_city_finance, warning_id)
    verification_files.make_record(Actor.of(demo.users["city_finance"]), warning_id, step_id, dict(RECORD),
                                   attachments=[(PDF, "约谈记录.pdf", None), (PNG, "照片.png", None)],
                                   upload_dir=app.config["FUNDWATCH_UPLOAD_DIR"])
    assert len(_stored(app)) == 2
    db.session.rollback()
    assert _stored(app) == [] and _count(StepRecord) == 0 and _count(WarningFile) == 0


def test_atomicity_too_many_attachments_are_refused_before_any_is_read_into_storage(app, demo, as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    step_id = _step(as_city_finance, warning_id)
    with pytest.raises(Invalid) as refused:
        verification_files.make_record(Actor.of(demo.users["city_finance"]), warning_id, step_id, dict(RECORD),
                                       attachments=[(PDF, f"{n}.pdf", None) for n in range(21)],
                                       upload_dir=app.config["FUNDWATCH_UPLOAD_DIR"])
    assert refused.value.errors == {"file": ["at most 20 files"]}
    db.session.rollback()
    assert _stored(app) == []


def test_art11_2_3_a_record_is_never_changed_nor_removed(app, as_city_finance, backend):
    """Archived (存档): the ORM refuses to change a record or a file row, and so does the database."""
    _, warning_id = held_payment(as_city_finance)
    step_id = _step(as_city_finance, warning_id)
    assert _record(as_city_finance, warning_id, step_id, files=[(PDF, "约谈记录.pdf", "application/pdf")]).status_code == 201
    made = db.session.execute(sa.select(StepRecord)).scalar_one()
    made.details = {**made.details, "minutes": "改写"}
    with pytest.raises(AppendOnlyViolation):
        db.session.flush()
    db.session.rollback()
    for statement in ("UPDATE step_records SET kind = 'onsite'", "DELETE FROM warning_files"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    assert _count(StepRecord) == 1 and _count(WarningFile) == 1


def test_art11_2_3_only_finance_in_charge_records(as_city_finance, as_unit, as_county_finance):
    _, warning_id = held_payment(as_city_finance)
    step_id = _step(as_city_finance, warning_id)
    assert _record(as_unit, warning_id, step_id).status_code == 403
    assert _record(as_county_finance, warning_id, step_id).status_code == 404  # not its jurisdiction
    _, other_warning = held_payment(as_city_finance)
    assert _record(as_city_finance, other_warning, step_id).status_code == 404  # not a step of that warning
    assert _count(StepRecord) == 0


# --- the table says it -----------------------------------------------------------------------------------

def test_art11_2_3_the_records_fields_come_from_the_step_table_and_are_documented(client, as_unit):
    from workflow.verification_steps import STEP_KINDS

    steps = {s["kind"]: s for s in as_unit.get("/api/v1/workflow/warning/steps").get_json()["steps"]}
    assert {kind: (s["record"] or {}).get("title") for kind, s in steps.items()} == {
        "phone": None, "documents": None, "interview": "约谈记录", "onsite": "实地核证记录", "focus_letter": None,
        "joint_investigation": None}
    spec = client.get("/api/v1/openapi.json").get_json()
    for kind in ("interview", "onsite"):
        component = spec["components"]["schemas"][f"StepRecord.{kind}"]
        assert list(component["properties"]) == list(STEP_KINDS[kind].record.field_names)
        assert sorted(component["required"]) == sorted(["held_at", "participants", "minutes", "kept_by"])
        assert component["additionalProperties"] is False
    participant = spec["components"]["schemas"]["Participant"]
    assert participant["properties"]["side"]["enum"] == ["finance", "unit", "other"]

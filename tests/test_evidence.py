"""Evidence on a case (Art. 21(一) 书面纠正结果和相关佐证材料; Art. 27(三), 28(二)): uploaded by
the case's subject or finance, kept under a server-chosen name with its SHA-256, listed and
downloaded only by parties who can see the case (ASVS 5.2-5.4, 8.2.2)."""
import hashlib
import io
import os

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from workflow import audit, case_records, cases
from workflow.case_records import Evidence
from workflow.db import db
from workflow.errors import Invalid
from workflow.evidence import add_evidence
from workflow.parties import Actor, org_by_code

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 40 + b"PE\x00\x00"


def _open(demo, machine="unit_case", subject="653000-301001", rung="warning", fields=None) -> int:
    case = cases.open_case(Actor.of(demo.users["city_finance"]), machine=machine, subject=org_by_code(subject),
                           rung=rung, fields=fields or {"summary": "公务接待费以现金支付12500.00元"})
    db.session.commit()
    return case.id


@pytest.fixture
def unit_case(demo):
    return _open(demo)


def _upload(client, case_id, data=PDF, name="整改报告.pdf", mimetype="application/pdf", note=None):
    form = {"file": FileStorage(io.BytesIO(data), name, content_type=mimetype)}
    if note is not None:
        form["note"] = note
    # Encoded here, in memory: the test client would spool a large body to a temporary file
    # that it never closes (a ResourceWarning, which this suite treats as an error).
    boundary, body = encode_multipart(form)
    return client.post(f"/api/v1/cases/{case_id}/evidence", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def _stored_files(app):
    folder = app.config["FUNDWATCH_UPLOAD_DIR"]
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def _evidence_count():
    return db.session.execute(sa.select(sa.func.count()).select_from(Evidence)).scalar()


def _events(case_id, name="evidence_added"):
    return db.session.execute(sa.select(case_records.CaseEvent).where(
        case_records.CaseEvent.case_id == case_id, case_records.CaseEvent.trigger == name)).scalars().all()


def test_art21_1_unit_uploads_evidence_kept_with_its_sha256(app, as_unit, unit_case):
    response = _upload(as_unit, unit_case, note="已退回资金")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert (body["filename"], body["file_type"], body["size"], body["note"]) == ("整改报告.pdf", "pdf", len(PDF), "已退回资金")
    assert body["uploader_org"] == "653000-301001"
    [stored] = _stored_files(app)
    assert stored != "整改报告.pdf" and stored.endswith(".pdf") and len(stored) == 36  # uuid4 hex + .pdf
    with open(os.path.join(app.config["FUNDWATCH_UPLOAD_DIR"], stored), "rb") as handle:
        assert handle.read() == PDF


def test_the_upload_is_an_event_in_the_case_history(as_unit, unit_case):
    body = _upload(as_unit, unit_case).json
    db.session.expire_all()
    [event] = _events(unit_case)
    assert event.payload["sha256"] == body["sha256"] and event.payload["evidence_id"] == body["id"]
    assert event.party_kind == "unit" and event.from_state == event.to_state == "warning"
    assert list(audit.verify_chains([unit_case])) in ([], [(unit_case, [])])


@pytest.mark.parametrize("party", ["unit", "competent", "city_finance", "finance"])
def test_parties_who_see_the_case_list_and_download_its_evidence(request, as_unit, unit_case, party):
    evidence_id = _upload(as_unit, unit_case).json["id"]
    client = request.getfixturevalue(f"as_{party}")
    listed = client.get(f"/api/v1/cases/{unit_case}/evidence")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json["items"]] == [evidence_id]
    download = client.get(f"/api/v1/evidence/{evidence_id}/download")
    body = download.get_data()
    download.close()  # the file is streamed: close it as a server would
    assert download.status_code == 200
    assert body == PDF
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E6%95%B4%E6%94%B9%E6%8A%A5%E5%91%8A.pdf" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.mimetype == "application/pdf"


@pytest.mark.parametrize("party", ["other_unit", "other_competent", "county_finance", "bank", "oversight"])
def test_parties_who_cannot_see_the_case_get_404(request, as_unit, unit_case, party):
    evidence_id = _upload(as_unit, unit_case).json["id"]
    client = request.getfixturevalue(f"as_{party}")
    assert client.get(f"/api/v1/cases/{unit_case}/evidence").status_code == 404
    assert client.get(f"/api/v1/evidence/{evidence_id}/download").status_code == 404
    assert _upload(client, unit_case).status_code == 404


def test_finance_may_attach_evidence_too(as_city_finance, unit_case):
    assert _upload(as_city_finance, unit_case, name="核查记录.pdf").status_code == 201


def test_the_competent_department_sees_but_may_not_upload(app, as_competent, unit_case):
    response = _upload(as_competent, unit_case)
    assert response.status_code == 403
    assert _stored_files(app) == [] and _evidence_count() == 0


def test_art22_bank_uploads_on_its_own_case_and_the_unit_cannot_see_it(demo, as_bank, as_unit, as_other_bank):
    bank_case = _open(demo, machine="bank_case", subject="BANK-ICBC-KZ", rung="transmission_fix",
                      fields={"summary": "未及时传输支付清算信息"})
    response = _upload(as_bank, bank_case, data="回执号,日期\nHZ001,2026-03-02\n".encode(), name="补传回执.csv",
                       mimetype="text/csv")
    assert response.status_code == 201, response.json
    assert as_unit.get(f"/api/v1/cases/{bank_case}/evidence").status_code == 404
    assert as_other_bank.get(f"/api/v1/evidence/{response.json['id']}/download").status_code == 404


def test_too_large_is_413_and_nothing_is_written(app, as_unit, unit_case):
    app.config["FUNDWATCH_EVIDENCE_MAX_BYTES"] = 1024
    response = _upload(as_unit, unit_case, data=PDF + b"0" * 2048)
    assert response.status_code == 413
    assert list(response.json["errors"]) == ["file"]
    db.session.expire_all()
    assert _stored_files(app) == [] and _evidence_count() == 0 and _events(unit_case) == []


def test_default_limit_is_twenty_mebibytes(app, as_unit, unit_case):
    assert _upload(as_unit, unit_case, data=PDF + b"0" * (20 * 1024 * 1024)).status_code == 413


def test_a_pdf_name_on_executable_bytes_is_refused_and_nothing_is_written(app, as_unit, unit_case):
    response = _upload(as_unit, unit_case, data=EXE, name="整改报告.pdf")
    assert response.status_code == 422
    assert response.json["errors"] == {"file": ["content is not pdf"]}
    db.session.expire_all()
    assert _stored_files(app) == [] and _evidence_count() == 0 and _events(unit_case) == []
    assert db.session.get(case_records.Case, unit_case).version == 1


def test_an_upload_without_a_file_names_the_field(as_unit, unit_case):
    response = as_unit.post(f"/api/v1/cases/{unit_case}/evidence", data={"note": "无附件"},
                            content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.json["errors"] == {"file": ["missing"]}


def test_a_rolled_back_upload_leaves_no_file(app, demo, unit_case):
    add_evidence(Actor.of(demo.users["unit"]), unit_case, data=PDF, filename="a.pdf", declared_type=None,
                 upload_dir=app.config["FUNDWATCH_UPLOAD_DIR"])
    assert len(_stored_files(app)) == 1
    db.session.rollback()
    assert _stored_files(app) == []


def test_the_domain_refuses_before_writing(app, demo, unit_case):
    with pytest.raises(Invalid):
        add_evidence(Actor.of(demo.users["unit"]), unit_case, data=EXE, filename="a.pdf", declared_type=None,
                     upload_dir=app.config["FUNDWATCH_UPLOAD_DIR"])
    assert _stored_files(app) == []


def test_art21_1_evidence_lets_the_unit_submit_its_rectification(demo, as_unit, unit_case):
    unit = Actor.of(demo.users["unit"])
    _upload(as_unit, unit_case)
    case = cases.apply_action(unit, unit_case, "submit_rectification", {"report": "已退回违规资金并调整账目"})
    assert case.state == "under_review"


def test_no_evidence_on_a_closed_case(app, demo, as_unit, unit_case):
    _upload(as_unit, unit_case)
    cases.apply_action(Actor.of(demo.users["unit"]), unit_case, "submit_rectification", {"report": "已整改"})
    cases.apply_action(Actor.of(demo.users["city_finance"]), unit_case, "accept_rectification", {})
    db.session.commit()
    response = _upload(as_unit, unit_case, name="补充.pdf")
    assert response.status_code == 409
    assert len(_stored_files(app)) == 1

"""Who sees what (issue 16, item 4): one table, kept here as data, checked against the API and
against the README.

The demo scenario is built once per test through the API: a held cash payment of the unit
carried by the bank, its warning verified with an interview notice issued by the province and a
joint investigation the audit bureau answered, the unit acknowledging the notice with its signed copy,
the unit and the bureau attaching a file to their answers, the interview recorded with an attachment;
a unit case on the order rung with the unit's evidence, referred to the audit bureau (Art. 23)
which recorded findings, and a 通报 on it circulated in the city's region (issue 10); a case against the
agent bank; a public complaint; an individual payee filed by the unit; a second held payment of
the unit whose warning the city handed on to the prefecture's market regulation bureau (移交,
Art. 11(三)), which answered with its outcome. Then every party asks for
every record kind, and what it gets is compared with :data:`TABLE`.

Marks: ``yes`` reads it; ``no`` gets 404 (or, for a part of a record, does not find it there);
``fact`` reads that the event happened, and where, but not its content (Art. 23).
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

from cases_support import OVERSIGHT, UNIT, act_ok, open_case
from verification_support import held_payment

from notifications.delivery import deliver_pending
from workflow.db import db

README = Path(__file__).resolve().parent.parent / "README.md"

PARTIES = {  # fixture key → README column
    "finance": "province finance", "city_finance": "city finance", "county_finance": "county finance",
    "competent": "competent dept.", "unit": "the unit", "other_unit": "another unit", "bank": "the bank",
    "other_bank": "another bank", "oversight": "oversight body", "department": "receiving dept.",
}
DEPARTMENT = "653000-SCJG"  # the prefecture's market regulation bureau (有关部门, Art. 11(三))

# record kind → marks in the order of PARTIES:
# province, city, county, competent, unit, other unit, bank, other bank, oversight, receiving department
TABLE = {
    "unit case (违规问题处理单)":                    "yes yes no yes yes no no no yes no",
    "its history: ordinary events":                  "yes yes no yes yes no no no yes no",
    "its history: referral and findings (Art. 23)":  "yes yes no fact fact no no no yes no",
    "agent-bank case (Art. 22)":                     "yes yes no no no no yes no no no",
    "rectification order to the unit (21(三))":      "yes yes no yes yes no no no yes no",
    "interview notice by the province (11(二)3)":    "yes yes no yes yes no no no yes no",
    "referral letter (移送函, 23)":                   "yes yes no no no no no no yes no",
    "public notice to the region (通报, 21(五))":      "yes yes no yes yes yes no no yes no",
    "signed copy of the interview notice":           "yes yes no yes yes no no no yes no",
    "notice to the bank (22)":                       "yes yes no no no no yes no no no",
    "evidence on the unit's case (list, download)":  "yes yes no yes yes no no no yes no",
    "warning (预警)":                                "yes yes no yes yes no yes no yes no",
    "verification step: interview":                  "yes yes no yes yes no yes no yes no",
    "verification step: joint investigation":        "yes yes no no no no no no yes no",
    "answer: the unit's explanation":                "yes yes no yes yes no yes no yes no",
    "answer: the oversight body's findings":         "yes yes no no no no no no yes no",
    "file of the unit's explanation (list, download)": "yes yes no yes yes no yes no yes no",
    "file of the oversight body's findings":          "yes yes no no no no no no yes no",
    "interview record (约谈记录) and its attachment":   "yes yes no yes yes no yes no yes no",
    "payment":                                       "yes yes no yes yes no yes no no no",
    "bank account of the unit":                      "yes yes no yes yes no yes no no no",
    "individual payee filing (Art. 16)":             "yes yes no no yes no no no no no",
    "complaint (Art. 20)":                           "yes yes no no no no no no no no",
    "complainant's identity":                        "yes yes no no no no no no no no",
    "journal: warning (without 协查 unless above)":   "yes yes no yes yes no yes no yes no",
    "journal: notice":                               "yes yes no yes yes no no no yes no",
    "journal: payment":                              "yes yes no yes yes no yes no no no",
    "journal: account":                              "yes yes no yes yes no yes no no no",
    "journal: payee":                                "yes yes no no yes no no no no no",
    "journal: complaint":                            "yes yes no no no no no no no no",
    "inbox: the interview notice":                   "no no no no yes no no no no no",
    "inbox: the joint investigation":                "no no no no no no no no yes no",
    "inbox: the referral":                           "no no no no no no no no yes no",
    "inbox: the public notice":                      "no no no yes no yes no no no no",
    "own list (GET /documents): the public notice":  "no yes no yes yes yes no no no no",
    "warning handed on (移交, 11(三))":               "yes yes no yes yes no yes no no yes",
    "transfer letter (移交函, 11(三))":               "yes yes no no no no no no no yes",
    "answer: the department's outcome":              "yes yes no no no no no no no yes",
    "journal: the transfer (matters, outcome)":      "yes yes no no no no no no no yes",
    "inbox: the transfer":                           "no no no no yes no no no no yes",
    "own list (GET /documents): the transfer letter": "no yes no no no no no no no yes",
    "payment plan (用款计划, 10(二)1)":                 "yes yes no yes yes no no no no no",
    "journal: payment plan":                         "yes yes no yes yes no no no no no",
}


def _mark(seen: bool) -> str:
    return "yes" if seen else "no"


def _ok(client, path: str) -> bool:
    response = client.get(path)
    status = response.status_code
    response.close()  # a download streams its file
    assert status in (200, 404), (path, status)
    return status == 200


def _json(client, path: str):
    response = client.get(path)
    return response.get_json() if response.status_code == 200 else None


def build_scenario(parties) -> dict:
    """The records of the module docstring, made through the API as the parties would."""
    city, province, unit, oversight = (parties[k] for k in ("city_finance", "finance", "unit", "oversight"))
    ids = {}
    payment, warning_id = held_payment(city)
    ids["payment"], ids["warning"] = payment["id"], warning_id
    steps = f"/api/v1/warnings/{warning_id}/steps"
    response = province.post(steps, json={"kind": "interview", "interview_at": "2021-06-10T10:00:00+08:00",
                                          "room": "财政厅302"})
    assert response.status_code == 201, response.get_json()
    ids["interview_notice"] = response.get_json()["document_id"]
    signed = unit.post(f"/api/v1/documents/{ids['interview_notice']}/acknowledge", content_type="multipart/form-data",
                       data={"file": (io.BytesIO("已签收".encode()), "约谈通知书回执.txt", "text/plain")})
    assert signed.status_code == 200, signed.get_json()
    assert city.post(steps, json={"kind": "joint_investigation", "oversight_code": OVERSIGHT}).status_code == 201
    for party, text, key in ((oversight, "审计局协查意见", "findings_file"), (unit, "单位情况说明", "explanation_file")):
        answer = party.post(f"/api/v1/warnings/{warning_id}/responses", json={"text": text})
        assert answer.status_code == 201
        attached = party.post(f"/api/v1/warnings/{warning_id}/responses/{answer.get_json()['id']}/files",
                              content_type="multipart/form-data",
                              data={"file": (io.BytesIO(text.encode()), f"{text}.txt", "text/plain")})
        assert attached.status_code == 201, attached.get_json()
        ids[key] = attached.get_json()["id"]
    interview = next(s for s in city.get(f"/api/v1/warnings/{warning_id}").get_json()["steps"] if s["kind"] == "interview")
    record = {"held_at": "2021-06-10T10:00:00+08:00", "participants": [{"name": "王科长", "side": "finance"}],
              "minutes": "约谈情况", "kept_by": "张记录"}
    recorded = city.post(f"/api/v1/warnings/{warning_id}/steps/{interview['id']}/record", content_type="multipart/form-data",
                         data={"record": json.dumps(record), "file": (io.BytesIO("签字".encode()), "约谈记录.txt", "text/plain")})
    assert recorded.status_code == 201, recorded.get_json()
    ids["record_file"] = recorded.get_json()["files"][0]["id"]

    case_id = ids["case"] = open_case(city, "order")["id"]
    upload = unit.post(f"/api/v1/cases/{case_id}/evidence", content_type="multipart/form-data",
                       data={"file": (io.BytesIO("整改说明".encode()), "整改.txt", "text/plain")})
    assert upload.status_code == 201, upload.get_json()
    ids["evidence"] = upload.get_json()["id"]
    act_ok(city, case_id, "refer", oversight=OVERSIGHT, reason="情节严重")
    act_ok(oversight, case_id, "record_findings", findings="列为重点监督检查对象")
    act_ok(city, case_id, "publish_notice", scope="region_units")
    documents = city.get(f"/api/v1/cases/{case_id}/documents").get_json()["items"]
    ids["public_notice"] = next(d["id"] for d in documents if d["kind"] == "public_notice")
    ids["order"] = next(d["id"] for d in documents if d["kind"] == "rectification_order")
    ids["referral_letter"] = next(d["id"] for d in documents if d["kind"] == "referral_letter")

    bank_case = ids["bank_case"] = open_case(city, "transmission_fix")["id"]
    ids["bank_notice"] = city.get(f"/api/v1/cases/{bank_case}/documents").get_json()["items"][0]["id"]

    ids["account"] = next(a["id"] for a in unit.get("/api/v1/accounts").get_json()["items"] if a["kind"] == "real_fund")
    filed = unit.post("/api/v1/payees", json={"unit_code": UNIT, "name": "张三", "id_number": "653001199001011234",
                                              "employer": "克州政协机关", "title": "科员",
                                              "account": "6222000011113333"})
    assert filed.status_code == 201, filed.get_json()
    ids["payee"] = filed.get_json()["id"]
    planned = unit.post("/api/v1/payment-plans", json=[{
        "unit_code": UNIT, "month": "2021-06", "functional_code": "2010201", "economic_code": "30201",
        "amount": "2500.00"}])
    assert planned.status_code == 201, planned.get_json()
    ids["plan"] = planned.get_json()["items"][0]["id"]
    assert city.post(f"/api/v1/payment-plans/{ids['plan']}/approve").status_code == 200
    report = parties["_anonymous"].post("/api/v1/complaints", json={
        "unit_code": UNIT, "description": "现金报销大额差旅费", "reporter_name": "王举报"},
        environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert report.status_code == 201, report.get_json()
    ids["complaint"] = city.get("/api/v1/complaints").get_json()["items"][0]["id"]

    _, handed_on = held_payment(city)
    ids["transferred"] = handed_on
    handed = city.post(f"/api/v1/warnings/{handed_on}/transfer", json={
        "receiver_code": DEPARTMENT, "matters": ["收款单位无证经营"], "basis": "《无证无照经营查处办法》"})
    assert handed.status_code == 201, handed.get_json()
    ids["transfer_letter"] = handed.get_json()["document_id"]
    outcome = parties["department"].post(f"/api/v1/warnings/{handed_on}/responses", json={"text": "已责令停业整顿"})
    assert outcome.status_code == 201, outcome.get_json()

    deliver_pending()
    db.session.expire_all()
    return ids


def observe(client, ids: dict) -> dict[str, str]:
    """What one party gets for every record kind of :data:`TABLE`."""
    seen = {}
    case = ids["case"]
    events = _json(client, f"/api/v1/cases/{case}/events")
    seen["unit case (违规问题处理单)"] = _mark(_ok(client, f"/api/v1/cases/{case}"))
    ordinary = [e for e in (events or {"items": []})["items"] if e["trigger"] not in ("refer", "record_findings")]
    seen["its history: ordinary events"] = _mark(bool(ordinary) and all(e["payload"] for e in ordinary))
    referral = [e for e in (events or {"items": []})["items"] if e["trigger"] in ("refer", "record_findings")]
    if not referral:
        seen["its history: referral and findings (Art. 23)"] = "no"
    else:
        assert len(referral) == 2
        withheld = all(e["payload"] == {"withheld": "第二十三条 (Art. 23)"} for e in referral)
        seen["its history: referral and findings (Art. 23)"] = "fact" if withheld else "yes"
    seen["agent-bank case (Art. 22)"] = _mark(_ok(client, f"/api/v1/cases/{ids['bank_case']}"))
    for row, key in (("rectification order to the unit (21(三))", "order"),
                     ("interview notice by the province (11(二)3)", "interview_notice"),
                     ("referral letter (移送函, 23)", "referral_letter"),
                     ("public notice to the region (通报, 21(五))", "public_notice"),
                     ("notice to the bank (22)", "bank_notice")):
        read = _ok(client, f"/api/v1/documents/{ids[key]}")
        assert _ok(client, f"/api/v1/documents/{ids[key]}/html") == read
        assert _ok(client, f"/api/v1/documents/{ids[key]}/events") == read
        seen[row] = _mark(read)
    copy = client.get(f"/api/v1/documents/{ids['interview_notice']}/signed-copy")
    seen["signed copy of the interview notice"] = _mark(copy.status_code == 200)
    assert copy.status_code in (200, 404)
    copy.close()
    own = client.get("/api/v1/documents?kind=public_notice").get_json()["items"]
    seen["own list (GET /documents): the public notice"] = _mark(any(d["id"] == ids["public_notice"] for d in own))
    listed = _json(client, f"/api/v1/cases/{case}/documents")
    listed_ids = {d["id"] for d in listed["items"]} if listed else set()
    assert (ids["referral_letter"] in listed_ids) == (seen["referral letter (移送函, 23)"] == "yes")

    evidence = _json(client, f"/api/v1/cases/{case}/evidence")
    download = _ok(client, f"/api/v1/evidence/{ids['evidence']}/download")
    assert download == bool(evidence and evidence["items"])
    seen["evidence on the unit's case (list, download)"] = _mark(download)

    warning = _json(client, f"/api/v1/warnings/{ids['warning']}")
    seen["warning (预警)"] = _mark(warning is not None)
    steps = [s["kind"] for s in warning["steps"]] if warning else []
    answers = [r["kind"] for r in warning["responses"]] if warning else []
    seen["verification step: interview"] = _mark("interview" in steps)
    seen["verification step: joint investigation"] = _mark("joint_investigation" in steps)
    seen["answer: the unit's explanation"] = _mark("explanation" in answers)
    seen["answer: the oversight body's findings"] = _mark("findings" in answers)
    files = _json(client, f"/api/v1/warnings/{ids['warning']}/files")
    listed_files = {f["id"] for f in files["items"]} if files else set()
    for row, key in (("file of the unit's explanation (list, download)", "explanation_file"),
                     ("file of the oversight body's findings", "findings_file")):
        download = _ok(client, f"/api/v1/warning-files/{ids[key]}/download")
        assert download == (ids[key] in listed_files)
        seen[row] = _mark(download)
    records = [s["record"] for s in warning["steps"] if s["kind"] == "interview" and s["record"]] if warning else []
    record_file = _ok(client, f"/api/v1/warning-files/{ids['record_file']}/download")
    assert record_file == bool(records) == (ids["record_file"] in listed_files)
    seen["interview record (约谈记录) and its attachment"] = _mark(record_file)
    if warning is not None:
        assert (ids["interview_notice"] in warning["document_ids"]) == (
            seen["interview notice by the province (11(二)3)"] == "yes")

    seen["payment"] = _mark(_ok(client, f"/api/v1/payments/{ids['payment']}"))
    seen["bank account of the unit"] = _mark(_ok(client, f"/api/v1/accounts/{ids['account']}"))
    seen["individual payee filing (Art. 16)"] = _mark(_ok(client, f"/api/v1/payees/{ids['payee']}"))
    plan = _json(client, f"/api/v1/payment-plans/{ids['plan']}")
    quota = client.get("/api/v1/payment-plans/quota?month=2021-06").get_json()["items"]
    assert (plan is not None) == any(q["plan_id"] == ids["plan"] for q in quota)  # the quota view: same reach
    seen["payment plan (用款计划, 10(二)1)"] = _mark(plan is not None)
    complaint = client.get(f"/api/v1/complaints/{ids['complaint']}")
    assert complaint.status_code in (200, 403, 404)
    seen["complaint (Art. 20)"] = _mark(complaint.status_code == 200)
    seen["complainant's identity"] = _mark(complaint.status_code == 200 and "王举报" in complaint.get_data(as_text=True))

    journal = _json(client, f"/api/v1/warnings/{ids['warning']}/events")
    if journal is not None:
        hidden = {"joint_investigation_requested"} <= {e["action"] for e in journal["items"]}
        assert hidden == (seen["verification step: joint investigation"] == "yes")
        assert ("审计局协查意见" in str(journal)) == (seen["answer: the oversight body's findings"] == "yes")
    seen["journal: warning (without 协查 unless above)"] = _mark(journal is not None)
    seen["journal: notice"] = _mark(_ok(client, f"/api/v1/documents/{ids['interview_notice']}/events"))
    seen["journal: payment"] = _mark(_ok(client, f"/api/v1/payments/{ids['payment']}/events"))
    seen["journal: account"] = _mark(_ok(client, f"/api/v1/accounts/{ids['account']}/events"))
    seen["journal: payee"] = _mark(_ok(client, f"/api/v1/payees/{ids['payee']}/events"))
    seen["journal: payment plan"] = _mark(_ok(client, f"/api/v1/payment-plans/{ids['plan']}/events"))
    seen["journal: complaint"] = _mark(client.get(f"/api/v1/complaints/{ids['complaint']}/events").status_code == 200)

    handed_on = _json(client, f"/api/v1/warnings/{ids['transferred']}")
    seen["warning handed on (移交, 11(三))"] = _mark(handed_on is not None)
    seen["answer: the department's outcome"] = _mark(
        handed_on is not None and "outcome" in [r["kind"] for r in handed_on["responses"]])
    letter = _ok(client, f"/api/v1/documents/{ids['transfer_letter']}")
    assert _ok(client, f"/api/v1/documents/{ids['transfer_letter']}/html") == letter
    seen["transfer letter (移交函, 11(三))"] = _mark(letter)
    transfer_journal = _json(client, f"/api/v1/warnings/{ids['transferred']}/events")
    seen["journal: the transfer (matters, outcome)"] = _mark(
        transfer_journal is not None and "收款单位无证经营" in str(transfer_journal)
        and "已责令停业整顿" in str(transfer_journal))
    own_letters = client.get("/api/v1/documents?kind=transfer_letter").get_json()["items"]
    seen["own list (GET /documents): the transfer letter"] = _mark(
        any(d["id"] == ids["transfer_letter"] for d in own_letters))

    inbox = client.get("/api/v1/notifications?limit=1000").get_json()["items"]
    seen["inbox: the transfer"] = _mark(any("问题移交" in n["subject"] for n in inbox))
    seen["inbox: the interview notice"] = _mark(any(n["link"].endswith(f"/documents/{ids['interview_notice']}")
                                                    for n in inbox))
    seen["inbox: the joint investigation"] = _mark(any("协查" in n["subject"] for n in inbox))
    seen["inbox: the referral"] = _mark(any("移送" in n["subject"] for n in inbox))
    seen["inbox: the public notice"] = _mark(any(n["link"].endswith(f"/documents/{ids['public_notice']}")
                                                 for n in inbox))
    return seen


def test_issue16_4_every_party_sees_exactly_what_the_table_says(request, client, demo):
    parties = {key: request.getfixturevalue(f"as_{key}") for key in PARTIES}
    parties["_anonymous"] = client
    ids = build_scenario(parties)
    observed = {key: observe(parties[key], ids) for key in PARTIES}
    differences = []
    for row, marks in TABLE.items():
        for key, expected in zip(PARTIES, marks.split()):
            got = observed[key][row]
            if got != expected:
                differences.append(f"{row} / {key}: table says {expected}, the API answers {got}")
    assert set(TABLE) == set(observed["unit"]), "every row is observed"
    assert not differences, "\n".join(differences)


def readme_table() -> str:
    """The table as the README shows it (between the visibility markers)."""
    lines = ["| record | " + " | ".join(PARTIES.values()) + " |",
             "| --- |" + " --- |" * len(PARTIES)]
    for row, marks in TABLE.items():
        lines.append(f"| {row} | " + " | ".join(marks.split()) + " |")
    return "\n".join(lines)


def test_issue16_4_the_readme_shows_this_table():
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- visibility table: tests/test_visibility_table.py -->\n(.*?)\n<!-- end -->", text, re.S)
    assert found, "the README has the visibility table between its markers"
    assert found.group(1) == readme_table(), "README.md differs; paste readme_table() there"


def test_issue16_4_every_row_has_a_mark_for_every_party():
    for row, marks in TABLE.items():
        assert len(marks.split()) == len(PARTIES) and set(marks.split()) <= {"yes", "no", "fact"}, row

"""Protocol details a generic HTTP client relies on (issue 16 item 5): ``Allow`` on a 405,
``WWW-Authenticate`` on a 401, ``nosniff`` on JSON, one charset on text downloads."""
from __future__ import annotations

import io

from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from workflow import cases
from workflow.db import db
from workflow.parties import Actor, org_by_code


def test_issue16_a_405_names_the_allowed_methods(as_unit):
    response = as_unit.delete("/api/v1/payments")
    assert response.status_code == 405
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert {"GET", "POST"} <= allowed and "DELETE" not in allowed
    assert response.json["code"] == 405 and response.mimetype == "application/json"


def test_issue16_a_401_challenges_with_the_bearer_scheme(client, demo):
    for headers in ({}, {"Authorization": "Bearer fw_not-a-token"}, {"Authorization": "Basic eDp5"}):
        response = client.get("/api/v1/payments", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "WWW-Authenticate" not in client.get("/api/v1/health").headers


def test_issue16_json_answers_are_not_sniffed(client, as_unit):
    for response in (as_unit.get("/api/v1/payments"), as_unit.get("/api/v1/payments/999999"),
                     client.get("/api/v1/health"), client.get("/api/v1/openapi.json"),
                     client.get("/api/v1/payments")):
        assert response.mimetype == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_issue16_a_text_evidence_download_has_one_charset(app, demo, as_unit):
    case = cases.open_case(Actor.of(demo.users["city_finance"]), machine="unit_case",
                           subject=org_by_code("653000-301001"), rung="warning",
                           fields={"summary": "公务接待费以现金支付12500.00元"})
    db.session.commit()
    boundary, body = encode_multipart({"file": FileStorage(
        io.BytesIO("退回资金12500.00元，已调整账目。".encode()), "说明.txt", content_type="text/plain")})
    uploaded = as_unit.post(f"/api/v1/cases/{case.id}/evidence", data=body,
                            content_type=f"multipart/form-data; boundary={boundary}")
    assert uploaded.status_code == 201, uploaded.json
    response = as_unit.get(f"/api/v1/evidence/{uploaded.json['id']}/download")
    response.close()  # the file is streamed: close it as a server would
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Type"].count("charset") == 1

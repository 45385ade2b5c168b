"""Protocol details a generic HTTP client relies on (issue 16 item 5): ``Allow`` on a 405,
``WWW-Authenticate`` on a 401, ``nosniff`` on JSON, one charset on text downloads."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from workflow import cases
from workflow.db import db
from workflow.parties import Actor, org_by_code
from workflow.tokens import ApiToken


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


@pytest.mark.parametrize("encoding, charset", [("utf-8", "utf-8"), ("gbk", "gb18030")])
def test_issue16_a_text_evidence_download_has_one_charset_the_one_it_is_in(app, demo, as_unit, encoding, charset):
    case = cases.open_case(Actor.of(demo.users["city_finance"]), machine="unit_case",
                           subject=org_by_code("653000-301001"), rung="warning",
                           fields={"summary": "公务接待费以现金支付12500.00元"})
    db.session.commit()
    boundary, body = encode_multipart({"file": FileStorage(
        io.BytesIO("退回资金12500.00元，已调整账目。".encode(encoding)), "说明.txt", content_type="text/plain")})
    uploaded = as_unit.post(f"/api/v1/cases/{case.id}/evidence", data=body,
                            content_type=f"multipart/form-data; boundary={boundary}")
    assert uploaded.status_code == 201, uploaded.json
    response = as_unit.get(f"/api/v1/evidence/{uploaded.json['id']}/download")
    response.close()  # the file is streamed: close it as a server would
    assert response.status_code == 200
    assert response.headers["Content-Type"] == f"text/plain; charset={charset}"
    assert response.headers["Content-Type"].count("charset") == 1


# --- empty PATCH bodies, fields a party may not set, token lifetimes -------------------------

def test_issue16_an_empty_patch_body_is_422_and_changes_nothing(as_finance, as_city_finance, as_unit):
    account_id = as_city_finance.get("/api/v1/accounts").json["items"][0]["id"]
    payee = as_unit.post("/api/v1/payees", json={
        "unit_code": "653000-301001", "id_number": "65300119800101002X", "name": "阿依古丽", "employer": "克州政协",
        "title": "科员", "account": "6222020200001234567"})
    assert payee.status_code == 201, payee.json
    for party, url in ((as_city_finance, f"/api/v1/accounts/{account_id}"),
                       (as_unit, f"/api/v1/payees/{payee.json['id']}"),
                       (as_finance, "/api/v1/rules")):
        before = party.get(url).json
        response = party.patch(url, json={})
        assert response.status_code == 422, (url, response.json)
        assert response.json["errors"], response.json
        assert party.get(url).json == before


def test_issue16_a_unit_sending_registered_true_gets_422_naming_the_field(as_unit, as_city_finance):
    body = {"unit_code": "653000-301001", "bank_code": "BANK-ICBC-KZ", "number": "3009000109200099999",
            "kind": "special", "registered": True}
    response = as_unit.post("/api/v1/accounts", json=body)
    assert response.status_code == 422
    assert "registered" in response.json["errors"]
    assert all(a["number"] != body["number"] for a in as_city_finance.get("/api/v1/accounts").json["items"])
    reported = as_unit.post("/api/v1/accounts", json={**body, "registered": False})
    assert reported.status_code == 201 and reported.json["registered"] is False
    assert as_city_finance.post("/api/v1/accounts", json={**body, "number": "3009000109200088888"}).json[
        "registered"] is True


@pytest.mark.parametrize("days", ["0", "-5", "367", "99999999999"])
def test_issue16_a_token_lifetime_outside_1_to_366_days_is_refused(runner, demo, days):
    count = db.session.execute(sa.select(sa.func.count(ApiToken.id))).scalar_one()
    result = runner.invoke(args=["tokens", "issue", "--email", "unit@demo.fundwatch.invalid", "--days", days])
    assert result.exit_code != 0
    assert "--days" in result.output and "1" in result.output
    assert "fw_" not in result.output
    assert db.session.execute(sa.select(sa.func.count(ApiToken.id))).scalar_one() == count


def test_issue16_a_token_of_one_day_is_issued_for_one_day(runner, demo):
    result = runner.invoke(args=["tokens", "issue", "--email", "unit@demo.fundwatch.invalid", "--days", "1"])
    assert result.exit_code == 0, result.output
    row = db.session.execute(sa.select(ApiToken).order_by(ApiToken.id.desc()).limit(1)).scalar_one()
    assert (row.expires_at - row.created_at).days == 1

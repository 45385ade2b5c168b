"""Issue 16 item 3: no input may produce a 5xx. Every bad input is a 4xx in the project's error
shape, naming the field where there is one, and the two databases answer alike."""
from __future__ import annotations

import base64
import io
import json
import threading
import time

import pytest
import sqlalchemy as sa
from payments_helpers import payment

from workflow.accounts import BankAccount
from workflow.budget import Indicator
from workflow.db import db
from workflow.monitoring.models import Payment
from workflow.monitoring.rulesets import active_rule_set
from workflow.monitoring.screening import screen_payments
from workflow.parties import Actor

COMPLAINT = {"unit_code": "653000-301001", "description": "公车私用，周末常见"}
INDICATOR = {"unit_code": "653000-301001", "year": 2022, "functional_code": "2010201", "economic_code": "30211",
             "fund_source": "general_budget", "expenditure_kind": "basic", "amount": "158000.00"}
ACCOUNT = {"unit_code": "653000-301001", "bank_code": "BANK-ICBC-KZ", "number": "3009000109200099999",
           "kind": "special"}


def count(model) -> int:
    return db.session.execute(sa.select(sa.func.count(model.id))).scalar_one()


def assert_error_shape(response, status):
    assert response.status_code == status, response.data[:300]
    assert set(response.json) == {"code", "message", "errors"} and response.json["code"] == status


# --- integers beyond the columns ---------------------------------------------------------------

def _id_routes(app):
    """Every GET route with an id in its path, with that id filled in by ``value``."""
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and any(type(c).__name__ == "IdConverter" for c in rule._converters.values()):
            yield rule


@pytest.mark.parametrize("value", ["9223372036854775807", "2147483648", "99999999999999999999999", "0",
                                   "١٢٣", "１２３"])
def test_an_id_beyond_the_integer_column_or_in_other_digits_is_404_on_every_route(app, as_finance, value):
    routes = list(_id_routes(app))
    assert len(routes) > 15
    for rule in routes:
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", value).replace(f"<{name}>", "x")
        response = as_finance.get(url)
        assert response.status_code == 404, (url, response.status_code)


@pytest.mark.parametrize("url, field", [
    ("/api/v1/indicators?year=99999999999", "year"),
    ("/api/v1/indicators?year=-99999999999", "year"),
    ("/api/v1/rules?version=9223372036854775807", "version"),
    ("/api/v1/cases?limit=99999999999", "limit"),
    ("/api/v1/focus-list?min_warnings=9223372036854775807", "min_warnings"),
])
def test_a_query_integer_beyond_the_column_is_422_naming_it(as_finance, url, field):
    response = as_finance.get(url)
    assert_error_shape(response, 422)
    assert field in response.json["errors"]


@pytest.mark.parametrize("last_id", [2**31, 2**63 - 1, 10**30])
def test_a_cursor_beyond_the_id_column_is_422(as_finance, last_id):
    cursor = base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")
    response = as_finance.get(f"/api/v1/payments?cursor={cursor}")
    assert_error_shape(response, 422)
    assert "cursor" in response.json["errors"]


# --- amounts -----------------------------------------------------------------------------------

BAD_AMOUNTS = ["1e30", "99999999999999999999.00", "1000000000000.00", "1e9", "1E+2", "1,200.00", "١٢٣",
               "１２３", " 12.00", "+12.00", "12.", ".5", "NaN", "Infinity", "12.345", 1500.5, 1e9, True, None, [], {}]


@pytest.mark.parametrize("amount", BAD_AMOUNTS, ids=repr)
def test_an_amount_not_in_the_written_form_is_422_for_indicators(as_city_finance, amount):
    before = count(Indicator)
    response = as_city_finance.post("/api/v1/indicators", json=[{**INDICATOR, "amount": amount}])
    assert_error_shape(response, 422)
    assert "row 1.amount" in response.json["errors"]
    assert count(Indicator) == before


@pytest.mark.parametrize("amount", BAD_AMOUNTS, ids=repr)
def test_an_amount_not_in_the_written_form_is_422_for_payments(as_city_finance, amount):
    response = as_city_finance.post("/api/v1/payments", json=[payment(amount=amount) if amount is not None
                                                              else {**payment(), "amount": None}])
    assert_error_shape(response, 422)
    assert "row 1.amount" in response.json["errors"]
    assert count(Payment) == 0


@pytest.mark.parametrize("amount, stored", [("1200.00", "1200.00"), ("1200", "1200.00"), ("0.5", "0.50"),
                                            (1200, "1200.00"), ("999999999999.99", "999999999999.99")])
def test_an_amount_in_the_written_form_or_a_json_integer_is_read_exactly(as_city_finance, amount, stored):
    response = as_city_finance.post("/api/v1/indicators", json=[{**INDICATOR, "amount": amount}])
    assert response.status_code == 201, response.json
    assert response.json["items"][0]["amount"] == stored


def test_the_openapi_document_describes_money_as_a_pattern_string(client):
    spec = client.get("/api/v1/openapi.json").json
    amount = spec["components"]["schemas"]["Indicator"]["properties"]["amount"]
    assert amount["type"] == "string" and amount["pattern"] and amount["example"] == "1500.00"


# --- text that cannot be stored ----------------------------------------------------------------

def _raw_json(party_or_client, url, text, **kw):
    return party_or_client.post(url, data=text, content_type="application/json", **kw)


@pytest.mark.parametrize("bad", ["\\ud800", "\\udfff", "\\u0000"])
def test_a_lone_surrogate_or_nul_in_a_public_complaint_is_422_naming_the_field(client, demo, bad):
    body = json.dumps(COMPLAINT, ensure_ascii=False).replace('"公车', f'"{bad}公车')
    assert bad in body
    response = _raw_json(client, "/api/v1/complaints", body)
    assert_error_shape(response, 422)
    assert list(response.json["errors"]) == ["description"]


def test_a_lone_surrogate_in_a_field_name_is_422_and_the_answer_is_valid_utf8(client, demo):
    response = _raw_json(client, "/api/v1/complaints", json.dumps(COMPLAINT)[:-1] + ', "x\\ud800": "y"}')
    assert_error_shape(response, 422)
    assert list(response.json["errors"]) == ["x\\ud800"]
    response.data.decode("utf-8")


@pytest.mark.parametrize("field", ["exception", "exception_ref", "payee_id_number", "paid_at", "voucher_no"])
@pytest.mark.parametrize("value", [{}, [], True, 1.5])
def test_a_text_field_of_a_payment_sent_as_another_json_type_is_422_naming_it(as_city_finance, field, value):
    row = payment(exception="student_aid", exception_ref="吉财教〔2021〕5号")
    row[field] = value
    response = as_city_finance.post("/api/v1/payments", json=[row])
    assert_error_shape(response, 422)
    assert response.json["errors"] == {f"row 1.{field}": ["must be text"]}
    assert count(Payment) == 0


def test_a_nul_in_a_bulk_row_names_the_row_and_field(as_city_finance):
    body = json.dumps([payment(), payment(summary="打印纸\u0000")])
    response = _raw_json(as_city_finance, "/api/v1/payments", body)
    assert_error_shape(response, 422)
    assert list(response.json["errors"]) == ["row 2.summary"]
    assert count(Payment) == 0


@pytest.mark.parametrize("url, field", [
    ("/api/v1/payments?unit_code=%00", "unit_code"),
    ("/api/v1/payments?voucher_no=PZ%00", "voucher_no"),
    ("/api/v1/cases/1/actions/%00", "trigger"),
])
def test_a_nul_in_the_query_or_path_is_422_naming_it(as_finance, url, field):
    response = as_finance.get(url) if "actions" not in url else as_finance.post(url, json={})
    assert_error_shape(response, 422)
    assert field in response.json["errors"]


def test_a_nul_in_an_uploaded_csv_is_422_and_nothing_is_written(as_city_finance):
    text = ("unit_code,year,functional_code,economic_code,fund_source,expenditure_kind,project,amount\n"
            "653000-301001,2022,2010201,30211,general_budget,basic,办公\x00费,100.00\n")
    data = {"file": (io.BytesIO(text.encode()), "indicators.csv")}
    before = count(Indicator)
    response = as_city_finance.post("/api/v1/indicators", data=data, content_type="multipart/form-data")
    assert_error_shape(response, 422)
    assert "file" in response.json["errors"]
    assert count(Indicator) == before


def test_a_nul_in_a_form_field_or_an_uploaded_file_name_is_422(as_city_finance):
    data = {"file": (io.BytesIO(b"unit_code\n"), "a\x00.csv"), "note": "x\x00"}
    response = as_city_finance.post("/api/v1/indicators", data=data, content_type="multipart/form-data")
    assert_error_shape(response, 422)
    assert set(response.json["errors"]) == {"file", "note"}


# --- JSON nested too deeply --------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/api/v1/payments", "/api/v1/cases", "/api/v1/indicators", "/api/v1/rules"])
@pytest.mark.parametrize("depth", [40, 1000, 100_000])
def test_json_nested_too_deeply_is_400(as_finance, url, depth):
    response = _raw_json(as_finance, url, "[" * depth + "]" * depth)
    assert_error_shape(response, 400)


# --- dates -------------------------------------------------------------------------------------

@pytest.mark.parametrize("paid_at", ["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00-01:00",
                                     "1999-12-31T23:59:59+08:00", "9999-12-31T23:59:59-10:00"])
def test_a_payment_time_outside_the_service_dates_is_422(as_city_finance, paid_at):
    response = as_city_finance.post("/api/v1/payments", json=[payment(paid_at=paid_at)])
    assert_error_shape(response, 422)
    assert "row 1.paid_at" in response.json["errors"]


@pytest.mark.parametrize("paid_at", ["0001-01-01T00:00:00+01:00", "2100-01-01T00:00:00+08:00"])
def test_a_settlement_time_outside_the_service_dates_is_422(as_bank, paid_at):
    line = {"payer_account": "3009000109200012345", "amount": "300.00", "payee_name": "克州文具有限公司",
            "payee_account": "6222020000001234567", "paid_at": paid_at}
    response = as_bank.post("/api/v1/bank-settlements", json=[line])
    assert_error_shape(response, 422)
    assert any(key.endswith("paid_at") for key in response.json["errors"])


def test_the_openapi_document_states_the_date_range(client):
    spec = client.get("/api/v1/openapi.json").json
    paid_at = spec["components"]["schemas"]["Payment"]["properties"]["paid_at"]
    assert "2000-01-01" in paid_at["description"] and "2099-12-31" in paid_at["description"]


# --- concurrent creates ------------------------------------------------------------------------

def _race(app, token, url, bodies):
    """Send ``bodies`` at once, each from its own thread, client, app context and connection."""
    start = threading.Barrier(len(bodies))
    answers = [None] * len(bodies)

    def run(index, body):
        with app.app_context():
            client = app.test_client()
            start.wait()
            response = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
            answers[index] = (response.status_code, response.json)
            db.session.remove()

    threads = [threading.Thread(target=run, args=(i, b)) for i, b in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _no_database_words(answers):
    text = json.dumps([body for _, body in answers], ensure_ascii=False)
    for word in ("uq_", "UNIQUE", "unique", "constraint", "duplicate key", "IntegrityError"):
        assert word not in text, text


def test_concurrent_creates_of_one_account_number_are_one_201_and_409s(app, demo):
    answers = _race(app, demo.tokens["city_finance"], "/api/v1/accounts", [ACCOUNT] * 6)
    assert sorted(code for code, _ in answers) == [201] + [409] * 5, answers
    assert all(body["errors"] == {"number": ["already recorded"]} for code, body in answers if code == 409)
    _no_database_words(answers)
    numbered = sa.select(sa.func.count()).where(BankAccount.number == ACCOUNT["number"])
    assert db.session.execute(numbered).scalar_one() == 1


def test_concurrent_uploads_of_one_indicator_are_one_201_and_409s_naming_the_row(app, demo):
    before = count(Indicator)
    answers = _race(app, demo.tokens["city_finance"], "/api/v1/indicators", [[INDICATOR]] * 6)
    assert sorted(code for code, _ in answers) == [201] + [409] * 5, answers
    assert all("row 1" in body["errors"] for code, body in answers if code == 409)
    _no_database_words(answers)
    assert count(Indicator) == before + 1


@pytest.mark.parametrize("economic_code", ["30201", "30999"], ids=["with an indicator", "with no budget"])
def test_identical_payment_posts_racing_an_uncommitted_one_all_answer_the_stored_payment(app, demo, economic_code):
    """README: a voucher posted again as the same payment answers the stored one. While the
    first screening of a voucher is still uncommitted, five identical posts arrive: each
    waits for it and then answers the stored payment, none fails with "post again". (With no
    budget there is no running total to queue on: the unit itself is what they queue on.)"""
    active_rule_set()  # stored and committed beforehand, as in any running service
    db.session.commit()
    row = payment(economic_code=economic_code)
    first = screen_payments(Actor.system(), [row]).items[0]  # not committed yet
    racers = threading.Thread(target=lambda: answers.extend(
        _race(app, demo.tokens["city_finance"], "/api/v1/payments", [[row]] * 5)))
    answers: list = []
    racers.start()
    time.sleep(0.5)  # lets the racers reach the database; the outcome must not depend on it
    db.session.commit()
    racers.join()
    assert [code for code, _ in answers] == [201] * 5, answers
    assert {body["items"][0]["id"] for _, body in answers} == {first["id"]}
    stored = sa.select(sa.func.count()).where(Payment.voucher_no == row["voucher_no"])
    assert db.session.execute(stored).scalar_one() == 1


# --- the safety net ----------------------------------------------------------------------------

@pytest.mark.own_app
def test_an_integrity_error_that_escapes_is_409_without_the_constraint_name(app, as_finance):
    @app.route("/_test/integrity")
    def integrity():
        raise sa.exc.IntegrityError("INSERT INTO t", {}, Exception("UNIQUE constraint failed: uq_secret_name"))

    response = as_finance.get("/_test/integrity")
    assert_error_shape(response, 409)
    assert "uq_secret_name" not in response.get_data(as_text=True)


@pytest.mark.own_app
def test_a_locked_sqlite_database_is_503_with_retry_after(app, as_finance):
    @app.route("/_test/locked")
    def locked():
        raise sa.exc.OperationalError("UPDATE t", {}, Exception("database is locked"))

    response = as_finance.get("/_test/locked")
    assert_error_shape(response, 503)
    assert response.headers["Retry-After"] == "1"

"""Bank accounts (Art. 13(一)): units report theirs, finance registers, suspends and closes."""

NEW = {"unit_code": "653000-301001", "bank_code": "BANK-ICBC-KZ", "number": "3009000109200099999",
       "kind": "special"}


def test_art13_1_finance_records_a_registered_account(as_city_finance):
    response = as_city_finance.post("/api/v1/accounts", json={**NEW, "registered": True})
    assert response.status_code == 201, response.json
    assert response.json["registered"] is True
    assert response.json["status"] == "active"


def test_art13_1_a_unit_reports_its_account_unregistered_and_may_not_claim_otherwise(as_unit):
    # issue 16 item 5: the claim is refused naming the field, no longer silently dropped
    refused = as_unit.post("/api/v1/accounts", json={**NEW, "registered": True})
    assert refused.status_code == 422 and "registered" in refused.json["errors"]
    response = as_unit.post("/api/v1/accounts", json=NEW)
    assert response.status_code == 201, response.json
    assert response.json["registered"] is False


def test_art13_1_a_unit_cannot_report_another_units_account(as_other_unit):
    response = as_other_unit.post("/api/v1/accounts", json=NEW)
    assert response.status_code == 422
    assert "unit_code" in response.json["errors"]


def test_a_bank_may_not_record_accounts(as_bank):
    assert as_bank.post("/api/v1/accounts", json=NEW).status_code == 403


def test_an_unknown_account_kind_is_422_naming_kind(as_city_finance):
    response = as_city_finance.post("/api/v1/accounts", json={**NEW, "kind": "savings"})
    assert response.status_code == 422
    assert "kind" in response.json["errors"]


def test_the_same_account_number_twice_is_409(as_city_finance):
    assert as_city_finance.post("/api/v1/accounts", json=NEW).status_code == 201
    response = as_city_finance.post("/api/v1/accounts", json=NEW)
    assert response.status_code == 409
    assert "number" in response.json["errors"]


def test_art13_1_finance_registers_then_suspends_an_account(as_unit, as_city_finance):
    account = as_unit.post("/api/v1/accounts", json=NEW).json
    response = as_city_finance.patch(f"/api/v1/accounts/{account['id']}", json={"registered": True})
    assert response.json["registered"] is True
    response = as_city_finance.patch(f"/api/v1/accounts/{account['id']}", json={"status": "suspended"})
    assert response.status_code == 200
    assert response.json["status"] == "suspended"


def test_a_unit_may_not_change_an_account(as_unit):
    account = as_unit.post("/api/v1/accounts", json=NEW).json
    assert as_unit.patch(f"/api/v1/accounts/{account['id']}", json={"registered": True}).status_code == 403


def test_unknown_fields_are_refused_not_silently_accepted(as_city_finance):
    response = as_city_finance.post("/api/v1/accounts", json={**NEW, "id": 99, "created_at": "x"})
    assert response.status_code == 422

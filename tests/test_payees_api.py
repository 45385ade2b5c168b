"""POST/GET/PATCH /api/v1/payees (Art. 16): a unit files the individuals it pays."""
from __future__ import annotations

from payments_helpers import PERSON_ACCOUNT, PERSON_ID, payment, rules_of

PERSON = {"unit_code": "653000-301001", "id_number": PERSON_ID.lower(), "name": "张三", "employer": "克州政协机关",
          "title": "科员", "account": PERSON_ACCOUNT}


def labour():
    return payment(economic_code="30226", summary="劳务费", payee_kind="individual", payee_name="张三",
                   payee_id_number=PERSON_ID, payee_account=PERSON_ACCOUNT)


def test_art16_unit_files_a_payee_and_payments_to_them_pass_once_finance_confirms(as_unit, as_city_finance):
    response = as_unit.post("/api/v1/payees", json=PERSON)
    assert response.status_code == 201, response.json
    assert response.json["id_number"] == PERSON_ID  # normalised: upper-case X
    assert response.json["status"] == "pending"  # 备案核实确认: the unit's filing waits for finance
    assert as_city_finance.post(f"/api/v1/payees/{response.json['id']}/confirm").json["status"] == "confirmed"
    items = as_city_finance.post("/api/v1/payments", json=[labour()]).json["items"]
    assert items[0]["warnings"] == []


def test_art16_a_filing_with_missing_identity_data_is_refused(as_unit):
    response = as_unit.post("/api/v1/payees", json={k: v for k, v in PERSON.items() if k != "title"})
    assert response.status_code == 422
    assert "title" in response.json["errors"]


def test_art16_a_unit_may_not_file_for_another_unit(as_other_unit):
    response = as_other_unit.post("/api/v1/payees", json=PERSON)
    assert response.status_code == 422
    assert "unit_code" in response.json["errors"]


def test_art16_filing_the_same_person_twice_is_a_conflict(as_unit, as_city_finance):
    assert as_unit.post("/api/v1/payees", json=PERSON).status_code == 201
    assert as_city_finance.post("/api/v1/payees", json=PERSON).status_code == 409


def test_art16_a_changed_account_is_filed_and_checked_against(as_unit, as_city_finance):
    payee_id = as_unit.post("/api/v1/payees", json=PERSON).json["id"]
    as_city_finance.post(f"/api/v1/payees/{payee_id}/confirm")
    assert as_unit.patch(f"/api/v1/payees/{payee_id}", json={"account": "6217000000000009999"}).status_code == 200
    as_city_finance.post(f"/api/v1/payees/{payee_id}/confirm")
    items = as_city_finance.post("/api/v1/payments", json=[labour()]).json["items"]
    assert rules_of(items[0]) == {"individual_payee_unregistered"}
    assert "不一致" in items[0]["warnings"][0]["message"]


def test_art16_filings_are_seen_by_the_unit_and_finance_only(as_unit, as_other_unit, as_city_finance, as_bank):
    payee_id = as_unit.post("/api/v1/payees", json=PERSON).json["id"]
    assert [p["id"] for p in as_city_finance.get("/api/v1/payees").json["items"]] == [payee_id]
    assert as_other_unit.get("/api/v1/payees").json["items"] == []
    assert as_other_unit.get(f"/api/v1/payees/{payee_id}").status_code == 404
    assert as_bank.get("/api/v1/payees").json["items"] == []
    assert as_bank.post("/api/v1/payees", json=PERSON).status_code == 403

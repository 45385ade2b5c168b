"""Existence of voucher and account numbers is not probeable (issue 16 item 5): a party that
cannot see a payment or an account gets the answer it would get if it did not exist, and
the database stays consistent: voucher numbers are numbered per unit, an account record is
per unit and a number is registered to one unit at most."""
from __future__ import annotations

import sqlalchemy as sa
from payments_helpers import OTHER_UNIT, OTHER_ZERO_BALANCE, UNIT, ZERO_BALANCE, payment

from workflow.accounts import BankAccount
from workflow.db import db
from workflow.monitoring.models import Payment

NUMBER = "3009000109200012345"  # the demo unit's registered zero-balance account at ICBC


def _payments(voucher):
    return db.session.execute(sa.select(Payment.unit_id, Payment.status).where(
        Payment.voucher_no == voucher).order_by(Payment.id)).all()


# --- voucher numbers ----------------------------------------------------------------------------

def test_issue16_a_bank_posting_a_voucher_number_another_bank_used_for_another_unit_is_not_told(
        as_bank, as_other_bank):
    used = payment()
    assert as_bank.post("/api/v1/payments", json=[used]).status_code == 201
    fresh = payment(unit_code=OTHER_UNIT, payer_account=OTHER_ZERO_BALANCE, functional_code="2010101")
    same_number = {**fresh, "voucher_no": used["voucher_no"]}
    answer_fresh = as_other_bank.post("/api/v1/payments", json=[fresh])
    answer_same = as_other_bank.post("/api/v1/payments", json=[same_number])
    assert answer_same.status_code == answer_fresh.status_code == 201, answer_same.json
    assert [i["status"] for i in answer_same.json["items"]] == [i["status"] for i in answer_fresh.json["items"]]
    assert len(_payments(used["voucher_no"])) == 2


def test_issue16_a_bank_posting_a_unit_voucher_another_bank_carries_learns_nothing_of_that_payment(
        as_city_finance, as_bank, as_other_bank):
    # Residual, by necessity: the unit's number is taken and must not be stored twice, so the
    # other bank is refused, but told nothing of the payment (no id, no values).
    ccb = as_city_finance.post("/api/v1/accounts", json={"unit_code": UNIT, "bank_code": "BANK-CCB-KZ",
                                                          "number": "6501000200300099999", "kind": "zero_balance",
                                                          "registered": True})
    assert ccb.status_code == 201, ccb.json
    used = payment(amount="777.00")
    stored = as_bank.post("/api/v1/payments", json=[used]).json["items"][0]
    response = as_other_bank.post("/api/v1/payments", json=[{**used, "payer_account": "6501000200300099999"}])
    assert response.status_code == 409
    assert list(response.json["errors"]) == ["row 1.voucher_no"]
    text = str(response.json)
    assert f"payment {stored['id']}" not in text and "777.00" not in text and ZERO_BALANCE not in text


def test_issue16_a_bank_refusal_names_the_unit_when_two_units_share_a_voucher_number(as_city_finance, as_bank):
    icbc = as_city_finance.post("/api/v1/accounts", json={"unit_code": OTHER_UNIT, "bank_code": "BANK-ICBC-KZ",
                                                           "number": "3009000109200055555", "kind": "zero_balance",
                                                           "registered": True})
    assert icbc.status_code == 201, icbc.json
    ours = payment()
    theirs = {**payment(unit_code=OTHER_UNIT, payer_account="3009000109200055555", functional_code="2010101"),
              "voucher_no": ours["voucher_no"]}
    assert as_city_finance.post("/api/v1/payments", json=[ours, theirs]).status_code == 201
    ambiguous = as_bank.post("/api/v1/bank-refusals", json={"voucher_no": ours["voucher_no"], "reason": "账户冻结"})
    assert ambiguous.status_code == 422 and "unit_code" in ambiguous.json["errors"]
    refused = as_bank.post("/api/v1/bank-refusals", json={"voucher_no": ours["voucher_no"], "reason": "账户冻结",
                                                          "unit_code": OTHER_UNIT})
    assert refused.status_code == 201, refused.json
    other_unit_id = db.session.execute(sa.select(Payment.unit_id).where(
        Payment.payer_account == "3009000109200055555")).scalar_one()
    assert sorted(status for unit_id, status in _payments(ours["voucher_no"]) if unit_id == other_unit_id) == [
        "refused"]
    assert sorted(status for unit_id, status in _payments(ours["voucher_no"])) == ["accepted", "refused"]
    # a settlement line of that number is matched by its paying account
    line = {"voucher_no": ours["voucher_no"], "payer_account": ZERO_BALANCE, "amount": ours["amount"],
            "payee_name": ours["payee_name"], "payee_account": ours["payee_account"], "paid_at": ours["paid_at"]}
    [answer] = as_bank.post("/api/v1/bank-settlements", json=[line]).json["items"]
    assert answer["outcome"] == "matched", answer


# --- account numbers ----------------------------------------------------------------------------

def test_issue16_a_unit_reporting_a_number_another_unit_holds_gets_the_answer_of_a_new_number(
        as_other_unit, as_city_finance):
    body = {"unit_code": OTHER_UNIT, "bank_code": "BANK-ICBC-KZ", "kind": "zero_balance"}
    fresh = as_other_unit.post("/api/v1/accounts", json={**body, "number": "3009000109200044444"})
    taken = as_other_unit.post("/api/v1/accounts", json={**body, "number": NUMBER})
    assert taken.status_code == fresh.status_code == 201, taken.json
    assert set(taken.json) == set(fresh.json) and taken.json["registered"] is False
    # consistent: the number stays registered to the demo unit only; screening its payments is unchanged
    rows = db.session.execute(sa.select(BankAccount.unit_id, BankAccount.registered).where(
        BankAccount.number == NUMBER)).all()
    assert sorted(registered for _, registered in rows) == [False, True]
    [item] = as_city_finance.post("/api/v1/payments", json=[payment()]).json["items"]
    assert item["status"] == "accepted" and item["warnings"] == []
    # the other unit paying from the number it claimed is an unregistered account, as for any claim
    [claimed] = as_city_finance.post("/api/v1/payments", json=[payment(
        unit_code=OTHER_UNIT, payer_account=NUMBER, functional_code="2010101")]).json["items"]
    assert "account_not_registered" in {w["rule"] for w in claimed["warnings"]}


def test_issue16_a_unit_reporting_its_own_number_twice_is_a_conflict(as_unit):
    body = {"unit_code": UNIT, "bank_code": "BANK-ICBC-KZ", "kind": "zero_balance", "number": NUMBER}
    response = as_unit.post("/api/v1/accounts", json=body)
    assert response.status_code == 409 and "number" in response.json["errors"]


def test_issue16_finance_meets_the_clash_when_registering_a_number_held_by_another_unit(
        as_other_unit, as_city_finance):
    claim = as_other_unit.post("/api/v1/accounts", json={"unit_code": OTHER_UNIT, "bank_code": "BANK-ICBC-KZ",
                                                          "kind": "zero_balance", "number": NUMBER}).json
    response = as_city_finance.patch(f"/api/v1/accounts/{claim['id']}", json={"registered": True})
    assert response.status_code == 409 and "number" in response.json["errors"]
    assert as_city_finance.get(f"/api/v1/accounts/{claim['id']}").json["registered"] is False


def test_issue16_triage_finds_the_payment_of_the_named_unit_when_two_units_share_a_voucher_number(
        client, as_city_finance):
    ours = payment()
    theirs = {**payment(unit_code=OTHER_UNIT, payer_account=OTHER_ZERO_BALANCE, functional_code="2010101"),
              "voucher_no": ours["voucher_no"]}
    assert as_city_finance.post("/api/v1/payments", json=[ours, theirs]).status_code == 201
    body = {"finance_code": "653000-CZ", "unit_name": "克州某单位", "voucher_no": ours["voucher_no"],
            "description": "该笔支付疑似虚列支出，请核查"}
    first = client.post("/api/v1/complaints", json=body, environ_base={"REMOTE_ADDR": "203.0.113.8"})
    assert first.status_code == 201, first.json
    url = f"/api/v1/complaints/{first.json['id']}/triage"
    ambiguous = as_city_finance.post(url, json={"into": "warning"})
    assert ambiguous.status_code == 422 and "unit_code" in ambiguous.json["errors"]
    triaged = as_city_finance.post(url, json={"into": "warning", "unit_code": OTHER_UNIT})
    assert triaged.status_code == 200, triaged.json
    assert triaged.json["unit_code"] == OTHER_UNIT

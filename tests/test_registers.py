"""The registers that make payments legitimate (issue 11): individual payee filings confirmed by
finance (Art. 16), account changes reported within five working days (Art. 13(一)), the register
of approved 归垫 (Art. 10(三)10, 13(三)5, 13(四)) and units' internal rules for special funds
(Art. 17)."""
from __future__ import annotations

import sqlalchemy as sa
from payments_helpers import PERSON_ACCOUNT, PERSON_ID, UNIT, payment, rules_of

from workflow.db import db
from workflow.journal import JournalEntry

PERSON = {"unit_code": UNIT, "id_number": PERSON_ID, "name": "张三", "employer": "克州政协机关", "title": "科员",
          "account": PERSON_ACCOUNT}


def actions(stream: str) -> list[str]:
    db.session.expire_all()
    return list(db.session.execute(sa.select(JournalEntry.action).where(JournalEntry.stream == stream)
                                   .order_by(JournalEntry.seq)).scalars())


def labour(**kw):
    return payment(**{"economic_code": "30226", "summary": "劳务费", "payee_kind": "individual", "payee_name": "张三",
                      "payee_id_number": PERSON_ID, "payee_account": PERSON_ACCOUNT, **kw})


def screened(finance, *rows) -> list[dict]:
    response = finance.post("/api/v1/payments", json=list(rows))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["items"]


# --- Art. 16: a unit's payee filing counts once finance has confirmed it (备案核实确认) ------------

def test_art16_a_unit_cannot_confirm_its_own_payee(as_unit):
    payee = as_unit.post("/api/v1/payees", json=PERSON).get_json()
    assert payee["status"] == "pending"
    response = as_unit.post(f"/api/v1/payees/{payee['id']}/confirm")
    assert response.status_code == 403
    assert as_unit.get(f"/api/v1/payees/{payee['id']}").get_json()["status"] == "pending"


def test_art16_a_payment_to_an_unconfirmed_payee_is_still_warned(as_unit, as_city_finance):
    as_unit.post("/api/v1/payees", json=PERSON)
    [item] = screened(as_city_finance, labour())
    assert rules_of(item) == {"individual_payee_unregistered"}
    assert "尚未经财政部门核实确认" in item["warnings"][0]["message"]


def test_art16_once_finance_confirms_the_filing_payments_to_the_person_pass(as_unit, as_city_finance):
    payee_id = as_unit.post("/api/v1/payees", json=PERSON).get_json()["id"]
    pending = as_city_finance.get("/api/v1/payees?status=pending").get_json()["items"]
    assert [p["id"] for p in pending] == [payee_id]  # finance's list of what awaits it
    confirmed = as_city_finance.post(f"/api/v1/payees/{payee_id}/confirm").get_json()
    assert confirmed["status"] == "confirmed" and confirmed["decided_at"]
    assert as_city_finance.get("/api/v1/payees?status=pending").get_json()["items"] == []
    [item] = screened(as_city_finance, labour())
    assert item["warnings"] == []
    assert actions(f"payee:{payee_id}") == ["filed", "confirmed"]


def test_art16_finance_rejects_a_filing_with_its_reason_and_payments_stay_warned(as_unit, as_city_finance):
    payee_id = as_unit.post("/api/v1/payees", json=PERSON).get_json()["id"]
    assert as_city_finance.post(f"/api/v1/payees/{payee_id}/reject", json={}).status_code == 422
    rejected = as_city_finance.post(f"/api/v1/payees/{payee_id}/reject", json={"reason": "职务与单位人事信息不符"})
    assert rejected.get_json()["status"] == "rejected"
    assert rejected.get_json()["status_reason"] == "职务与单位人事信息不符"
    assert as_city_finance.post(f"/api/v1/payees/{payee_id}/confirm").status_code == 409  # only a pending one
    [item] = screened(as_city_finance, labour())
    assert "已被财政部门退回" in item["warnings"][0]["message"]
    # the unit corrects it: back to finance, pending
    changed = as_unit.patch(f"/api/v1/payees/{payee_id}", json={"title": "副科长"}).get_json()
    assert changed["status"] == "pending" and changed["status_reason"] is None
    assert actions(f"payee:{payee_id}") == ["filed", "rejected", "changed"]


def test_art16_a_unit_changing_a_confirmed_account_needs_finance_to_confirm_again(as_unit, as_city_finance):
    payee_id = as_unit.post("/api/v1/payees", json=PERSON).get_json()["id"]
    as_city_finance.post(f"/api/v1/payees/{payee_id}/confirm")
    new_account = "6217000000000009999"
    assert as_unit.patch(f"/api/v1/payees/{payee_id}", json={"account": new_account}).get_json()["status"] == "pending"
    [item] = screened(as_city_finance, labour(payee_account=new_account))
    assert rules_of(item) == {"individual_payee_unregistered"}  # the unit cannot whitelist a new account


def test_art16_finance_filing_for_a_unit_is_its_own_check_and_counts_at_once(as_city_finance):
    filed = as_city_finance.post("/api/v1/payees", json=PERSON).get_json()
    assert filed["status"] == "confirmed"
    assert as_city_finance.patch(f"/api/v1/payees/{filed['id']}", json={"title": "副科长"}).get_json()["status"] \
        == "confirmed"
    [item] = screened(as_city_finance, labour())
    assert item["warnings"] == []


def test_art16_the_filing_lifecycle_is_served_as_a_table(as_unit):
    body = as_unit.get("/api/v1/workflow/payee").get_json()
    assert body["initial"] == ["pending", "confirmed"]
    edges = {(t["trigger"], tuple(t["source"]), t["dest"], tuple(t["roles"])) for t in body["transitions"]}
    assert ("confirm", ("pending",), "confirmed", ("finance",)) in edges
    assert ("file", ("new",), "pending", ("unit",)) in edges

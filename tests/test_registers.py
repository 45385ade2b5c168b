"""The registers that make payments legitimate (issue 11): individual payee filings confirmed by
finance (Art. 16), account changes reported within five working days (Art. 13(一)), the register
of approved 归垫 (Art. 10(三)10, 13(三)5, 13(四)) and units' internal rules for special funds
(Art. 17)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from payments_helpers import PERSON_ACCOUNT, PERSON_ID, UNIT, ZERO_BALANCE, payment, rules_of

from workflow.db import db
from workflow.deadlines import add_working_days
from workflow.journal import JournalEntry

BANK = "BANK-ICBC-KZ"
NEW_ACCOUNT = "3009000109200077777"

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


# --- Art. 13(一): account changes reported within five working days -------------------------------

def _today():
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def _opened(changed_on, number=NEW_ACCOUNT, **kw):
    return {"unit_code": UNIT, "number": number, "change": "opened", "changed_on": changed_on.isoformat(),
            "bank_code": BANK, "kind": "special", **kw}


def test_art13_1_a_change_reported_within_five_working_days_raises_nothing(as_unit, as_city_finance):
    response = as_unit.post("/api/v1/account-changes", json=_opened(_today()))
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert report["late"] is False and report["warning_id"] is None
    assert as_city_finance.get("/api/v1/warnings?rule=account_change_late").get_json()["items"] == []
    # the opened account is recorded for the unit, unregistered until finance registers it
    [account] = [a for a in as_unit.get("/api/v1/accounts").get_json()["items"] if a["number"] == NEW_ACCOUNT]
    assert account["registered"] is False and report["account_id"] == account["id"]


def test_art13_1_a_change_reported_later_than_five_working_days_is_warned(as_unit, as_city_finance, as_competent):
    changed_on = _today() - dt.timedelta(days=30)
    report = as_unit.post("/api/v1/account-changes", json=_opened(changed_on)).get_json()
    assert report["late"] is True and report["warning_id"]
    due = add_working_days(changed_on, 5).astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert report["due_at"].startswith(due.isoformat())
    warning = as_city_finance.get(f"/api/v1/warnings/{report['warning_id']}").get_json()
    assert (warning["rule"], warning["level"], warning["article"]) == ("account_change_late", "warn", "第十三条（一）")
    assert changed_on.isoformat() in warning["message"] and warning["payment"] is None
    assert [r["id"] for r in as_city_finance.get("/api/v1/account-changes?late=true").get_json()["items"]] \
        == [report["id"]]
    assert [r["id"] for r in as_competent.get("/api/v1/account-changes").get_json()["items"]] == [report["id"]]
    assert actions(f"account:{report['account_id']}") == ["recorded", "change_reported"]


def test_art13_1_reports_are_the_units_own(as_unit, as_other_unit, as_bank):
    report = as_unit.post("/api/v1/account-changes", json=_opened(_today())).get_json()
    assert as_other_unit.get(f"/api/v1/account-changes/{report['id']}").status_code == 404
    assert as_other_unit.get("/api/v1/account-changes").get_json()["items"] == []
    assert as_other_unit.post("/api/v1/account-changes", json=_opened(_today())).status_code == 422
    assert as_bank.post("/api/v1/account-changes", json=_opened(_today())).status_code == 403


def test_art13_1_a_change_of_an_account_never_reported_or_in_the_future_is_refused(as_unit):
    closed = {"unit_code": UNIT, "number": "3009000109200055555", "change": "closed",
              "changed_on": _today().isoformat()}
    response = as_unit.post("/api/v1/account-changes", json=closed)
    assert response.status_code == 422 and "number" in response.get_json()["errors"]
    future = as_unit.post("/api/v1/account-changes", json=_opened(_today() + dt.timedelta(days=3)))
    assert future.status_code == 422 and "changed_on" in future.get_json()["errors"]
    no_bank = as_unit.post("/api/v1/account-changes", json={**_opened(_today()), "bank_code": None})
    assert no_bank.status_code == 422


def test_art13_1_a_payment_from_an_account_reported_closed_at_the_bank_is_warned(as_unit, as_city_finance):
    closed_on = dt.date(2021, 2, 26)
    response = as_unit.post("/api/v1/account-changes", json={
        "unit_code": UNIT, "number": ZERO_BALANCE, "change": "closed", "changed_on": closed_on.isoformat()})
    assert response.status_code == 201 and response.get_json()["late"] is True
    before, after = screened(as_city_finance, payment(paid_at="2021-02-25T10:00:00+08:00"),
                             payment(paid_at="2021-03-01T10:00:00+08:00"))
    assert "account_not_registered" not in rules_of(before)
    [warned] = [w for w in after["warnings"] if w["rule"] == "account_not_registered"]
    assert "2021-02-26" in warned["message"] and warned["article"] == "第十三条（一）"


def test_art13_1_a_payment_from_an_account_never_reported_is_warned(as_city_finance):
    [item] = screened(as_city_finance, payment(payer_account="3009000109200055555"))
    assert "account_not_registered" in rules_of(item)

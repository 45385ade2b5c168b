"""The registers that make payments legitimate (issue 11): individual payee filings confirmed by
finance (Art. 16), account changes reported within five working days (Art. 13(一)), the register
of approved 归垫 (Art. 10(三)10, 13(三)5, 13(四)) and units' internal rules for special funds
(Art. 17)."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from payments_helpers import PERSON_ACCOUNT, PERSON_ID, REAL_FUND, UNIT, ZERO_BALANCE, payment, rules_of
from race_support import one_winner, race

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


def test_art16_two_finance_departments_confirming_at_once_confirm_once(app, as_unit, as_finance, as_city_finance):
    payee_id = as_unit.post("/api/v1/payees", json=PERSON).get_json()["id"]
    answers = race(app, [("post", f"/api/v1/payees/{payee_id}/confirm", as_finance.headers, None),
                         ("post", f"/api/v1/payees/{payee_id}/reject", as_city_finance.headers,
                          {"reason": "身份证号码与姓名不符"})])
    winner = one_winner(answers, 200)
    assert actions(f"payee:{payee_id}") == ["filed", "confirmed" if winner.json["status"] == "confirmed" else "rejected"]


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


# --- Art. 13(三)5, 13(四), 10(三)10: the register of approved 归垫 ---------------------------------

APPROVAL = "克财库〔2021〕12号"


def _indicator_id(finance, economic_code="30201") -> int:
    [indicator] = finance.get(f"/api/v1/indicators?unit_code={UNIT}&economic_code={economic_code}").get_json()["items"]
    return indicator["id"]


def _approve(finance, amount="1000.00", **kw) -> dict:
    response = finance.post("/api/v1/reimbursements", json={
        "unit_code": UNIT, "indicator_id": _indicator_id(finance), "amount": amount, "reason": "财政资金下达前以实有资金垫付办公费",
        "document_ref": APPROVAL, **kw})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def reimbursement(amount="600.00", ref=APPROVAL, **kw):
    """归垫: from the zero-balance account back to the unit's own real-fund account that advanced it."""
    return payment(**{"amount": amount, "summary": "归垫办公费", "payee_name": "克州政协机关", "payee_account": REAL_FUND,
                      "payee_kind": "unit", "exception": "approved_reimbursement", "exception_ref": ref, **kw})


def _real_fund(item) -> dict | None:
    return next((w for w in item["warnings"] if w["rule"] == "real_fund_transfer"), None)


def test_art13_3_5_a_reimbursement_without_an_entry_in_the_register_is_not_honoured(as_city_finance):
    [item] = screened(as_city_finance, reimbursement())
    warning = _real_fund(item)
    assert item["status"] == "held" and "归垫登记中没有该文号" in warning["message"]


def test_art13_3_5_the_exception_is_honoured_on_an_entry_with_money_left_and_draws_it_down(as_city_finance, as_unit):
    entry = _approve(as_city_finance)
    assert entry["remaining"] == "1000.00"
    first, second = screened(as_city_finance, reimbursement("600.00"), reimbursement("600.00"))
    assert _real_fund(first) is None and first["status"] == "accepted"
    assert "尚余400.00元，不足本笔600.00元" in _real_fund(second)["message"]  # money left, but not enough
    [third] = screened(as_city_finance, reimbursement("400.00"))
    assert _real_fund(third) is None
    detail = as_unit.get(f"/api/v1/reimbursements/{entry['id']}").get_json()  # the unit reads its own entry
    assert detail["remaining"] == "0.00"
    assert [d["payment_id"] for d in detail["draws"]] == [first["id"], third["id"]]
    [fourth] = screened(as_city_finance, reimbursement("0.01"))
    assert _real_fund(fourth) is not None  # nothing left


def test_art13_3_5_the_entry_must_be_the_units_and_on_the_payments_indicator(as_city_finance):
    _approve(as_city_finance)
    [other_code] = screened(as_city_finance, reimbursement(economic_code="30211", summary="归垫邮电费"))
    assert "不是本笔支付所用的预算指标" in _real_fund(other_code)["message"]
    [other_ref] = screened(as_city_finance, reimbursement(ref="克财库〔2021〕99号"))
    assert _real_fund(other_ref) is not None


def test_art13_3_5_a_refused_payment_gives_its_draw_back(as_city_finance, as_bank):
    entry = _approve(as_city_finance)
    [item] = screened(as_city_finance, reimbursement("600.00"))
    assert as_city_finance.get(f"/api/v1/reimbursements/{entry['id']}").get_json()["remaining"] == "400.00"
    refused = as_bank.post("/api/v1/bank-refusals", json={"voucher_no": item["voucher_no"], "reason": "收款账户已冻结"})
    assert refused.status_code == 201, refused.get_json()
    detail = as_city_finance.get(f"/api/v1/reimbursements/{entry['id']}").get_json()
    assert detail["remaining"] == "1000.00" and detail["draws"][0]["returned"] is True


def test_art13_3_5_only_finance_enters_approved_reimbursements(as_unit, as_competent, as_city_finance, as_other_unit):
    body = {"unit_code": UNIT, "indicator_id": _indicator_id(as_city_finance), "amount": "1000.00",
            "reason": "垫付", "document_ref": APPROVAL}
    assert as_unit.post("/api/v1/reimbursements", json=body).status_code == 403
    assert as_competent.post("/api/v1/reimbursements", json=body).status_code == 403
    entry = _approve(as_city_finance)
    assert as_city_finance.post("/api/v1/reimbursements", json=body).status_code == 409  # one entry per document
    assert as_city_finance.post("/api/v1/reimbursements", json={**body, "document_ref": "x", "amount": "0"}
                                ).status_code == 422
    assert [e["id"] for e in as_competent.get("/api/v1/reimbursements").get_json()["items"]] == [entry["id"]]
    assert as_other_unit.get(f"/api/v1/reimbursements/{entry['id']}").status_code == 404
    assert actions(f"reimbursement:{entry['id']}") == ["approved"]


def test_art13_3_5_two_racing_payments_draw_an_entry_down_once(app, as_city_finance):
    entry = _approve(as_city_finance)
    answers = race(app, [("post", "/api/v1/payments", as_city_finance.headers, [reimbursement("600.00")]),
                         ("post", "/api/v1/payments", as_city_finance.headers, [reimbursement("600.00")])])
    assert [a.status for a in answers] == [201, 201], [a.json for a in answers]
    honoured = [a for a in answers if _real_fund(a.json["items"][0]) is None]
    assert len(honoured) == 1
    detail = as_city_finance.get(f"/api/v1/reimbursements/{entry['id']}").get_json()
    assert detail["remaining"] == "400.00" and len(detail["draws"]) == 1


# --- Art. 17: internal rules for special funds, approved by finance --------------------------------

FUND = "群众联建工作经费"
RULES = {"unit_code": UNIT, "name": "克州政协群众联建工作经费管理办法", "fund_code": FUND,
         "document_ref": "克政协办发〔2021〕3号"}


def from_the_fund(**kw):
    return payment(**{"functional_code": "2010299", "economic_code": "30299", "summary": "联建活动场地布置",
                      "project": FUND, **kw})


def _missing(item) -> dict | None:
    return next((w for w in item["warnings"] if w["rule"] == "special_fund_rules_missing"), None)


def test_art17_a_payment_from_special_funds_without_approved_rules_is_warned(as_unit, as_city_finance):
    [item] = screened(as_city_finance, from_the_fund())
    warning = _missing(item)
    assert (warning["level"], warning["article"]) == ("warn", "第十七条") and FUND in warning["message"]
    filing = as_unit.post("/api/v1/special-fund-rules", json=RULES).get_json()
    assert filing["status"] == "pending"
    [pending] = screened(as_city_finance, from_the_fund())
    assert _missing(pending) is not None  # filed is not approved: 审定备案后执行
    approved = as_city_finance.post(f"/api/v1/special-fund-rules/{filing['id']}/approve")
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    [after] = screened(as_city_finance, from_the_fund())
    assert after["warnings"] == []
    assert actions(f"special_fund_rules:{filing['id']}") == ["filed", "approved"]


def test_art17_basic_expenditure_is_not_special_funds_and_rules_for_another_fund_do_not_count(as_unit, as_city_finance):
    filing = as_unit.post("/api/v1/special-fund-rules", json={**RULES, "fund_code": "为民办实事好事和第一书记工作经费"})
    as_city_finance.post(f"/api/v1/special-fund-rules/{filing.get_json()['id']}/approve")
    basic, project = screened(as_city_finance, payment(), from_the_fund())
    assert _missing(basic) is None
    assert _missing(project) is not None


def test_art17_a_unit_cannot_approve_its_own_rules_and_finance_rejects_with_a_reason(as_unit, as_competent,
                                                                                     as_city_finance):
    filing_id = as_unit.post("/api/v1/special-fund-rules", json=RULES).get_json()["id"]
    assert as_unit.post(f"/api/v1/special-fund-rules/{filing_id}/approve").status_code == 403
    assert as_competent.post(f"/api/v1/special-fund-rules/{filing_id}/approve").status_code == 403
    assert as_city_finance.post("/api/v1/special-fund-rules", json=RULES).status_code == 403  # the unit makes them
    pending = as_city_finance.get("/api/v1/special-fund-rules?status=pending").get_json()["items"]
    assert [f["id"] for f in pending] == [filing_id]
    assert as_city_finance.post(f"/api/v1/special-fund-rules/{filing_id}/reject", json={}).status_code == 422
    rejected = as_city_finance.post(f"/api/v1/special-fund-rules/{filing_id}/reject",
                                    json={"reason": "未规定会计核算办法"}).get_json()
    assert rejected["status"] == "rejected" and rejected["status_reason"] == "未规定会计核算办法"
    assert as_city_finance.post(f"/api/v1/special-fund-rules/{filing_id}/approve").status_code == 409
    [item] = screened(as_city_finance, from_the_fund())
    assert _missing(item) is not None


def test_art17_the_rules_text_is_attached_checked_like_evidence_and_seen_by_reach(as_unit, as_other_unit, as_competent,
                                                                                  as_city_finance):
    filing_id = as_unit.post("/api/v1/special-fund-rules", json=RULES).get_json()["id"]
    text = "第一条 为加强群众联建工作经费管理……".encode()
    attached = as_unit.post(f"/api/v1/special-fund-rules/{filing_id}/file", content_type="multipart/form-data",
                            data={"file": (io.BytesIO(text), "管理办法.txt", "text/plain")})
    assert attached.status_code == 200, attached.get_json()
    assert attached.get_json()["sha256"] == hashlib.sha256(text).hexdigest()
    exe = as_unit.post(f"/api/v1/special-fund-rules/{filing_id}/file", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 64), "管理办法.pdf", "application/pdf")})
    assert exe.status_code == 422 and "file" in exe.get_json()["errors"]
    download = as_competent.get(f"/api/v1/special-fund-rules/{filing_id}/file")
    body = download.get_data()
    download.close()  # the file is streamed: close it as a server would
    assert download.status_code == 200 and body == text
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert as_other_unit.get(f"/api/v1/special-fund-rules/{filing_id}").status_code == 404
    assert as_other_unit.get(f"/api/v1/special-fund-rules/{filing_id}/file").status_code == 404
    as_city_finance.post(f"/api/v1/special-fund-rules/{filing_id}/approve")
    late = as_unit.post(f"/api/v1/special-fund-rules/{filing_id}/file", content_type="multipart/form-data",
                        data={"file": (io.BytesIO(text), "管理办法.txt", "text/plain")})
    assert late.status_code == 409  # approved rules are not swapped afterwards

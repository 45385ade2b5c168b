"""Warning rules of Art. 13: accounts (一), cash and official cards (二), transfers to
real-fund accounts (三). Each rule has a firing and a not-firing test."""
from __future__ import annotations

import sqlalchemy as sa

from payments_helpers import (COMPANY_ACCOUNT, OTHER_ZERO_BALANCE, PERSON_ACCOUNT, PERSON_ID, REAL_FUND, UNIT,
                              rules_of, screen_one)
from workflow import budget
from workflow.budget import BankAccount
from workflow.db import db
from workflow.monitoring.models import PayeeRegistration
from workflow.parties import Actor, org_by_code


def _file_person(name="张三"):
    db.session.add(PayeeRegistration(unit_id=org_by_code(UNIT).id, id_number=PERSON_ID, name=name,
                                     employer="克州政协机关", title="科员", account=PERSON_ACCOUNT))
    db.session.commit()


def _set_account(number, **changes):
    db.session.execute(sa.update(BankAccount).where(BankAccount.number == number).values(**changes))
    db.session.commit()


# --- 13(一) account not registered, closed or suspended

def test_art13_1_clean_payment_from_registered_account_raises_nothing(demo):
    item = screen_one()
    assert item["status"] == "accepted"
    assert item["warnings"] == []


def test_art13_1_unknown_payer_account_is_blocked(demo):
    item = screen_one(payer_account="9999000011112222")
    assert rules_of(item) == {"account_not_registered"}
    assert item["status"] == "held"
    warning = item["warnings"][0]
    assert warning["article"] == "第十三条（一）"
    assert "9999000011112222" in warning["message"]


def test_art13_1_suspended_account_raises_account_not_registered(demo):
    _set_account("3009000109200012345", status="suspended")
    item = screen_one()
    assert rules_of(item) == {"account_not_registered"}
    assert "暂停" in item["warnings"][0]["message"]


def test_art13_1_closed_account_raises_account_not_registered(demo):
    _set_account("3009000109200012345", status="closed")
    assert "撤销" in screen_one()["warnings"][0]["message"]


def test_art13_1_account_reported_but_not_registered_with_finance(demo):
    _set_account("3009000109200012345", registered=False)
    assert rules_of(screen_one()) == {"account_not_registered"}


def test_art13_1_another_units_account_is_not_the_payers(demo):
    item = screen_one(payer_account=OTHER_ZERO_BALANCE)
    assert rules_of(item) == {"account_not_registered"}
    assert "不是本单位" in item["warnings"][0]["message"]


# --- 13(二)1⑦ cash over 1,000 yuan to one payee at one time

def test_art13_2_1_7_cash_over_1000_to_one_payee_is_blocked(demo):
    _file_person()
    item = screen_one(settlement="cash", economic_code="30226", amount="1000.01", summary="讲课费",
                      payee_kind="individual", payee_name="张三", payee_id_number=PERSON_ID,
                      payee_account=PERSON_ACCOUNT)
    assert rules_of(item) == {"cash_over_limit"}
    assert item["warnings"][0]["level"] == "block"
    assert item["warnings"][0]["article"] == "第十三条（二）1⑦"


def test_art13_2_1_7_cash_of_exactly_1000_is_within_the_limit(demo):
    _file_person()
    item = screen_one(settlement="cash", economic_code="30226", amount="1000.00", summary="讲课费",
                      payee_kind="individual", payee_name="张三", payee_id_number=PERSON_ID,
                      payee_account=PERSON_ACCOUNT)
    assert item["warnings"] == []


def test_art13_2_1_7_cash_over_limit_with_approval_reference_passes(demo):
    _file_person()
    item = screen_one(settlement="cash", economic_code="30226", amount="3000.00", summary="讲课费",
                      payee_kind="individual", payee_name="张三", payee_id_number=PERSON_ID,
                      payee_account=PERSON_ACCOUNT, approval_ref="克财库〔2021〕12号")
    assert "cash_over_limit" not in rules_of(item)


# --- 13(二)1 cash outside the permitted scope

def test_art13_2_1_cash_for_equipment_is_outside_cash_scope(demo):
    item = screen_one(settlement="cash", economic_code="30242", amount="900.00", summary="购买打印机")
    assert "cash_outside_scope" not in rules_of(item)  # petty: up to the settlement start point
    item = screen_one(settlement="cash", economic_code="30242", amount="1000.50", summary="购买打印机")
    assert "cash_outside_scope" in rules_of(item)
    warning = next(w for w in item["warnings"] if w["rule"] == "cash_outside_scope")
    assert warning["article"] == "第十三条（二）1"
    assert "30242" in warning["message"]


def test_art13_2_1_cash_for_wages_is_within_cash_scope(demo):
    item = screen_one(settlement="cash", economic_code="30101", amount="5000.00", summary="发放临时工工资",
                      payee_kind="company")
    assert "cash_outside_scope" not in rules_of(item)


def test_art13_2_1_cash_for_farm_produce_bought_from_individuals_is_within_scope(demo):
    item = screen_one(settlement="cash", economic_code="30242", amount="1500.00", summary="向农户收购农副产品",
                      approval_ref=None)
    assert "cash_outside_scope" not in rules_of(item)


# --- 13(二)2 official card catalogue

def test_art13_2_2_1500_cash_for_travel_raises_official_card_and_cash_limit(demo):
    """The issue's example: 1,500 yuan of 30211 差旅费 in cash."""
    _file_person()
    item = screen_one(settlement="cash", economic_code="30211", amount="1500.00", summary="出差住宿费报销",
                      payee_kind="individual", payee_name="张三", payee_id_number=PERSON_ID,
                      payee_account=PERSON_ACCOUNT)
    assert rules_of(item) == {"official_card_required", "cash_over_limit"}
    articles = {w["rule"]: w["article"] for w in item["warnings"]}
    assert articles == {"official_card_required": "第十三条（二）2", "cash_over_limit": "第十三条（二）1⑦"}
    assert item["status"] == "held"


def test_art13_2_2_travel_settled_by_official_card_raises_nothing(demo):
    item = screen_one(settlement="card", economic_code="30211", amount="1500.00", summary="出差机票")
    assert item["warnings"] == []


def test_art13_2_2_small_cash_for_a_catalogue_item_still_needs_the_card(demo):
    item = screen_one(settlement="cash", economic_code="30201", amount="50.00", summary="购买文具")
    assert rules_of(item) == {"official_card_required"}


# --- 13(三) zero-balance account to a real-fund account

def test_art13_3_union_dues_to_real_fund_account_with_exception_raises_nothing(demo):
    """The issue's example: 30228 工会经费 transferred with the union-dues exception."""
    item = screen_one(economic_code="30228", amount="5000.00", summary="划转工会经费", payee_name="克州政协机关工会",
                      payee_account=REAL_FUND, payee_kind="unit", exception="union_tax_payroll",
                      exception_ref="克政协发〔2021〕3号")
    assert item["warnings"] == []
    assert item["status"] == "accepted"


def test_art13_3_transfer_to_own_real_fund_account_without_exception_is_blocked(demo):
    item = screen_one(economic_code="30228", amount="5000.00", summary="划转工会经费", payee_name="克州政协机关",
                      payee_account=REAL_FUND, payee_kind="unit")
    assert rules_of(item) == {"real_fund_transfer"}
    warning = item["warnings"][0]
    assert warning["level"] == "block"
    assert warning["article"].startswith("第十三条（三）")
    assert "本单位实有资金账户" in warning["message"]


def test_art10_3_12_transfer_to_another_units_real_fund_account_is_blocked(demo):
    budget.register_account(Actor.system(), {"unit_code": "653000-302001", "bank_code": "BANK-CCB-KZ",
                                             "number": "6501000200300099999", "kind": "real_fund",
                                             "registered": True})
    db.session.commit()
    item = screen_one(payee_account="6501000200300099999", payee_kind="unit", payee_name="克州人大常委会机关")
    assert rules_of(item) == {"real_fund_transfer"}
    assert "其他单位" in item["warnings"][0]["message"]


def test_art13_3_transfer_to_a_supplier_account_is_not_a_real_fund_transfer(demo):
    item = screen_one(payee_account=COMPANY_ACCOUNT)
    assert "real_fund_transfer" not in rules_of(item)


def test_art13_3_exception_disabled_in_rule_set_no_longer_lifts_the_rule(demo):
    from workflow.monitoring.rulesets import change_rule_set

    change_rule_set(Actor.system(), {"rules": {"real_fund_transfer": {"exceptions": ["student_aid"]}}})
    db.session.commit()
    item = screen_one(economic_code="30228", summary="划转工会经费", payee_account=REAL_FUND, payee_kind="unit",
                      exception="union_tax_payroll", exception_ref="克政协发〔2021〕3号")
    assert rules_of(item) == {"real_fund_transfer"}

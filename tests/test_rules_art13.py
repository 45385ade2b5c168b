"""Warning rules of Art. 13: accounts (一), cash and official cards (二), transfers to
real-fund accounts (三). Each rule has a firing and a not-firing test."""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from payments_helpers import (
    COMPANY_ACCOUNT,
    OTHER_ZERO_BALANCE,
    PERSON_ACCOUNT,
    PERSON_ID,
    REAL_FUND,
    UNIT,
    rules_of,
    screen_one,
)

from workflow import budget
from workflow.accounts import BankAccount
from workflow.budget import Indicator
from workflow.db import db
from workflow.monitoring.models import PayeeRegistration, ReimbursementApproval
from workflow.monitoring.rules import EXCEPTION_ITEMS
from workflow.parties import Actor, org_by_code


def _file_person(name="张三"):
    db.session.add(PayeeRegistration(unit_id=org_by_code(UNIT).id, id_number=PERSON_ID, name=name,
                                     employer="克州政协机关", title="科员", account=PERSON_ACCOUNT, status="confirmed"))
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


# --- 13(三) a claimed exception lifts the rule only for what it covers

UNION_DUES = dict(economic_code="30228", amount="5000.00", summary="划转工会经费", payee_name="克州政协机关工会",
                  payee_account=REAL_FUND, payee_kind="unit")


def _to_real_fund(exception=None, **overrides):
    row = dict(UNION_DUES, **overrides)
    if exception is not None:
        row.update(exception=exception, exception_ref="克财库〔2021〕8号")
    return screen_one(**row)


def _real_fund_warning(item):
    return next(w for w in item["warnings"] if w["rule"] == "real_fund_transfer")


# exception -> (a code its item of Art. 13(三) names, a code it does not); every code is budgeted
# for the demo unit, so only the rule under test can speak
COVERED = {
    "purchased_services": ("30209", "30228"),   # 1. 物业管理费 bought as a service / 工会经费
    "union_tax_payroll": ("30228", "30201"),    # 2. 工会经费 / 办公费
    "student_aid": ("30399", "30201"),          # 3. 纳入预算的补贴 / 办公费
    "social_insurance": ("30108", "30101"),     # 4. 养老保险缴费 / 基本工资
}


@pytest.mark.parametrize("exception", sorted(COVERED))
def test_art13_3_claimed_exception_lifts_the_rule_for_a_code_it_covers(demo, exception):
    item = _to_real_fund(exception, economic_code=COVERED[exception][0])
    assert "real_fund_transfer" not in rules_of(item)


@pytest.mark.parametrize("exception", sorted(COVERED))
def test_art13_3_claimed_exception_that_does_not_cover_the_code_still_raises_the_warning(demo, exception):
    code = COVERED[exception][1]
    item = _to_real_fund(exception, economic_code=code)
    warning = _real_fund_warning(item)
    assert warning["level"] == "block" and item["status"] == "held"
    item_number = EXCEPTION_ITEMS[exception][0]
    assert f"申报的例外情形“{EXCEPTION_ITEMS[exception][1]}”（第十三条（三）{item_number}" in warning["message"]
    assert "不适用" in warning["message"]
    assert f"本笔支付的经济分类为{code}" in warning["message"]
    assert "克财库〔2021〕8号" in warning["message"]


def test_art13_3_union_dues_exception_claimed_for_office_supplies_says_why_it_does_not_apply(demo):
    item = _to_real_fund("union_tax_payroll", economic_code="30201", summary="购买办公用品")
    assert rules_of(item) == {"real_fund_transfer"}
    message = item["warnings"][0]["message"]
    assert message.startswith("从零余额账户向本单位实有资金账户")
    assert "“工会经费、税金及工资类划转”（第十三条（三）2" in message
    assert "只涵盖经济分类" in message and "30228" in message and "本笔支付的经济分类为30201" in message


def test_art13_3_housing_fund_and_retirement_pay_go_under_the_payroll_exception(demo):
    housing = _to_real_fund("union_tax_payroll", economic_code="30113", summary="缴纳住房公积金")
    retirement = _to_real_fund("union_tax_payroll", economic_code="30302", summary="划转退休费")
    assert housing["warnings"] == [] and retirement["warnings"] == []


def test_art13_3_social_insurance_contributions_are_not_covered_by_the_student_aid_exception(demo):
    item = _to_real_fund("student_aid", economic_code="30112", summary="缴纳医疗保险费")
    assert "第十三条（三）3" in _real_fund_warning(item)["message"]
    assert _to_real_fund("social_insurance", economic_code="30112", summary="缴纳医疗保险费")["warnings"] == []


@pytest.mark.parametrize("exception", ["approved_reimbursement", "other_approved"])
def test_art13_3_finance_approved_exceptions_cover_any_code_on_their_approval(demo, exception):
    """5. 报经财政部门审核批准的归垫资金 and 6. other funds approved by the finance department
    rest on the approval (the document reference), not on what was bought. 归垫 rests on an
    entry of finance's register of approved 归垫 (Art. 13(四); tests/test_registers.py)."""
    if exception == "approved_reimbursement":
        unit_id = org_by_code(UNIT).id
        indicator = db.session.execute(sa.select(Indicator).where(
            Indicator.unit_id == unit_id, Indicator.economic_code == "30201")).scalars().first()
        db.session.add(ReimbursementApproval(unit_id=unit_id, indicator_id=indicator.id, amount=Decimal("5000.00"),
                                             remaining=Decimal("5000.00"), reason="垫付办公费",
                                             document_ref="克财库〔2021〕8号"))
        db.session.commit()
    item = _to_real_fund(exception, economic_code="30201", summary="归垫办公费")
    assert "real_fund_transfer" not in rules_of(item)


def test_art13_3_disabled_exception_claimed_says_it_is_disabled(demo):
    from workflow.monitoring.rulesets import change_rule_set

    change_rule_set(Actor.system(), {"rules": {"real_fund_transfer": {
        "exceptions": [e for e in EXCEPTION_ITEMS if e != "union_tax_payroll"]}}})
    db.session.commit()
    warning = _real_fund_warning(_to_real_fund("union_tax_payroll"))
    assert "申报的例外情形“工会经费、税金及工资类划转”" in warning["message"]
    assert "已在现行预警规则中停用" in warning["message"]


def test_art13_3_the_exception_catalogue_is_a_rule_set_parameter_finance_changes(demo):
    from workflow.monitoring.rulesets import change_rule_set

    assert "real_fund_transfer" in rules_of(
        _to_real_fund("union_tax_payroll", economic_code="30229", summary="划转福利费"))
    change_rule_set(Actor.system(), {"rules": {"real_fund_transfer": {"exception_scope": {
        "union_tax_payroll": {"economic_codes": ["30228", "30229"]}}}}}, note="福利费随工会经费划转")
    db.session.commit()
    assert "real_fund_transfer" not in rules_of(
        _to_real_fund("union_tax_payroll", economic_code="30229", summary="划转福利费"))
    # the wage codes are no longer covered, and the other exceptions kept their defaults
    assert "real_fund_transfer" in rules_of(_to_real_fund("union_tax_payroll", economic_code="30101"))
    assert "real_fund_transfer" not in rules_of(_to_real_fund("social_insurance", economic_code="30108"))


def test_art13_3_a_code_class_in_the_catalogue_covers_every_item_under_it(demo):
    from workflow.monitoring.rulesets import change_rule_set

    change_rule_set(Actor.system(), {"rules": {"real_fund_transfer": {"exception_scope": {
        "social_insurance": {"economic_codes": ["301"]}}}}})
    db.session.commit()
    assert "real_fund_transfer" not in rules_of(_to_real_fund("social_insurance", economic_code="30101"))
    assert "real_fund_transfer" in rules_of(_to_real_fund("social_insurance", economic_code="30201"))


@pytest.mark.parametrize("scope, reason", [
    ({"union_dues": {"economic_codes": ["30228"]}}, "no such exception 'union_dues'"),
    ({"student_aid": {"economic_codes": []}}, "student_aid would cover nothing"),
    ({"student_aid": {"economic_codes": ["3030x"]}}, "student_aid.economic_codes"),
    ({"student_aid": ["30308"]}, "student_aid: an object"),
])
def test_art13_3_a_bad_exception_catalogue_is_refused_naming_the_parameter(demo, scope, reason):
    from workflow.errors import Invalid
    from workflow.monitoring.rulesets import active_rule_set, change_rule_set

    with pytest.raises(Invalid) as refused:
        change_rule_set(Actor.system(), {"rules": {"real_fund_transfer": {"exception_scope": scope}}})
    [message] = refused.value.errors["rules.real_fund_transfer.exception_scope"]
    assert reason in message
    assert active_rule_set().version == 1

"""Warning rules on budgets (Art. 14-15, 10(三)2-3, 14), individual payees (Art. 16),
"三公" and luxury spending (Art. 19), earmarked funds (Art. 10(三)16-17) and suspended
disbursement (Art. 21(四)). Each rule has a firing and a not-firing test."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from cases_support import actor, open_case_at, weeks_ago
from payments_helpers import PERSON_ACCOUNT, PERSON_ID, UNIT, payment, rules_of, screen, screen_one

from workflow import case_records, cases
from workflow.budget import Indicator
from workflow.db import db
from workflow.monitoring.models import PayeeRegistration, Payment, SpendingTotal
from workflow.parties import org_by_code


def travel(amount, day=1, **kw):
    """30211 差旅费 by official card, budgeted 158,000.00 yuan for 2021."""
    return payment(economic_code="30211", settlement="card", summary="差旅费", amount=amount,
                   paid_at=f"2021-03-{day:02d}T10:00:00+08:00", **kw)


# --- Art. 14, 10(三)2 no budget

def test_art14_payment_without_an_indicator_is_blocked_as_no_budget(demo):
    item = screen_one(economic_code="30215", summary="会议场地租用")
    assert rules_of(item) == {"no_budget"}
    assert item["warnings"][0]["article"] == "第十四条；第十条（三）2"
    assert item["status"] == "held"


def test_art14_payment_under_a_budgeted_code_has_a_budget(demo):
    assert "no_budget" not in rules_of(screen_one(economic_code="30207", summary="电话费"))


def test_art14_indicator_of_another_year_is_no_budget_for_this_one(demo):
    item = screen_one(paid_at="2022-01-05T09:00:00+08:00")
    assert rules_of(item) == {"no_budget"}


def test_art14_budget_year_is_the_beijing_calendar_year(demo):
    """23:30 UTC on 31 Dec 2020 is 07:30 on 1 Jan 2021 in Beijing: the 2021 budget applies."""
    assert screen_one(paid_at="2020-12-31T23:30:00+00:00")["warnings"] == []


# --- Art. 14-15, 10(三)3 over budget, cumulative in payment-time order

def test_art14_15_payments_summing_past_158000_raise_over_budget_on_the_one_that_crosses(demo):
    items = screen(travel("100000.00", 1), travel("50000.00", 2), travel("8000.00", 3))
    assert [i["warnings"] for i in items] == [[], [], []]  # exactly 158,000.00: within budget
    crossing = screen(travel("0.01", 4))[0]
    assert rules_of(crossing) == {"over_budget"}
    warning = crossing["warnings"][0]
    assert warning["level"] == "block"
    assert warning["article"] == "第十四条、第十五条；第十条（三）3"
    assert "158000.00" in warning["message"] and "超出预算0.01元" in warning["message"]


def test_art14_15_over_budget_follows_payment_time_not_posting_order(demo):
    late = travel("100000.00", 20)
    early = travel("100000.00", 10)
    items = screen(late, early)  # posted late first
    assert rules_of(items[0]) == {"over_budget"}
    assert rules_of(items[1]) == set()


def test_art14_15_payments_within_budget_raise_no_over_budget(demo):
    items = screen(*[travel("10000.00", day) for day in range(1, 16)])
    assert all(i["warnings"] == [] for i in items)
    total = db.session.execute(sa.select(SpendingTotal.spent).where(SpendingTotal.key.like("indicator:%"))).scalar()
    assert total == Decimal("150000.00")


def test_art14_15_refused_payment_no_longer_counts_against_the_indicator(demo):
    from workflow.monitoring.payments import change_payment_status

    first = screen(travel("150000.00", 1))[0]
    change_payment_status(db.session.get(Payment, first["id"]), "refuse")
    db.session.commit()
    assert screen(travel("150000.00", 2))[0]["warnings"] == []


# --- Art. 10(三)14 frozen balance

def test_art10_3_14_payment_from_a_frozen_indicator_is_blocked(demo):
    db.session.execute(sa.update(Indicator).where(Indicator.economic_code == "30201").values(frozen=True))
    db.session.commit()
    item = screen_one()
    assert rules_of(item) == {"frozen_balance"}
    assert item["warnings"][0]["article"] == "第十条（三）14"


def test_art10_3_14_payment_from_an_unfrozen_indicator_passes(demo):
    db.session.execute(sa.update(Indicator).where(Indicator.economic_code == "30211").values(frozen=True))
    db.session.commit()
    assert "frozen_balance" not in rules_of(screen_one())  # 30201 is not frozen


# --- Art. 16 individual payees

def _file(name="张三", account=PERSON_ACCOUNT):
    db.session.add(PayeeRegistration(unit_id=org_by_code(UNIT).id, id_number=PERSON_ID, name=name,
                                     employer="克州政协机关", title="科员", account=account, status="confirmed"))
    db.session.commit()


def labour(**kw):
    return payment(economic_code="30226", summary="劳务费", payee_kind="individual", payee_name="张三",
                   payee_id_number=PERSON_ID, payee_account=PERSON_ACCOUNT, **kw)


def test_art16_payment_to_an_unfiled_individual_raises_a_warning(demo):
    item = screen(labour())[0]
    assert rules_of(item) == {"individual_payee_unregistered"}
    warning = item["warnings"][0]
    assert warning["article"] == "第十六条" and warning["level"] == "warn"
    assert PERSON_ID not in warning["message"]  # the identity number is masked
    assert item["status"] == "accepted"


def test_art16_payment_to_an_individual_without_id_number_raises_a_warning(demo):
    row = labour()
    del row["payee_id_number"]
    assert rules_of(screen(row)[0]) == {"individual_payee_unregistered"}


def test_art16_payment_to_a_filed_individual_at_the_filed_account_passes(demo):
    _file()
    assert screen(labour())[0]["warnings"] == []


def test_art16_payment_to_another_account_than_the_filed_one_raises_a_warning(demo):
    _file(account="6217000000000009999")
    item = screen(labour())[0]
    assert rules_of(item) == {"individual_payee_unregistered"}
    assert "不一致" in item["warnings"][0]["message"]


# --- Art. 19 "三公" over budget

def test_art19_travel_abroad_without_a_sangong_budget_raises_sangong_over_budget(demo):
    item = screen_one(economic_code="30212", settlement="card", summary="因公出国住宿费")
    assert {"sangong_over_budget", "no_budget"} == rules_of(item)
    warning = next(w for w in item["warnings"] if w["rule"] == "sangong_over_budget")
    assert warning["article"] == "第十九条"
    assert "因公出国（境）费" in warning["message"]


def test_art19_reception_within_its_budget_raises_no_sangong_warning(demo):
    item = screen_one(economic_code="30217", settlement="card", summary="接待调研组工作餐", amount="800.00")
    assert item["warnings"] == []


def test_art19_cumulative_vehicle_spending_counts_every_vehicle_code(demo):
    """30231 (running, budgeted 100,000.00) and 31013 (purchase, not budgeted) share one
    "三公" vehicle budget: the purchase pushes the category past it."""
    first = screen(payment(economic_code="30231", settlement="card", summary="公务用车加油", amount="99000.00"))[0]
    assert first["warnings"] == []
    second = screen(payment(economic_code="31013", summary="购置公务用车", amount="2000.00",
                            paid_at="2021-03-02T10:00:00+08:00"))[0]
    assert "sangong_over_budget" in rules_of(second)


# --- Art. 19 luxury specialties

def test_art19_summary_naming_a_luxury_specialty_raises_a_warning(demo):
    item = screen_one(economic_code="30217", settlement="card", summary="接待用茅台酒两箱")
    assert rules_of(item) == {"luxury_specialties"}
    assert "茅台" in item["warnings"][0]["message"]


def test_art19_ordinary_summary_raises_no_luxury_warning(demo):
    assert screen_one(summary="购买复印纸")["warnings"] == []


# --- Art. 10(三)16-17 earmarked funds diverted

def test_art10_3_16_housing_fund_paid_to_a_company_is_diverted(demo):
    item = screen_one(economic_code="30113", summary="住房公积金", payee_kind="company")
    assert rules_of(item) == {"earmarked_diverted"}
    assert item["warnings"][0]["article"] == "第十条（三）16-17"


def test_art10_3_16_housing_fund_with_an_unrelated_summary_is_diverted(demo):
    item = screen_one(economic_code="30113", summary="购买办公家具", payee_kind="unit", payee_name="住房公积金管理中心")
    assert rules_of(item) == {"earmarked_diverted"}


def test_art10_3_16_housing_fund_paid_to_the_fund_centre_is_not_diverted(demo):
    item = screen_one(economic_code="30113", summary="缴纳3月住房公积金", payee_kind="unit",
                      payee_name="克州住房公积金管理中心")
    assert item["warnings"] == []


def test_art10_3_17_project_funds_paid_under_other_codes_are_diverted(demo):
    item = screen_one(functional_code="2010201", economic_code="30211", settlement="card", summary="差旅费",
                      project="群众联建工作经费")
    assert rules_of(item) == {"earmarked_diverted", "no_budget"}
    assert "群众联建工作经费" in next(w for w in item["warnings"] if w["rule"] == "earmarked_diverted")["message"]


def test_art10_3_17_project_funds_paid_under_their_own_codes_are_not_diverted(demo):
    item = screen_one(functional_code="2010299", economic_code="30299", summary="联建活动场地布置",
                      project="群众联建工作经费")
    # the demo unit has filed no internal rules for the fund, which Art. 17 warns of on its own
    assert rules_of(item) == {"special_fund_rules_missing"}


# --- Art. 21(四) disbursement suspended (from the case workflow)

def _suspend_funds_of_the_unit(demo):
    """A written order whose deadline passed six weeks ago, then funds suspended (Art. 21(四))."""
    case_id = open_case_at(demo, weeks_ago(6), "order")
    cases.apply_action(actor(demo, "city_finance"), case_id, "suspend_funds", {})
    db.session.commit()
    return case_id


def test_art21_4_every_payment_of_a_unit_with_funds_suspended_is_held(demo):
    _suspend_funds_of_the_unit(demo)
    item = screen_one()
    assert rules_of(item) == {"disbursement_suspended"}
    assert item["status"] == "held"
    assert item["warnings"][0]["article"] == "第二十一条（四）"


def test_art21_4_payments_of_other_units_are_not_held_by_the_suspension(demo):
    _suspend_funds_of_the_unit(demo)
    item = screen_one(unit_code="653000-302001", payer_account="6501000200300045678", functional_code="2010101")
    assert item["warnings"] == []


def test_art21_4_open_case_without_suspension_holds_nothing(demo):
    open_case_at(demo, weeks_ago(6), "order")
    assert screen_one()["warnings"] == []


def test_art21_4_batch_check_of_suspended_units_agrees_with_the_case_workflow(demo):
    """Screening asks once per batch; the case workflow's contract answers per unit. Units:
    suspended; suspended then revoked on appeal (closed); an open order; no case at all."""
    from workflow.monitoring.screening import suspended_units
    from workflow.parties import Organisation

    _suspend_funds_of_the_unit(demo)
    revoked = open_case_at(demo, weeks_ago(6), "order", subject="653000-302001")
    finance, other = actor(demo, "city_finance"), actor(demo, "other_unit")
    cases.apply_action(finance, revoked, "suspend_funds", {})
    cases.apply_action(other, revoked, "appeal", {"route": "reconsideration", "authority": "克州人民政府"})
    cases.apply_action(finance, revoked, "revoke_after_appeal", {"decided_on": "2021-05-01"})
    db.session.commit()
    unit_ids = db.session.execute(sa.select(Organisation.id).where(Organisation.kind == "unit")).scalars().all()
    expected = {u for u in unit_ids if case_records.disbursement_suspended(u)}
    assert expected == {org_by_code(UNIT).id}
    assert suspended_units(unit_ids) == expected

"""Issue 13, "Statistics": monitoring results put to use (监控结果运用, Art. 11(四)(五), 25(三), 26(三)).

`GET /api/v1/statistics` answers, for a period and a grouping, what screening, verification and
the cases found, each party seeing only its reach: a unit itself, a competent department its
units, finance its region with the regions below rolled up into their finance departments.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from cases_support import COMPETENT, act_ok, attach_evidence, open_case
from verification_support import OTHER_UNIT, UNIT, clean_transfer, held_payment, post_payments

from workflow.budget import Indicator
from workflow.db import db
from workflow.parties import Organisation

URL = "/api/v1/statistics"
TODAY = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=8)).date().isoformat()
PERIOD = {"from": "2021-01-01", "to": TODAY}


def stats(party, **query):
    response = party.get(URL, query_string={**PERIOD, **query})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def group(body: dict, key: str) -> dict:
    return next(g for g in body["groups"] if g["key"] == key)


@pytest.fixture
def findings(as_city_finance):
    """Two held payments of the unit (one confirmed into a case, one dismissed), a clean one,
    and a held payment of the other unit left pending."""
    confirmed, confirmed_warning = held_payment(as_city_finance)
    dismissed, dismissed_warning = held_payment(as_city_finance)
    post_payments(as_city_finance, [clean_transfer()])
    held_payment(as_city_finance, unit_code=OTHER_UNIT, payer_account="6501000200300045678")
    case = as_city_finance.post(f"/api/v1/warnings/{confirmed_warning}/confirm", json={"rung": "warning"})
    assert case.status_code == 201, case.get_json()
    dismissal = as_city_finance.post(f"/api/v1/warnings/{dismissed_warning}/dismiss", json={"reason": "经核实为公务卡还款"})
    assert dismissal.status_code == 200
    return case.get_json()


def test_art11_4_finance_reads_its_units_payments_warnings_and_cases(as_city_finance, findings):
    body = stats(as_city_finance, group_by="unit")
    assert body["period"] == {"from": "2021-01-01", "to": TODAY}
    unit = group(body, UNIT)
    assert unit["payments"]["screened"] == 3 and unit["payments"]["amount"] == "3800.00"
    assert unit["payments"]["refused"] == 1 and unit["payments"]["refused_amount"] == "1500.00"
    assert unit["payments"]["intercepted"] == 2 and unit["payments"]["intercepted_amount"] == "3000.00"
    assert unit["payments"]["held"] == 0, "one refused on confirmation, one released on dismissal"
    warnings = unit["warnings"]
    # each cash payment: over the cash limit (block) and asked for the official card (warn)
    assert warnings["raised"] == 4 and warnings["block"] == 2 and warnings["pending"] == 2
    assert (warnings["confirmed"], warnings["dismissed"], warnings["confirmation_rate"]) == (1, 1, "50.00")
    assert unit["cases"]["opened"] == 1 and unit["cases"]["by_rung"] == {"warning": 1}
    assert unit["cases"]["closed"] == 0 and unit["cases"]["days_to_closure"] is None
    assert warnings["days_to_decision"]["count"] == warnings["confirmed"] + warnings["dismissed"]
    other = group(body, OTHER_UNIT)
    assert other["payments"]["held"] == 1 and other["payments"]["intercepted_amount"] == "1500.00", \
        "a payment held by two blocking rules is intercepted once"
    assert other["warnings"]["pending"] == other["warnings"]["raised"] == 3
    total = body["total"]
    assert total["payments"]["screened"] == 4 and total["cases"]["opened"] == 1
    assert total["warnings"]["raised"] == unit["warnings"]["raised"] + other["warnings"]["raised"]


def test_art11_4_each_rules_confirmation_rate_is_what_rule_making_needs(as_city_finance, findings):
    body = stats(as_city_finance, group_by="rule")
    rates = {g["key"]: (g["warnings"]["raised"], g["warnings"]["confirmation_rate"]) for g in body["groups"]}
    assert rates == {"cash_over_limit": (3, "50.00"), "official_card_required": (3, None), "no_budget": (1, None)}
    assert all(g["payments"] is None and g["cases"] is None for g in body["groups"]), \
        "payments and cases do not divide by rule: given in total only"
    assert body["total"]["payments"]["screened"] == 4


def test_art11_4_by_level_and_by_month(as_city_finance, findings):
    by_level = stats(as_city_finance, group_by="level")
    assert group(by_level, "block")["warnings"]["raised"] == 4 and group(by_level, "warn")["warnings"]["raised"] == 3
    by_month = stats(as_city_finance, group_by="month")
    june = group(by_month, "2021-06")
    assert june["payments"]["screened"] == 4, "payments fall in the month they were paid"
    this_month = TODAY[:7]
    assert group(by_month, this_month)["warnings"]["raised"] == by_month["total"]["warnings"]["raised"]
    assert group(by_month, this_month)["cases"]["opened"] == 1


def test_art11_5_the_province_sees_the_city_rolled_up(as_finance, as_city_finance, findings):
    body = stats(as_finance, group_by="finance")
    city = group(body, "653000-CZ")
    assert city["name"] == "克孜勒苏柯尔克孜自治州财政局"
    assert city["payments"]["screened"] == 4 and city["cases"]["opened"] == 1
    assert [g["key"] for g in body["groups"]] == ["653000-CZ"]


def test_art26_3_a_competent_department_sees_its_units_only(as_competent, findings):
    body = stats(as_competent, group_by="competent")
    assert [g["key"] for g in body["groups"]] == [COMPETENT]
    assert body["total"]["payments"]["screened"] == 3, "the other unit belongs to another department"


def test_art11_4_a_unit_sees_itself_and_the_county_sees_nothing_of_the_city(as_unit, as_county_finance, findings):
    assert [g["key"] for g in stats(as_unit)["groups"]] == [UNIT]
    county = stats(as_county_finance)
    assert county["groups"] == [] and county["total"]["payments"]["screened"] == 0
    assert county["total"]["payments"]["intercepted_amount"] == "0.00", "an empty reach answers every figure"
    assert county["total"]["warnings"]["confirmation_rate"] is None


def test_banks_and_oversight_bodies_read_no_statistics(as_bank, as_oversight):
    assert as_bank.get(URL).status_code == 403
    assert as_oversight.get(URL).status_code == 403


def test_art24_case_closure_and_appeals_are_counted(as_city_finance, as_unit, findings):
    case = findings
    attach_evidence(as_unit, case["id"])
    act_ok(as_unit, case["id"], "submit_rectification", report="已退回违规资金")
    act_ok(as_city_finance, case["id"], "accept_rectification")
    appealed = open_case(as_city_finance, "decision")
    act_ok(as_unit, appealed["id"], "appeal", route="reconsideration", authority="克州人民政府")
    cases = group(stats(as_city_finance, group_by="unit"), UNIT)["cases"]
    assert (cases["opened"], cases["closed"], cases["appealed"]) == (2, 1, 1)
    assert cases["by_rung"] == {"warning": 1, "decision": 1}
    assert cases["days_to_closure"]["count"] == 1


def test_art11_4_budget_execution_is_spent_against_the_years_indicators(as_city_finance, findings):
    unit = group(stats(as_city_finance, group_by="unit", to="2021-12-31"), UNIT)["execution"]
    budget = db.session.execute(sa.select(sa.func.sum(Indicator.amount)).join(Organisation, Organisation.id == Indicator.unit_id)
                                .where(Organisation.code == UNIT, Indicator.year == 2021)).scalar_one()
    assert unit["year"] == 2021 and Decimal(unit["budget"]) == budget
    assert unit["spent"] == "2300.00", "the clean 800 and the released 1,500; the refused 1,500 no longer counts"
    assert unit["rate"] == str((Decimal("2300") / budget * 100).quantize(Decimal("0.01")))


@pytest.mark.parametrize("query, field", [
    ({"group_by": "bank"}, "group_by"),
    ({"from": "2021-02-01", "to": "2021-01-01"}, "to"),
    ({"from": "2001-01-01", "to": "2021-01-01"}, "to"),
    ({"from": "not a date"}, "from"),
])
def test_bad_queries_are_422_naming_the_field(as_city_finance, query, field):
    response = as_city_finance.get(URL, query_string={**PERIOD, **query})
    assert response.status_code == 422, response.get_json()
    assert field in str(response.get_json()["errors"])

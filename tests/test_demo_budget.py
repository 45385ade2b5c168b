"""The demo fixture matches the totals stated in the seed (2021 克州政协 department budget)."""
from decimal import Decimal

import pytest
import sqlalchemy as sa

from workflow.budget import Indicator
from workflow.db import db

WAN = Decimal(10000)


def _sum(*where) -> Decimal:
    rows = db.session.execute(sa.select(Indicator).where(
        Indicator.unit_id == _unit_id(), *where)).scalars()
    return sum((r.amount for r in rows), Decimal("0.00"))


def _unit_id():
    from workflow.parties import org_by_code
    return org_by_code("653000-301001").id


@pytest.fixture
def expected(demo):
    return {k: Decimal(v) * WAN for k, v in demo.data["expected_totals_wan"].items()}


def test_total_budget_is_648_05_wan(demo, expected):
    assert _sum() == expected["total"] == Decimal("6480500.00")


def test_general_budget_629_05_and_higher_special_19_00(demo, expected):
    assert _sum(Indicator.fund_source == "general_budget") == expected["general_budget"]
    assert _sum(Indicator.fund_source == "higher_special") == expected["higher_special"]


def test_basic_622_05_is_personnel_545_01_plus_public_77_04(demo, expected):
    by_group = {"personnel": Decimal(0), "public": Decimal(0)}
    for row in demo.data["indicators"]:
        if row["unit_code"] == "653000-301001" and row["group"] in by_group:
            by_group[row["group"]] += Decimal(row["amount"])
    assert _sum(Indicator.expenditure_kind == "basic") == expected["basic"]
    assert by_group["personnel"] == expected["personnel"]
    assert by_group["public"] == expected["public"]


def test_projects_26_00_wan_in_three_projects(demo, expected):
    projects = db.session.execute(sa.select(Indicator.project, Indicator.amount).where(
        Indicator.unit_id == _unit_id(), Indicator.expenditure_kind == "project")).all()
    assert sorted(a for _, a in projects) == [Decimal("70000.00"), Decimal("70000.00"), Decimal("120000.00")]
    assert sum(a for _, a in projects) == expected["project"]


def test_art19_sangong_budget_is_19_49_wan(demo, expected):
    codes = demo.data["sangong_economic_codes"]
    all_codes = codes["abroad"] + codes["vehicle"] + codes["reception"]
    assert _sum(Indicator.economic_code.in_(all_codes)) == expected["sangong"]
    assert _sum(Indicator.economic_code.in_(codes["vehicle"])) == expected["sangong_vehicle"]
    assert _sum(Indicator.economic_code.in_(codes["reception"])) == expected["sangong_reception"]


def test_travel_30211_is_budgeted_158000_yuan(demo):
    assert _sum(Indicator.economic_code == "30211") == Decimal("158000.00")

"""GET/PUT/PATCH /api/v1/rules (Art. 12): finance reads and changes the versioned rule set;
every warning records the version that raised it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from payments_helpers import payment, rules_of

from workflow.db import db
from workflow.monitoring.models import MonitoringWarning, RuleSet
from workflow.monitoring.rules import RULES


def test_art12_finance_reads_every_rule_with_article_level_and_parameters(as_city_finance):
    body = as_city_finance.get("/api/v1/rules").json
    assert body["version"] == 1
    by_name = {r["name"]: r for r in body["rules"]}
    assert set(by_name) == {rule.name for rule in RULES}
    assert by_name["cash_over_limit"]["parameters"] == {"limit": "1000.00"}
    assert by_name["cash_over_limit"]["article"] == "第十三条（二）1⑦"
    assert by_name["cash_over_limit"]["level"] == "block"
    assert "30211" in by_name["official_card_required"]["parameters"]["catalogue"]
    assert by_name["sangong_over_budget"]["parameters"]["categories"]["vehicle"] == ["30231", "31013"]
    assert all(r["description"] and r["title"] for r in body["rules"])


def test_art12_only_finance_reads_or_changes_the_rules(as_unit, as_bank, as_competent):
    for party in (as_unit, as_bank, as_competent):
        assert party.get("/api/v1/rules").status_code == 403
        assert party.patch("/api/v1/rules", json={"rules": {"cash_over_limit": {"limit": "5000.00"}}}).status_code == 403


def test_art12_a_change_creates_a_new_version_and_warnings_record_it(as_finance):
    cash = dict(settlement="cash", economic_code="30226", summary="劳务费", amount="800.00")
    first = as_finance.post("/api/v1/payments", json=[payment(**cash)]).json["items"][0]
    assert first["warnings"] == []
    response = as_finance.patch("/api/v1/rules", json={
        "rules": {"cash_over_limit": {"limit": "500.00"}}, "note": "克财库〔2021〕5号：现金限额调整"})
    assert response.status_code == 200, response.json
    assert response.json["version"] == 2
    assert response.json["note"].startswith("克财库")
    second = as_finance.post("/api/v1/payments", json=[payment(**cash)]).json["items"][0]
    assert rules_of(second) == {"cash_over_limit"}
    versions = db.session.execute(sa.select(MonitoringWarning.rule_set_version)).scalars().all()
    assert versions == [2]
    assert db.session.execute(sa.select(sa.func.count()).select_from(RuleSet)).scalar_one() == 2
    old = as_finance.get("/api/v1/rules?version=1").json
    assert next(r for r in old["rules"] if r["name"] == "cash_over_limit")["parameters"]["limit"] == "1000.00"


def test_art12_level_and_enabled_flag_are_rule_set_parameters(as_finance):
    as_finance.patch("/api/v1/rules", json={"rules": {"official_card_required": {"level": "block"},
                                                           "luxury_specialties": {"enabled": False}}})
    items = as_finance.post("/api/v1/payments", json=[
        payment(settlement="cash", economic_code="30201", summary="购买茅台酒", amount="50.00")]).json["items"]
    assert items[0]["warnings"][0]["level"] == "block"
    assert rules_of(items[0]) == {"official_card_required"}
    assert items[0]["status"] == "held"


def test_art12_put_replaces_the_rule_set_and_omitted_rules_return_to_defaults(as_finance):
    as_finance.patch("/api/v1/rules", json={"rules": {"cash_over_limit": {"limit": "500.00"}}})
    body = as_finance.put("/api/v1/rules", json={"rules": {"luxury_specialties": {"keywords": ["名表"]}}}).json
    assert body["version"] == 3
    by_name = {r["name"]: r for r in body["rules"]}
    assert by_name["cash_over_limit"]["parameters"]["limit"] == "1000.00"
    assert by_name["luxury_specialties"]["parameters"]["keywords"] == ["名表"]


def test_art12_invalid_rule_changes_name_the_field_and_write_no_version(as_finance):
    response = as_finance.patch("/api/v1/rules", json={"rules": {
        "cash_over_limit": {"limit": "-1.00", "colour": "red"},
        "official_card_required": {"catalogue": ["30211", "x"], "level": "severe"},
        "no_such_rule": {}}})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {
        "rules.cash_over_limit.limit", "rules.cash_over_limit.colour", "rules.official_card_required.catalogue",
        "rules.official_card_required.level", "rules.no_such_rule"}
    assert as_finance.get("/api/v1/rules").json["version"] == 1


def test_art12_a_change_equal_to_the_active_version_is_refused(as_finance):
    response = as_finance.patch("/api/v1/rules", json={"rules": {"cash_over_limit": {"limit": "1000.00"}}})
    assert response.status_code == 422


# Issue 16 item 1: one rule set screens every unit of the province, so only the province-level
# finance department may change it; a county finance department disabled cash_over_limit for all.
@pytest.mark.parametrize("party", ["city_finance", "county_finance", "competent", "other_competent", "unit",
                                   "other_unit", "bank", "other_bank", "oversight"])
@pytest.mark.parametrize("method", ["patch", "put"])
def test_issue16_only_the_province_finance_changes_the_rule_set(request, as_finance, party, method):
    caller = request.getfixturevalue(f"as_{party}")
    before = db.session.execute(sa.select(sa.func.count(RuleSet.id))).scalar_one()
    response = getattr(caller, method)("/api/v1/rules", json={
        "rules": {"cash_over_limit": {"enabled": False}, "no_budget": {"enabled": False}}})
    assert response.status_code == 403, response.json
    assert "change the warning rules" in response.json["message"]
    if party.endswith("finance"):
        assert "province-level finance department" in response.json["message"]
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count(RuleSet.id))).scalar_one() == before
    assert as_finance.get("/api/v1/rules").json["version"] == 1
    assert rules_of_enabled(as_finance, "cash_over_limit") is True


def test_issue16_the_province_finance_still_changes_the_rule_set(as_finance, as_city_finance):
    response = as_finance.patch("/api/v1/rules", json={"rules": {"cash_over_limit": {"enabled": False}}})
    assert response.status_code == 200, response.json
    assert response.json["version"] == 2
    assert as_city_finance.get("/api/v1/rules").json["version"] == 2  # the others read what it published
    assert rules_of_enabled(as_city_finance, "cash_over_limit") is False


def rules_of_enabled(party, name):
    return {r["name"]: r["enabled"] for r in party.get("/api/v1/rules").json["rules"]}[name]


def test_issue16_the_domain_refuses_a_county_rule_change_without_the_api(app, demo):
    from workflow.errors import Forbidden
    from workflow.monitoring.rulesets import change_rule_set
    from workflow.parties import Actor

    with pytest.raises(Forbidden, match="province-level"):
        change_rule_set(Actor.of(demo.users["county_finance"]), {"rules": {"no_budget": {"enabled": False}}})
    assert change_rule_set(Actor.of(demo.users["finance"]), {"rules": {"no_budget": {"enabled": False}}}).version == 2

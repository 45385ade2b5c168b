"""GET/PUT/PATCH /api/v1/rules (Art. 12): finance reads the versioned rule set in force for it and
proposes changes; every warning records the version that raised it.

Issue 12 (four eyes): PUT and PATCH no longer publish. They propose a draft of the caller's own
department (202), which a second officer of that department publishes
(``POST /api/v1/rule-sets/{dept}/drafts/{id}/publish``); a city or county department proposes for
its own region, and only stricter values (Art. 5-7, tests/test_rule_governance.py)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from payments_helpers import payment, rules_of

from workflow.db import db
from workflow.monitoring.models import MonitoringWarning, RuleSet
from workflow.monitoring.rules import RULES


def change(author, reviewer, method, body):
    """``method`` on /rules by ``author`` proposes a draft; ``reviewer`` publishes it. The new set."""
    proposed = getattr(author, method)("/api/v1/rules", json=body)
    assert proposed.status_code == 202, proposed.json
    draft = proposed.json
    published = reviewer.post(f"/api/v1/rule-sets/{draft['department']}/drafts/{draft['id']}/publish", json={})
    assert published.status_code == 201, published.json
    return author.get("/api/v1/rules").json


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


def test_art12_a_change_creates_a_new_version_and_warnings_record_it(as_finance, as_finance_second):
    cash = dict(settlement="cash", economic_code="30226", summary="劳务费", amount="800.00")
    first = as_finance.post("/api/v1/payments", json=[payment(**cash)]).json["items"][0]
    assert first["warnings"] == []
    body = change(as_finance, as_finance_second, "patch", {
        "rules": {"cash_over_limit": {"limit": "500.00"}}, "note": "克财库〔2021〕5号：现金限额调整"})
    assert body["version"] == 2
    assert body["note"].startswith("克财库")
    second = as_finance.post("/api/v1/payments", json=[payment(**cash)]).json["items"][0]
    assert rules_of(second) == {"cash_over_limit"}
    versions = db.session.execute(sa.select(MonitoringWarning.rule_set_version)).scalars().all()
    assert versions == [2]
    assert db.session.execute(sa.select(sa.func.count()).select_from(RuleSet)).scalar_one() == 2
    old = as_finance.get("/api/v1/rules?version=1").json
    assert next(r for r in old["rules"] if r["name"] == "cash_over_limit")["parameters"]["limit"] == "1000.00"


def test_art12_level_and_enabled_flag_are_rule_set_parameters(as_finance, as_finance_second):
    change(as_finance, as_finance_second, "patch", {"rules": {"official_card_required": {"level": "block"},
                                                              "luxury_specialties": {"enabled": False}}})
    items = as_finance.post("/api/v1/payments", json=[
        payment(settlement="cash", economic_code="30201", summary="购买茅台酒", amount="50.00")]).json["items"]
    assert items[0]["warnings"][0]["level"] == "block"
    assert rules_of(items[0]) == {"official_card_required"}
    assert items[0]["status"] == "held"


def test_art12_put_replaces_the_rule_set_and_omitted_rules_return_to_defaults(as_finance, as_finance_second):
    change(as_finance, as_finance_second, "patch", {"rules": {"cash_over_limit": {"limit": "500.00"}}})
    body = change(as_finance, as_finance_second, "put", {"rules": {"luxury_specialties": {"keywords": ["名表"]}}})
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


# Issue 16 item 1 said only the province changes the one rule set: a county finance department had
# disabled cash_over_limit for all. Issue 12 gives each department a set of its own for its region
# (Art. 5-7), in which it may only tighten: the county's proposal to disable rules is refused naming
# the bound (422), and whatever a department proposes is a draft until a second officer publishes it.
@pytest.mark.parametrize("party", ["city_finance", "county_finance", "competent", "other_competent", "unit",
                                   "other_unit", "bank", "other_bank", "oversight"])
@pytest.mark.parametrize("method", ["patch", "put"])
def test_issue12_no_department_disables_a_rule_for_its_region_and_others_change_nothing(
        request, as_finance, party, method):
    caller = request.getfixturevalue(f"as_{party}")
    before = db.session.execute(sa.select(sa.func.count(RuleSet.id))).scalar_one()
    response = getattr(caller, method)("/api/v1/rules", json={
        "rules": {"cash_over_limit": {"enabled": False}, "no_budget": {"enabled": False}}})
    if party.endswith("finance"):
        assert response.status_code == 422, response.json
        assert set(response.json["errors"]) == {"rules.cash_over_limit.enabled", "rules.no_budget.enabled"}
        assert "looser than True" in response.json["errors"]["rules.no_budget.enabled"][0]
    else:
        assert response.status_code == 403, response.json
        assert "change the warning rules" in response.json["message"]
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count(RuleSet.id))).scalar_one() == before
    assert as_finance.get("/api/v1/rules").json["version"] == 1
    assert rules_of_enabled(as_finance, "cash_over_limit") is True


def test_issue12_the_province_disables_a_rule_for_all_through_a_second_officer(
        as_finance, as_finance_second, as_city_finance):
    proposed = as_finance.patch("/api/v1/rules", json={"rules": {"cash_over_limit": {"enabled": False}}})
    assert proposed.status_code == 202, proposed.json
    assert as_city_finance.get("/api/v1/rules").json["version"] == 1  # a draft changes nothing yet
    change(as_finance, as_finance_second, "patch", {"rules": {"cash_over_limit": {"enabled": False}},
                                                    "note": "停用"})
    assert as_city_finance.get("/api/v1/rules").json["version"] == 2  # the others read what it published
    assert rules_of_enabled(as_city_finance, "cash_over_limit") is False


def rules_of_enabled(party, name):
    return {r["name"]: r["enabled"] for r in party.get("/api/v1/rules").json["rules"]}[name]


def test_issue12_the_domain_publishes_directly_for_the_operator_alone(app, demo):
    from workflow.errors import Forbidden
    from workflow.monitoring.rulesets import change_rule_set
    from workflow.parties import Actor

    for key in ("finance", "county_finance"):
        with pytest.raises(Forbidden, match="second officer"):
            change_rule_set(Actor.of(demo.users[key]), {"rules": {"no_budget": {"enabled": False}}})
    assert change_rule_set(Actor.system(), {"rules": {"no_budget": {"enabled": False}}}).version == 2

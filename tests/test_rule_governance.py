"""Rule governance (issue 12): rule sets per finance department, inherited downward (Art. 5-7:
each level of finance monitors its own jurisdiction), and changes to the warning rules (Art. 12)
drafted by one officer and published by a second one of the same department (four eyes)."""
from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from payments_helpers import payment
from race_support import race

from workflow import budget
from workflow.db import db, utcnow
from workflow.journal import JournalEntry
from workflow.monitoring.models import MonitoringWarning, RuleSet
from workflow.monitoring.screening import screen_payments
from workflow.parties import Actor, User, create_org, org_by_code
from workflow.tokens import ApiToken, hash_token, issue_token

PROVINCE, CITY, COUNTY = "650000-CZ", "653000-CZ", "653001-CZ"
COUNTY_UNIT = "653001-401001"
COUNTY_ACCOUNT = "3009000109200055501"
CASH_800 = dict(settlement="cash", economic_code="30226", summary="劳务费", amount="800.00")


def draft(party, dept, reason="克财库〔2021〕5号", **body):
    return party.post(f"/api/v1/rule-sets/{dept}/drafts", json={"reason": reason, **body})


def publish(author, reviewer, dept, rules=None, effective_from=None, **body):
    created = draft(author, dept, rules=rules or {}, **body)
    assert created.status_code == 201, created.json
    published = reviewer.post(f"/api/v1/rule-sets/{dept}/drafts/{created.json['id']}/publish",
                              json={} if effective_from is None else {"effective_from": effective_from})
    assert published.status_code == 201, published.json
    return published.json


def rule(body, name):
    return next(r for r in body["rules"] if r["name"] == name)


def county_unit() -> None:
    """A budget unit of the county (the demo's units are the prefecture's), with its account and budget."""
    county = org_by_code(COUNTY)
    create_org(code=COUNTY_UNIT, name="阿图什市某局（测试）", kind="unit", parent=None, finance=county)
    db.session.flush()
    budget.register_account(Actor.system(), {"unit_code": COUNTY_UNIT, "bank_code": "BANK-ICBC-KZ",
                                             "number": COUNTY_ACCOUNT, "kind": "zero_balance", "registered": True})
    budget.import_indicators(Actor.system(), [{
        "unit_code": COUNTY_UNIT, "year": 2021, "functional_code": "2010201", "economic_code": "30226",
        "fund_source": "general_budget", "expenditure_kind": "basic", "project": "", "amount": "50000.00"}])
    db.session.commit()


# --- Art. 5-7: a lower level tightens, never loosens (unless opened) -------------------------------------

def test_art5_7_a_county_may_make_rules_stricter(as_county_finance, as_county_finance_second):
    version = publish(as_county_finance, as_county_finance_second, COUNTY, {
        "cash_over_limit": {"limit": "500.00"},
        "luxury_specialties": {"keywords": ["茅台", "五粮液", "高档白酒", "高档烟", "中华烟", "冬虫夏草", "虫草", "燕窝",
                                            "鱼翅", "海参", "鲍鱼", "名贵特产", "土特产", "名茶", "大红袍", "普洱", "和田玉",
                                            "玉器", "奢侈品", "名表", "购物卡", "高尔夫", "天山雪莲"]},
        "official_card_required": {"level": "block"}})
    assert (version["department"], version["version"]) == (COUNTY, 1)
    body = as_county_finance.get("/api/v1/rules").json
    assert (body["department"], body["version"], body["for_department"]) == (COUNTY, 1, COUNTY)
    assert body["chain"] == [{"department": PROVINCE, "version": 1}, {"department": COUNTY, "version": 1}]
    cash = rule(body, "cash_over_limit")
    assert cash["parameters"]["limit"] == "500.00"
    assert cash["sources"]["limit"] == {"department": COUNTY, "version": 1}
    assert cash["sources"]["level"] == {"department": PROVINCE, "version": 1}  # inherited
    assert cash["stricter"] == {"limit": "lower"}
    assert "天山雪莲" in rule(body, "luxury_specialties")["parameters"]["keywords"]
    assert rule(body, "official_card_required")["level"] == "block"


def test_art5_7_a_looser_county_value_is_refused_naming_the_parameter_and_the_bound(as_county_finance):
    response = draft(as_county_finance, COUNTY, rules={
        "cash_over_limit": {"limit": "2000.00"},
        "no_budget": {"enabled": False},
        "over_budget": {"level": "remind"},
        "luxury_specialties": {"keywords": ["茅台"]},
        "sangong_over_budget": {"categories": {"abroad": ["30212"]}}})
    assert response.status_code == 422, response.json
    errors = response.json["errors"]
    assert set(errors) == {"rules.cash_over_limit.limit", "rules.no_budget.enabled", "rules.over_budget.level",
                           "rules.luxury_specialties.keywords", "rules.sangong_over_budget.categories"}
    assert "looser than 1000.00" in errors["rules.cash_over_limit.limit"][0]
    assert f"set by {PROVINCE} version 1" in errors["rules.cash_over_limit.limit"][0]
    assert "looser than True" in errors["rules.no_budget.enabled"][0]
    assert "looser than block" in errors["rules.over_budget.level"][0]
    assert db.session.execute(sa.select(sa.func.count()).select_from(RuleSet).where(
        RuleSet.department_id == org_by_code(COUNTY).id)).scalar_one() == 0


def test_art5_7_a_parameter_the_province_opened_may_be_loosened_below(
        as_finance, as_finance_second, as_city_finance, as_county_finance, as_county_finance_second):
    refused = draft(as_county_finance, COUNTY, open=["cash_over_limit.limit"])
    assert refused.status_code == 422 and "not open to local change here" in refused.json["errors"]["open"][0]
    publish(as_finance, as_finance_second, PROVINCE, open=["cash_over_limit.limit"])
    assert as_county_finance.get("/api/v1/rules").json["open"] == ["cash_over_limit.limit"]
    publish(as_county_finance, as_county_finance_second, COUNTY, {"cash_over_limit": {"limit": "2000.00"}})
    county = as_county_finance.get("/api/v1/rules").json
    assert rule(county, "cash_over_limit")["parameters"]["limit"] == "2000.00"
    assert rule(county, "cash_over_limit")["sources"]["limit"] == {"department": COUNTY, "version": 1}
    # the city, which set nothing, keeps the province's value
    assert rule(as_city_finance.get("/api/v1/rules").json, "cash_over_limit")["parameters"]["limit"] == "1000.00"
    # what is not open stays bounded
    assert draft(as_county_finance, COUNTY, rules={"no_budget": {"enabled": False}}).status_code == 422


def test_art5_7_a_county_inherits_what_it_does_not_set_as_the_province_changes_it(
        as_finance, as_finance_second, as_county_finance, as_county_finance_second):
    publish(as_county_finance, as_county_finance_second, COUNTY, {"cash_over_limit": {"limit": "500.00"}})
    publish(as_finance, as_finance_second, PROVINCE, {"cash_outside_scope": {"settlement_start": "800.00"}})
    body = as_county_finance.get("/api/v1/rules").json
    scope = rule(body, "cash_outside_scope")
    assert scope["parameters"]["settlement_start"] == "800.00"
    assert scope["sources"]["settlement_start"] == {"department": PROVINCE, "version": 2}
    assert rule(body, "cash_over_limit")["parameters"]["limit"] == "500.00"
    assert body["chain"] == [{"department": PROVINCE, "version": 2}, {"department": COUNTY, "version": 1}]
    # the province later goes below the county's value: the stricter one applies there too
    publish(as_finance, as_finance_second, PROVINCE, {"cash_over_limit": {"limit": "300.00"}})
    cash = rule(as_county_finance.get("/api/v1/rules").json, "cash_over_limit")
    assert cash["parameters"]["limit"] == "300.00"
    assert cash["sources"]["limit"] == {"department": PROVINCE, "version": 3}


# --- screening uses the set in force for the payment's unit; warnings record it ---------------------

def test_art5_7_art12_a_county_unit_is_screened_with_the_county_set_and_warnings_record_set_and_version(
        app, as_county_finance, as_county_finance_second, as_city_finance):
    county_unit()
    publish(as_county_finance, as_county_finance_second, COUNTY, {"cash_over_limit": {"limit": "500.00"}})
    county_item = as_county_finance.post("/api/v1/payments", json=[payment(
        unit_code=COUNTY_UNIT, payer_account=COUNTY_ACCOUNT, **CASH_800)]).json["items"][0]
    assert {w["rule"] for w in county_item["warnings"]} == {"cash_over_limit"}
    assert county_item["status"] == "held"
    city_item = as_city_finance.post("/api/v1/payments", json=[
        payment(**CASH_800), payment(summary="购买茅台酒")]).json["items"]
    assert city_item[0]["warnings"] == []  # the prefecture's unit: the province's 1,000.00
    recorded = db.session.execute(sa.select(MonitoringWarning.rule, MonitoringWarning.rule_set_department_id,
                                            MonitoringWarning.rule_set_version).order_by(MonitoringWarning.id)).all()
    assert [tuple(r) for r in recorded] == [("cash_over_limit", org_by_code(COUNTY).id, 1),
                                            ("luxury_specialties", org_by_code(PROVINCE).id, 1)]
    shown = as_county_finance.get(f"/api/v1/warnings/{county_item['warnings'][0]['id']}").json
    assert (shown["rule_set_department"], shown["rule_set_version"]) == (COUNTY, 1)


def test_art12_a_version_effective_in_the_future_serves_only_from_then(
        as_finance, as_finance_second, as_city_finance):
    now = utcnow()
    starts = now + dt.timedelta(hours=1)
    version = publish(as_finance, as_finance_second, PROVINCE, {"cash_over_limit": {"limit": "500.00"}},
                      effective_from=starts.isoformat())
    assert version["version"] == 2 and dt.datetime.fromisoformat(version["effective_from"]) == starts
    assert as_city_finance.get("/api/v1/rules").json["version"] == 1  # the old version serves until then
    before = screen_payments(Actor.system(), [payment(**CASH_800)], now=now).items[0]
    after = screen_payments(Actor.system(), [payment(**CASH_800)], now=starts + dt.timedelta(minutes=1)).items[0]
    db.session.commit()
    assert before["warnings"] == []
    assert [w["rule"] for w in after["warnings"]] == ["cash_over_limit"]
    assert db.session.execute(sa.select(MonitoringWarning.rule_set_version)).scalars().all() == [2]
    # a time in the past is refused, and so is one before the version already scheduled
    created = draft(as_finance, PROVINCE, rules={"cash_over_limit": {"limit": "400.00"}}).json
    url = f"/api/v1/rule-sets/{PROVINCE}/drafts/{created['id']}/publish"
    past = as_finance_second.post(url, json={"effective_from": (now - dt.timedelta(hours=1)).isoformat()})
    assert past.status_code == 422 and "effective_from" in past.json["errors"]
    assert as_finance_second.post(url, json={}).status_code == 409  # now: before version 2 takes effect


# --- four eyes -----------------------------------------------------------------------------------------

def test_art12_the_author_may_not_approve_their_own_draft_with_any_token(
        client, demo, as_city_finance, as_city_finance_second):
    created = draft(as_city_finance, CITY, rules={"cash_over_limit": {"limit": "800.00"}}).json
    url = f"/api/v1/rule-sets/{CITY}/drafts/{created['id']}/publish"
    own = as_city_finance.post(url, json={})
    assert own.status_code == 403 and "author of a draft may not approve it" in own.json["message"]
    _, another_token = issue_token(demo.users["city_finance"], days=1, label="second device")
    db.session.commit()
    again = client.post(url, json={}, headers={"Authorization": f"Bearer {another_token}"})
    assert again.status_code == 403
    published = as_city_finance_second.post(url, json={})
    assert published.status_code == 201, published.json
    assert (published.json["author"], published.json["approver"]) == (as_city_finance.user.name,
                                                                      as_city_finance_second.user.name)
    assert as_city_finance.get(f"/api/v1/rule-sets/{CITY}/drafts/{created['id']}").status_code == 404  # now a version


def test_art12_officers_of_another_department_neither_see_nor_publish_a_draft(
        as_city_finance, as_city_finance_second, as_finance_second, as_county_finance_second, as_unit):
    created = draft(as_city_finance, CITY, rules={"cash_over_limit": {"limit": "800.00"}}).json
    url = f"/api/v1/rule-sets/{CITY}/drafts/{created['id']}"
    for other in (as_finance_second, as_county_finance_second):
        assert other.post(url + "/publish", json={}).status_code == 404
        assert other.get(url).status_code == 404
        assert other.patch(url, json={"reason": "改"}).status_code == 404
        assert draft(other, CITY, rules={"cash_over_limit": {"limit": "700.00"}}).status_code == 404
    assert as_unit.post(url + "/publish", json={}).status_code == 403
    # within the department, only the author edits; the second officer approves it as written
    assert as_city_finance_second.patch(url, json={"reason": "改"}).status_code == 403
    edited = as_city_finance.patch(url, json={"rules": {"cash_over_limit": {"limit": "600.00"}}})
    assert edited.status_code == 200 and edited.json["changes"]["rules"] == {"cash_over_limit": {"limit": "600.00"}}
    assert as_city_finance_second.get(url).json["diff"] == [
        {"rule": "cash_over_limit", "setting": "limit", "before": None, "after": "600.00"}]


def test_art12_versions_are_listed_with_author_approver_reason_and_diff_and_journaled(
        as_city_finance, as_city_finance_second, as_county_finance, as_other_unit):
    publish(as_city_finance, as_city_finance_second, CITY, {"cash_over_limit": {"limit": "800.00"}},
            reason="州财库〔2021〕1号")
    publish(as_city_finance_second, as_city_finance, CITY, {"cash_over_limit": {"limit": "600.00"},
                                                             "frozen_balance": {"level": "block"}},
            reason="州财库〔2021〕2号")
    versions = as_county_finance.get(f"/api/v1/rule-sets/{CITY}/versions").json["items"]  # the county inherits it
    assert [v["version"] for v in versions] == [2, 1]
    latest = versions[0]
    assert (latest["author"], latest["approver"], latest["reason"]) == (
        as_city_finance_second.user.name, as_city_finance.user.name, "州财库〔2021〕2号")
    assert latest["diff"] == [
        {"rule": "cash_over_limit", "setting": "limit", "before": "800.00", "after": "600.00"},
        {"rule": "frozen_balance", "setting": "level", "before": None, "after": "block"}]
    assert versions[1]["diff"] == [{"rule": "cash_over_limit", "setting": "limit", "before": None, "after": "800.00"}]
    assert as_other_unit.get(f"/api/v1/rule-sets/{CITY}/versions").status_code == 403
    entries = db.session.execute(sa.select(JournalEntry).where(
        JournalEntry.stream == f"ruleset:{org_by_code(CITY).id}").order_by(JournalEntry.seq)).scalars().all()
    assert [e.action for e in entries] == ["drafted", "published", "drafted", "published"]
    assert entries[-1].payload["version"] == 2 and entries[-1].payload["approver_id"] == as_city_finance.user.id


def test_art12_two_drafts_published_at_once_become_two_versions_never_one_twice(
        app, as_city_finance, as_city_finance_second):
    first = draft(as_city_finance, CITY, rules={"cash_over_limit": {"limit": "800.00"}}).json
    second = draft(as_city_finance, CITY, rules={"luxury_specialties": {"keywords": [
        *rule(as_city_finance.get("/api/v1/rules").json, "luxury_specialties")["parameters"]["keywords"],
        "天山雪莲"]}}).json
    db.session.remove()
    headers = as_city_finance_second.headers
    answers = race(app, [("post", f"/api/v1/rule-sets/{CITY}/drafts/{d['id']}/publish", headers, {})
                         for d in (first, second)])
    assert [a.status for a in answers] == [201, 201], [a.json for a in answers]
    assert sorted(a.json["version"] for a in answers) == [1, 2]
    rows = db.session.execute(sa.select(RuleSet.version).where(
        RuleSet.department_id == org_by_code(CITY).id).order_by(RuleSet.version)).scalars().all()
    assert rows == [1, 2]
    body = as_city_finance.get("/api/v1/rules").json  # both changes are in the latest version
    assert rule(body, "cash_over_limit")["parameters"]["limit"] == "800.00"
    assert "天山雪莲" in rule(body, "luxury_specialties")["parameters"]["keywords"]


def test_art12_the_demo_has_a_second_officer_per_finance_department_with_a_token(runner, tmp_path):
    tokens_file = tmp_path / "demo-tokens.json"
    result = runner.invoke(args=["demo", "load", "--tokens-file", str(tokens_file)])
    assert result.exit_code == 0, result.output
    tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
    for first, second in (("finance", "finance_second"), ("city_finance", "city_finance_second"),
                          ("county_finance", "county_finance_second")):
        users = [db.session.execute(sa.select(ApiToken.user_id).where(
            ApiToken.token_hash == hash_token(tokens[key]))).scalar_one() for key in (first, second)]
        assert users[0] != users[1]
        orgs = {db.session.get(User, user_id).org.code for user_id in users}
        assert len(orgs) == 1 and orgs <= {PROVINCE, CITY, COUNTY}

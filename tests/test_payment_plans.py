"""Monthly payment plans (用款计划): a unit files its plan per indicator and month (Art. 10(三)15:
basic expenditure by the annual balance principle), finance approves it as the month's quota or
returns it (Art. 10(二)1), and a payment beyond the month's approved plan is warned."""
from __future__ import annotations

import importlib.util
import io
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from payments_helpers import UNIT, payment, rules_of
from test_rule_governance import PROVINCE, draft, publish

from workflow import demo as demo_data
from workflow.db import db
from workflow.machines.payment_plan import LIFECYCLE
from workflow.monitoring.models import SpendingTotal
from workflow.monitoring.plans import PaymentPlan

OTHER_UNIT = "653000-302001"
PLANS = "/api/v1/payment-plans"
ARTICLE = "第十条（二）1；第十条（三）15"
MIGRATION = Path(__file__).resolve().parent.parent / "migrations" / "versions" / "0023_payment_plans.py"


def plan(**overrides) -> dict:
    """March 2021's plan of the demo unit's office supplies (30201, budgeted 30,000.00 a year)."""
    row = {"unit_code": UNIT, "month": "2021-03", "functional_code": "2010201", "economic_code": "30201",
           "amount": "2500.00"}
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


def file(unit, *rows) -> list[dict]:
    response = unit.post(PLANS, json=list(rows))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["items"]


def approved(unit, finance, *rows) -> list[dict]:
    filed = file(unit, *rows)
    response = finance.post(f"{PLANS}/approve", json={"plan_ids": [p["id"] for p in filed]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def pay(finance, *rows) -> list[dict]:
    response = finance.post("/api/v1/payments", json=list(rows))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["items"]


def plan_warnings(item: dict) -> list[dict]:
    return [w for w in item["warnings"] if w["rule"] == "over_payment_plan"]


def events(party, plan_id) -> list[tuple[str, dict]]:
    response = party.get(f"{PLANS}/{plan_id}/events")
    assert response.status_code == 200, response.get_json()
    return [(e["action"], e["payload"]) for e in response.get_json()["items"]]


def plans_in_db() -> int:
    return db.session.execute(sa.select(sa.func.count(PaymentPlan.id))).scalar_one()


# --- the lifecycle: file, approve, return, file again ------------------------------------------

def test_art10_3_15_a_unit_files_its_plan_and_finance_approves_it_as_the_months_quota(as_unit, as_city_finance):
    filed = file(as_unit, plan())[0]
    assert (filed["action"], filed["status"], filed["amount"], filed["approved_amount"]) == (
        "filed", "filed", "2500.00", None)
    assert (filed["month"], filed["economic_code"], filed["expenditure_kind"], filed["uneven"]) == (
        "2021-03", "30201", "basic", False)
    response = as_city_finance.post(f"{PLANS}/{filed['id']}/approve")
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["status"], response.get_json()["approved_amount"]) == ("approved", "2500.00")
    assert [action for action, _ in events(as_unit, filed["id"])] == ["filed", "approved"]


def test_art10_2_1_finance_returns_a_plan_with_its_reason_and_the_unit_files_it_again(as_unit, as_city_finance):
    plan_id = file(as_unit, plan(amount="9000.00"))[0]["id"]
    no_reason = as_city_finance.post(f"{PLANS}/{plan_id}/return", json={})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["errors"]
    returned = as_city_finance.post(f"{PLANS}/{plan_id}/return", json={"reason": "超出月度均衡用款需要，请压减"})
    assert returned.status_code == 200, returned.get_json()
    assert (returned.get_json()["status"], returned.get_json()["return_reason"]) == ("returned", "超出月度均衡用款需要，请压减")
    refiled = file(as_unit, plan(amount="2500.00"))[0]
    assert (refiled["id"], refiled["action"], refiled["status"], refiled["amount"]) == (
        plan_id, "refiled", "filed", "2500.00")
    assert as_city_finance.post(f"{PLANS}/{plan_id}/approve").get_json()["approved_amount"] == "2500.00"
    history = events(as_city_finance, plan_id)
    assert [action for action, _ in history] == ["filed", "returned", "refiled", "approved"]
    assert history[1][1]["reason"] == "超出月度均衡用款需要，请压减"
    assert history[2][1]["before"] == {"status": "returned", "amount": "9000.00"}


def test_art10_3_15_a_revised_plan_keeps_its_approved_quota_until_finance_approves_the_revision(
        as_unit, as_city_finance):
    plan_id = approved(as_unit, as_city_finance, plan(amount="1000.00"))[0]["id"]
    revised = file(as_unit, plan(amount="3000.00"))[0]
    assert (revised["action"], revised["status"], revised["amount"], revised["approved_amount"]) == (
        "revised", "filed", "3000.00", "1000.00")
    # still held to the quota in force: 1,500 is over the 1,000 approved, not the 3,000 asked for
    warned = pay(as_city_finance, payment(amount="1500.00"))[0]
    assert [w["level"] for w in plan_warnings(warned)] == ["warn"]
    assert as_city_finance.post(f"{PLANS}/{plan_id}/approve").get_json()["approved_amount"] == "3000.00"
    assert plan_warnings(pay(as_city_finance, payment(amount="1000.00"))[0]) == []


def test_art10_3_15_filing_again_before_the_decision_amends_and_an_unchanged_row_changes_nothing(
        as_unit, as_city_finance):
    plan_id = file(as_unit, plan())[0]["id"]
    assert [(p["id"], p["action"]) for p in file(as_unit, plan())] == [(plan_id, "unchanged")]
    assert [(p["id"], p["action"], p["amount"]) for p in file(as_unit, plan(amount="2400.00"))] == [
        (plan_id, "amended", "2400.00")]
    as_city_finance.post(f"{PLANS}/{plan_id}/approve")
    assert [p["action"] for p in file(as_unit, plan(amount="2400.00"))] == ["unchanged"]
    assert [action for action, _ in events(as_unit, plan_id)] == ["filed", "amended", "approved"]


def test_art10_2_1_only_a_filed_plan_is_decided_and_a_bulk_approval_is_all_or_none(as_unit, as_city_finance):
    first, second = approved(as_unit, as_city_finance, plan(), plan(month="2021-04"))
    assert (first["status"], second["status"]) == ("approved", "approved")
    third = file(as_unit, plan(month="2021-05"))[0]
    again = as_city_finance.post(f"{PLANS}/{first['id']}/approve")
    assert again.status_code == 409
    assert "only a filed payment plan can" in again.get_json()["message"]
    bulk = as_city_finance.post(f"{PLANS}/approve", json={"plan_ids": [third["id"], second["id"]]})
    assert bulk.status_code == 409
    assert list(bulk.get_json()["errors"]) == [f"plan {second['id']}.status"]
    assert as_unit.get(f"{PLANS}/{third['id']}").get_json()["status"] == "filed"  # nothing decided
    returned = as_city_finance.post(f"{PLANS}/{first['id']}/return", json={"reason": "已批复"})
    assert returned.status_code == 409


def test_art10_the_status_changes_only_through_the_plans_table(as_unit):
    plan_id = file(as_unit, plan())[0]["id"]
    stored = db.session.get(PaymentPlan, plan_id)
    with pytest.raises(AttributeError, match="only through its lifecycle"):
        stored.status = "approved"
    db.session.rollback()
    edges = {(t.trigger, s, t.dest) for t in LIFECYCLE.transitions for s in t.source}
    assert edges == {("file", "new", "filed"), ("amend", "filed", None), ("approve", "filed", "approved"),
                     ("return", "filed", "returned"), ("refile", "returned", "filed"),
                     ("revise", "approved", "filed")}
    table = as_unit.get("/api/v1/workflow/payment-plan").get_json()
    assert table["initial"] == ["filed"]
    assert {(r["trigger"], tuple(r["roles"]), r["article"]) for r in table["transitions"]} >= {
        ("approve", ("finance",), "第十条（二）1"), ("file", ("unit",), "第十条（三）15")}


# --- who files, who decides, who sees ----------------------------------------------------------

def test_art10_3_15_a_unit_files_for_itself_and_finance_decides(as_unit, as_other_unit, as_city_finance,
                                                                 as_competent):
    assert as_city_finance.post(PLANS, json=[plan()]).status_code == 403
    assert as_competent.post(PLANS, json=[plan()]).status_code == 403
    refused = as_other_unit.post(PLANS, json=[plan()])
    assert refused.status_code == 422 and list(refused.get_json()["errors"]) == ["row 1.unit_code"]
    plan_id = file(as_unit, plan())[0]["id"]
    assert as_unit.post(f"{PLANS}/{plan_id}/approve").status_code == 403
    assert as_unit.post(f"{PLANS}/approve", json={"plan_ids": [plan_id]}).status_code == 403
    assert plans_in_db() == 1


def test_art10_plans_are_seen_by_the_unit_its_competent_department_and_finance_in_charge(
        as_unit, as_other_unit, as_competent, as_other_competent, as_city_finance, as_county_finance, as_finance,
        as_bank, as_oversight):
    plan_id = file(as_unit, plan())[0]["id"]
    for party in (as_unit, as_competent, as_city_finance, as_finance):
        assert [p["id"] for p in party.get(PLANS).get_json()["items"]] == [plan_id]
        assert party.get(f"{PLANS}/{plan_id}").status_code == 200
        assert [q["plan_id"] for q in party.get(f"{PLANS}/quota").get_json()["items"]] == [plan_id]
    for party in (as_other_unit, as_other_competent, as_county_finance, as_bank, as_oversight):
        assert party.get(PLANS).get_json()["items"] == []
        assert party.get(f"{PLANS}/quota").get_json()["items"] == []
        assert party.get(f"{PLANS}/{plan_id}").status_code == 404
        assert party.get(f"{PLANS}/{plan_id}/events").status_code == 404
    # a finance department out of charge cannot decide what it cannot see
    assert as_county_finance.post(f"{PLANS}/{plan_id}/approve").status_code == 404
    bulk = as_county_finance.post(f"{PLANS}/approve", json={"plan_ids": [plan_id]})
    assert bulk.status_code == 404 and list(bulk.get_json()["errors"]) == ["plan_ids"]


def test_art10_the_list_filters_by_month_unit_status_and_unevenness(as_unit, as_other_unit, as_city_finance):
    ids = [p["id"] for p in file(as_unit, plan(), plan(month="2021-04", amount="12000.00"))]
    other = file(as_other_unit, plan(unit_code=OTHER_UNIT, functional_code="2010101"))[0]["id"]
    as_city_finance.post(f"{PLANS}/{ids[0]}/approve")

    def listed(query):
        response = as_city_finance.get(f"{PLANS}?{query}")
        assert response.status_code == 200, response.get_json()
        return [p["id"] for p in response.get_json()["items"]]

    assert listed("month=2021-03") == [ids[0], other]
    assert listed(f"unit_code={OTHER_UNIT}") == [other]
    assert listed("status=filed") == [ids[1], other]
    assert listed("uneven=true") == [ids[1]]
    assert listed("economic_code=30201&year=2021") == [ids[0], ids[1], other]
    bad = as_city_finance.get(f"{PLANS}?month=2021-13")
    assert bad.status_code == 422 and "month" in bad.get_json()["errors"]


# --- bulk upload: CSV and JSON, all rows or none -------------------------------------------------

CSV_HEADER = "unit_code,month,functional_code,economic_code,project,amount\n"


def _upload(party, text: str, encoding: str = "utf-8"):
    data = {"file": (io.BytesIO(text.encode(encoding)), "用款计划.csv")}
    return party.post(PLANS, data=data, content_type="multipart/form-data")


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_art10_3_15_plans_are_uploaded_as_csv_in_utf8_or_gbk(as_unit, encoding):
    text = CSV_HEADER + (f"{UNIT},2021-01,2010201,30201,,2500.00\n"
                         f"{UNIT},2021-02,2010201,30201,,2500.00\n"
                         f"{UNIT},2021-01,2010299,30299,群众联建工作经费,35000.00\n")
    response = _upload(as_unit, text, encoding)
    assert response.status_code == 201, response.get_json()
    items = response.get_json()["items"]
    assert [(p["month"], p["economic_code"], p["project"], p["amount"]) for p in items] == [
        ("2021-01", "30201", "", "2500.00"), ("2021-02", "30201", "", "2500.00"),
        ("2021-01", "30299", "群众联建工作经费", "35000.00")]
    # half a project's budget in one month is no imbalance: the principle is for basic expenditure
    assert [p["uneven"] for p in items] == [False, False, False]


def test_art10_3_15_a_csv_with_bad_rows_is_refused_naming_each_row_and_nothing_is_written(as_unit):
    text = CSV_HEADER + (f"{UNIT},2021-01,2010201,30201,,2500.00\n"
                         f"{UNIT},2021-13,2010201,30201,,2500.00\n"      # no such month
                         f"{UNIT},2021-02,2010201,30201,,-5\n"            # a negative amount
                         f"{UNIT},2021-02,2010201,30215,,1000.00\n"       # no indicator for 会议费
                         f"{UNIT},2021-01,2010201,30201,,2600.00\n")      # the first row again
    response = _upload(as_unit, text)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"row 2.month", "row 3.amount"}  # the rows' own fields are checked first
    fixed = text.replace("2021-13", "2021-03").replace(",-5\n", ",2500.00\n")
    response = _upload(as_unit, fixed)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"row 4.economic_code", "row 5"}
    assert "no 2021 indicator" in errors["row 4.economic_code"][0]
    assert errors["row 5"] == ["duplicates row 1 (the same indicator and month)"]
    assert plans_in_db() == 0


@pytest.mark.parametrize(("row", "field"), [
    (plan(amount="12.345"), "row 1.amount"),
    (plan(amount=12.5), "row 1.amount"),
    (plan(month="2021-3"), "row 1.month"),
    (plan(month="1999-12"), "row 1.month"),
    (plan(economic_code="30a01"), "row 1.economic_code"),
    (plan(unit_code="653000-999999"), "row 1.unit_code"),
    (plan(fund_source="state_capital"), "row 1.fund_source"),
    (plan(fund_source="gold"), "row 1.fund_source"),
    ({k: v for k, v in plan().items() if k != "amount"}, "row 1.amount"),
    ({**plan(), "colour": "red"}, "row 1.colour"),
])
def test_art10_bad_input_is_a_422_naming_the_field(as_unit, row, field):
    response = as_unit.post(PLANS, json=[row])
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert plans_in_db() == 0


def test_art10_bad_decisions_are_4xx_naming_the_field(as_unit, as_city_finance):
    plan_id = file(as_unit, plan())[0]["id"]
    for body, field in (({}, "plan_ids"), ({"plan_ids": []}, "plan_ids"), ({"plan_ids": ["x"]}, "plan_ids.0"),
                        ({"plan_ids": [0]}, "plan_ids.0")):
        response = as_city_finance.post(f"{PLANS}/approve", json=body)
        assert response.status_code == 422 and field in response.get_json()["errors"], (body, response.get_json())
    blank = as_city_finance.post(f"{PLANS}/{plan_id}/return", json={"reason": "   "})
    assert blank.status_code == 422 and "reason" in blank.get_json()["errors"]
    assert as_city_finance.post(f"{PLANS}/99999/approve").status_code == 404
    assert as_unit.post(PLANS, json=[]).status_code == 422
    assert as_unit.post(PLANS, json={"items": "x"}).status_code == 422


# --- screening: a payment beyond the month's approved plan ---------------------------------------

def test_art10_2_1_a_payment_within_the_months_approved_plan_is_not_warned(as_unit, as_city_finance):
    approved(as_unit, as_city_finance, plan(amount="2500.00"))
    items = pay(as_city_finance, payment(amount="1000.00"), payment(amount="1500.00"))
    assert [i["warnings"] for i in items] == [[], []]


def test_art10_2_1_a_payment_beyond_the_months_approved_plan_is_warned(as_unit, as_city_finance):
    approved(as_unit, as_city_finance, plan(amount="2500.00"))
    first, crossing = pay(as_city_finance, payment(amount="2000.00"), payment(amount="800.00"))
    assert first["warnings"] == []
    assert rules_of(crossing) == {"over_payment_plan"} and crossing["status"] == "accepted"
    warning = plan_warnings(crossing)[0]
    assert (warning["level"], warning["article"]) == ("warn", ARTICLE)
    assert warning["message"] == ("2021年3月用款计划（经济分类30201）批复2500.00元，本月已支付2000.00元，"
                                  "本笔800.00元后累计2800.00元，超出用款计划300.00元")
    # another month's payments are held to that month's plan, not this one's
    assert plan_warnings(pay(as_city_finance, payment(amount="800.00", paid_at="2021-04-01T10:00:00+08:00"))[0]) == []


def test_art10_2_1_only_an_approved_plan_is_a_quota_and_a_month_without_one_is_a_rule_parameter(
        as_unit, as_city_finance, as_finance, as_finance_second):
    file(as_unit, plan(amount="100.00"))  # filed, not approved: no quota yet
    assert pay(as_city_finance, payment(amount="300.00"))[0]["warnings"] == []
    publish(as_finance, as_finance_second, PROVINCE, {"over_payment_plan": {"require_plan": "warn"}})
    warned = pay(as_city_finance, payment(amount="300.00"))[0]
    assert [w["message"] for w in plan_warnings(warned)] == [
        "2021年3月无财政部门批复的用款计划（功能分类2010201、经济分类30201），支付300.00元"]
    bad = draft(as_finance, PROVINCE, rules={"over_payment_plan": {"require_plan": "block"}})
    assert bad.status_code == 422 and "rules.over_payment_plan.require_plan" in bad.get_json()["errors"]


# --- balance over the year (年度均衡性) -------------------------------------------------------------

def test_art10_3_15_an_uneven_basic_plan_is_flagged_at_filing_and_in_finances_list(as_unit, as_city_finance,
                                                                                   as_finance, as_finance_second):
    even, uneven = file(as_unit, plan(amount="9000.00"), plan(month="2021-04", amount="9000.01"))
    assert (even["uneven"], even["uneven_note"], even["annual_share"]) == (False, None, "30.0")
    assert (uneven["uneven"], uneven["annual_share"]) == (True, "30.0")
    assert uneven["uneven_note"] == ("基本支出用款计划4月9000.01元，占年度预算指标30000.00元的30.0%，超过30%，"
                                     "不符合年度均衡性原则（第十条（三）15）")
    listed = as_city_finance.get(f"{PLANS}?uneven=true&status=filed").get_json()["items"]
    assert [(p["id"], p["uneven"]) for p in listed] == [(uneven["id"], True)]
    # the share is the rule set's parameter
    publish(as_finance, as_finance_second, PROVINCE, {"over_payment_plan": {"uneven_percent": 50}})
    assert file(as_unit, plan(month="2021-05", amount="12000.00"))[0]["uneven"] is False
    bad = draft(as_finance, PROVINCE, rules={"over_payment_plan": {"uneven_percent": 0}})
    assert bad.status_code == 422 and "rules.over_payment_plan.uneven_percent" in bad.get_json()["errors"]


# --- the quota view: 授权额度 against 支付 ----------------------------------------------------------

def test_art10_2_1_the_quota_view_sets_the_approved_plan_against_what_was_paid(as_unit, as_city_finance, as_bank):
    march, april = approved(as_unit, as_city_finance, plan(amount="2500.00"), plan(month="2021-04", amount="2000.00"))
    may = file(as_unit, plan(month="2021-05", amount="2000.00"))[0]
    paid = pay(as_city_finance, payment(amount="1000.00"), payment(amount="700.00"),
               payment(amount="2100.00", paid_at="2021-04-15T10:00:00+08:00"),
               payment(amount="50.00", paid_at="2021-05-15T10:00:00+08:00"))
    refusal = as_bank.post("/api/v1/bank-refusals", json={"voucher_no": paid[1]["voucher_no"], "reason": "户名不符"})
    assert refusal.status_code == 201, refusal.get_json()  # a refused payment no longer counts
    response = as_unit.get(f"{PLANS}/quota?year=2021")
    assert response.status_code == 200, response.get_json()
    rows = {q["month"]: q for q in response.get_json()["items"]}
    assert {m: (q["plan_id"], q["approved"], q["paid"], q["remaining"], q["over"]) for m, q in rows.items()} == {
        "2021-03": (march["id"], "2500.00", "1000.00", "1500.00", False),
        "2021-04": (april["id"], "2000.00", "2100.00", "-100.00", True),
        "2021-05": (may["id"], None, "50.00", None, True),
    }
    assert [q["month"] for q in as_unit.get(f"{PLANS}/quota?month=2021-04").get_json()["items"]] == ["2021-04"]


# --- the demo, and payments stored before the plans ---------------------------------------------

def test_art10_the_demo_plans_let_the_check_be_tried_at_once(as_city_finance):
    demo_data.load_demo_plans()
    db.session.commit()
    # 差旅费 158,000.00 a year: 13,166.67 approved for March
    quota = as_city_finance.get(f"{PLANS}/quota?month=2021-03&economic_code=30211").get_json()["items"]
    assert [(q["unit_code"], q["approved"], q["status"]) for q in quota] == [(UNIT, "13166.67", "approved"),
                                                                            (OTHER_UNIT, "8333.33", "approved")]
    travel = dict(economic_code="30211", summary="差旅费（机票）", payee_name="克州航空票务有限公司")
    within, beyond = pay(as_city_finance, payment(amount="13000.00", **travel), payment(amount="200.00", **travel))
    assert within["warnings"] == [] and rules_of(beyond) == {"over_payment_plan"}
    pending = as_city_finance.get(f"{PLANS}?status=filed&uneven=true").get_json()["items"]
    assert [(p["month"], p["economic_code"], p["amount"]) for p in pending] == [("2021-12", "30217", "30000.00")]


def test_art10_2_1_the_migration_counts_the_payments_stored_before_it_into_their_months(as_city_finance):
    pay(as_city_finance, payment(amount="300.00"), payment(amount="200.00"),
        payment(amount="100.00", paid_at="2021-03-31T23:30:00+08:00"),
        payment(amount="400.00", paid_at="2021-03-31T16:30:00+00:00"))  # 1 April in Shanghai
    table = SpendingTotal.__table__
    month_totals = sa.select(table.c.unit_id, table.c.year, table.c.key, table.c.spent).where(
        table.c.key.like("month:%")).order_by(table.c.key)
    screened = db.session.execute(month_totals).all()
    assert [(key.rsplit(":", 1)[1], spent) for _, _, key, spent in screened] == [
        ("03", Decimal("600.00")), ("04", Decimal("400.00"))]
    db.session.execute(sa.delete(table).where(table.c.key.like("month:%")))
    spec = importlib.util.spec_from_file_location("migration_0021", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.backfill_month_totals(db.session.connection()) == 2
    assert db.session.execute(month_totals).all() == screened
    db.session.rollback()

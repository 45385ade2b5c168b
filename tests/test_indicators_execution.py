"""Indicators that change and show their progress (issue 11, part "Indicators").

- Art. 14: the budget is executed "as approved and as adjusted" (调整预算): finance adjusts an
  indicator up or down, or moves an amount between two indicators (调剂) in one transaction,
  each with a reason and a document reference; never below what is already spent and held.
- Art. 10(三)14: a payment from an indicator finance froze, or from the part it marked for
  recovery (应收回), is warned by the frozen-balance rule.
- Art. 9: 支出进度 is a basic element of monitoring: each indicator shows spent, held,
  remaining and its execution rate; lists filter and sort by rate.
- Art. 10(一): finance's own issuance of indicators is monitored: issued late after approval, or
  project funds not detailed to a project, is a warning on the issuing finance department.
"""
from __future__ import annotations

import csv
import io
import threading

import sqlalchemy as sa
from verification_support import OTHER_UNIT, UNIT, clean_transfer, post_payments

from api import pagination
from workflow.budget import Indicator, IndicatorAdjustment
from workflow.db import db
from workflow.execution import adjust
from workflow.monitoring.models import MonitoringWarning
from workflow.monitoring.screening import screen_payments
from workflow.outbox import OutboxMessage
from workflow.parties import Actor, org_by_code

CITY_FINANCE = "653000-CZ"
BASIS = {"reason": "年中预算调整", "document_ref": "克财预〔2021〕12号"}


def indicator_of(party, economic_code: str, unit: str = UNIT) -> dict:
    items = party.get(f"/api/v1/indicators?unit_code={unit}&economic_code={economic_code}&year=2021").json["items"]
    assert len(items) == 1, items
    return items[0]


def adjusting(party, indicator_id: int, **body):
    return party.post(f"/api/v1/indicators/{indicator_id}/adjustments", json={**BASIS, **body})


def office(amount: str, **over) -> dict:
    """A clean transfer for office supplies (30201, 30,000.00 budgeted)."""
    return clean_transfer(**{"economic_code": "30201", "summary": "购买打印纸", "amount": amount, **over})


def ledger_rows(*indicator_ids: int) -> int:
    """Ledger rows on these indicators (the demo's own adjustments are on the other unit's)."""
    return db.session.execute(sa.select(sa.func.count(IndicatorAdjustment.id)).where(
        IndicatorAdjustment.indicator_id.in_(indicator_ids))).scalar_one()


def rules(item: dict) -> list[str]:
    return [w["rule"] for w in item["warnings"]]


# --- Art. 14: adjustments and transfers ----------------------------------------------------------

def test_art14_finance_adjusts_an_indicator_up_and_down_each_change_in_the_ledger_and_journal(as_city_finance):
    office_id = indicator_of(as_city_finance, "30201")["id"]
    up = adjusting(as_city_finance, office_id, kind="adjust", amount="5000.00")
    assert up.status_code == 201, up.json
    assert up.json["indicator"]["amount"] == "35000.00"
    assert up.json["items"][0] | {"id": 0, "created_at": "", "created_by_id": 0} == {
        "id": 0, "indicator_id": office_id, "kind": "adjust", "change": "5000.00", "counterpart_id": None,
        "reason": "年中预算调整", "document_ref": "克财预〔2021〕12号", "amount_after": "35000.00",
        "recovered_after": "0.00", "frozen_after": False, "org_code": CITY_FINANCE, "created_at": "",
        "created_by_id": 0}
    down = adjusting(as_city_finance, office_id, kind="adjust", amount="-10000.00")
    assert down.status_code == 201, down.json
    assert down.json["indicator"]["amount"] == "25000.00"
    ledger = as_city_finance.get(f"/api/v1/indicators/{office_id}/adjustments").json["items"]
    assert [(row["change"], row["amount_after"]) for row in ledger] == [("5000.00", "35000.00"),
                                                                        ("-10000.00", "25000.00")]
    events = as_city_finance.get(f"/api/v1/indicators/{office_id}/events").json["items"]
    assert [(e["action"], e["payload"]["change"], e["payload"]["document_ref"]) for e in events] == [
        ("adjusted", "5000.00", "克财预〔2021〕12号"), ("adjusted", "-10000.00", "克财预〔2021〕12号")]


def test_art14_a_payment_is_screened_against_the_adjusted_amount(as_city_finance):
    """The over-budget rule (Art. 14-15) reads the budget in force: after 30,000.00 is cut to
    1,000.00, a 1,500.00 payment is over budget."""
    office_id = indicator_of(as_city_finance, "30201")["id"]
    assert adjusting(as_city_finance, office_id, kind="adjust", amount="-29000.00").status_code == 201
    item = post_payments(as_city_finance, [office("1500.00")])[0]
    assert "over_budget" in rules(item)
    assert "预算指标1000.00元" in next(w["message"] for w in item["warnings"] if w["rule"] == "over_budget")


def test_art14_an_adjustment_below_what_is_spent_and_held_is_409_naming_the_figures(as_city_finance):
    office_id = indicator_of(as_city_finance, "30201")["id"]
    post_payments(as_city_finance, [office("20000.00")])
    response = adjusting(as_city_finance, office_id, kind="adjust", amount="-15000.00")
    assert response.status_code == 409
    assert "15000.00 available" in response.json["message"]
    assert "spent 20000.00, held 0.00" in response.json["message"]
    assert response.json["errors"]["amount"]
    assert indicator_of(as_city_finance, "30201")["amount"] == "30000.00"
    assert ledger_rows(office_id) == 0
    # down to exactly what is spent is allowed: nothing is left, nothing is overdrawn
    assert adjusting(as_city_finance, office_id, kind="adjust", amount="-10000.00").status_code == 201
    # an indicator overspent already (an over-budget payment is counted too) may still be raised
    overspent = post_payments(as_city_finance, [office("5000.00")])[0]
    assert "over_budget" in rules(overspent)
    raised = adjusting(as_city_finance, office_id, kind="adjust", amount="1000.00")
    assert raised.status_code == 201 and raised.json["indicator"]["remaining"] == "-4000.00"


def test_art14_a_transfer_moves_the_amount_between_two_codes_atomically(as_city_finance):
    office_id = indicator_of(as_city_finance, "30201")["id"]
    printing_id = indicator_of(as_city_finance, "30202")["id"]
    moved = adjusting(as_city_finance, office_id, kind="transfer", amount="8000.00", to_indicator_id=printing_id)
    assert moved.status_code == 201, moved.json
    assert [(r["indicator_id"], r["change"], r["counterpart_id"], r["amount_after"]) for r in moved.json["items"]] == [
        (office_id, "-8000.00", printing_id, "22000.00"), (printing_id, "8000.00", office_id, "38000.00")]
    assert indicator_of(as_city_finance, "30201")["amount"] == "22000.00"
    assert indicator_of(as_city_finance, "30202")["amount"] == "38000.00"
    # the receiving indicator's journal records it too
    received = as_city_finance.get(f"/api/v1/indicators/{printing_id}/events").json["items"]
    assert [(e["action"], e["payload"]["change"], e["payload"]["counterpart_id"]) for e in received] == [
        ("transferred", "8000.00", office_id)]

    # a transfer that would overdraw the source changes neither indicator
    post_payments(as_city_finance, [office("20000.00")])
    refused = adjusting(as_city_finance, office_id, kind="transfer", amount="5000.00", to_indicator_id=printing_id)
    assert refused.status_code == 409
    assert "spent 20000.00" in refused.json["message"]
    assert indicator_of(as_city_finance, "30201")["amount"] == "22000.00"
    assert indicator_of(as_city_finance, "30202")["amount"] == "38000.00"
    assert ledger_rows(office_id, printing_id) == 2


def test_art14_a_transfer_stays_in_the_callers_jurisdiction_and_its_year(as_city_finance, as_county_finance):
    office_id = indicator_of(as_city_finance, "30201")["id"]
    other_id = indicator_of(as_city_finance, "30201", unit=OTHER_UNIT)["id"]
    loaded = as_city_finance.post("/api/v1/indicators", json=[{
        "unit_code": UNIT, "year": 2022, "functional_code": "2010201", "economic_code": "30202",
        "fund_source": "general_budget", "expenditure_kind": "basic", "amount": "1000.00"}])
    next_year_id = loaded.json["items"][0]["id"]
    to_itself = adjusting(as_city_finance, office_id, kind="transfer", amount="1.00", to_indicator_id=office_id)
    assert to_itself.status_code == 422 and "to_indicator_id" in to_itself.json["errors"]
    other_year = adjusting(as_city_finance, office_id, kind="transfer", amount="1.00", to_indicator_id=next_year_id)
    assert other_year.status_code == 422 and "to_indicator_id" in other_year.json["errors"]
    # between two units of the city it is a transfer like another (both in its jurisdiction)
    assert adjusting(as_city_finance, office_id, kind="transfer", amount="1.00",
                     to_indicator_id=other_id).status_code == 201
    # the county reaches neither: the source is not found
    assert adjusting(as_county_finance, office_id, kind="transfer", amount="1.00",
                     to_indicator_id=other_id).status_code == 404


# --- Art. 10(三)14: frozen and recovered balances ----------------------------------------------------

def test_art10_3_14_a_payment_against_a_frozen_indicator_is_held_and_after_unfreezing_it_is_not(as_city_finance):
    office_id = indicator_of(as_city_finance, "30201")["id"]
    frozen = adjusting(as_city_finance, office_id, kind="freeze")
    assert frozen.status_code == 201 and frozen.json["indicator"]["frozen"] is True
    assert adjusting(as_city_finance, office_id, kind="freeze").status_code == 409
    item = post_payments(as_city_finance, [office("300.00")])[0]
    assert rules(item) == ["frozen_balance"]
    assert item["status"] == "held"
    assert item["warnings"][0]["article"] == "第十条（三）14"

    thawed = adjusting(as_city_finance, office_id, kind="unfreeze", reason="冻结原因消除")
    assert thawed.status_code == 201 and thawed.json["indicator"]["frozen"] is False
    assert adjusting(as_city_finance, office_id, kind="unfreeze").status_code == 409
    assert rules(post_payments(as_city_finance, [office("300.00")])[0]) == []
    kinds = [row["kind"] for row in as_city_finance.get(f"/api/v1/indicators/{office_id}/adjustments").json["items"]]
    assert kinds == ["freeze", "unfreeze"]


def test_art10_3_14_recovery_reduces_what_may_be_spent_and_a_payment_into_it_is_warned(as_city_finance):
    """30,000.00 budgeted, 3,000.00 spent, 25,000.00 recovered: 2,000.00 is left to spend. A
    2,500.00 payment reaches into the recovered money (frozen balance); the over-budget rule
    still reads the 30,000.00 in force and stays silent."""
    office_id = indicator_of(as_city_finance, "30201")["id"]
    post_payments(as_city_finance, [office("3000.00")])
    recovered = adjusting(as_city_finance, office_id, kind="recover", amount="25000.00", reason="结余资金收回")
    assert recovered.status_code == 201, recovered.json
    shown = recovered.json["indicator"]
    assert (shown["recovered"], shown["available"], shown["spent"], shown["remaining"]) == (
        "25000.00", "5000.00", "3000.00", "2000.00")
    assert rules(post_payments(as_city_finance, [office("2000.00")])[0]) == []
    item = post_payments(as_city_finance, [office("2500.00")])[0]
    assert rules(item) == ["frozen_balance"]
    assert "25000.00元已由财政部门收回" in item["warnings"][0]["message"]
    # what is spent can no longer be recovered: 5,000.00 spent of 30,000.00, 25,000.00 recovered
    over = adjusting(as_city_finance, office_id, kind="recover", amount="1.00")
    assert over.status_code == 409
    assert "spent 5000.00" in over.json["message"]


# --- Art. 9: execution (支出进度) ---------------------------------------------------------------------

def test_art9_each_indicator_shows_spent_held_remaining_and_its_rate(as_city_finance, as_unit):
    post_payments(as_city_finance, [office("7500.00")])
    held = post_payments(as_city_finance, [office("1500.00", settlement="cash")])[0]
    assert held["status"] == "held"
    shown = indicator_of(as_unit, "30201")
    assert (shown["amount"], shown["spent"], shown["held"], shown["remaining"], shown["execution_rate"]) == (
        "30000.00", "7500.00", "1500.00", "21000.00", "25.00")
    assert as_unit.get(f"/api/v1/indicators/{shown['id']}").json["execution_rate"] == "25.00"
    untouched = indicator_of(as_unit, "30202")
    assert (untouched["spent"], untouched["held"], untouched["remaining"], untouched["execution_rate"]) == (
        "0.00", "0.00", "30000.00", "0.00")


def test_art9_the_list_filters_and_sorts_by_rate_page_by_page(as_city_finance):
    """Three indicators spent at 50 % (office 30201: 15,000 of 30,000), 10 % (printing 30202:
    3,000 of 30,000) and about 3.16 % (travel 30211: 5,000 of 158,000); the rest at 0 %."""
    post_payments(as_city_finance, [office("15000.00"), office("3000.00", economic_code="30202", summary="印刷"),
                                    clean_transfer(amount="5000.00")])
    base = f"/api/v1/indicators?unit_code={UNIT}"
    above = as_city_finance.get(base + "&rate_above=3&sort=-rate").json
    assert [(i["economic_code"], i["execution_rate"]) for i in above["items"]] == [
        ("30201", "50.00"), ("30202", "10.00"), ("30211", "3.16")]
    below = as_city_finance.get(base + "&rate_below=10&rate_above=0").json["items"]
    assert [i["economic_code"] for i in below] == ["30211"]
    # ascending, one a page: the cursor carries the rate (3.16 % is not a whole number of
    # basis points) and the id, and each indicator comes once
    seen, cursor = [], None
    for _ in range(4):
        after = f"&cursor={cursor}" if cursor else ""
        page = as_city_finance.get(base + "&rate_above=0&sort=rate&limit=1" + after).json
        seen += [i["economic_code"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["30211", "30202", "30201"] and cursor is None
    everything = as_city_finance.get(base + "&sort=-rate&limit=1000").json["items"]
    assert everything[0]["economic_code"] == "30201" and everything[-1]["execution_rate"] == "0.00"


def test_art9_the_list_exports_as_csv_in_rate_order_with_its_figures(as_city_finance, monkeypatch):
    monkeypatch.setattr(pagination, "EXPORT_BATCH", 2)  # several keyset batches, by rate then id
    post_payments(as_city_finance, [office("15000.00"), clean_transfer(amount="5000.00")])
    response = as_city_finance.get(f"/api/v1/indicators?unit_code={UNIT}&sort=-rate&format=csv&limit=1")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == len(as_city_finance.get(f"/api/v1/indicators?unit_code={UNIT}&limit=1000").json["items"])
    assert [(r["economic_code"], r["execution_rate"], r["spent"]) for r in rows[:2]] == [
        ("30201", "50.00", "15000.00"), ("30211", "3.16", "5000.00")]
    assert len({r["id"] for r in rows}) == len(rows)


def test_art9_a_unit_sees_its_own_indicators_and_another_units_are_404(as_unit, as_other_unit, as_competent,
                                                                        as_city_finance):
    own = indicator_of(as_unit, "30201")
    assert {i["unit_code"] for i in as_unit.get("/api/v1/indicators?limit=1000").json["items"]} == {UNIT}
    assert {i["unit_code"] for i in as_competent.get("/api/v1/indicators?limit=1000").json["items"]} == {UNIT}
    assert {i["unit_code"] for i in as_city_finance.get("/api/v1/indicators?limit=1000").json["items"]} == {
        UNIT, OTHER_UNIT}
    for path in (f"/api/v1/indicators/{own['id']}", f"/api/v1/indicators/{own['id']}/adjustments",
                 f"/api/v1/indicators/{own['id']}/events"):
        assert as_other_unit.get(path).status_code == 404
        assert as_unit.get(path).status_code == 200
    # only finance adjusts: a unit is refused for its kind, before anything is looked up
    assert adjusting(as_unit, own["id"], kind="freeze").status_code == 403
    assert adjusting(as_other_unit, own["id"], kind="freeze").status_code == 403


# --- bad input ----------------------------------------------------------------------------------------

def test_bad_adjustments_are_422_naming_the_field_and_nothing_is_written(as_city_finance):
    office_id = indicator_of(as_city_finance, "30201")["id"]
    cases = [
        ({"kind": "raise"}, "kind"),
        ({"kind": "adjust"}, "amount"),
        ({"kind": "adjust", "amount": "0.00"}, "amount"),
        ({"kind": "adjust", "amount": "1.234"}, "amount"),
        ({"kind": "adjust", "amount": 12.5}, "amount"),
        ({"kind": "adjust", "amount": "-30000.01"}, "amount"),
        ({"kind": "recover", "amount": "-1.00"}, "amount"),
        ({"kind": "recover", "amount": "30000.01"}, "amount"),
        ({"kind": "transfer", "amount": "1.00"}, "to_indicator_id"),
        ({"kind": "transfer", "amount": "1.00", "to_indicator_id": "9"}, "to_indicator_id"),
        ({"kind": "transfer", "amount": "1.00", "to_indicator_id": 999999}, "to_indicator_id"),
        ({"kind": "freeze", "amount": "1.00"}, "amount"),
    ]
    for body, field in cases:
        response = adjusting(as_city_finance, office_id, **body)
        assert response.status_code == 422, (body, response.json)
        assert field in response.json["errors"], (body, response.json)
    for missing in ("reason", "document_ref"):
        body = {**BASIS, "kind": "freeze"}
        del body[missing]
        response = as_city_finance.post(f"/api/v1/indicators/{office_id}/adjustments", json=body)
        assert response.status_code == 422 and response.json["errors"][missing] == ["required"]
    blank = adjusting(as_city_finance, office_id, kind="freeze", reason="   ")
    assert blank.status_code == 422 and "reason" in blank.json["errors"]
    assert adjusting(as_city_finance, 999999, kind="freeze").status_code == 404
    assert ledger_rows(office_id) == 0
    assert indicator_of(as_city_finance, "30201")["frozen"] is False


def test_bad_list_queries_are_422_naming_the_parameter(as_city_finance):
    for query, field in (("rate_below=abc", "rate_below"), ("rate_above=-1", "rate_above"),
                         ("rate_below=10.123", "rate_below"), ("sort=amount", "sort"),
                         ("sort=rate&cursor=bm90LWEtY3Vyc29y", "cursor"),
                         ("expenditure_kind=other", "expenditure_kind")):
        response = as_city_finance.get(f"/api/v1/indicators?{query}")
        assert response.status_code == 422, (query, response.json)
        assert field in response.json["errors"], (query, response.json)


# --- Art. 10(一): finance's own issuance -----------------------------------------------------------------

def _row(**over) -> dict:
    row = {"unit_code": UNIT, "year": 2022, "functional_code": "2010201", "economic_code": "30211",
           "fund_source": "general_budget", "expenditure_kind": "basic", "amount": "158000.00"}
    row.update(over)
    return row


def test_art10_1_indicators_issued_late_warn_the_issuing_finance_department_and_the_one_above_verifies(
        as_city_finance, as_finance, as_unit, as_competent):
    """Approved 2022-01-10; issued 2022-01-30 (20 days, in time) and 2022-03-01 (50 days, late:
    the default period is the Budget Law's 20 days)."""
    response = as_city_finance.post("/api/v1/indicators", json=[
        _row(approved_on="2022-01-10", issued_on="2022-01-30"),
        _row(economic_code="30201", amount="30000.00", approved_on="2022-01-10", issued_on="2022-03-01")])
    assert response.status_code == 201, response.json
    assert response.json["items"][1]["issued_on"] == "2022-03-01"
    warnings = as_city_finance.get("/api/v1/warnings?rule=late_issuance").json["items"]
    assert len(warnings) == 1
    warning = warnings[0]
    assert (warning["unit_code"], warning["level"], warning["article"], warning["payment"]) == (
        CITY_FINANCE, "warn", "第十条（一）1", None)
    assert "历时50日，超过20日" in warning["message"] and "30201" in warning["message"]
    assert "30211" not in warning["message"]
    # the province above sees it; the unit and its competent department do not
    assert as_finance.get(f"/api/v1/warnings/{warning['id']}").status_code == 200
    assert as_unit.get(f"/api/v1/warnings/{warning['id']}").status_code == 404
    assert as_competent.get(f"/api/v1/warnings/{warning['id']}").status_code == 404
    # both departments are told
    told = db.session.execute(sa.select(OutboxMessage.recipient_org_id).where(
        OutboxMessage.template == "issuance_warned")).scalars()
    assert set(told) == {org_by_code(CITY_FINANCE).id, org_by_code("650000-CZ").id}
    # the department concerned does not judge its own warning; the one above does
    assert as_city_finance.post(f"/api/v1/warnings/{warning['id']}/dismiss",
                                json={"reason": "已说明"}).status_code == 403
    assert as_city_finance.post(f"/api/v1/warnings/{warning['id']}/steps",
                                json={"kind": "phone", "summary": "电话核实"}).status_code == 403
    assert as_finance.post(f"/api/v1/warnings/{warning['id']}/confirm", json={"rung": "warning"}).status_code == 409
    # it explains, as a unit would; the department above may not answer in its place
    explained = as_city_finance.post(f"/api/v1/warnings/{warning['id']}/responses",
                                     json={"text": "人代会批准后进行了预算调整，指标延后下达"})
    assert explained.status_code == 201 and explained.json["kind"] == "explanation"
    assert as_finance.post(f"/api/v1/warnings/{warning['id']}/responses", json={"text": "代为说明"}).status_code == 403
    dismissed = as_finance.post(f"/api/v1/warnings/{warning['id']}/dismiss", json={"reason": "人大批准后预算调整，延期下达"})
    assert dismissed.status_code == 200, dismissed.json


def test_art10_1_the_period_is_a_setting_and_funds_from_above_have_their_own(app, as_city_finance):
    app.config["FUNDWATCH_ISSUANCE_DAYS"] = "10"
    as_city_finance.post("/api/v1/indicators", json=[
        _row(approved_on="2022-01-10", issued_on="2022-01-25"),
        # 上级专项: 30 days from receipt (Budget Law Art. 52), 25 days is in time
        _row(fund_source="higher_special", expenditure_kind="project", project="基层政协补助经费",
             functional_code="2010299", economic_code="30299", approved_on="2022-01-10", issued_on="2022-02-04")])
    messages = [w["message"] for w in as_city_finance.get("/api/v1/warnings?rule=late_issuance").json["items"]]
    assert len(messages) == 1 and "历时15日，超过10日" in messages[0] and "30299" not in messages[0]


def test_art10_1_2_project_funds_not_detailed_to_a_project_warn_the_issuer(as_city_finance):
    as_city_finance.post("/api/v1/indicators", json=[
        _row(expenditure_kind="project", functional_code="2010299", economic_code="30299", amount="50000.00"),
        _row(expenditure_kind="project", functional_code="2010299", economic_code="30299", amount="10000.00",
             project="群众联建工作经费")])
    warnings = as_city_finance.get("/api/v1/warnings?rule=project_not_detailed").json["items"]
    assert [(w["unit_code"], w["article"]) for w in warnings] == [(CITY_FINANCE, "第十条（一）2")]
    assert "50000.00元）为项目支出，未细化到具体项目" in warnings[0]["message"]
    assert as_city_finance.get("/api/v1/warnings?rule=late_issuance").json["items"] == []


def test_art10_1_a_csv_upload_carries_the_dates_and_an_empty_cell_is_no_date(as_city_finance):
    text = ("unit_code,year,functional_code,economic_code,fund_source,expenditure_kind,project,amount,"
            "approved_on,issued_on\n"
            f"{UNIT},2022,2010201,30211,general_budget,basic,,158000.00,2022-01-10,2022-02-20\n"
            f"{UNIT},2022,2010201,30201,general_budget,basic,,30000.00,,\n")
    response = as_city_finance.post("/api/v1/indicators", content_type="multipart/form-data",
                                    data={"file": (io.BytesIO(text.encode("gbk")), "指标.csv")})
    assert response.status_code == 201, response.json
    assert [(i["approved_on"], i["issued_on"]) for i in response.json["items"]] == [
        ("2022-01-10", "2022-02-20"), (None, None)]
    late = as_city_finance.get("/api/v1/warnings?rule=late_issuance").json["items"]
    assert len(late) == 1 and "历时41日" in late[0]["message"]


def test_art10_1_an_indicator_issued_before_its_approval_is_422(as_city_finance):
    response = as_city_finance.post("/api/v1/indicators", json=[_row(approved_on="2022-02-01", issued_on="2022-01-01")])
    assert response.status_code == 422
    assert "row 1.issued_on" in response.json["errors"]
    bad_date = as_city_finance.post("/api/v1/indicators", json=[_row(issued_on="2022-02-30")])
    assert bad_date.status_code == 422 and "row 1.issued_on" in bad_date.json["errors"]
    assert db.session.execute(sa.select(sa.func.count(MonitoringWarning.id))).scalar_one() == 0


# --- concurrency: an adjustment racing screening --------------------------------------------------------

def _post_in_thread(app, token: str, rows: list[dict], answers: list, errors: list) -> threading.Thread:
    def run():
        try:
            with app.app_context():
                answers.append(app.test_client().post("/api/v1/payments", json=rows,
                                                      headers={"Authorization": f"Bearer {token}"}))
                db.session.remove()
        except Exception as exc:  # surfaced by the test
            errors.append(exc)
    return threading.Thread(target=run)


def test_art14_a_payment_racing_an_uncommitted_cut_is_screened_against_the_cut_amount(app, demo):
    """Travel (30211) is cut from 158,000.00 to 10,000.00 in a transaction still open when a
    50,000.00 payment arrives: screening waits on the unit's lock and then reads the cut
    indicator, so the payment is over budget. Read before the lock, it would pass on 158,000.00."""
    travel = db.session.execute(sa.select(Indicator).where(Indicator.economic_code == "30211",
                                                           Indicator.unit_id == org_by_code(UNIT).id)).scalar_one()
    city = Actor.of(demo.users["city_finance"])
    adjust(city, travel.id, {"kind": "adjust", "amount": "-148000.00", **BASIS})  # not committed yet
    answers, errors = [], []
    racer = _post_in_thread(app, demo.tokens["city_finance"], [clean_transfer(amount="50000.00")], answers, errors)
    racer.start()
    racer.join(1.0)  # give it the time to reach the lock; the outcome does not depend on it
    db.session.commit()
    racer.join(60)
    assert errors == []
    assert "over_budget" in rules(answers[0].json["items"][0])


def test_art14_a_cut_racing_an_uncommitted_payment_counts_it_and_is_refused(app, demo):
    """The reverse: a 100,000.00 payment is screened in a transaction still open when finance
    cuts travel to 50,000.00: the cut waits for the payment and then refuses (409), counting it."""
    travel_id = db.session.execute(sa.select(Indicator.id).where(
        Indicator.economic_code == "30211", Indicator.unit_id == org_by_code(UNIT).id)).scalar_one()
    screen_payments(Actor.system(), [clean_transfer(amount="100000.00")])  # not committed yet
    answers, errors = [], []

    def cut():
        try:
            with app.app_context():
                answers.append(app.test_client().post(
                    f"/api/v1/indicators/{travel_id}/adjustments",
                    json={"kind": "adjust", "amount": "-108000.00", **BASIS},
                    headers={"Authorization": f"Bearer {demo.tokens['city_finance']}"}))
                db.session.remove()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    racer = threading.Thread(target=cut)
    racer.start()
    racer.join(1.0)  # give it the time to reach the lock; the outcome does not depend on it
    db.session.commit()
    racer.join(60)
    assert errors == []
    assert answers[0].status_code == 409, answers[0].json
    assert "spent 100000.00" in answers[0].json["message"]
    db.session.expire_all()
    assert str(db.session.get(Indicator, travel_id).amount) == "158000.00"


def test_art10_3_14_the_demo_shows_a_transfer_and_a_frozen_indicator(as_other_unit):
    """The demo's other unit: 10,000.00 moved from travel (30211) to office (30201), and its
    reception budget (30217) frozen by the city, so the ledger and the rule can be tried at once."""
    shown = {i["economic_code"]: i for i in as_other_unit.get("/api/v1/indicators").json["items"]}
    assert (shown["30211"]["amount"], shown["30201"]["amount"], shown["30217"]["frozen"]) == (
        "90000.00", "60000.00", True)
    ledger = as_other_unit.get(f"/api/v1/indicators/{shown['30217']['id']}/adjustments").json["items"]
    assert [(row["kind"], row["org_code"]) for row in ledger] == [("freeze", CITY_FINANCE)]

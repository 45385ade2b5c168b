"""The focus list (重点关注, Art. 11(二)4): units that trigger warnings often, seriously or for
large amounts, as candidates for a 关注函."""
import pytest
from verification_support import UNIT, cash_travel, clean_transfer, post_payments


@pytest.fixture
def three_cash_payments(as_city_finance):
    """Three held cash payments of 1,500 yuan: 6 warnings (3 blocking), 4,500 yuan flagged."""
    return post_payments(as_city_finance, [cash_travel() for _ in range(3)] + [clean_transfer()])


def focus(party, query=""):
    response = party.get(f"/api/v1/focus-list{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_art11_2_4_a_unit_is_listed_for_each_threshold_it_meets(app, as_city_finance, three_cash_payments):
    app.config.update(FUNDWATCH_FOCUS_MIN_WARNINGS=6, FUNDWATCH_FOCUS_MIN_BLOCKS=4,
                      FUNDWATCH_FOCUS_MIN_AMOUNT="4500.00", FUNDWATCH_FOCUS_DAYS=30)
    listed = focus(as_city_finance)
    assert listed["thresholds"] == {"days": 30, "min_warnings": 6, "min_blocks": 4, "min_amount": "4500.00"}
    [row] = listed["items"]
    assert (row["unit_code"], row["warnings"], row["block_warnings"], row["flagged_amount"]) == (UNIT, 6, 3, "4500.00")
    assert row["reasons"] == ["often", "large_amount"]


def test_art11_2_4_serious_means_many_blocking_warnings(as_city_finance, three_cash_payments):
    [row] = focus(as_city_finance, "?min_warnings=100&min_blocks=3&min_amount=999999.00")["items"]
    assert row["reasons"] == ["serious"]


def test_art11_2_4_a_unit_below_every_threshold_is_not_listed(as_city_finance, three_cash_payments):
    assert focus(as_city_finance, "?min_warnings=7&min_blocks=4&min_amount=4500.01")["items"] == []


def test_art11_2_4_dismissed_warnings_do_not_count(as_city_finance, three_cash_payments):
    first = three_cash_payments[0]["warnings"]
    for warning in first:
        as_city_finance.post(f"/api/v1/warnings/{warning['id']}/dismiss", json={"reason": "已批准"})
    [row] = focus(as_city_finance, "?min_warnings=1")["items"]
    assert (row["warnings"], row["block_warnings"], row["flagged_amount"]) == (4, 2, "3000.00")


def test_art11_2_4_the_list_keeps_to_the_callers_jurisdiction(as_county_finance, as_finance, three_cash_payments):
    assert focus(as_county_finance, "?min_warnings=1")["items"] == []
    assert [r["unit_code"] for r in focus(as_finance, "?min_warnings=1")["items"]] == [UNIT]


def test_art11_2_4_the_list_is_finance_only(as_unit, as_competent, as_bank):
    for party in (as_unit, as_competent, as_bank):
        assert party.get("/api/v1/focus-list").status_code == 403


def test_art11_2_4_the_last_focus_letter_is_shown(as_city_finance, three_cash_payments):
    warning_id = three_cash_payments[0]["warnings"][0]["id"]
    as_city_finance.post(f"/api/v1/warnings/{warning_id}/steps", json={"kind": "focus_letter"})
    [row] = focus(as_city_finance, "?min_warnings=1")["items"]
    assert row["last_focus_letter_at"] is not None

"""Decisions and public intake under real concurrency, on SQLite (one write lock) and
PostgreSQL (row locks) alike (ASVS 2.3.4; issue 16 item 2)."""
from race_support import race
from race_support import statuses as sorted_statuses
from verification_support import clean_transfer, count, held_payment, post_payments

from workflow.complaints import Complaint


def test_art11_3_two_officers_deciding_one_warning_at_once_one_wins(app, as_city_finance):
    """Confirm and dismiss race on one warning: the lock lets one decide, the other gets 409."""
    _, warning_id = held_payment(as_city_finance)
    headers = as_city_finance.headers
    statuses = sorted_statuses(race(app, [
        ("post", f"/api/v1/warnings/{warning_id}/confirm", headers, {"rung": "warning"}),
        ("post", f"/api/v1/warnings/{warning_id}/dismiss", headers, {"reason": "误报"})]))
    assert statuses in ([200, 409], [201, 409])


def test_art20_concurrent_reports_from_one_address_never_overshoot_the_limit(app, demo):
    app.config["FUNDWATCH_COMPLAINTS_PER_WINDOW"] = 3
    body = {"unit_code": "653000-301001", "description": "疑似违规发放津补贴"}
    statuses = sorted_statuses(race(app, [("post", "/api/v1/complaints", {}, body, {"REMOTE_ADDR": "203.0.113.50"})] * 6))
    assert statuses == [201, 201, 201, 429, 429, 429]
    assert count(Complaint) == 3


def test_art10_4_the_same_settlement_reported_twice_at_once_opens_one_case(app, as_city_finance, as_bank):
    from workflow.case_records import Case

    row = clean_transfer()
    post_payments(as_city_finance, [row])
    line = {"voucher_no": row["voucher_no"], "payer_account": row["payer_account"], "amount": "999.00",
            "payee_name": row["payee_name"], "payee_account": row["payee_account"], "paid_at": row["paid_at"]}
    statuses = sorted_statuses(race(app, [("post", "/api/v1/bank-settlements", as_bank.headers, [line])] * 2))
    assert statuses == [200, 200]
    assert count(Case, Case.machine == "bank_case") == 1

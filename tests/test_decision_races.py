"""Issue 16 item 2: every status decision is atomic on SQLite and PostgreSQL alike.

Sixteen requests decide the same thing at the same moment, each from its own thread and
database connection (race_support). Exactly one wins; the others get 409 naming the current
status; nothing is a 500; and the invariant of the decision holds afterwards, as
``audit verify`` checks it (workflow.invariants). Before the fix, SQLite let two workers both
read "open" and both decide: two cases from one warning, a warning dismissed with a case, a
complaint triaged twice, a 500 (IntegrityError) from a second bank refusal.
"""
from __future__ import annotations

import sqlalchemy as sa
from race_support import one_winner, race, statuses
from verification_support import (
    UNIT,
    clean_transfer,
    count,
    held_payment,
    outbox,
    payment_status,
    post_payments,
    warning_row,
)

from workflow.bank_intake import BankRefusal, BankReport
from workflow.case_records import Case
from workflow.db import db
from workflow.invariants import check_invariants
from workflow.journal import JournalEntry
from workflow.monitoring.models import MonitoringWarning, SpendingTotal

N = 16


def actions(stream: str) -> list[str]:
    db.session.expire_all()
    return list(db.session.execute(sa.select(JournalEntry.action).where(JournalEntry.stream == stream)
                                   .order_by(JournalEntry.seq)).scalars())


def spent() -> dict:
    db.session.expire_all()
    return {(r.unit_id, r.year, r.key): r.spent for r in db.session.execute(sa.select(SpendingTotal)).scalars()}


def no_violations():
    problems = list(check_invariants())
    assert problems == [], [str(p) for p in problems]


def test_art11_3_sixteen_confirmations_of_one_warning_open_one_case(app, as_city_finance):
    item, warning_id = held_payment(as_city_finance)
    cases = count(Case)
    answers = race(app, [("post", f"/api/v1/warnings/{warning_id}/confirm", as_city_finance.headers,
                          {"rung": "warning"})] * N)
    winner = one_winner(answers, 201)
    assert {tuple(a.json["errors"]["status"]) for a in answers if a.status == 409} == {("confirmed",)}
    assert count(Case) == cases + 1
    warning = warning_row(warning_id)
    assert (warning.status, warning.case_id) == ("confirmed", winner.json["id"])
    assert actions(f"warning:{warning_id}").count("confirmed") == 1
    assert payment_status(item["voucher_no"]) == "refused"
    assert actions(f"payment:{item['id']}").count("refused") == 1
    no_violations()


def test_art11_3_sixteen_dismissals_of_one_warning_dismiss_it_once(app, as_city_finance):
    item, warning_id = held_payment(as_city_finance)
    answers = race(app, [("post", f"/api/v1/warnings/{warning_id}/dismiss", as_city_finance.headers,
                          {"reason": "经核实系误报"})] * N)
    one_winner(answers, 200)
    assert actions(f"warning:{warning_id}").count("dismissed") == 1
    assert payment_status(item["voucher_no"]) == "accepted"
    assert actions(f"payment:{item['id']}").count("released") == 1
    assert len(outbox("warning_dismissed")) == 1
    no_violations()


def test_art11_3_confirm_and_dismiss_at_once_leave_one_consistent_decision(app, as_city_finance):
    _, warning_id = held_payment(as_city_finance)
    url = f"/api/v1/warnings/{warning_id}"
    cases = count(Case)
    answers = race(app, [("post", f"{url}/confirm", as_city_finance.headers, {"rung": "warning"}),
                         ("post", f"{url}/dismiss", as_city_finance.headers, {"reason": "误报"})] * (N // 2))
    won = [a.status for a in answers if a.status != 409]
    assert won in ([200], [201]) and statuses(answers).count(409) == N - 1
    warning = warning_row(warning_id)
    if won == [201]:
        assert warning.status == "confirmed" and warning.case_id is not None and count(Case) == cases + 1
    else:
        assert warning.status == "dismissed" and warning.case_id is None and count(Case) == cases
    no_violations()


def test_art11_2_steps_racing_a_dismissal_all_come_before_it(app, as_city_finance):
    """A step either lands before the decision (201) or is refused after it (409): never a
    step on a decided warning."""
    _, warning_id = held_payment(as_city_finance)
    url = f"/api/v1/warnings/{warning_id}"
    answers = race(app, [("post", f"{url}/steps", as_city_finance.headers, {"kind": "phone", "summary": "电话核实"}),
                         ("post", f"{url}/dismiss", as_city_finance.headers, {"reason": "误报"})] * (N // 2))
    steps, dismissals = answers[0::2], answers[1::2]
    one_winner(dismissals, 200)
    assert {a.status for a in steps} <= {201, 409}
    for answer in steps:
        if answer.status == 409:
            assert answer.json["errors"]["status"] == ["dismissed"]
    journal = actions(f"warning:{warning_id}")
    assert journal[-1] == "dismissed" and journal.count("dismissed") == 1
    assert journal.count("step_added") == [a.status for a in steps].count(201)
    no_violations()


def test_art27_3_answers_racing_a_confirmation_all_come_before_it(app, as_city_finance, as_unit):
    _, warning_id = held_payment(as_city_finance)
    url = f"/api/v1/warnings/{warning_id}"
    answers = race(app, [("post", f"{url}/responses", as_unit.headers, {"text": "系出差人员垫付，已补办公务卡"}),
                         ("post", f"{url}/confirm", as_city_finance.headers, {"rung": "warning"})] * (N // 2))
    responses, confirmations = answers[0::2], answers[1::2]
    one_winner(confirmations, 201)
    assert {a.status for a in responses} <= {201, 409}
    journal = actions(f"warning:{warning_id}")
    assert journal[-1] == "confirmed" and journal.count("confirmed") == 1
    assert journal.count("response_added") == [a.status for a in responses].count(201)
    no_violations()


def test_art20_sixteen_officers_triage_one_complaint_once(app, client, as_city_finance):
    complaint_id = client.post("/api/v1/complaints", json={"unit_code": UNIT, "description": "疑似违规发放津补贴"},
                               environ_base={"REMOTE_ADDR": "203.0.113.9"}).get_json()["id"]
    answers = race(app, [("post", f"/api/v1/complaints/{complaint_id}/triage", as_city_finance.headers,
                          {"into": "warning"})] * N)
    one_winner(answers, 200)
    assert {tuple(a.json["errors"]["status"]) for a in answers if a.status == 409} == {("warning",)}
    assert count(MonitoringWarning, MonitoringWarning.rule == "complaint") == 1
    assert actions(f"complaint:{complaint_id}").count("triaged") == 1
    no_violations()


def test_art28_3_sixteen_refusals_of_one_voucher_refuse_it_once(app, as_city_finance, as_bank):
    row = clean_transfer()
    [item] = post_payments(as_city_finance, [row])
    answers = race(app, [("post", "/api/v1/bank-refusals", as_bank.headers,
                          {"voucher_no": row["voucher_no"], "reason": "收款账户户名与预留信息不符"})] * N)
    one_winner(answers, 201)  # before: 500 (IntegrityError) for the second refusal
    assert count(BankRefusal) == 1
    assert actions(f"payment:{item['id']}").count("refused") == 1
    assert len(outbox("bank_refusal")) == 2  # finance and the unit, once
    no_violations()


def test_art10_4_6_sixteen_reports_of_one_voucher_open_one_warning(app, as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    answers = race(app, [("post", "/api/v1/bank-reports", as_bank.headers,
                          {"voucher_no": row["voucher_no"], "finding": "收款人与合同约定的供应商不一致"})] * N)
    one_winner(answers, 201)
    assert count(BankReport) == 1 and count(MonitoringWarning, MonitoringWarning.rule == "bank_report") == 1
    assert len(outbox("bank_report")) == 1
    assert payment_status(row["voucher_no"]) == "accepted"
    no_violations()


def test_art11_3_28_3_a_confirmation_and_a_bank_refusal_of_one_payment_take_it_out_of_the_totals_once(
        app, as_city_finance, as_bank):
    """The warning's confirmation refuses the held payment, and so does the bank's refusal:
    whichever comes first, the payment's amount leaves the running totals once."""
    before = spent()
    item, warning_id = held_payment(as_city_finance)
    assert spent() != before  # the held payment counts until it is refused
    answers = race(app, [("post", f"/api/v1/warnings/{warning_id}/confirm", as_city_finance.headers,
                          {"rung": "warning"}),
                         ("post", "/api/v1/bank-refusals", as_bank.headers,
                          {"voucher_no": item["voucher_no"], "reason": "现金超限"})] * (N // 2))
    confirmations, refusals = answers[0::2], answers[1::2]
    one_winner(confirmations, 201)
    assert statuses(refusals) in ([409] * (N // 2), [201] + [409] * (N // 2 - 1))
    assert payment_status(item["voucher_no"]) == "refused"
    assert actions(f"payment:{item['id']}").count("refused") == 1
    after = spent()
    assert all(after[key] == before.get(key, 0) for key in after), (before, after)
    no_violations()


def test_art22_sixteen_acknowledgements_of_one_notice_record_one(app, demo, as_unit):
    import datetime as dt

    from workflow.documents import issue_document
    from workflow.parties import Actor, org_by_code

    document = issue_document(Actor.system(), kind="interview_notice", issuer=org_by_code("653000-CZ"),
                              addressee=org_by_code(UNIT), context={
                                  "payment_date": "2026-02-27", "payee": "克州迎宾馆", "voucher_number": "ZF2026-000318",
                                  "summary": "接待费（现金）", "interview_date": "2026-03-06", "room": "财政局302室"},
                              now=dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc))
    db.session.commit()
    answers = race(app, [("post", f"/api/v1/documents/{document.id}/acknowledge", as_unit.headers, None)] * N)
    one_winner(answers, 200)
    assert all("acknowledged_at" in a.json["errors"] for a in answers if a.status == 409)
    assert actions(f"document:{document.id}").count("acknowledged") == 1
    no_violations()


def test_art16_sixteen_identical_payee_changes_are_journaled_once(app, as_unit):
    payee_id = as_unit.post("/api/v1/payees", json={
        "unit_code": UNIT, "id_number": "65300119800101001X", "name": "张三", "employer": "克州政协机关",
        "title": "科员", "account": "6217000000000001234"}).get_json()["id"]
    answers = race(app, [("patch", f"/api/v1/payees/{payee_id}", as_unit.headers,
                          {"account": "6217000000000009999"})] * N)
    assert statuses(answers) == [200] * N  # setting a value is idempotent: the later ones change nothing
    assert actions(f"payee:{payee_id}") == ["filed", "changed"]


def test_art13_1_sixteen_identical_account_changes_are_journaled_once(app, as_unit, as_city_finance):
    account_id = as_unit.post("/api/v1/accounts", json={
        "unit_code": UNIT, "bank_code": "BANK-ICBC-KZ", "number": "3009000109200099999",
        "kind": "special"}).get_json()["id"]
    answers = race(app, [("patch", f"/api/v1/accounts/{account_id}", as_city_finance.headers,
                          {"status": "suspended"})] * N)
    assert statuses(answers) == [200] * N
    assert actions(f"account:{account_id}") == ["recorded", "changed"]


def test_a_write_lock_sqlite_could_not_get_in_time_is_a_503_to_retry_not_a_500(as_city_finance, monkeypatch):
    """SQLite's "database is locked" (busy_timeout passed) means nothing was written: 503."""
    import sqlite3

    from workflow import verification

    def busy(*_args, **_kwargs):
        raise sa.exc.OperationalError("UPDATE journal_heads ...", {}, sqlite3.OperationalError("database is locked"))

    _, warning_id = held_payment(as_city_finance)
    monkeypatch.setattr(verification, "confirm", busy)
    response = as_city_finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert response.get_json()["code"] == 503
    assert warning_row(warning_id).status == "open"

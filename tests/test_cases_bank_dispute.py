"""Art. 24, second clause: an agent bank takes a dispute arising under its agency agreement
to arbitration or to court, as the agreement provides (代理银行……可依照代理协议的规定申请
仲裁或提起民事诉讼). The case's deadline pauses, keeping the working days left, as for a
unit's appeal; finance records the award or judgment: upheld, the case resumes on the rung
it left with those days; found for the bank, the case closes as revoked."""
from __future__ import annotations

import datetime as dt

import pytest
from cases_support import BANK, act, act_ok, actor, open_case, open_case_at, outbox_to, state_of, version_of, weeks_ago

from workflow import cases, deadlines
from workflow.case_records import Case
from workflow.db import db
from workflow.errors import Forbidden
from workflow.machines import MACHINES
from workflow.parties import Actor
from workflow.scheduling import DeadlineEffect, run_deadline_checks

FINANCE = "653000-CZ"
DISPUTE = {"forum": "arbitration", "tribunal": "克孜勒苏仲裁委员会", "filed_on": "2026-03-05",
           "reference": "克仲字〔2026〕第12号", "grounds": "扣减代理服务费超出代理协议第十二条约定的标准"}
RULING = {"decided_on": "2026-06-10", "ruling_number": "克仲裁字〔2026〕第12号", "ruling": "驳回申请人的仲裁请求"}
MONDAY = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc)
PARTIES = ("as_city_finance", "as_finance", "as_county_finance", "as_competent", "as_unit", "as_bank",
           "as_other_bank", "as_oversight")
SEES_BANK_CASE = ("as_city_finance", "as_finance", "as_bank")


def in_dispute_since(demo, opened: dt.datetime, filed: dt.datetime, rung: str = "refund_or_redo") -> int:
    case_id = open_case_at(demo, opened, rung)
    cases.apply_action(actor(demo, "bank"), case_id, "file_dispute", DISPUTE, now=filed)
    db.session.commit()
    return case_id


@pytest.mark.parametrize("forum", ["arbitration", "civil_suit"])
def test_art24_the_bank_files_a_dispute_and_the_deadline_pauses(as_city_finance, as_bank, forum):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    assert "file_dispute" in as_bank.get(f"/api/v1/cases/{case_id}").get_json()["allowed_actions"]
    case = act_ok(as_bank, case_id, "file_dispute", **{**DISPUTE, "forum": forum})
    assert case["state"] == "in_dispute" and case["rung"] == "refund_or_redo"
    assert case["deadline"] is None and case["deadline_paused_remaining"] == deadlines.default_period("bank_rectify")
    assert outbox_to(FINANCE, "dispute_filed", case_id) == 1
    [event] = [e for e in as_bank.get(f"/api/v1/cases/{case_id}/events").get_json()["items"]
               if e["trigger"] == "file_dispute"]
    assert {k: event["payload"][k] for k in DISPUTE} == {**DISPUTE, "forum": forum}


def test_art24_a_dispute_may_be_filed_from_every_rung_of_a_bank_case_but_not_under_review():
    machine = MACHINES["bank_case"]
    rungs = {s for s, spec in machine.states.items() if spec.kind == "rung"}
    assert machine.sources_of("file_dispute") == rungs == {"refund_or_redo", "transmission_fix",
                                                           "criticised_fee_deducted"}


def test_art24_a_dispute_needs_its_forum_tribunal_filing_date_and_grounds(as_city_finance, as_bank):
    case_id = open_case(as_city_finance, "transmission_fix")["id"]
    response = act(as_bank, case_id, "file_dispute", forum="mediation", filed_on="2026-02-30")
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"forum", "tribunal", "filed_on", "grounds"}
    assert state_of(case_id) == "transmission_fix"


def test_art24_only_the_bank_files_a_dispute_every_other_party_is_refused(request, demo, as_city_finance):
    """Finance sees the case and gets 403; parties that cannot see it get 404 (an
    unseen case and a missing one are indistinguishable); the system is refused too."""
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    state, version = state_of(case_id), version_of(case_id)
    for name in PARTIES:
        if name == "as_bank":
            continue
        response = act(request.getfixturevalue(name), case_id, "file_dispute", **DISPUTE)
        assert response.status_code == (403 if name in SEES_BANK_CASE else 404), (name, response.get_json())
    with pytest.raises(Forbidden):
        cases.apply_action(Actor.system(), case_id, "file_dispute", DISPUTE)
    db.session.rollback()
    assert (state_of(case_id), version_of(case_id)) == (state, version)


def test_art24_only_finance_records_the_outcome(request, as_city_finance, as_bank):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    act_ok(as_bank, case_id, "file_dispute", **DISPUTE)
    for trigger in ("uphold_after_dispute", "revoke_after_dispute"):
        for name in PARTIES:
            if name in ("as_city_finance", "as_finance"):
                continue
            response = act(request.getfixturevalue(name), case_id, trigger, **RULING)
            assert response.status_code == (403 if name in SEES_BANK_CASE else 404), (name, trigger)
    assert state_of(case_id) == "in_dispute"


def test_art24_upheld_resumes_the_rung_with_the_working_days_that_were_left(demo, as_bank):
    opened = MONDAY
    case_id = open_case_at(demo, opened, "refund_or_redo")
    case = db.session.get(Case, case_id)
    deadline = case.deadline
    assert deadline == deadlines.add_working_days(opened, deadlines.default_period("bank_rectify"))
    filed = opened + dt.timedelta(days=2)
    left = deadlines.working_days_between(filed, deadline)
    cases.apply_action(actor(demo, "bank"), case_id, "file_dispute", DISPUTE, now=filed)
    db.session.commit()
    assert case.deadline is None and case.deadline_paused_remaining == left == 3

    months_later = filed + dt.timedelta(days=100)
    cases.apply_action(actor(demo, "city_finance"), case_id, "uphold_after_dispute", RULING, now=months_later)
    db.session.commit()
    assert case.state == case.rung == "refund_or_redo"
    assert case.deadline == deadlines.add_working_days(months_later, left)
    assert case.deadline_paused_remaining is None and case.resume_state is None
    assert outbox_to(BANK, "case_action", case_id) == 1
    assert as_bank.get(f"/api/v1/cases/{case_id}").get_json()["allowed_actions"] == [
        "submit_rectification", "file_dispute"]


def test_art24_upheld_after_criticism_resumes_the_criticism_not_the_first_rung(demo, as_city_finance, as_bank):
    case_id = open_case(as_city_finance, "transmission_fix")["id"]
    act_ok(as_city_finance, case_id, "criticise_and_deduct_fee", grounds="not_rectified_in_time",
           fee_deduction="20000.00")
    act_ok(as_bank, case_id, "file_dispute", **DISPUTE)
    seen = as_city_finance.get(f"/api/v1/cases/{case_id}").get_json()
    assert seen["allowed_actions"] == ["uphold_after_dispute", "revoke_after_dispute"]
    case = act_ok(as_city_finance, case_id, "uphold_after_dispute", **RULING)
    assert case["state"] == "criticised_fee_deducted" and case["deadline"] is not None
    assert case["measures"]["criticise_and_deduct_fee"]["fee_deduction"] == "20000.00"


def test_art24_found_for_the_bank_closes_the_case_as_revoked(as_city_finance, as_bank):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    act_ok(as_city_finance, case_id, "criticise_and_deduct_fee", grounds="false_rectification",
           fee_deduction="5000.00")
    act_ok(as_bank, case_id, "file_dispute", **{**DISPUTE, "forum": "civil_suit", "tribunal": "阿图什市人民法院",
                                               "reference": "（2026）新3001民初45号"})
    case = act_ok(as_city_finance, case_id, "revoke_after_dispute", decided_on="2026-07-01",
                  ruling_number="（2026）新3001民初45号", ruling="撤销扣减代理服务费的处理")
    assert case["state"] == "closed_revoked" and case["resolution"] == "revoked"
    assert case["closed_at"] is not None and case["deadline"] is None
    assert as_bank.get(f"/api/v1/cases/{case_id}").get_json()["allowed_actions"] == []
    assert outbox_to(BANK, "case_action", case_id) >= 1


def test_art24_the_outcome_names_the_award_or_judgment(as_city_finance, as_bank):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    act_ok(as_bank, case_id, "file_dispute", **DISPUTE)
    response = act(as_city_finance, case_id, "uphold_after_dispute", ruling="驳回")
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"decided_on", "ruling_number"}


def test_art24_nothing_moves_the_case_while_the_dispute_runs(as_city_finance, as_bank):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    act_ok(as_bank, case_id, "file_dispute", **DISPUTE)
    assert act(as_city_finance, case_id, "criticise_and_deduct_fee", grounds="not_rectified_in_time",
               fee_deduction="1.00").status_code == 409
    assert act(as_bank, case_id, "submit_rectification", report="已退回").status_code == 409
    assert act(as_bank, case_id, "file_dispute", **DISPUTE).status_code == 409
    assert state_of(case_id) == "in_dispute"


def test_art24_a_paused_bank_case_is_neither_reminded_nor_marked_overdue(demo):
    case_id = in_dispute_since(demo, MONDAY, MONDAY + dt.timedelta(days=1))
    for days in (3, 5, 30, 200):
        result = run_deadline_checks(MONDAY + dt.timedelta(days=days))
        assert result.reminded == result.escalated == result.overdue == result.failed == [], days
    assert state_of(case_id) == "in_dispute"
    assert db.session.query(DeadlineEffect).filter_by(case_id=case_id).count() == 0
    assert outbox_to(FINANCE, "case_overdue", case_id) == outbox_to(BANK, "deadline_reminder", case_id) == 0


def test_art24_after_resumption_the_bank_is_reminded_and_finance_told_when_overdue_again(demo):
    case_id = in_dispute_since(demo, MONDAY, MONDAY + dt.timedelta(days=1))  # 4 working days kept
    resumed = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.timezone.utc)  # Monday 10:00 in Shanghai
    cases.apply_action(actor(demo, "city_finance"), case_id, "uphold_after_dispute", RULING, now=resumed)
    db.session.commit()
    deadline = db.session.get(Case, case_id).deadline
    assert deadline == deadlines.add_working_days(resumed, 4)

    reminded = run_deadline_checks(deadline - dt.timedelta(days=1, hours=12))
    assert reminded.reminded == [case_id]
    overdue = run_deadline_checks(deadline + dt.timedelta(seconds=1))
    assert overdue.overdue == [case_id] and overdue.escalated == []  # Art. 22: finance decides
    assert outbox_to(FINANCE, "case_overdue", case_id) == 1
    assert state_of(case_id) == "refund_or_redo"


def test_art24_a_dispute_filed_when_already_overdue_resumes_overdue(demo):
    opened = weeks_ago(8)
    case_id = open_case_at(demo, opened, "refund_or_redo")
    filed = weeks_ago(4)
    cases.apply_action(actor(demo, "bank"), case_id, "file_dispute", DISPUTE, now=filed)
    db.session.commit()
    case = db.session.get(Case, case_id)
    assert case.deadline_paused_remaining < 0
    cases.apply_action(actor(demo, "city_finance"), case_id, "uphold_after_dispute", RULING)
    db.session.commit()
    assert case.overdue is True


def test_art24_the_workflow_json_lists_the_dispute_rows_with_their_article(as_bank):
    body = as_bank.get("/api/v1/workflow/bank-case").get_json()
    rows = [t for t in body["transitions"] if t["article"] == "第二十四条"]
    assert [(t["trigger"], t["dest"]) for t in rows] == [
        ("file_dispute", "in_dispute"), ("uphold_after_dispute", "refund_or_redo"),
        ("uphold_after_dispute", "transmission_fix"), ("uphold_after_dispute", "criticised_fee_deducted"),
        ("revoke_after_dispute", "closed_revoked")]
    file_dispute = rows[0]
    assert file_dispute["roles"] == ["bank"] and file_dispute["effects"] == ["pause_deadline"]
    assert [(f["name"], f["required"]) for f in file_dispute["fields"]] == [
        ("forum", True), ("tribunal", True), ("filed_on", True), ("reference", False), ("grounds", True),
        ("note", False)]
    assert [c["value"] for c in file_dispute["fields"][0]["choices"]] == ["arbitration", "civil_suit"]
    assert all(t["roles"] == ["finance"] for t in rows[1:])
    assert [g["name"] for g in rows[1]["guards"]] == ["came_from_refund_or_redo"]
    states = {s["name"]: s for s in body["states"]}
    assert states["in_dispute"]["kind"] == "appeal" and states["closed_revoked"]["kind"] == "closed"


def test_art24_the_dispute_reuses_the_appeals_effects_and_guard():
    """One pause, one resume, one came_from: the same callables in both machines' tables."""
    unit, bank = MACHINES["unit_case"], MACHINES["bank_case"]
    assert unit.by_trigger["appeal"][0].effects == bank.by_trigger["file_dispute"][0].effects
    assert unit.by_trigger["uphold_after_appeal"][0].effects == bank.by_trigger["uphold_after_dispute"][0].effects
    assert unit.by_trigger["revoke_after_appeal"][0].effects[-1] is bank.by_trigger["revoke_after_dispute"][0].effects[0]

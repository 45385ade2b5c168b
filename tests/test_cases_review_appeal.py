"""Rectification and its review (Art. 21: the unit corrects and reports in writing with
evidence; finance accepts, or returns it with a new deadline, or moves it up), and the
appeal of Art. 24 (deadlines pause; upheld resumes with the time left, revoked closes)."""
from __future__ import annotations

import datetime as dt

import pytest
from cases_support import (
    COMPETENT,
    UNIT,
    act,
    act_ok,
    actor,
    attach_evidence,
    documents_of,
    open_case,
    open_case_at,
    outbox_to,
    state_of,
    weeks_ago,
)

from workflow import case_records, cases, deadlines
from workflow.case_records import Case
from workflow.db import db, utcnow
from workflow.errors import Conflict
from workflow.parties import Actor, org_by_code


def under_review(as_city_finance, as_unit, rung: str) -> int:
    case_id = open_case(as_city_finance, rung)["id"]
    attach_evidence(as_unit, case_id)
    act_ok(as_unit, case_id, "submit_rectification", report="已退回资金并调整账目")
    return case_id


# --- rectification -------------------------------------------------------------------------

def test_art21_1_rectification_is_reported_with_evidence(as_city_finance, as_unit):
    case_id = open_case(as_city_finance, "warning")["id"]
    response = act(as_unit, case_id, "submit_rectification", report="已纠正")
    assert response.status_code == 409
    assert "evidence" in response.get_json()["message"]
    attach_evidence(as_unit, case_id)
    case = act_ok(as_unit, case_id, "submit_rectification", report="已纠正")
    assert case["state"] == "under_review" and case["rung"] == "warning"
    assert case["deadline"] is None  # nothing is due from the unit while finance reviews
    assert outbox_to("653000-CZ", "unit_submission", case_id) == 1


def test_art21_evidence_of_finance_does_not_stand_for_the_units(as_city_finance, as_unit):
    case_id = open_case(as_city_finance, "warning")["id"]
    attach_evidence(as_city_finance, case_id, "财政部门核查记录")
    assert act(as_unit, case_id, "submit_rectification", report="已纠正").status_code == 409


@pytest.mark.parametrize("rung", ["warning", "decision", "order"])
def test_art21_rectification_submitted_on_any_rung_goes_to_finance_review(as_city_finance, as_unit, rung):
    case_id = under_review(as_city_finance, as_unit, rung)
    case = as_city_finance.get(f"/api/v1/cases/{case_id}").get_json()
    assert case["state"] == "under_review" and case["rung"] == rung
    assert set(case["allowed_actions"]) >= {"accept_rectification", "reject_rectification"}


@pytest.mark.parametrize("name", ["as_competent", "as_unit"])
def test_art21_only_finance_reviews_a_rectification(request, as_city_finance, as_unit, name):
    case_id = under_review(as_city_finance, as_unit, "warning")
    party = request.getfixturevalue(name)
    assert act(party, case_id, "accept_rectification").status_code == 403
    assert act(party, case_id, "reject_rectification", reason="材料不全").status_code == 403
    assert state_of(case_id) == "under_review"


def test_art21_only_the_unit_submits_its_rectification(as_city_finance, as_competent, as_unit):
    case_id = open_case(as_city_finance, "warning")["id"]
    attach_evidence(as_unit, case_id)
    for party in (as_city_finance, as_competent):
        assert act(party, case_id, "submit_rectification", report="代为提交").status_code == 403


def test_review_accepted_closes_the_case(as_city_finance, as_unit):
    case_id = under_review(as_city_finance, as_unit, "decision")
    case = act_ok(as_city_finance, case_id, "accept_rectification", note="整改到位")
    assert case["state"] == "closed_rectified" and case["resolution"] == "rectified"
    assert case["closed_at"] is not None and case["allowed_actions"] == ["refer"]


def test_review_accepted_lifts_a_suspension(demo, as_city_finance, as_unit):
    case_id = open_case_at(demo, weeks_ago(6), "order")
    act_ok(as_city_finance, case_id, "suspend_funds")
    unit_id = org_by_code(UNIT).id
    attach_evidence(as_unit, case_id)
    act_ok(as_unit, case_id, "submit_rectification", report="已全部整改")
    assert case_records.disbursement_suspended(unit_id) is True  # held while finance reviews
    act_ok(as_city_finance, case_id, "accept_rectification")
    assert case_records.disbursement_suspended(unit_id) is False


def test_review_rejected_returns_the_case_to_its_rung_with_a_new_deadline(frozen_clock, as_city_finance, as_unit):
    case_id = under_review(as_city_finance, as_unit, "order")
    case = act_ok(as_city_finance, case_id, "reject_rectification", reason="未提供退款凭证", deadline_days=3)
    assert case["state"] == "order"
    assert case["deadline"] == deadlines.add_working_days(utcnow(), 3).isoformat()
    assert outbox_to(UNIT, "case_action", case_id) >= 1


def test_review_rejected_without_a_period_gets_the_rungs_default(frozen_clock, as_city_finance, as_unit):
    case_id = under_review(as_city_finance, as_unit, "decision")
    case = act_ok(as_city_finance, case_id, "reject_rectification", reason="账目未调整")
    assert case["deadline"] == deadlines.add_working_days(utcnow(), deadlines.default_period("decision")).isoformat()


def test_art21_3_review_rejected_for_false_rectification_moves_up_to_a_written_order(as_city_finance, as_unit):
    case_id = under_review(as_city_finance, as_unit, "warning")
    case = act_ok(as_city_finance, case_id, "reject_and_escalate", reason="虚报整改情况")
    assert case["state"] == "order"
    assert documents_of(case_id)[-1].kind == "rectification_order"
    assert outbox_to(COMPETENT, "rectification_order_copy", case_id) == 1


def test_art21_4_review_rejected_on_an_order_suspends_funds(demo, as_city_finance, as_unit):
    case_id = open_case_at(demo, weeks_ago(6), "order")
    attach_evidence(as_unit, case_id)
    act_ok(as_unit, case_id, "submit_rectification", report="已整改")
    case = act_ok(as_city_finance, case_id, "reject_and_escalate", reason="不按要求整改")
    assert case["state"] == "funds_suspended" and case["funds_suspended"] is True


# --- Art. 24 appeal --------------------------------------------------------------------------

def test_art24_appeal_pauses_the_deadline_and_upheld_resumes_with_the_working_days_left(demo):
    unit, finance = actor(demo, "unit"), actor(demo, "city_finance")
    opened = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc)  # Monday
    case_id = open_case_at(demo, opened, "order")
    case = db.session.get(Case, case_id)
    deadline = case.deadline
    assert deadline == deadlines.add_working_days(opened, 15)
    appealed_at = opened + dt.timedelta(days=9)  # Wednesday of the second week
    left = deadlines.working_days_between(appealed_at, deadline)
    cases.apply_action(unit, case_id, "appeal", {"route": "reconsideration", "authority": "克州人民政府"},
                       now=appealed_at)
    db.session.commit()
    assert case.state == "appealed" and case.deadline is None and case.deadline_paused_remaining == left
    assert case.overdue is False

    months_later = appealed_at + dt.timedelta(days=90)
    with pytest.raises(Conflict):  # nothing escalates while the appeal runs
        cases.apply_action(Actor.system(), case_id, "escalate", {}, now=months_later)
    db.session.rollback()

    cases.apply_action(finance, case_id, "uphold_after_appeal", {"decided_on": "2026-06-10"}, now=months_later)
    db.session.commit()
    assert case.state == "order"
    assert case.deadline == deadlines.add_working_days(months_later, left)
    assert case.deadline_paused_remaining is None


def test_art24_appeal_through_the_api_pauses_and_upheld_resumes_on_the_rung_it_left(demo, as_city_finance, as_unit):
    case_id = open_case_at(demo, weeks_ago(6), "order")
    act_ok(as_city_finance, case_id, "suspend_funds")
    case = act_ok(as_unit, case_id, "appeal", route="litigation", authority="阿图什市人民法院", filed_on="2026-03-05")
    assert case["state"] == "appealed" and case["deadline"] is None
    assert case["deadline_paused_remaining"] is not None
    assert case_records.disbursement_suspended(org_by_code(UNIT).id) is True  # an appeal does not stay the measure
    case = act_ok(as_city_finance, case_id, "uphold_after_appeal")
    assert case["state"] == "funds_suspended" and case["deadline"] is not None


def test_art24_revoked_closes_the_case_as_revoked_and_lifts_the_suspension(demo, as_city_finance, as_unit):
    case_id = open_case_at(demo, weeks_ago(6), "order")
    act_ok(as_city_finance, case_id, "suspend_funds")
    act_ok(as_unit, case_id, "appeal", route="reconsideration", authority="克州人民政府")
    case = act_ok(as_city_finance, case_id, "revoke_after_appeal", decided_on="2026-05-01")
    assert case["state"] == "closed_revoked" and case["resolution"] == "revoked"
    assert case_records.disbursement_suspended(org_by_code(UNIT).id) is False


@pytest.mark.parametrize("name", ["as_city_finance", "as_competent"])
def test_art24_only_the_unit_appeals(request, as_city_finance, name):
    case_id = open_case(as_city_finance, "decision")["id"]
    response = act(request.getfixturevalue(name), case_id, "appeal", route="reconsideration", authority="克州人民政府")
    assert response.status_code == 403


def test_art24_only_finance_records_the_appeals_outcome(as_city_finance, as_unit, as_competent):
    case_id = open_case(as_city_finance, "decision")["id"]
    act_ok(as_unit, case_id, "appeal", route="reconsideration", authority="克州人民政府")
    for party in (as_unit, as_competent):
        assert act(party, case_id, "uphold_after_appeal").status_code == 403
        assert act(party, case_id, "revoke_after_appeal").status_code == 403


def test_art24_a_warning_by_phone_is_not_a_decision_to_appeal(as_city_finance, as_unit):
    case_id = open_case(as_city_finance, "warning")["id"]
    response = act(as_unit, case_id, "appeal", route="reconsideration", authority="克州人民政府")
    assert response.status_code == 409

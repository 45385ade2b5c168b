"""The agent-bank ladder, Art. 22: refund or redo (一), transmission fix (二), criticism
with a fee deduction and finally termination of the agency agreement (三); the bank
reports its rectification and finance reviews it."""
from __future__ import annotations

import datetime as dt

import pytest
from cases_support import (
    BANK,
    act,
    act_ok,
    attach_evidence,
    documents_of,
    open_case,
    open_case_at,
    outbox_to,
    state_of,
    version_of,
    weeks_ago,
)

from workflow import cases
from workflow.case_records import Case
from workflow.db import db
from workflow.errors import NotFound
from workflow.parties import Actor

BANK_PARTIES = ("as_city_finance", "as_finance", "as_bank")  # who sees a case against BANK


def refused_to_others(request, case_id: int, trigger: str, allowed: tuple[str, ...], **fields) -> None:
    state, version = state_of(case_id), version_of(case_id)
    for name in ("as_city_finance", "as_finance", "as_county_finance", "as_competent", "as_unit", "as_bank",
                 "as_other_bank", "as_oversight"):
        if name in allowed:
            continue
        response = act(request.getfixturevalue(name), case_id, trigger, **fields)
        assert response.status_code == (403 if name in BANK_PARTIES else 404), (name, response.get_json())
    assert (state_of(case_id), version_of(case_id)) == (state, version)


def test_art22_1_illegal_payment_opens_a_refund_case_with_a_rectification_notice(as_city_finance, as_bank):
    case = open_case(as_city_finance, "refund_or_redo")
    assert case["machine"] == "bank_case" and case["state"] == "refund_or_redo"
    assert case["subject"]["code"] == BANK
    [notice] = documents_of(case["id"])
    assert notice.kind == "bank_rectification_notice" and notice.context["ground"] == "payment"
    assert notice.context["amount"] == "5000.00"
    assert outbox_to(BANK, "case_opened", case["id"]) == 1
    seen = as_bank.get(f"/api/v1/cases/{case['id']}").get_json()
    assert seen["allowed_actions"] == ["submit_rectification", "file_dispute"]


def test_art22_2_missing_transmission_opens_a_case_to_fix_it_at_once(as_city_finance):
    case = open_case(as_city_finance, "transmission_fix")
    assert case["state"] == "transmission_fix" and case["deadline"] is not None
    assert documents_of(case["id"])[0].context["ground"] == "transmission"


def test_art22_a_bank_case_is_opened_only_against_a_bank(as_city_finance):
    response = as_city_finance.post("/api/v1/cases", json={
        "machine": "bank_case", "subject": "653000-301001", "rung": "refund_or_redo",
        "fields": {"summary": "x", "measures": ["refund"]}})
    assert response.status_code == 422


def test_art22_3_finance_criticises_and_deducts_the_agency_fee(as_city_finance):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    case = act_ok(as_city_finance, case_id, "criticise_and_deduct_fee", grounds="not_rectified_in_time",
                  fee_deduction="20000.00", evaluation="2026年度综合考评扣分")
    assert case["state"] == "criticised_fee_deducted"
    assert case["measures"]["criticise_and_deduct_fee"]["fee_deduction"] == "20000.00"
    notice = documents_of(case_id)[-1]
    assert notice.kind == "bank_criticism_notice" and notice.context["fee_deduction"] == "20000.00"


def test_art22_3_criticism_is_refused_to_every_other_party(request, as_city_finance):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    refused_to_others(request, case_id, "criticise_and_deduct_fee", ("as_city_finance", "as_finance"),
                      grounds="false_rectification", fee_deduction="100.00")


def test_art22_3_fee_deduction_is_an_exact_amount(as_city_finance):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    response = act(as_city_finance, case_id, "criticise_and_deduct_fee", grounds="false_rectification",
                   fee_deduction="100.005")
    assert response.status_code == 422
    assert "fee_deduction" in response.get_json()["errors"]


def test_art22_bank_reports_rectification_and_finance_accepts(as_city_finance, as_bank):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    attach_evidence(as_bank, case_id, "已按原渠道退回5000.00元，回单附后。")
    case = act_ok(as_bank, case_id, "submit_rectification", report="已退回", refunded_amount="5000.00")
    assert case["state"] == "under_review"
    case = act_ok(as_city_finance, case_id, "accept_rectification")
    assert case["state"] == "closed" and case["resolution"] == "rectified"


def test_art22_rectification_is_submitted_by_the_bank_only(request, as_city_finance, as_bank):
    case_id = open_case(as_city_finance, "transmission_fix")["id"]
    attach_evidence(as_bank, case_id)
    refused_to_others(request, case_id, "submit_rectification", ("as_bank",), report="已修复")


def test_art22_3_rectification_rejected_as_false_leads_to_criticism(as_city_finance, as_bank):
    case_id = open_case(as_city_finance, "transmission_fix")["id"]
    attach_evidence(as_bank, case_id)
    act_ok(as_bank, case_id, "submit_rectification", report="已修复")
    case = act_ok(as_city_finance, case_id, "reject_and_escalate", reason="虚报整改情况", fee_deduction="5000.00")
    assert case["state"] == "criticised_fee_deducted"


def test_art22_rectification_rejected_returns_to_the_rung_with_a_new_deadline(as_city_finance, as_bank):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    attach_evidence(as_bank, case_id)
    act_ok(as_bank, case_id, "submit_rectification", report="已退回")
    case = act_ok(as_city_finance, case_id, "reject_rectification", reason="未赔偿损失", deadline_days=2)
    assert case["state"] == "refund_or_redo" and case["deadline"] is not None


def test_art22_3_agreement_is_terminated_only_after_the_criticism_deadline(demo, as_city_finance):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    act_ok(as_city_finance, case_id, "criticise_and_deduct_fee", grounds="not_rectified_in_time",
           fee_deduction="1000.00")
    response = act(as_city_finance, case_id, "terminate_agreement", effective_date="2026-12-31")
    assert response.status_code == 409


def test_art22_3_finance_terminates_the_agency_agreement(demo, as_city_finance, as_bank):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    act_ok(as_city_finance, case_id, "criticise_and_deduct_fee", grounds="not_rectified_in_time",
           fee_deduction="1000.00", deadline_days=1)
    case = db.session.get(Case, case_id)
    after_the_deadline = case.deadline + dt.timedelta(seconds=1)
    cases.apply_action(Actor.of(as_city_finance.user), case_id, "terminate_agreement",
                       {"effective_date": "2027-01-01", "agreement": "国库集中支付代理协议（2021）第3号"},
                       now=after_the_deadline)
    db.session.commit()
    assert case.state == "agreement_terminated" and case.resolution == "agreement_terminated"
    assert documents_of(case_id)[-1].kind == "agreement_termination_notice"
    assert as_bank.get(f"/api/v1/cases/{case_id}").get_json()["allowed_actions"] == []


def test_art22_bank_cases_are_not_escalated_automatically(demo):
    case_id = open_case_at(demo, weeks_ago(8), "refund_or_redo")
    case = db.session.get(Case, case_id)
    assert cases.escalation_target(case) is None
    assert cases.proposed_action(case) == "criticise_and_deduct_fee"
    with pytest.raises(NotFound):
        cases.apply_action(Actor.system(), case_id, "escalate", {})


@pytest.mark.parametrize("name", ["as_other_bank", "as_unit", "as_competent", "as_county_finance", "as_oversight"])
def test_art22_a_bank_case_is_seen_by_the_bank_and_finance_only(request, as_city_finance, name):
    case_id = open_case(as_city_finance, "refund_or_redo")["id"]
    assert request.getfixturevalue(name).get(f"/api/v1/cases/{case_id}").status_code == 404

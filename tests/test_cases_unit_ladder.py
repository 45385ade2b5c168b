"""The budget-unit ladder, Art. 21 (一)-(五) and Art. 23: each rung is reached by the
party the regulation names (finance; the bank for the closure it executes; the
scheduler for escalation) and refused to every other party: 403 to a party that can see
the case, 404 to one that cannot."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from cases_support import (
    ALL_PARTIES,
    BANK,
    COMPETENT,
    FINANCE_IN_CHARGE,
    OTHER_BANK,
    OVERSIGHT,
    SEES_UNIT_CASE,
    UNIT,
    UNIT_ACCOUNTS,
    act,
    act_ok,
    documents_of,
    open_case,
    open_case_at,
    outbox_to,
    state_of,
    version_of,
    weeks_ago,
)

from workflow import budget, case_records, cases, deadlines
from workflow.accounts import BankAccount
from workflow.db import db, utcnow
from workflow.errors import Conflict
from workflow.parties import Actor, org_by_code

ONE_SECOND = dt.timedelta(seconds=1)


def refused_to_others(request, case_id: int, trigger: str, allowed: tuple[str, ...], **fields) -> None:
    """Every demo party but ``allowed`` is refused, and the case does not move."""
    state, version = state_of(case_id), version_of(case_id)
    for name in ALL_PARTIES:
        if name in allowed:
            continue
        party = request.getfixturevalue(name)
        response = act(party, case_id, trigger, **fields)
        expected = 403 if name in SEES_UNIT_CASE else 404
        assert response.status_code == expected, (name, response.get_json())
    assert (state_of(case_id), version_of(case_id)) == (state, version)


# --- Art. 21(一) warning ------------------------------------------------------------------

def test_art21_1_finance_opens_a_warning_with_a_deadline_of_working_days(frozen_clock, as_city_finance):
    case = open_case(as_city_finance, "warning")
    assert case["state"] == case["rung"] == "warning"
    assert case["version"] == 1
    created = utcnow()
    assert case["deadline"] == deadlines.add_working_days(created, deadlines.default_period("warning")).isoformat()
    assert case["deadline"].endswith("+08:00")
    assert case["overdue"] is False
    assert set(case["allowed_actions"]) == {"issue_decision", "issue_order", "publish_notice", "refer"}


@pytest.mark.parametrize("name", ["as_competent", "as_unit", "as_bank", "as_oversight"])
def test_art21_only_finance_opens_a_case(request, demo, name):
    party = request.getfixturevalue(name)
    response = party.post("/api/v1/cases", json={"machine": "unit_case", "subject": UNIT, "rung": "warning",
                                                 "fields": {"summary": "现金支付超限"}})
    assert response.status_code == 403


def test_art21_finance_opens_cases_only_in_its_jurisdiction(as_county_finance):
    response = as_county_finance.post("/api/v1/cases", json={"machine": "unit_case", "subject": UNIT,
                                                             "rung": "warning", "fields": {"summary": "现金支付超限"}})
    assert response.status_code == 422
    assert "subject" in response.get_json()["errors"]


def test_art21_opening_needs_the_rungs_fields(as_city_finance):
    response = as_city_finance.post("/api/v1/cases", json={"machine": "unit_case", "subject": UNIT,
                                                           "rung": "decision", "fields": {"summary": "超预算"}})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"measures": ["required"]}


# --- Art. 21(二) handling decision ----------------------------------------------------------

def test_art21_2_finance_makes_a_handling_decision_with_its_numbered_notice(as_city_finance, as_unit):
    case_id = open_case(as_city_finance, "warning")["id"]
    case = act_ok(as_city_finance, case_id, "issue_decision", measures=["return_funds", "complete_procedures"],
                  amount="1500.00", deadline_days=7)
    assert case["state"] == "decision"
    assert case["version"] == 2
    [document] = documents_of(case_id)
    assert document.kind == "handling_decision"
    assert document.context["measures"] == ["退回违规资金", "补办手续"]
    assert document.context["amount"] == "1500.00"
    assert outbox_to(UNIT, "case_action", case_id) == 1


def test_art21_2_handling_decision_is_refused_to_every_other_party(request, as_city_finance):
    case_id = open_case(as_city_finance, "warning")["id"]
    refused_to_others(request, case_id, "issue_decision", FINANCE_IN_CHARGE, measures=["return_funds"])



# --- Art. 21(三) written rectification order ------------------------------------------------

def test_art21_3_written_order_copies_competent_department(frozen_clock, as_city_finance, as_competent):
    case_id = open_case(as_city_finance, "decision")["id"]
    case = act_ok(as_city_finance, case_id, "issue_order", grounds="refused_decision",
                  requirements=["十日内退回违规资金"])
    assert case["state"] == "order"
    assert [d.kind for d in documents_of(case_id)] == ["handling_decision", "rectification_order"]
    order = documents_of(case_id)[-1]
    assert order.context["deadline"] == deadlines.add_working_days(utcnow(), 15).date().isoformat()
    assert outbox_to(COMPETENT, "rectification_order_copy", case_id) == 1
    party = [p for p in db.session.get(case_records.Case, case_id).parties]
    assert [(p.org.code, p.role) for p in party] == [(COMPETENT, "copied")]
    seen = as_competent.get(f"/api/v1/cases/{case_id}")
    assert seen.status_code == 200 and seen.get_json()["state"] == "order"


def test_art21_3_written_order_is_refused_to_every_other_party(request, as_city_finance):
    case_id = open_case(as_city_finance, "warning")["id"]
    refused_to_others(request, case_id, "issue_order", FINANCE_IN_CHARGE, grounds="not_corrected_in_time")


def test_art21_3_written_order_states_its_grounds(as_city_finance):
    case_id = open_case(as_city_finance, "warning")["id"]
    response = act(as_city_finance, case_id, "issue_order", grounds="because")
    assert response.status_code == 422
    assert "grounds" in response.get_json()["errors"]


# --- Art. 21(四) funds suspended, accounts closed --------------------------------------------

def test_art21_4_funds_are_suspended_only_once_the_orders_deadline_has_passed(as_city_finance):
    case_id = open_case(as_city_finance, "order")["id"]
    response = act(as_city_finance, case_id, "suspend_funds")
    assert response.status_code == 409
    assert "deadline" in response.get_json()["message"]
    assert state_of(case_id) == "order"


def test_art21_4_finance_suspends_disbursement_after_the_order_deadline(demo, as_city_finance, as_unit):
    case_id = open_case_at(demo, weeks_ago(6), "order")
    unit = org_by_code(UNIT)
    assert case_records.disbursement_suspended(unit.id) is False
    case = act_ok(as_city_finance, case_id, "suspend_funds")
    assert case["state"] == "funds_suspended" and case["funds_suspended"] is True
    assert case_records.disbursement_suspended(unit.id) is True
    assert case_records.disbursement_suspended(org_by_code("653000-302001").id) is False
    assert outbox_to(BANK, "suspension_to_execute", case_id) == 1


def test_art21_4_suspension_is_refused_to_every_other_party(request, demo):
    case_id = open_case_at(demo, weeks_ago(6), "order")
    refused_to_others(request, case_id, "suspend_funds", FINANCE_IN_CHARGE)


def test_art21_4_bank_confirms_account_closure_and_the_accounts_close(demo, as_city_finance, as_bank):
    case_id = open_case_at(demo, weeks_ago(6), "order")
    assert as_bank.get(f"/api/v1/cases/{case_id}").status_code == 404
    case = act_ok(as_city_finance, case_id, "close_accounts")
    assert case["state"] == "accounts_closing"
    statuses = lambda: dict(db.session.execute(sa.select(BankAccount.number, BankAccount.status).where(  # noqa: E731
        BankAccount.number.in_(UNIT_ACCOUNTS))).all())
    assert set(statuses().values()) == {"active"}  # not closed until the bank confirms
    assert outbox_to(BANK, "account_closure_to_execute", case_id) == 1
    seen = as_bank.get(f"/api/v1/cases/{case_id}").get_json()
    assert seen["allowed_actions"] == ["confirm_account_closure"]
    case = act_ok(as_bank, case_id, "confirm_account_closure", note="已办理销户")
    assert case["state"] == "accounts_closed"
    db.session.expire_all()
    assert statuses() == {number: "closed" for number in UNIT_ACCOUNTS}


def test_art21_4_with_accounts_at_two_banks_the_case_moves_when_the_last_bank_confirms(
        demo, as_city_finance, as_bank, as_other_bank):
    budget.register_account(Actor.system(), {"unit_code": UNIT, "bank_code": OTHER_BANK, "kind": "real_fund",
                                             "number": "6501000200300099999", "registered": True})
    case_id = open_case_at(demo, weeks_ago(6), "order")
    act_ok(as_city_finance, case_id, "close_accounts")
    assert outbox_to(OTHER_BANK, "account_closure_to_execute", case_id) == 1
    case = act_ok(as_bank, case_id, "confirm_account_closure")
    assert case["state"] == "accounts_closing"  # the other bank has yet to confirm
    response = act(as_bank, case_id, "confirm_account_closure")
    assert response.status_code == 409  # its own part is done
    case = act_ok(as_other_bank, case_id, "confirm_account_closure")
    assert case["state"] == "accounts_closed"
    statuses = db.session.execute(sa.select(BankAccount.status).where(
        BankAccount.unit_id == org_by_code(UNIT).id)).scalars().all()
    assert statuses == ["closed"] * 3


def test_art21_4_closure_names_the_accounts_it_closes(demo, as_city_finance, as_bank):
    case_id = open_case_at(demo, weeks_ago(6), "order")
    act_ok(as_city_finance, case_id, "close_accounts", accounts=[UNIT_ACCOUNTS[1]])
    act_ok(as_bank, case_id, "confirm_account_closure")
    status = dict(db.session.execute(sa.select(BankAccount.number, BankAccount.status)).all())
    assert status[UNIT_ACCOUNTS[1]] == "closed" and status[UNIT_ACCOUNTS[0]] == "active"


def test_art21_4_closure_of_another_units_account_is_refused(demo, as_city_finance):
    case_id = open_case_at(demo, weeks_ago(6), "order")
    response = act(as_city_finance, case_id, "close_accounts", accounts=["6501000200300045678"])
    assert response.status_code == 422
    assert "accounts" in response.get_json()["errors"]


def test_art21_4_only_the_bank_holding_the_accounts_confirms_their_closure(
        request, demo, as_city_finance, as_other_bank, as_unit, as_competent):
    case_id = open_case_at(demo, weeks_ago(6), "order")
    act_ok(as_city_finance, case_id, "close_accounts")
    assert act(as_other_bank, case_id, "confirm_account_closure").status_code == 404
    for party in (as_city_finance, as_unit, as_competent):
        assert act(party, case_id, "confirm_account_closure").status_code == 403
    # The bank sees the case now, and is refused finance's actions on it.
    assert act(request.getfixturevalue("as_bank"), case_id, "publish_notice", scope="competent").status_code == 403
    assert state_of(case_id) == "accounts_closing"


# --- escalation by the scheduler once a deadline has passed ------------------------------------

def test_escalation_by_the_system_waits_for_the_deadline(demo):
    case_id = open_case_at(demo, utcnow(), "warning")
    with pytest.raises(Conflict, match="deadline"):
        cases.apply_action(Actor.system(), case_id, "escalate", {})
    db.session.rollback()
    assert state_of(case_id) == "warning"


def test_escalation_by_the_system_climbs_the_ladder_one_rung_per_passed_deadline(demo):
    opened = weeks_ago(30)
    case_id = open_case_at(demo, opened, "warning")
    case = db.session.get(case_records.Case, case_id)
    climbed = ["warning"]
    now = opened
    while cases.escalation_target(case) is not None:
        now = case.deadline + ONE_SECOND
        target = cases.escalation_target(case)
        cases.apply_action(Actor.system(), case_id, "escalate", {}, now=now)
        db.session.commit()
        assert case.state == target
        climbed.append(case.state)
    assert climbed == ["warning", "order", "funds_suspended", "accounts_closing"]
    assert case_records.disbursement_suspended(case.subject_id) is True
    assert [d.kind for d in documents_of(case_id)] == ["rectification_order", "handling_decision",
                                                       "handling_decision"]
    assert outbox_to(COMPETENT, "rectification_order_copy", case_id) == 1


def test_escalation_is_refused_to_every_party_but_the_system(request, demo):
    case_id = open_case_at(demo, weeks_ago(6), "warning")
    refused_to_others(request, case_id, "escalate", ())



# --- Art. 21(五) public notice ------------------------------------------------------------------

@pytest.mark.parametrize("rung", ["warning", "decision", "order"])
def test_art21_5_public_notice_is_issued_on_any_rung_without_moving_the_case(as_city_finance, rung):
    case = open_case(as_city_finance, rung)
    after = act_ok(as_city_finance, case["id"], "publish_notice", scope="region_units")
    assert after["state"] == rung and after["deadline"] == case["deadline"]
    assert after["version"] == case["version"] + 1
    notice = documents_of(case["id"])[-1]
    assert notice.kind == "public_notice" and notice.context["scope"] == "本地区（案件所属财政部门管辖范围内）各部门、各单位"


def test_art21_5_public_notice_is_refused_to_every_other_party(request, as_city_finance):
    case_id = open_case(as_city_finance, "order")["id"]
    refused_to_others(request, case_id, "publish_notice", FINANCE_IN_CHARGE, scope="competent")


# --- Art. 23 referral ------------------------------------------------------------------------------

def test_art23_referral_shows_the_case_to_that_oversight_body(as_city_finance, as_oversight):
    case_id = open_case(as_city_finance, "order")["id"]
    assert as_oversight.get(f"/api/v1/cases/{case_id}").status_code == 404
    case = act_ok(as_city_finance, case_id, "refer", oversight=OVERSIGHT, reason="违规金额较大，情节严重")
    assert case["state"] == "order"
    letter = documents_of(case_id)[-1]
    assert letter.kind == "referral_letter" and letter.addressee.code == OVERSIGHT
    assert outbox_to(OVERSIGHT, "referral", case_id) == 1
    seen = as_oversight.get(f"/api/v1/cases/{case_id}").get_json()
    assert seen["allowed_actions"] == ["record_findings"]
    act_ok(as_oversight, case_id, "record_findings", findings="列为重点监督检查对象")
    assert act(as_oversight, case_id, "suspend_funds").status_code == 403


def test_art23_a_case_is_referred_to_the_same_body_once(as_city_finance):
    case_id = open_case(as_city_finance, "order")["id"]
    act_ok(as_city_finance, case_id, "refer", oversight=OVERSIGHT, reason="情节严重")
    response = act(as_city_finance, case_id, "refer", oversight=OVERSIGHT, reason="再次移送")
    assert response.status_code == 409


def test_art23_referral_goes_only_to_an_oversight_body(as_city_finance):
    case_id = open_case(as_city_finance, "order")["id"]
    response = act(as_city_finance, case_id, "refer", oversight=COMPETENT, reason="情节严重")
    assert response.status_code == 422
    assert "oversight" in response.get_json()["errors"]


def test_art23_referral_is_refused_to_every_other_party(request, as_city_finance):
    case_id = open_case(as_city_finance, "order")["id"]
    refused_to_others(request, case_id, "refer", FINANCE_IN_CHARGE, oversight=OVERSIGHT, reason="严重")

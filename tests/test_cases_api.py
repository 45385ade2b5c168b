"""The case API: who sees which case (ASVS 8.2.2), the case's shape, list filters and
keyset pagination, and the checks every action passes (version, state, fields)."""
from __future__ import annotations

import datetime as dt

import pytest
from cases_support import OTHER_UNIT, UNIT, act, act_ok, open_case, open_case_at, state_of, version_of, weeks_ago

from workflow import cases
from workflow.case_records import Case
from workflow.db import db
from workflow.machines import UNIT_CASE

# --- visibility ------------------------------------------------------------------------------

@pytest.mark.parametrize("name,status", [
    ("as_city_finance", 200), ("as_finance", 200), ("as_competent", 200), ("as_unit", 200),
    ("as_county_finance", 404), ("as_other_competent", 404), ("as_other_unit", 404), ("as_bank", 404),
    ("as_other_bank", 404), ("as_oversight", 404),
])
def test_a_unit_case_is_seen_by_finance_in_charge_the_unit_and_its_department(request, as_city_finance, name,
                                                                               status):
    case_id = open_case(as_city_finance, "warning")["id"]
    assert request.getfixturevalue(name).get(f"/api/v1/cases/{case_id}").status_code == status


def test_another_units_case_is_absent_from_lists_and_answers_404(as_city_finance, as_unit, as_other_unit):
    mine = open_case(as_city_finance, "warning")["id"]
    theirs = open_case(as_city_finance, "warning", subject=OTHER_UNIT)["id"]
    assert [c["id"] for c in as_unit.get("/api/v1/cases").get_json()["items"]] == [mine]
    assert [c["id"] for c in as_other_unit.get("/api/v1/cases").get_json()["items"]] == [theirs]
    assert as_unit.get(f"/api/v1/cases/{theirs}").status_code == 404
    assert as_unit.get(f"/api/v1/cases/{theirs}/events").status_code == 404
    assert act(as_unit, theirs, "submit_rectification", report="x").status_code == 404


def test_a_missing_case_answers_like_a_hidden_one(as_city_finance):
    response = as_city_finance.get("/api/v1/cases/999999")
    assert response.status_code == 404


# --- the case's shape --------------------------------------------------------------------------

def test_a_case_answers_with_state_deadline_version_and_the_callers_actions(as_city_finance, as_unit, as_competent):
    case_id = open_case(as_city_finance, "order")["id"]
    finance_view = as_city_finance.get(f"/api/v1/cases/{case_id}").get_json()
    assert {"id", "machine", "subject", "state", "rung", "deadline", "overdue", "version",
            "allowed_actions"} <= set(finance_view)
    assert finance_view["subject"]["code"] == UNIT
    assert isinstance(finance_view["version"], int)
    assert dt.datetime.fromisoformat(finance_view["deadline"]).utcoffset() == dt.timedelta(hours=8)
    assert finance_view["allowed_actions"] == ["publish_notice", "refer"]
    assert as_unit.get(f"/api/v1/cases/{case_id}").get_json()["allowed_actions"] == ["submit_rectification",
                                                                                     "appeal"]
    assert as_competent.get(f"/api/v1/cases/{case_id}").get_json()["allowed_actions"] == []


def test_allowed_actions_follow_the_clock_for_deadline_guards(demo, as_city_finance):
    case_id = open_case_at(demo, weeks_ago(6), "order")
    case = as_city_finance.get(f"/api/v1/cases/{case_id}").get_json()
    assert case["overdue"] is True
    assert set(case["allowed_actions"]) == {"suspend_funds", "close_accounts", "publish_notice", "refer"}


def test_allowed_actions_are_the_tables_rows_for_the_party_and_state(demo):
    """Derived, not repeated: for each party kind, the triggers whose rows list the
    kind and the case's state (the pure guards passing)."""
    case_id = open_case_at(demo, weeks_ago(6), "order")
    case = db.session.get(Case, case_id)
    for kind in ("finance", "competent", "unit", "bank", "oversight", "system"):
        expected = []
        for row in UNIT_CASE.transitions:
            if kind in row.roles and case.state in row.source and row.trigger not in expected:
                expected.append(row.trigger)
        allowed = UNIT_CASE.allowed(kind, case, case.deadline + dt.timedelta(seconds=1))
        assert allowed == expected, kind


# --- lists ------------------------------------------------------------------------------------

def test_cases_are_listed_by_state_rung_subject_machine_and_overdue(demo, as_city_finance):
    warning = open_case(as_city_finance, "warning")["id"]
    late_order = open_case_at(demo, weeks_ago(6), "order")
    other = open_case(as_city_finance, "decision", subject=OTHER_UNIT)["id"]
    bank = open_case(as_city_finance, "refund_or_redo")["id"]

    def ids(query):
        response = as_city_finance.get(f"/api/v1/cases?{query}")
        assert response.status_code == 200, response.get_json()
        return [c["id"] for c in response.get_json()["items"]]

    assert ids("") == [warning, late_order, other, bank]
    assert ids("state=order") == [late_order]
    assert ids("rung=warning") == [warning]
    assert ids(f"subject={OTHER_UNIT}") == [other]
    assert ids("machine=bank_case") == [bank]
    assert ids("overdue=true") == [late_order]
    assert ids("overdue=false") == [warning, other, bank]
    assert as_city_finance.get("/api/v1/cases?state=nonsense").status_code == 422


def test_cases_are_paged_by_keyset(as_city_finance):
    opened = [open_case(as_city_finance, "warning")["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        page = as_city_finance.get("/api/v1/cases?limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == opened


# --- every action's checks ----------------------------------------------------------------------

def test_a_stale_version_is_a_conflict_and_changes_nothing(as_city_finance):
    case_id = open_case(as_city_finance, "warning")["id"]
    act_ok(as_city_finance, case_id, "publish_notice", scope="competent")
    response = act(as_city_finance, case_id, "issue_order", version=1, grounds="not_corrected_in_time")
    assert response.status_code == 409
    assert "version" in response.get_json()["errors"]
    assert state_of(case_id) == "warning" and version_of(case_id) == 2


def test_an_action_needs_the_version(as_city_finance):
    case_id = open_case(as_city_finance, "warning")["id"]
    response = as_city_finance.post(f"/api/v1/cases/{case_id}/actions/publish_notice", json={"scope": "competent"})
    assert response.status_code == 422
    assert "version" in response.get_json()["errors"]


def test_an_action_from_a_state_not_in_its_sources_is_a_conflict(as_city_finance):
    case_id = open_case(as_city_finance, "warning")["id"]
    response = act(as_city_finance, case_id, "accept_rectification")
    assert response.status_code == 409
    assert response.get_json()["errors"] == {"state": ["warning"]}


def test_only_the_actions_fields_are_accepted(as_city_finance):
    """Mass assignment (ASVS 15.3.3): a field the action does not take is refused, not ignored."""
    case_id = open_case(as_city_finance, "warning")["id"]
    response = act(as_city_finance, case_id, "publish_notice", scope="competent", state="closed_rectified")
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"state": ["unknown field for this action"]}
    assert state_of(case_id) == "warning"


def test_missing_and_bad_fields_are_named(as_city_finance):
    case_id = open_case(as_city_finance, "warning")["id"]
    response = act(as_city_finance, case_id, "issue_decision", measures=["burn_the_books"], amount=12.345,
                   deadline_days=0)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"measures", "amount", "deadline_days"}


def test_an_unknown_action_is_not_found(as_city_finance):
    case_id = open_case(as_city_finance, "warning")["id"]
    assert act(as_city_finance, case_id, "delete_case").status_code == 404


def test_the_state_column_is_written_only_by_the_machine(demo, as_city_finance):
    case = db.session.get(Case, open_case(as_city_finance, "warning")["id"])
    with pytest.raises(AttributeError, match="apply_action"):
        case.state = "closed_rectified"


def test_a_refused_action_leaves_the_session_clean(demo, as_city_finance):
    """The scheduler may try an escalation that is refused and go on in the same transaction."""
    case_id = open_case(as_city_finance, "warning")["id"]
    from workflow.errors import Conflict
    from workflow.parties import Actor

    with pytest.raises(Conflict):
        cases.apply_action(Actor.system(), case_id, "escalate", {})
    case = db.session.get(Case, case_id)
    assert not db.session.is_modified(case) and case.version == 1

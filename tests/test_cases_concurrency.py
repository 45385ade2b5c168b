"""Optimistic locking under real concurrency, on SQLite and PostgreSQL alike: of two officers
acting on one case at once, exactly one wins (200) and the other is told the case changed (409)."""
from __future__ import annotations

from cases_support import OTHER_UNIT, documents_of, events_of, open_case, version_of
from race_support import race as race_calls

from workflow.audit import verify_chains


def race(app, calls: list[tuple[str, str, dict]]) -> list[int]:
    """POST each (token, url, body) from its own thread, connection and client at the same moment."""
    return [a.status for a in race_calls(app, [("post", url, {"Authorization": f"Bearer {token}"}, body)
                                               for token, url, body in calls])]


def test_two_concurrent_actions_on_one_case_one_wins_one_conflicts(app, demo, as_city_finance,
                                                                   as_finance):
    for _ in range(5):  # several rounds: the outcome must not depend on who arrives first
        case_id = open_case(as_city_finance, "warning")["id"]
        url = f"/api/v1/cases/{case_id}/actions/issue_order"
        body = {"version": 1, "grounds": "not_corrected_in_time"}
        statuses = race(app, [(as_city_finance.token, url, body), (as_finance.token, url, body)])
        assert sorted(statuses) == [200, 409]
        assert version_of(case_id) == 2
        assert [e["seq"] for e in events_of(as_city_finance, case_id)] == [1, 2]
        assert [d.kind for d in documents_of(case_id)] == ["rectification_order"]  # the loser issued nothing


def test_concurrent_actions_on_different_cases_all_succeed(app, demo, as_city_finance):
    ids = [open_case(as_city_finance, "warning", subject=subject)["id"] for subject in ("653000-301001", OTHER_UNIT)]
    calls = [(as_city_finance.token, f"/api/v1/cases/{i}/actions/publish_notice", {"version": 1, "scope": "competent"})
             for i in ids]
    assert race(app, calls) == [200, 200]
    numbers = sorted(d.number for i in ids for d in documents_of(i))
    assert len(set(numbers)) == 2  # two notices, two numbers
    assert all(not problems for _, problems in verify_chains())

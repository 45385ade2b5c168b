"""Issue 16 item 2: ``audit verify`` checks the business invariants that the hash chains cannot
see. Each violation below is written straight into the database (as a race or a hand edit
would leave it, with every chain intact); the command exits 1 and names the invariant and
the records."""
from __future__ import annotations

import sqlalchemy as sa
from verification_support import held_payment

from workflow.cases import open_case
from workflow.db import db
from workflow.journal import record
from workflow.parties import Actor, org_by_code


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


def confirmed(finance) -> tuple[int, int]:
    """A confirmed warning and its case."""
    _, warning_id = held_payment(finance)
    response = finance.post(f"/api/v1/warnings/{warning_id}/confirm", json={"rung": "warning"})
    assert response.status_code == 201, response.get_json()
    return warning_id, response.get_json()["id"]


def write(statement: str, **params) -> None:
    db.session.execute(sa.text(statement), params)
    db.session.commit()


def test_audit_verify_says_the_invariants_hold_when_they_do(runner, as_city_finance):
    confirmed(as_city_finance)
    _, dismissed = held_payment(as_city_finance)
    assert as_city_finance.post(f"/api/v1/warnings/{dismissed}/dismiss", json={"reason": "误报"}).status_code == 200
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "invariants hold" in result.output


def test_audit_verify_names_a_warning_decided_twice(runner, as_city_finance):
    warning_id, _ = confirmed(as_city_finance)
    record(Actor.of(as_city_finance.user), f"warning:{warning_id}", "dismissed", {"reason": "误报"})
    db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1
    assert f"VIOLATED one decision per warning: warning {warning_id}: 2 entries of confirmed or dismissed" \
        in result.output
    assert "BROKEN" not in result.output  # the chains are intact: only the invariant sees it


def test_audit_verify_names_two_cases_opened_from_one_warning(runner, as_city_finance):
    warning_id, case_id = confirmed(as_city_finance)
    second = open_case(Actor.of(as_city_finance.user), machine="unit_case", subject=org_by_code("653000-301001"),
                       rung="warning", fields={"summary": "重复立案"}, source={"warning_id": warning_id}).id
    db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1
    assert (f"VIOLATED one case per confirmed warning: warning {warning_id}: 2 cases opened from it: "
            f"{case_id}, {second}") in result.output


def test_audit_verify_names_a_dismissed_warning_with_a_case_and_a_confirmed_one_without(runner, as_city_finance):
    dismissed, case_id = confirmed(as_city_finance)
    caseless, _ = confirmed(as_city_finance)
    write("UPDATE warnings SET status = 'dismissed' WHERE id = :w", w=dismissed)
    write("UPDATE warnings SET case_id = NULL WHERE id = :w", w=caseless)
    result = verify(runner)
    assert result.exit_code == 1
    assert f"one case per confirmed warning: warning {dismissed}: dismissed but names case {case_id}" in result.output
    assert f"one case per confirmed warning: warning {caseless}: confirmed without a case" in result.output


def test_audit_verify_names_a_case_on_another_rung_than_its_history(runner, as_city_finance):
    _, case_id = confirmed(as_city_finance)
    write("UPDATE cases SET rung = 'order' WHERE id = :c", c=case_id)
    result = verify(runner)
    assert result.exit_code == 1
    assert (f"VIOLATED one active rung per case: case {case_id}: on rung 'order', but its history last "
            f"reached 'warning'") in result.output


def test_audit_verify_names_a_complaint_triaged_twice_and_a_payment_refused_twice(runner, as_city_finance):
    item, _ = held_payment(as_city_finance)
    payment_id = item["id"]
    system = Actor.system()
    record(system, "complaint:7", "triaged", {"into": "warning"})
    record(system, "complaint:7", "triaged", {"into": "dismissed"})
    record(system, f"payment:{payment_id}", "refused", {"from": "held", "to": "refused"})
    record(system, f"payment:{payment_id}", "refused", {"from": "held", "to": "refused"})
    db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1
    assert "VIOLATED one triage per complaint: complaint 7: 2 entries of triaged" in result.output
    assert f"VIOLATED a payment is refused once: payment {payment_id}: 2 entries of refused" in result.output

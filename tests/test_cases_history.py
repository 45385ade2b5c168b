"""The case history: every action appends one event, SHA-256 chained to the previous;
nothing updates or deletes an event (the ORM and the database both refuse), and
``flask --app wsgi audit verify`` names the case and event of any edit or deletion."""
from __future__ import annotations

import history_support
import pytest
import sqlalchemy as sa
from cases_support import act_ok, events_of, open_case
from history_support import assert_the_orm_refuses_changes, verify

from workflow.case_records import Case, CaseEvent, event_content
from workflow.chain import GENESIS, chain_hash
from workflow.db import db


def history_case(as_city_finance) -> int:
    case_id = open_case(as_city_finance, "warning")["id"]
    act_ok(as_city_finance, case_id, "publish_notice", scope="competent")
    act_ok(as_city_finance, case_id, "issue_order", grounds="not_corrected_in_time")
    return case_id


def tamper(backend: str, statement: str, **params) -> None:
    history_support.tamper(backend, "case_events", statement, **params)


def test_each_action_appends_one_event_chained_to_the_previous(as_city_finance, as_competent):
    case_id = history_case(as_city_finance)
    events = events_of(as_competent, case_id)
    assert [(e["seq"], e["trigger"], e["from"], e["to"]) for e in events] == [
        (1, "open_warning", "new", "warning"), (2, "publish_notice", "warning", "warning"),
        (3, "issue_order", "warning", "order")]
    assert events[0]["prev_hash"] == GENESIS
    assert [e["prev_hash"] for e in events[1:]] == [e["hash"] for e in events[:-1]]
    assert events[2]["party"]["code"] == "653000-CZ" and events[2]["actor"]["name"]
    assert events[2]["payload"]["grounds"] == "not_corrected_in_time"
    assert events[2]["payload"]["documents"][0]["kind"] == "rectification_order"
    stored = db.session.execute(sa.select(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.seq == 3)).scalar_one()
    assert chain_hash(stored.prev_hash, event_content(stored)) == events[2]["hash"]


def test_the_history_refuses_changes_through_the_orm(as_city_finance):
    case_id = history_case(as_city_finance)
    event_id = db.session.execute(sa.select(CaseEvent.id).where(CaseEvent.case_id == case_id)).scalars().first()
    assert_the_orm_refuses_changes(CaseEvent, event_id, payload={"summary": "改过"})


@pytest.mark.parametrize("statement", ["UPDATE case_events SET trigger = 'x' WHERE seq = 1",
                                       "DELETE FROM case_events WHERE seq = 1"])
def test_the_database_refuses_changes_to_the_history(as_city_finance, statement):
    history_case(as_city_finance)
    db.session.remove()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with db.engine.begin() as connection:
            connection.execute(sa.text(statement))


def test_audit_verify_passes_on_an_intact_history(runner, as_city_finance):
    history_case(as_city_finance)
    history_case(as_city_finance)
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "2 case chains verified" in result.output


def test_audit_verify_names_an_edited_event(runner, backend, as_city_finance):
    case_id = history_case(as_city_finance)
    intact = history_case(as_city_finance)
    tamper(backend, "UPDATE case_events SET to_state = 'closed_rectified' WHERE case_id = :c AND seq = 2", c=case_id)
    result = verify(runner)
    assert result.exit_code == 1
    assert f"case {case_id}, event seq 2" in result.output and "edited" in result.output
    assert f"case {intact}" not in result.output


def test_audit_verify_names_an_edited_payload(runner, backend, as_city_finance):
    case_id = history_case(as_city_finance)
    tamper(backend, "UPDATE case_events SET payload = :p WHERE case_id = :c AND seq = 3",
           p='{"grounds": "false_rectification"}', c=case_id)
    result = verify(runner)
    assert result.exit_code == 1
    assert f"case {case_id}, event seq 3" in result.output


def test_audit_verify_names_a_deleted_event(runner, backend, as_city_finance):
    case_id = history_case(as_city_finance)
    tamper(backend, "DELETE FROM case_events WHERE case_id = :c AND seq = 2", c=case_id)
    result = verify(runner)
    assert result.exit_code == 1
    assert f"case {case_id}, event seq 2" in result.output and "deleted" in result.output


def test_audit_verify_names_a_deleted_last_event(runner, backend, as_city_finance):
    case_id = history_case(as_city_finance)
    tamper(backend, "DELETE FROM case_events WHERE case_id = :c AND seq = 3", c=case_id)
    result = verify(runner)
    assert result.exit_code == 1
    assert f"case {case_id}, event seq 3" in result.output and "deleted" in result.output


def test_audit_verify_notices_a_case_moved_outside_its_history(runner, as_city_finance):
    case_id = history_case(as_city_finance)
    db.session.remove()
    with db.engine.begin() as connection:
        connection.execute(sa.text("UPDATE cases SET state = 'closed_rectified' WHERE id = :c"), {"c": case_id})
    result = verify(runner)
    assert result.exit_code == 1
    assert f"case {case_id}" in result.output and "differs from its history" in result.output


def test_the_case_row_keeps_the_hash_of_its_last_event(as_city_finance):
    """Issue 15: the next event chains on ``cases.last_hash``, written with the version, instead
    of reading the previous event; it is always the last event's hash."""
    case_id = open_case(as_city_finance, "warning")["id"]
    for trigger, fields in (("publish_notice", {"scope": "competent"}), ("issue_order", {"grounds": "not_corrected_in_time"})):
        last = db.session.execute(sa.select(Case.last_hash).where(Case.id == case_id)).scalar_one()
        act_ok(as_city_finance, case_id, trigger, **fields)
        version, head = db.session.execute(sa.select(Case.version, Case.last_hash).where(Case.id == case_id)).one()
        event = db.session.execute(sa.select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.seq == version)).scalar_one()
        assert event.prev_hash == last and event.hash == head
        db.session.remove()


def test_audit_verify_names_a_last_event_rewritten_with_a_matching_hash(runner, backend, as_city_finance):
    """An attacker who edits the last event and recomputes its hash leaves a whole chain behind,
    but not the case row's last hash: ``audit verify`` names the event (issue 15)."""
    case_id = history_case(as_city_finance)
    event = db.session.execute(sa.select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == 3)).scalar_one()
    content = {**event_content(event), "payload": {"grounds": "false_rectification"}}
    forged = chain_hash(event.prev_hash, content)
    tamper(backend, "UPDATE case_events SET payload = :p, hash = :h WHERE case_id = :c AND seq = 3",
           p='{"grounds": "false_rectification"}', h=forged, c=case_id)
    result = verify(runner)
    assert result.exit_code == 1
    assert f"case {case_id}, event seq 3" in result.output and "last hash" in result.output

"""Issue 15 (performance): what a case action says to the database, and in which order.

A case action reads everything first (the token's user with the token, the case with its
subject and the subject's department, the recipients of its messages), renders its notice,
and then writes: the notice's number, the notice and its journal entry, all its messages in
one INSERT, the case in one conditional UPDATE and the history event last. Nothing is read
once the first write has taken SQLite's write lock or a department's document counter, and
nothing is read back after the commit. Reading a case is two statements.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from cases_support import act, act_ok, attach_evidence, open_case, version_of

from workflow.db import db

WRITES = ("INSERT", "UPDATE", "DELETE")


class Statements:
    """The statements the app sends while the block runs (an executemany counts once)."""

    def __init__(self):
        self.sql: list[str] = []

    def __call__(self, _conn, _cursor, statement, _parameters, _context, _executemany):
        self.sql.append(" ".join(statement.split()))

    def __enter__(self):
        sa.event.listen(db.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        sa.event.remove(db.engine, "before_cursor_execute", self)

    def writes(self) -> list[str]:
        """Each write as its verb and table: ``INSERT documents``, ``UPDATE cases``."""
        out = []
        for sql in self.sql:
            words = sql.split()
            if words[0] in WRITES:
                out.append(f"{words[0]} {words[2] if words[0] != 'UPDATE' else words[1]}")
        return out

    def reads_after_the_first_write(self) -> list[str]:
        first = next(i for i, sql in enumerate(self.sql) if sql.split()[0] in WRITES)
        return [sql for sql in self.sql[first:] if sql.split()[0] not in WRITES]


@pytest.fixture
def warning_case(as_city_finance) -> dict:
    return open_case(as_city_finance, "warning")


def test_a_notice_issuing_action_reads_first_and_writes_the_case_last(as_city_finance, warning_case):
    case_id = warning_case["id"]
    act_ok(as_city_finance, case_id, "publish_notice", scope="competent")  # compiled and cached
    version = version_of(case_id)
    db.session.remove()
    with Statements() as statements:
        assert act(as_city_finance, case_id, "publish_notice", version=version, scope="competent").status_code == 200
    assert statements.reads_after_the_first_write() == []
    assert statements.writes() == ["INSERT document_counters", "INSERT documents", "INSERT document_recipients",
                                   "INSERT journal_entries", "INSERT journal_heads", "INSERT outbox_messages",
                                   "UPDATE cases", "INSERT case_events"]
    assert not any("FROM case_events" in sql for sql in statements.sql), "the last hash comes with the case"
    assert len(statements.sql) == 11, statements.sql  # three reads: the token, the case, the recipients


def test_a_review_cycle_writes_three_statements_per_action(as_unit, as_city_finance, warning_case):
    case_id = warning_case["id"]
    attach_evidence(as_unit, case_id)
    for party, trigger, fields in ((as_unit, "submit_rectification", {"report": "已整改"}),
                                   (as_city_finance, "reject_rectification", {"reason": "材料不全", "deadline_days": 5})):
        version = version_of(case_id)
        db.session.remove()
        with Statements() as statements:
            assert act(party, case_id, trigger, version=version, **fields).status_code == 200
        assert statements.reads_after_the_first_write() == []
        assert statements.writes() == ["INSERT outbox_messages", "UPDATE cases", "INSERT case_events"]


def test_reading_a_case_is_two_statements(as_city_finance, warning_case):
    as_city_finance.get(f"/api/v1/cases/{warning_case['id']}")
    with Statements() as statements:
        response = as_city_finance.get(f"/api/v1/cases/{warning_case['id']}")
    assert response.status_code == 200
    assert len(statements.sql) == 2, statements.sql  # the token with its user; the case with its parties

"""Tampering with an append-only history, for the tests that prove it is caught (not a
test module). The database refuses UPDATE and DELETE on ``case_events`` and
``journal_entries`` by triggers; a test lifts them, tampers through raw SQL, and puts
them back, as an attacker with the database's owner rights could."""
from __future__ import annotations

import contextlib

import sqlalchemy as sa

from workflow.db import db


@contextlib.contextmanager
def append_only_guard_lifted(backend: str, table: str):
    """Lift the database's refusal on ``table`` (case_events, journal_entries); restore it after."""
    if backend == "postgresql":
        off = [f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"]
        on = [f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"]
    else:
        rows = db.session.execute(sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"), {"t": table}).all()
        off = [f"DROP TRIGGER {name}" for name, _ in rows]
        on = [sql for _, sql in rows]
    db.session.remove()
    with db.engine.begin() as connection:
        for statement in off:
            connection.execute(sa.text(statement))
    try:
        yield
    finally:
        with db.engine.begin() as connection:
            for statement in on:
                connection.execute(sa.text(statement))


def tamper(backend: str, table: str, statement: str, **params) -> None:
    """Run ``statement`` (changing exactly one row of ``table``) with the guard lifted."""
    with append_only_guard_lifted(backend, table):
        with db.engine.begin() as connection:
            assert connection.execute(sa.text(statement), params).rowcount == 1


def verify(runner):
    return runner.invoke(args=["audit", "verify"])

"""Tampering with an append-only history, for the tests that prove it is caught (not a
test module). The database refuses UPDATE and DELETE on ``case_events`` and
``journal_entries`` by triggers; a test lifts them, tampers through raw SQL, and puts
them back, as an attacker with the database's owner rights could."""
from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa

from workflow.chain import AppendOnlyViolation
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


def assert_the_orm_refuses_changes(model, entry_id: int, **change) -> None:
    """Changing the entry (``change``) and deleting it, flushed or as bulk statements, are
    each refused by the ORM before anything reaches the database."""
    entry = db.session.get(model, entry_id)
    for name, value in change.items():
        setattr(entry, name, value)
    with pytest.raises(AppendOnlyViolation):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(AppendOnlyViolation):
        db.session.delete(db.session.get(model, entry_id))
        db.session.flush()
    db.session.rollback()
    for statement in (sa.update(model).values(**change), sa.delete(model)):
        with pytest.raises(AppendOnlyViolation):
            db.session.execute(statement.where(model.id == entry_id))
        db.session.rollback()


def verify(runner):
    return runner.invoke(args=["audit", "verify"])

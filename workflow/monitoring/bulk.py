"""Driver-level bulk writes inside the session's transaction.

Screening stores up to a million payments per import; one ORM object (or one Core
parameter dict) per row would cost more than the screening itself. These helpers
write tuples straight through the DBAPI connection that the session is using, so
they join the caller's transaction and roll back with it:

- SQLite: ``cursor.executemany`` of one prepared INSERT;
- PostgreSQL: ``COPY ... FROM STDIN`` (psycopg 3).

Values are converted as SQLAlchemy would bind them: each column type's dialect
implementation's ``bind_processor`` (``AwareDateTime`` to UTC in the dialect's format), and
``Money`` to integer fen by a shortcut that trusts amounts already read by ``to_money``;
so the rows read back through the ORM like any other.
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa

from workflow.db import Money, db, dialect_name
from workflow.errors import Conflict


def allocate_ids(table: sa.Table, count: int) -> list[int]:
    """Primary keys for ``count`` new rows, so that children can reference them before the
    rows are written. PostgreSQL draws them from the table's sequence; on SQLite the caller
    holds the write lock (:func:`workflow.db.take_write_lock`), so the ids after the maximum are free."""
    if count == 0:
        return []
    if dialect_name() == "postgresql":
        ids = db.session.execute(sa.text(
            "SELECT array_agg(nextval(pg_get_serial_sequence(:table, 'id'))) FROM generate_series(1, :n)"),
            {"table": table.name, "n": count}).scalar_one()
        return sorted(ids)
    start = db.session.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()
    return list(range(start + 1, start + count + 1))


def insert_rows(table: sa.Table, columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert ``rows`` (Python values in the order of ``columns``) into ``table``."""
    if not rows:
        return
    connection = db.session.connection()
    dialect = connection.dialect
    processors = [(index, _processor(table.c[name].type, dialect)) for index, name in enumerate(columns)]
    processors = [(index, proc) for index, proc in processors if proc is not None]
    if processors:
        rows = _converted(rows, processors)
    driver = connection.connection.driver_connection
    try:
        _write(driver, dialect.name, table.name, columns, rows)
    except dialect.loaded_dbapi.IntegrityError as exc:
        # e.g. the same voucher stored by a racing request a moment ago; the caller's
        # transaction is rolled back by the error handler, nothing half-written remains.
        # The driver's message names the constraint: it is logged by no one and answered never.
        raise Conflict("a row conflicts with one stored meanwhile by another request; nothing was written",
                       {"_": ["stored meanwhile by another request"]}) from exc


def update_rows(table: sa.Table, columns: Sequence[str], rows: list[tuple]) -> None:
    """``UPDATE table SET columns... WHERE id = ?`` for each row ``(id, *values)``, by the
    driver's executemany with the values converted as in :func:`insert_rows`."""
    if not rows:
        return
    connection = db.session.connection()
    names = ("id", *columns)
    processors = [(index, _processor(table.c[name].type, connection.dialect)) for index, name in enumerate(names)]
    rows = _converted(rows, [(index, proc) for index, proc in processors if proc is not None])
    mark = "%s" if connection.dialect.name == "postgresql" else "?"
    assignments = ", ".join(f'"{name}" = {mark}' for name in columns)
    statement = f'UPDATE "{table.name}" SET {assignments} WHERE id = {mark}'
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.executemany(statement, [(*values[1:], values[0]) for values in rows])
    finally:
        cursor.close()


def _converted(rows: list[tuple], processors: list) -> list[list]:
    # A batch repeats values (created_at, the rule-set version...): convert each run once.
    last = [(_UNSET, None)] * len(processors)
    converted = []
    for row in rows:
        values = list(row)
        for slot, (index, proc) in enumerate(processors):
            value = values[index]
            seen, result = last[slot]
            if value is not seen:
                result = proc(value)
                last[slot] = (value, result)
            values[index] = result
        converted.append(values)
    return converted


_UNSET = object()


def _fen(value):
    """Money for bulk rows: the callers pass amounts already read by ``to_money`` (Decimal,
    two places), so the exact conversion to fen is all that is left; anything else is refused."""
    if value is None:
        return None
    fen = value * 100
    if type(value) is not Decimal or fen != fen.to_integral_value():
        raise ValueError(f"not an amount read by to_money: {value!r}")
    return int(fen)


def _processor(type_, dialect):
    if isinstance(type_, Money):
        return _fen
    # the dialect's own implementation (e.g. SQLite's DATETIME string format), as a statement would bind it
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _write(driver, dialect: str, table: str, columns: Sequence[str], rows: list) -> None:
    names = ", ".join(f'"{name}"' for name in columns)
    if dialect == "postgresql":
        with driver.cursor() as cursor:
            with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
    else:
        cursor = driver.cursor()
        try:
            cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})', rows)
        finally:
            cursor.close()

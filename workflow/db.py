"""The one place that owns the database: the SQLAlchemy extension and column types.

Money is stored as integer fen (分) so that it is exact on SQLite, which has no
decimal type, and on PostgreSQL alike; Python sees ``Decimal`` yuan with two places.
Datetimes are stored in UTC and always come back timezone-aware.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CENT = Decimal("0.01")


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


# --- locking: the one place for the dialects' difference ------------------------------------------

def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def take_write_lock() -> None:
    """SQLite has one writer: take the database's write lock now, so that nothing read after
    this can change before the transaction ends. Any write statement takes it, even one that
    matches no row (and so fires no per-row trigger); pysqlite opens the transaction just
    before it. PostgreSQL locks rows instead (:func:`locked`): nothing to do here.

    Take it BEFORE the transaction's first read. pysqlite runs reads outside a transaction
    until the first write, so a transaction that starts with this statement waits for a busy
    lock (``busy_timeout``). One that had read first would hold a WAL snapshot, and once
    another writer commits past that snapshot, its first write fails at once with
    "database is locked" whatever the timeout."""
    if dialect_name() == "sqlite":
        db.session.execute(sa.text("UPDATE journal_heads SET seq = seq WHERE stream IS NULL"))


def locked(stmt: sa.Select, **for_update) -> sa.Select:
    """``stmt`` made to lock the rows it returns until the transaction ends, so that a status
    read through it can be decided on (read, check, write) without a second decision slipping
    in between (ASVS 2.3.4): ``SELECT ... FOR UPDATE`` on PostgreSQL (``for_update`` are
    ``with_for_update``'s arguments, e.g. ``of=MonitoringWarning``); on SQLite, where FOR UPDATE does
    not exist, the write lock is taken now (:func:`take_write_lock`) and the read follows.
    The rows read replace what the session already holds (``populate_existing``), so a
    status loaded earlier in the request is not decided on stale."""
    if dialect_name() == "postgresql":
        stmt = stmt.with_for_update(**for_update)
    else:
        take_write_lock()
    return stmt.execution_options(populate_existing=True)


def analyse(*tables: str) -> None:
    """PostgreSQL: refresh the planner's statistics of ``tables`` now, in the session's
    transaction (after a bulk load: a plan costed on the statistics of an empty table reads a
    million rows as if they were ten; issue 15 item 2). SQLite keeps no statistics unless asked
    (no ``sqlite_stat1``) and plans by fixed rules that prefer an index; statistics taken once
    would only freeze one moment's shape, so nothing is done there."""
    if tables and dialect_name() == "postgresql":
        db.session.execute(sa.text("ANALYZE " + ", ".join(f'"{name}"' for name in tables)))


# The largest amount the service accepts: under a trillion yuan, far beyond any payment or
# indicator, and 14 significant digits, so its fen (and sums of many) stay well inside BIGINT.
MONEY_MAX = Decimal("999999999999.99")
# What a BIGINT column of fen can hold: the bound for the column itself (running totals).
COLUMN_MONEY_MAX = Decimal(2**63 - 1) / 100
# The one written form of an amount: ASCII digits, an optional minus, at most two places.
# No exponent ("1e9"), no grouping ("1,200.00"), no other digits ("１２３"), no spaces.
MONEY_PATTERN = r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$"
_MONEY_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]{1,2})?")


def to_money(value, *, maximum: Decimal = MONEY_MAX) -> Decimal:
    """Read a yuan amount exactly: a string in the written form above, an int (whole yuan) or
    a Decimal with at most two places, within ``maximum`` either way. Floats are refused
    (TypeError): they are already inexact, and the text the client wrote is lost."""
    if isinstance(value, float):
        raise TypeError('money must not pass through float: write it as a string, e.g. "1500.00"')
    if isinstance(value, bool):
        raise ValueError(f"not a decimal amount: {value!r}")
    if isinstance(value, str):
        if not _MONEY_TEXT.fullmatch(value):
            raise ValueError(f'not a decimal amount with at most two places, e.g. "1500.00": {value[:40]!r}')
        amount = Decimal(value)
    elif isinstance(value, (int, Decimal)):
        amount = Decimal(value)
        if not amount.is_finite():
            raise ValueError(f"not a finite amount: {value!r}")
    else:
        raise ValueError(f"not a decimal amount: {value!r}")
    if abs(amount) > maximum:
        raise ValueError(f"at most {maximum} in absolute value")
    if amount != amount.quantize(CENT):
        raise ValueError(f"more than two decimal places: {value!r}")
    return amount.quantize(CENT)


class Money(sa.types.TypeDecorator):
    """Yuan as ``Decimal`` in Python, integer fen in the database."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return int(to_money(value, maximum=COLUMN_MONEY_MAX) * 100)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-2)  # exact, two places: as quantize(CENT) of value / 100


# The dates the service accepts (budget years, payment times, deadlines): anything outside is a
# typing error or a probe, and year 1 or 9999 would overflow when moved between time zones.
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2099, 12, 31)
DATE_RANGE_TEXT = f"between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}"


def in_date_range(value: dt.date | dt.datetime) -> bool:
    """Whether ``value`` (a date, or a datetime by its own calendar date) lies in FIRST_DAY..LAST_DAY.
    The datetime's own date is used so that no time-zone arithmetic, which overflows near
    year 1 and 9999, happens before the check."""
    day = value.date() if isinstance(value, dt.datetime) else value
    return FIRST_DAY <= day <= LAST_DAY


def check_date_range(value: dt.date | dt.datetime) -> None:
    """ValueError unless :func:`in_date_range`."""
    if not in_date_range(value):
        raise ValueError(f"must be {DATE_RANGE_TEXT}")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class AwareDateTime(sa.types.TypeDecorator):
    """A timezone-aware datetime; naive values are refused rather than guessed."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: a timezone is required")
        value = value.astimezone(dt.timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def render_item(type_, obj, autogen_context):
    """Alembic hook: write our column types as their plain storage types, so that
    migrations do not import application code that may change later."""
    if type_ == "type" and isinstance(obj, sa.types.TypeDecorator):
        impl = obj.impl if isinstance(obj.impl, sa.types.TypeEngine) else obj.impl()
        return f"sa.{impl!r}"
    return False


def json_safe(value: Any) -> Any:
    """The JSON form of a payload value: Decimal as a string with two places, dates ISO."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


# --- INSERT ... ON CONFLICT: the one place for the dialects' spelling of it ------------------------

def _insert(model, dialect: str | None = None) -> sa.Insert:
    """The dialect's INSERT (PostgreSQL's and SQLite's both have ``on_conflict_do_*``)."""
    table = getattr(model, "__table__", model)
    return (postgresql.insert if (dialect or dialect_name()) == "postgresql" else sqlite.insert)(table)


def insert_ignoring_duplicates(model, rows: list[dict], index_elements: list[str] | None = None) -> None:
    """``INSERT ... ON CONFLICT DO NOTHING`` on PostgreSQL and SQLite alike, executemany
    on the table, so that the compiled statement is cached whatever the number of rows."""
    if not rows:
        return
    table = getattr(model, "__table__", model)
    db.session.execute(_insert_ignoring(dialect_name(), table, tuple(index_elements or ())), rows)


@functools.cache
def _insert_ignoring(dialect: str, table: sa.Table, index_elements: tuple[str, ...]) -> sa.Insert:
    """The statement of :func:`insert_ignoring_duplicates`, built once per table and key."""
    return _insert(table, dialect).on_conflict_do_nothing(index_elements=list(index_elements) or None)


def insert_if_absent(model, values: dict, index_elements: list[str] | None = None) -> bool:
    """Insert one row unless it conflicts with one already there (``ON CONFLICT DO NOTHING``,
    on ``index_elements`` or any unique constraint): True if this transaction inserted it.
    A concurrent inserter of the same key makes this wait for its commit (PostgreSQL), or
    SQLite's single writer serialises the two."""
    table = getattr(model, "__table__", model)
    returned = list(table.primary_key.columns)[:1]
    stmt = _insert(table).values(**values).on_conflict_do_nothing(index_elements=index_elements).returning(*returned)
    return db.session.execute(stmt).first() is not None


def upsert(model, values: dict, index_elements: list, set_: dict, returning=None):
    """``INSERT ... ON CONFLICT (index_elements) DO UPDATE SET set_`` in one statement: atomic
    on PostgreSQL (the row stays locked until commit) and SQLite (one writer). Returns the
    result of ``returning`` (a column) for the row written, else None."""
    stmt = _insert(model).values(**values).on_conflict_do_update(index_elements=index_elements, set_=set_)
    if returning is None:
        db.session.execute(stmt)
        return None
    return db.session.execute(stmt.returning(returning)).scalar_one()


# --- writing at a chosen moment -----------------------------------------------------------------

def insert_now(obj) -> None:
    """INSERT the new ORM object ``obj`` at once, as one Core statement that returns the whole
    row, and put it in the session as persistent, as if it had been loaded. Nothing else the
    session holds is flushed: a caller whose locked section must end with one UPDATE of a row
    it changed earlier (the case engine, issue 15) writes the rows before it this way. Only
    ``obj``'s columns are written (set its foreign keys, not just its relationships)."""
    mapper = sa.inspect(type(obj))
    table = mapper.local_table
    state = obj.__dict__
    values = {prop.columns[0].key: state[prop.key] for prop in mapper.column_attrs if prop.key in state}
    row = db.session.execute(_insert_returning(table), values).one()
    for prop in mapper.column_attrs:
        set_committed_value(obj, prop.key, row._mapping[prop.columns[0]])
    make_transient_to_detached(obj)
    db.session.add(obj)


@functools.cache
def _insert_returning(table: sa.Table) -> sa.Insert:
    """``INSERT INTO table ... RETURNING *``, built once per table: the values go as parameters,
    so that nothing is built or hashed again per row."""
    return sa.insert(table).returning(*table.c)


def commit_without_expiring() -> None:
    """Commit, keeping what the session holds loaded instead of expiring it: what the
    transaction wrote is what was committed, so an answer built from those objects after the
    commit needs no reload (issue 15: a statement per request). For a request's last commit: a
    session that goes on working would read its own copies, not the database's."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


# --- loading by key in chunks -----------------------------------------------------------------
# A batch's rows are loaded by key in a few queries for thousands of keys, none per row. SQLite
# takes the keys as ``IN (...)`` in slices well under its parameter limit; PostgreSQL takes them
# all at once as one array parameter.

CHUNK = 5000  # values per IN (...) when loading by key (well under the drivers' parameter limits)


def chunks(values, size: int | None = None):
    """Keys to load, in slices for ``IN (...)`` on SQLite; PostgreSQL takes them all at once
    as one array parameter (see :func:`among`)."""
    values = list(values)
    if size is None:
        size = (len(values) or 1) if dialect_name() == "postgresql" else CHUNK
    for start in range(0, len(values), size):
        yield values[start:start + size]


def among(column, values: list):
    """``column IN values``. On PostgreSQL as ``= ANY(:array)``: one parameter instead of
    thousands, which the driver would otherwise rewrite one by one for every batch."""
    if dialect_name() == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)

"""The one place that owns the database: the SQLAlchemy extension and column types.

Money is stored as integer fen (分) so that it is exact on SQLite, which has no
decimal type, and on PostgreSQL alike; Python sees ``Decimal`` yuan with two places.
Datetimes are stored in UTC and always come back timezone-aware.
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

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


def to_money(value) -> Decimal:
    """Parse a yuan amount exactly; floats are refused because they are already inexact."""
    if isinstance(value, float):
        raise TypeError("money must not pass through float")
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a decimal amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"more than two decimal places: {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


class Money(sa.types.TypeDecorator):
    """Yuan as ``Decimal`` in Python, integer fen in the database."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return int(to_money(value) * 100)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return (Decimal(int(value)) / 100).quantize(CENT)


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

"""Loading a batch's rows by key: a few queries for thousands of keys, none per row.

Screening reads units, accounts, indicators, registrations, running totals and stored
payments for a whole batch at once. SQLite takes the keys as ``IN (...)`` in slices well
under its parameter limit; PostgreSQL takes them all at once as one array parameter.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from workflow.db import dialect_name

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

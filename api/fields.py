"""Marshmallow fields shared by the API schemas: each kind of input is read in one place.

- ``Integer``: within the database's INTEGER column, so that no value reaches a query that
  PostgreSQL cannot compare (``integer out of range``) or SQLite cannot bind.
- ``Money``: the one written form of an amount, the domain's own field (``workflow.schemas.Money``,
  reading with ``workflow.db.to_money``), registered with apispec here as a string.
- ``AwareDateTime`` and ``Date``: within the service's date range (``workflow.db.FIRST_DAY``..``LAST_DAY``).
"""
from __future__ import annotations

import datetime as dt

import marshmallow as ma

from workflow.db import DATE_RANGE_TEXT, check_date_range
from workflow.schemas import Money, non_negative, positive  # noqa: F401  (the domain's one money field, and its checks)
from workflow.settings import local_zone

# PostgreSQL's INTEGER, the narrowest integer column (ids, years, versions, counts).
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1


def _with(kwargs: dict, validator) -> dict:
    given = kwargs.get("validate")
    given = [] if given is None else [given] if callable(given) else list(given)
    kwargs["validate"] = [validator, *given]
    return kwargs


class Integer(ma.fields.Integer):
    """An integer that fits an INTEGER column: out-of-range input is 422, never a query.
    Narrower ranges are added with ``validate=ma.validate.Range(...)`` as usual."""

    def __init__(self, **kwargs):
        super().__init__(**_with(kwargs, ma.validate.Range(min=INT_MIN, max=INT_MAX)))


def _in_range(value):
    try:
        check_date_range(value)
    except ValueError as exc:
        raise ma.ValidationError(str(exc)) from exc


def _date_metadata(kwargs: dict, what: str) -> dict:
    metadata = kwargs.setdefault("metadata", {})
    described = metadata.get("description")
    metadata["description"] = f"{described}; {DATE_RANGE_TEXT}" if described else f"{what}, {DATE_RANGE_TEXT}"
    return kwargs


class AwareDateTime(ma.fields.AwareDateTime):
    """ISO 8601 with an offset, within the service's date range; answers in the service's time zone."""

    def __init__(self, **kwargs):
        kwargs = _with(_date_metadata(kwargs, "ISO 8601 date and time with an offset"), _in_range)
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(local_zone()).isoformat()


class Date(ma.fields.Date):
    """An ISO 8601 date within the service's date range."""

    def __init__(self, **kwargs):
        super().__init__(**_with(_date_metadata(kwargs, "ISO 8601 date"), _in_range))


def register_openapi_types(api) -> None:
    """apispec's marshmallow plugin (``map_to_openapi_type``, through flask-smorest's
    ``register_field``): Money is a string; its pattern and example come from its metadata."""
    api.register_field(Money, "string", None)


def utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc)

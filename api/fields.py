"""Marshmallow fields shared by the API schemas."""
from __future__ import annotations

import datetime as dt

import marshmallow as ma

from workflow.db import to_money


class Money(ma.fields.Field):
    """Yuan as a decimal string with two places ("158000.00"). Input is never rounded:
    more than two places is an error. JSON numbers are read through their text form."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("description", "yuan, decimal string with two places")
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else f"{value:.2f}"

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ma.ValidationError("a decimal amount in yuan, e.g. \"1500.00\"")
        try:
            return to_money(repr(value) if isinstance(value, float) else value)
        except (ValueError, TypeError) as exc:
            raise ma.ValidationError(str(exc)) from exc

    def _jsonschema_type_mapping(self):  # pragma: no cover - documentation only
        return {"type": "string", "pattern": r"^-?\d+(\.\d{1,2})?$"}


class AwareDateTime(ma.fields.AwareDateTime):
    """ISO 8601 with an offset; answers in the service's time zone."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        from flask import current_app
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(current_app.config.get("FUNDWATCH_TIMEZONE", "Asia/Shanghai"))
        return value.astimezone(zone).isoformat()


def non_negative(value):
    if value < 0:
        raise ma.ValidationError("must not be negative")


def positive(value):
    if value <= 0:
        raise ma.ValidationError("must be more than zero")


def utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc)

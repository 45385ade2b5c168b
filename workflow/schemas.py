"""Where the tables' declared fields become marshmallow: one schema per row.

The tables declare their inputs as data: a case trigger's fields (:mod:`workflow.machines`),
a notice kind's context (:data:`workflow.documents.KINDS`), a warning rule's parameters
(:mod:`workflow.monitoring.rules`). :func:`schema_for` turns such a declaration into one
marshmallow schema, which the domain loads input with and the API hands to apispec, so the
object that validates is the object that is documented (types, required fields, enums,
money as a string with a pattern).

The fields here are the domain's kinds of input, each read in one place. ``Money`` is the
one money field of the service (the API's :mod:`api.fields` uses it too); it reads amounts
with :func:`workflow.db.to_money`. Fields that need the caller (an organisation the actor
may reach, the accounts of the case's unit) live with the machines and read
:class:`marshmallow.experimental.context.Context`.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from decimal import Decimal
from zoneinfo import ZoneInfo

import marshmallow as ma

from workflow.db import DATE_RANGE_TEXT, MONEY_MAX, MONEY_PATTERN, in_date_range, to_money

REQUIRED = "required"


# --- validators ---------------------------------------------------------------------------

def non_negative(value):
    if value < 0:
        raise ma.ValidationError("must not be negative")


def positive(value):
    if value <= 0:
        raise ma.ValidationError("must be more than zero")


# --- the domain's kinds of input ------------------------------------------------------------

class Money(ma.fields.Field):
    """Yuan as a decimal string with at most two places ("158000.00"), at most MONEY_MAX.
    Input is never rounded. A JSON integer is read as whole yuan (it is exact); a JSON number
    with a fraction or an exponent is refused, as are "1e9", "1,200.00" and non-ASCII digits.
    Loads a ``Decimal``; dumps the written form. The API registers it with apispec as a string."""

    def __init__(self, **kwargs):
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("description", f"yuan, a decimal string with at most two places, at most {MONEY_MAX}")
        metadata.setdefault("pattern", MONEY_PATTERN)
        metadata.setdefault("example", "1500.00")
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else f"{to_money(value):.2f}"

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise ma.ValidationError('a decimal amount in yuan as a string, e.g. "1500.00"')
        try:
            return to_money(value)
        except (ValueError, TypeError) as exc:
            raise ma.ValidationError(str(exc)) from exc


class Text(ma.fields.String):
    """A non-empty string, stripped, of at most ``max_length`` characters (``None``: no limit).
    ``numbers``: a JSON integer is taken as its digits (a room number in a notice)."""

    def __init__(self, *, max_length: int | None = 2000, numbers: bool = False, **kwargs):
        self.max_length, self.numbers = max_length, numbers
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("minLength", 1)
        if max_length is not None:
            metadata.setdefault("maxLength", max_length)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if self.numbers and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise ma.ValidationError("a non-empty string")
        text = value.strip()
        if self.max_length is not None and len(text) > self.max_length:
            raise ma.ValidationError(f"at most {self.max_length} characters")
        return text


class Lines(ma.fields.List):
    """A non-empty list of strings, or one string split at ``separators`` (one item a line);
    blank items are dropped; at most ``max_length`` characters in all, ``max_items`` items and
    ``item_max_length`` characters an item (``None``: no limit)."""

    def __init__(self, *, separators: str = r"\r?\n", max_length: int | None = 2000,
                 max_items: int | None = None, item_max_length: int | None = None, **kwargs):
        self.separators, self.max_length = separators, max_length
        self.max_items, self.item_max_length = max_items, item_max_length
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("minItems", 1)
        if max_items is not None:
            metadata.setdefault("maxItems", max_items)
        item = ma.fields.String(metadata={"minLength": 1, **({"maxLength": item_max_length} if item_max_length else {})})
        super().__init__(item, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        items = re.split(self.separators, value) if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise ma.ValidationError("a list of strings, or one string with one item a line")
        cleaned = [i.strip() for i in items if i.strip()]
        if not cleaned:
            raise ma.ValidationError("must not be empty")
        if self.max_items is not None and len(cleaned) > self.max_items:
            raise ma.ValidationError(f"at most {self.max_items} items")
        if self.item_max_length is not None and any(len(i) > self.item_max_length for i in cleaned):
            raise ma.ValidationError(f"at most {self.item_max_length} characters an item")
        if self.max_length is not None and sum(len(i) for i in cleaned) > self.max_length:
            raise ma.ValidationError(f"at most {self.max_length} characters in all")
        return cleaned


def choice(values, **kwargs) -> ma.fields.String:
    """One of ``values`` (an enum in the document)."""
    return ma.fields.String(validate=ma.validate.OneOf(values, error=f"one of {', '.join(values)}"), **kwargs)


class Choices(ma.fields.List):
    """A non-empty list drawn from ``values``, given back in the order of ``values``, each once."""

    def __init__(self, values, **kwargs):
        self.values = tuple(values)
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("minItems", 1)
        metadata.setdefault("uniqueItems", True)
        super().__init__(choice(self.values), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        listed = ", ".join(self.values)
        if not isinstance(value, list) or not value:
            raise ma.ValidationError(f"a non-empty list of {listed}")
        bad = [v for v in value if v not in self.values]
        if bad:
            raise ma.ValidationError(f"unknown {', '.join(map(str, bad))}; one of {listed}")
        return [v for v in self.values if v in value]


class Whole(ma.fields.Integer):
    """A whole number from ``minimum`` to ``maximum`` (``None``: no bound); never a boolean."""

    def __init__(self, *, minimum: int = 1, maximum: int | None = None, message: str = "", **kwargs):
        self.minimum, self.maximum = minimum, maximum
        self.message = message or (f"a whole number of at least {minimum}" if maximum is None
                                   else f"a whole number, {minimum} to {maximum}")
        super().__init__(strict=True, validate=ma.validate.Range(min=minimum, max=maximum), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int) or value < self.minimum \
                or (self.maximum is not None and value > self.maximum):
            raise ma.ValidationError(self.message)
        return value


def days(**kwargs) -> Whole:
    """Working days, 1 to 366."""
    return Whole(minimum=1, maximum=366, message="a whole number of working days, 1 to 366", **kwargs)


class Day(ma.fields.Date):
    """An ISO date (``2026-03-02``) within the service's date range. With ``zone`` (a function
    giving the zone, read when a value is loaded), also a date or an aware datetime (or its ISO
    text), taken as the calendar day in that zone."""

    def __init__(self, *, zone: Callable[[], ZoneInfo] | None = None, **kwargs):
        self.zone = zone
        metadata = kwargs.setdefault("metadata", {})
        described = metadata.get("description")
        metadata["description"] = f"{described} — {DATE_RANGE_TEXT}" if described else DATE_RANGE_TEXT
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        day = self._day(value)
        if day is None:
            raise ma.ValidationError("a date, e.g. 2026-03-02")
        if not in_date_range(day):
            raise ma.ValidationError(f"must be {DATE_RANGE_TEXT}")
        return day

    def _day(self, value) -> dt.date | None:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                if self.zone is None:
                    return None
            try:
                value = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                return None
        if self.zone is None:
            return None
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                raise ma.ValidationError("a naive datetime: a timezone is required")
            return value.astimezone(self.zone()).date()
        return value if isinstance(value, dt.date) else None


class Moment(ma.fields.AwareDateTime):
    """An ISO 8601 date and time with an offset, within the service's date range."""

    def __init__(self, **kwargs):
        metadata = kwargs.setdefault("metadata", {})
        described = metadata.get("description")
        metadata["description"] = f"{described} — {DATE_RANGE_TEXT}" if described else DATE_RANGE_TEXT
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        if not in_date_range(moment):
            raise ma.ValidationError(f"must be {DATE_RANGE_TEXT}")
        return moment


@functools.cache
def _person_schema(sides: tuple[str, ...], name_max_length: int) -> type[ma.Schema]:
    """One schema per kind of person (one component in the document, however many fields use it)."""
    return schema_for({"name": Text(max_length=name_max_length, required=True), "side": choice(sides, required=True)},
                      name="Participant", description="a person present, and the side they were there for")


class People(ma.fields.List):
    """A non-empty list of people, each ``{"name": ..., "side": ...}`` with ``side`` one of
    ``sides`` (who attended an interview or an on-site check, and for whom); at most
    ``max_items`` people and ``name_max_length`` characters a name. Loads a list of dicts,
    names stripped."""

    def __init__(self, sides, *, max_items: int | None = None, name_max_length: int = 50, **kwargs):
        self.sides, self.max_items, self.name_max_length = tuple(sides), max_items, name_max_length
        person = _person_schema(self.sides, name_max_length)
        metadata = kwargs.setdefault("metadata", {})
        metadata.setdefault("minItems", 1)
        if max_items is not None:
            metadata.setdefault("maxItems", max_items)
        super().__init__(ma.fields.Nested(person), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list) or not value:
            raise ma.ValidationError('a non-empty list of {"name": ..., "side": ...}')
        if self.max_items is not None and len(value) > self.max_items:
            raise ma.ValidationError(f"at most {self.max_items} people")
        return super()._deserialize(value, attr, data, **kwargs)


class Flag(ma.fields.Boolean):
    """true or false, and nothing that merely looks like it (1, "yes")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ma.ValidationError("true or false")
        return value


class Checked(ma.fields.Raw):
    """A value checked by a function of the table's own (``ValueError`` says why not), which
    returns its stored form; documented by ``metadata`` (e.g. ``{"type": "object"}``)."""

    def __init__(self, check, **kwargs):
        self.check = check
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return self.check(value)
        except ValueError as exc:
            raise ma.ValidationError(str(exc)) from exc


# --- schemas from declarations -------------------------------------------------------------

class DeclaredSchema(ma.Schema):
    """The base of every generated schema: a declared field given as ``null`` or a blank
    string is missing (``"required"`` if it must be given); a missing field is left out."""

    class Meta:
        unknown = ma.RAISE

    # The row's own checks across its fields, each given the loaded values and raising
    # ``ma.ValidationError`` naming the field (set by :func:`schema_for`).
    row_checks: tuple[Callable[[dict], None], ...] = ()

    @ma.validates_schema
    def _row_checks(self, data, **kwargs):
        for check in self.row_checks:
            check(data)

    @ma.pre_load
    def _blank_is_missing(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        return {key: value for key, value in data.items()
                if key not in self.load_fields or not (value is None or (isinstance(value, str) and not value.strip()))}


def schema_for(fields: dict[str, ma.fields.Field], *, name: str, description: str = "",
               unknown: str = ma.RAISE, unknown_message: str = "unknown field",
               base: type[ma.Schema] = DeclaredSchema,
               checks: tuple[Callable[[dict], None], ...] = ()) -> type[ma.Schema]:
    """The schema of one declaration: ``fields`` by name, in order. ``name`` is its title and
    its component name in the API document; ``unknown`` is RAISE (named, with ``unknown_message``)
    or EXCLUDE (dropped); ``checks`` run over the loaded values once every field is valid."""
    for field in fields.values():
        field.error_messages = {**field.error_messages, "required": REQUIRED}
    # The description is the class's docstring, not ``Meta.description``: apispec leaves out
    # ``additionalProperties: false`` when Meta has a description (the API registers it beside).
    meta = type("Meta", (), {"unknown": unknown, "title": name})
    return type(name, (base,), {**fields, "Meta": meta, "error_messages": {"unknown": unknown_message},
                                "__doc__": description, "row_checks": tuple(checks)})


def errors_of(error: ma.ValidationError, prefix: str = "") -> dict[str, list[str]]:
    """A schema's errors as the service answers them: ``{"prefix.field": [reasons]}``."""
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    out: dict[str, list[str]] = {}
    for key, value in messages.items():
        if isinstance(value, dict):  # a list field's per-item errors
            value = [str(m) for msgs in value.values() for m in (msgs if isinstance(msgs, list) else [msgs])]
        out[f"{prefix}{key}"] = value if isinstance(value, list) else [str(value)]
    return out

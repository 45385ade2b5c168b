"""Intake of payment rows (支付信息, Art. 9): the fields a posted payment has, and the parser
that turns each posted row into typed values or names what is wrong with it.

A row arrives as a JSON object or a CSV row of strings; :func:`validate_rows` parses the
whole request and raises one :class:`Invalid` (422) naming ``row N.field`` for every bad
row, so that nothing is written when any row is bad. The parser is hand-written rather than
a marshmallow schema: a bulk import passes a million rows through it.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

from workflow.db import DATE_RANGE_TEXT, in_date_range, to_money, utcnow
from workflow.errors import Invalid
from workflow.monitoring.models import EXCEPTIONS, METHODS, PAYEE_KINDS, SETTLEMENTS

MAX_ROWS = 10_000  # per API request; the import command feeds batches of any size
MAX_REPORTED_ERRORS = 100
FUTURE_TOLERANCE = dt.timedelta(hours=1)

REQUIRED = ("voucher_no", "unit_code", "payer_account", "amount", "paid_at", "settlement", "method",
            "functional_code", "economic_code", "summary", "payee_name", "payee_kind")
OPTIONAL = ("payee_account", "payee_id_number", "project", "approval_ref", "exception", "exception_ref")
FIELDS = frozenset(REQUIRED + OPTIONAL)
LENGTHS = {"voucher_no": 64, "unit_code": 32, "payer_account": 40, "summary": 500, "payee_name": 200,
           "payee_account": 64, "payee_id_number": 32, "project": 200, "approval_ref": 200, "exception_ref": 200}
CHOICES = {"settlement": frozenset(SETTLEMENTS), "method": frozenset(METHODS),
           "payee_kind": frozenset(PAYEE_KINDS), "exception": frozenset(EXCEPTIONS)}
CODE = re.compile(r"[0-9]{3,10}")
ID_NUMBER = re.compile(r"[0-9]{17}[0-9Xx]|[0-9]{15}")
ACCOUNT_NO = re.compile(r"[0-9A-Za-z-]{4,64}")
NOT_TEXT = object()  # a text field sent as another JSON type: already an error


class FieldSpec(NamedTuple):
    """How one text field of a row is checked (``amount`` and the time ``paid_at`` have their own code)."""

    name: str
    required: bool
    max_length: int | None
    choices: frozenset | None
    choice_error: str | None
    pattern: tuple[re.Pattern, str] | None  # (pattern, what it asks for)
    empty: str | None  # the value of an absent optional field


def _field_specs() -> tuple[FieldSpec, ...]:
    patterns = {"functional_code": (CODE, "digits only, 3 to 10 of them"),
                "economic_code": (CODE, "digits only, 3 to 10 of them"),
                "payer_account": (ACCOUNT_NO, "letters, digits and '-' only, 4 to 64 of them"),
                "payee_account": (ACCOUNT_NO, "letters, digits and '-' only, 4 to 64 of them"),
                "payee_id_number": (ID_NUMBER, "an identity card number of 18 (or 15) characters")}
    specs = []
    for name in REQUIRED + OPTIONAL:
        if name == "amount":
            continue
        choices = CHOICES.get(name)
        specs.append(FieldSpec(name, name in REQUIRED, LENGTHS.get(name), choices,
                               f"one of {', '.join(sorted(choices))}" if choices else None, patterns.get(name),
                               "" if name in ("payee_account", "project") else None))
    return tuple(specs)


FIELD_SPECS = _field_specs()


def validate_rows(rows: list, *, now: dt.datetime | None = None, max_rows: int | None = None) -> list[dict]:
    """Parse every row into a dict of typed values by field name; raise :class:`Invalid`
    naming ``row N.field`` (N counts rows from 1 as posted) if any row is bad, or if there
    are more than ``max_rows`` of them."""
    if max_rows is not None and isinstance(rows, list) and len(rows) > max_rows:
        raise Invalid(f"at most {max_rows} payments per request", {"_": [f"{len(rows)} rows posted"]})
    if not isinstance(rows, list):
        raise Invalid("expected a list of payments", {"_": ["expected a JSON array"]})
    if not rows:
        raise Invalid("nothing to screen", {"_": ["no rows"]})
    latest = (now or utcnow()) + FUTURE_TOLERANCE
    errors: dict[str, list[str]] = {}
    parsed = []
    for number, row in enumerate(rows, start=1):
        p, row_errors = _parse_row(row, latest)
        if row_errors:
            for name, message in row_errors:
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors[f"row {number}.{name}" if name else f"row {number}"] = [message]
        parsed.append(p)
    if errors:
        if len(errors) >= MAX_REPORTED_ERRORS:
            errors["_"] = [f"only the first {MAX_REPORTED_ERRORS} errors are listed"]
        raise Invalid("the payments were rejected; nothing was written", errors)
    return parsed


def _parse_row(row, latest: dt.datetime) -> tuple[dict, list[tuple[str, str]]]:
    # Written for speed: a million rows pass through here in a bulk import.
    if type(row) is not dict:
        return {}, [("", "must be an object of payment fields")]
    errors: list[tuple[str, str]] = []
    if not FIELDS.issuperset(row):
        errors.extend((name, "unknown field") for name in sorted(row.keys() - FIELDS))
    get = row.get
    p: dict = {}
    for name, required, limit, choices, choice_error, pattern, empty in FIELD_SPECS:
        value = get(name)
        if value is None:
            pass
        elif type(value) is str:
            value = value.strip() or None
        elif type(value) is int:
            value = str(value)
        else:
            errors.append((name, "must be text"))
            p[name] = NOT_TEXT  # the checks across fields below pass it by
            continue
        if value is None:
            if required:
                errors.append((name, "required"))
            p[name] = empty
            continue
        if limit is not None and len(value) > limit:
            errors.append((name, f"at most {limit} characters"))
        elif choices is not None and value not in choices:
            errors.append((name, choice_error))
        elif pattern is not None and not pattern[0].fullmatch(value):
            errors.append((name, pattern[1]))
        p[name] = value
    number = p["payee_id_number"]
    if type(number) is str and number[-1] == "x":
        p["payee_id_number"] = number.upper()
    if NOT_TEXT in (p["exception"], p["exception_ref"]):
        pass
    elif p["exception"] and not p["exception_ref"]:
        errors.append(("exception_ref", "required with an exception: the document it rests on (Art. 13(三))"))
    elif p["exception_ref"] and not p["exception"]:
        errors.append(("exception", "required with an exception_ref"))
    raw = get("amount")
    if raw is None or raw == "":
        errors.append(("amount", "required"))
    elif type(raw) is bool or not isinstance(raw, (str, int)):
        errors.append(("amount", "a decimal amount in yuan as a string, e.g. \"1500.00\""))
    else:
        try:
            amount = to_money(raw)  # the one written form, at most MONEY_MAX
        except (TypeError, ValueError) as exc:
            errors.append(("amount", str(exc)))
        else:
            if amount <= 0:
                errors.append(("amount", "must be more than zero"))
            p["amount"] = amount
    paid_at = p["paid_at"]
    if type(paid_at) is str:
        try:
            moment = dt.datetime.fromisoformat(paid_at)
        except ValueError:
            errors.append(("paid_at", "an ISO 8601 time with its offset, e.g. 2021-03-01T10:00:00+08:00"))
        else:
            if moment.tzinfo is None:
                errors.append(("paid_at", "needs a UTC offset, e.g. +08:00"))
            elif not in_date_range(moment):
                errors.append(("paid_at", f"must be {DATE_RANGE_TEXT}"))
            elif moment > latest:
                errors.append(("paid_at", "is in the future"))
            else:
                p["paid_at"] = moment
    return p, errors

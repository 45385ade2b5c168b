"""The gate every request passes before a view reads it (issue 16 item 3: no input may produce a 5xx).

Two checks that no schema can make, because they concern the request as a whole:

- ids in the path fit the INTEGER column (``IdConverter``, registered as ``int``): a larger one,
  or one in other digits, matches no route and is 404 like any id that does not exist;
- text anywhere in the request (path, query, form fields, uploaded file names, JSON strings and
  keys) holds neither a NUL (PostgreSQL refuses it, SQLite would store it: the backends must
  agree) nor a lone surrogate (not Unicode, so it can neither be stored nor answered): 422 naming
  the field; and a JSON body nested deeper than ``MAX_DEPTH`` (or too deep to parse) is 400.
"""
from __future__ import annotations

import json
import re

from flask import request
from werkzeug.routing import IntegerConverter

from api.errors import error_body
from api.fields import INT_MAX
from workflow.errors import Invalid

MAX_DEPTH = 32  # the deepest any schema goes is 4; 32 leaves room and stays far from recursion limits
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


class IdConverter(IntegerConverter):
    """``<int:id>``: ASCII digits, 1..INT_MAX (PostgreSQL's INTEGER, the id columns' type)."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits=0, min=1, max=INT_MAX, signed=False):  # noqa: A002 (werkzeug's names)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=False)


def text_problem(value: str) -> str | None:
    """Why ``value`` may not be stored as text, or None."""
    found = _BAD_TEXT.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain a NUL character"
    return "must be valid Unicode text (a lone surrogate such as \\ud800 is not)"


def printable_name(name) -> str:
    """A field name that is safe to echo in an answer (bad characters escaped)."""
    name = str(name)
    return name if text_problem(name) is None else name.encode("ascii", "backslashreplace").decode("ascii")


def _depth_and_problems(body, *, check_text: bool = True) -> tuple[int, dict[str, list[str]]]:
    """Walk the parsed JSON without recursion: its depth, and each bad string by its field name
    (``row N.field`` for the rows of a top-level array, as the bulk uploads name them). Only
    containers go on the stack; with ``check_text`` off only the depth is measured."""
    problems: dict[str, list[str]] = {}

    def text(value, name):
        reason = text_problem(value)
        if reason:
            problems.setdefault(name or "_", []).append(reason)

    if isinstance(body, str) and check_text:
        text(body, "")
    deepest = 0
    stack = [(body, "", 1)] if isinstance(body, (dict, list)) else []
    while stack:
        value, path, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(value, dict):
            items = value.items()
        else:
            items = ((None, item) for item in value)
        for index, (key, item) in enumerate(items):
            if key is None:
                child = f"{path}.{index}" if path else f"row {index + 1}"
            else:
                name = printable_name(key) if check_text else key
                child = f"{path}.{name}" if path else name
                if check_text and text_problem(key):
                    problems.setdefault(child, []).append(f"field name {text_problem(key)}")
            if isinstance(item, (dict, list)):
                stack.append((item, child, depth + 1))
            elif check_text and isinstance(item, str):
                text(item, child)
    return max(deepest, 1), problems


def json_field(raw: str, field: str):
    """A form field holding JSON (the structured part of a multipart body), parsed and checked
    as a JSON body is: not JSON, nested too deeply, or holding unstorable text is a 422 naming
    ``field`` (and the member within it)."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise Invalid(f"{field} is not JSON", {field: ["not JSON text"]}) from None
    depth, problems = _depth_and_problems(value)
    if depth > MAX_DEPTH:
        raise Invalid(f"{field} is nested too deeply", {field: [f"at most {MAX_DEPTH} levels of arrays and objects"]})
    if problems:
        raise Invalid("invalid input", {f"{field}.{name}" if name != "_" else field: reasons
                                        for name, reasons in problems.items()})
    return value


# What a JSON text must contain for a string in it to hold a NUL or a lone surrogate: the escape
# (a raw NUL is not valid JSON, and a raw surrogate is not valid UTF-8, so neither parses).
_BAD_TEXT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def check_request():
    """``before_request`` hook (after authentication): refuse what cannot be stored or parsed."""
    problems: dict[str, list[str]] = {}

    def check(name, value):
        if isinstance(value, str):
            reason = text_problem(value)
            if reason:
                problems.setdefault(printable_name(name), []).append(reason)

    for name, value in (request.view_args or {}).items():
        check(name, value)
    for source in (request.args, request.form):
        for name, values in source.lists():
            check(name, name)
            for value in values:
                check(name, value)
    for name, upload in request.files.items(multi=True):
        check(name, name)
        if upload.filename and text_problem(upload.filename):
            problems.setdefault(printable_name(name), []).append(f"file name {text_problem(upload.filename)}")
    if request.is_json:
        too_deep = error_body(400, "the JSON body is nested too deeply",
                              {"_": [f"at most {MAX_DEPTH} levels of arrays and objects"]})
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            return too_deep, 400
        # A bulk upload holds up to 10,000 rows: its strings are walked only when the raw text
        # contains an escape that could make one unstorable.
        depth, found = _depth_and_problems(body, check_text=bool(_BAD_TEXT_ESCAPE.search(request.get_data())))
        if depth > MAX_DEPTH:
            return too_deep, 400
        for name, reasons in found.items():
            problems.setdefault(name, []).extend(reasons)
    if problems:
        return error_body(422, "invalid input", problems), 422
    return None

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

import re

from flask import request
from werkzeug.routing import IntegerConverter

from api.errors import error_body
from api.fields import INT_MAX

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


def _depth_and_problems(body) -> tuple[int, dict[str, list[str]]]:
    """Walk the parsed JSON without recursion: its depth, and each bad string by its field name
    (``row N.field`` for the rows of a top-level array, as the bulk uploads name them)."""
    problems: dict[str, list[str]] = {}
    deepest = 0
    stack = [(body, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(value, str):
            reason = text_problem(value)
            if reason:
                problems.setdefault(path or "_", []).append(reason)
        elif isinstance(value, dict):
            for key, item in value.items():
                name = printable_name(key)
                child = f"{path}.{name}" if path else name
                reason = text_problem(key)
                if reason:
                    problems.setdefault(child, []).append(f"field name {reason}")
                stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                child = f"{path}.{index}" if path else f"row {index + 1}"
                stack.append((item, child, depth + 1))
    return deepest, problems


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
        depth, found = _depth_and_problems(body)
        if depth > MAX_DEPTH:
            return too_deep, 400
        for name, reasons in found.items():
            problems.setdefault(name, []).extend(reasons)
    if problems:
        return error_body(422, "invalid input", problems), 422
    return None

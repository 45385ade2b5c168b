"""CSV uploads: decoded as UTF-8 (with or without BOM) or GBK, as Excel in China saves them."""
from __future__ import annotations

import csv
import io

from flask import request

from api.inputs import text_problem
from workflow.errors import Invalid

ENCODINGS = ("utf-8-sig", "gb18030")  # gb18030 is a superset of GBK and GB2312


def decode_text(raw: bytes, field: str = "file") -> str:
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("the file is neither UTF-8 nor GBK text", {field: ["not UTF-8 or GBK text"]})


def read_csv(raw: bytes, field: str = "file") -> list[dict]:
    """Rows as dicts keyed by the header; empty cells are left out so defaults apply."""
    text = decode_text(raw, field)
    if text_problem(text):  # a NUL byte: PostgreSQL cannot store it, SQLite would (issue 16 item 3)
        raise Invalid("the file holds a NUL character", {field: [text_problem(text)]})
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise Invalid("the CSV has no header row", {field: ["missing header row"]})
    rows = []
    for row in reader:
        if None in row:
            raise Invalid("a row has more cells than the header", {f"row {len(rows) + 1}": ["too many cells"]})
        cleaned = {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""}
        if cleaned:
            rows.append(cleaned)
    return rows


def incoming_rows(noun: str) -> list:
    """The rows of a bulk upload as sent: a multipart CSV in field ``file``, or a JSON array
    (or ``{"items": [...]}``); at least one row."""
    if request.files:
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("no file uploaded", {"file": ["missing"]})
        rows = read_csv(upload.read())
    else:
        body = request.get_json(silent=True)
        rows = body.get("items") if isinstance(body, dict) else body
        if not isinstance(rows, list):
            raise Invalid(f"expected a JSON array of {noun}", {"_": ["expected a JSON array or {\"items\": [...]}"]})
    if not rows:
        raise Invalid(f"no {noun} to load", {"_": ["no rows"]})
    return rows

"""Lists as files (导出, issue 13 "Exports"): every list endpoint answers CSV or XLSX as well as its
JSON page, chosen by ``?format=csv|xlsx`` or by ``Accept: text/csv`` / the XLSX media type, with the
same filters and the same reach.

A file holds every row the list would page through (from the cursor, if one is given), read in
keyset batches and written as they are read: CSV is streamed to the client and never holds the
list; XLSX is written row by row (openpyxl's write-only mode) and sent once compressed.
The columns are the list item's schema, nested objects flattened to dotted names
(``payment.voucher_no``), lists joined with "; ". A text cell that a spreadsheet would read as a
formula (beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, and not a plain
number) is written with a leading apostrophe (OWASP, CSV injection).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Iterator

import marshmallow as ma
from flask import Response, current_app, request, send_file, stream_with_context
from openpyxl import Workbook

from workflow.settings import local_zone

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"csv": CSV, "xlsx": XLSX}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def requested_format(args: dict) -> str | None:
    """``csv`` or ``xlsx`` when the caller asked for a file (the query wins over ``Accept``), else None."""
    if args.get("format"):
        return None if args["format"] == "json" else args["format"]
    accept = request.accept_mimetypes
    best = accept.best_match(["application/json", CSV, XLSX])
    if best in (CSV, XLSX) and accept[best] > accept["application/json"]:
        return "csv" if best == CSV else "xlsx"
    return None


def item_schema() -> ma.Schema:
    """The schema of one item of the list the current request asked for: the view's documented
    200 response is a ``{"items", "next_cursor"}`` page (:func:`api.pagination.page_schema`)."""
    view = current_app.view_functions[request.endpoint]
    method = getattr(view.view_class, request.method.lower())
    responses = method._apidoc["response"]["responses"]
    doc = responses.get(200) or responses.get("200")
    doc = doc[0] if isinstance(doc, list) else doc
    page = doc["schema"]
    page = page() if isinstance(page, type) else page
    return page.fields["items"].inner.schema


def columns(schema: ma.Schema, prefix: str = "") -> list[str]:
    """The dotted column names of ``schema``'s dumped fields, nested objects flattened."""
    names = []
    for name, field in schema.dump_fields.items():
        key = prefix + (field.data_key or name)
        if isinstance(field, ma.fields.Nested) and not field.many:
            names.extend(columns(field.schema, key + "."))
        else:
            names.append(key)
    return names


def _value(item: dict, column: str):
    value = item
    for part in column.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def cell(value) -> str:
    """A dumped value as the text of one cell, neutralised if a spreadsheet would run it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = "; ".join(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    if text.startswith(FORMULA_START) and not NUMBER.match(text):
        return "'" + text
    return text


def _filename(fmt: str) -> str:
    day = dt.datetime.now(local_zone()).strftime("%Y%m%d")
    return f"{request.path.rstrip('/').rsplit('/', 1)[-1] or 'export'}-{day}.{fmt}"


def export(batches: Iterable[list], fmt: str) -> Response:
    """The rows of ``batches`` (lists of model objects, dumped with the list's item schema) as a
    CSV or XLSX attachment."""
    schema = item_schema()
    header = columns(schema)

    def lines() -> Iterator[list[str]]:
        for batch in batches:
            for item in schema.dump(batch, many=True):
                yield [cell(_value(item, column)) for column in header]

    name = _filename(fmt)
    if fmt == "csv":
        def chunks() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            buffer.write("\ufeff")  # Excel opens UTF-8 (Chinese) text correctly only with the BOM
            writer.writerow(header)
            for n, line in enumerate(lines(), 1):
                writer.writerow(line)
                if n % 500 == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        return Response(stream_with_context(chunks()), mimetype=CSV, headers={
            "Content-Disposition": f'attachment; filename="{name}"'})
    book = Workbook(write_only=True)
    sheet = book.create_sheet(request.path.rsplit("/", 1)[-1][:31] or "export")
    sheet.append(header)
    for line in lines():
        sheet.append(line)
    out = io.BytesIO()  # the compressed workbook: a tenth or less of the rows' text
    book.save(out)
    out.seek(0)
    return send_file(out, mimetype=XLSX, as_attachment=True, download_name=name)


def document(spec) -> None:
    """Say in the OpenAPI document that each list (an operation taking ``format``) also answers
    CSV and XLSX."""
    for operations in spec._paths.values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            if not any(p.get("name") == "format" and p.get("in") == "query" for p in operation.get("parameters", [])):
                continue
            content = operation.get("responses", {}).get("200", {}).get("content")
            if content is not None:
                content[CSV] = {"schema": {"type": "string"}}
                content[XLSX] = {"schema": {"type": "string", "format": "binary"}}

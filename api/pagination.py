"""Keyset pagination: ``{"items": [...], "next_cursor": ...}``, ordered by id, no total; or, asked
for CSV or XLSX, every row in the same order as a file (:mod:`api.exports`)."""
from __future__ import annotations

import base64

import marshmallow as ma
import sqlalchemy as sa

from api.exports import FORMATS, export, requested_format
from api.fields import INT_MAX, Integer
from workflow.db import db
from workflow.errors import Invalid
from workflow.scoping import Reach


class PageQuery(ma.Schema):
    limit = Integer(load_default=50, validate=ma.validate.Range(min=1, max=1000))
    cursor = ma.fields.String(load_default=None)
    format = ma.fields.String(load_default=None, validate=ma.validate.OneOf(("json", *FORMATS)),
                              metadata={"description": "json (a page, the default), or csv / xlsx: every row "
                                                       "from the cursor on, as a file (also by Accept)"})


def page_schema(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """A ``{"items", "next_cursor"}`` envelope schema for ``item_schema``."""
    return type(f"{item_schema.__name__.removesuffix('Schema')}PageSchema", (ma.Schema,), {
        "items": ma.fields.List(ma.fields.Nested(item_schema)),
        "next_cursor": ma.fields.String(allow_none=True),
    })


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode("ascii")
        if not text.isdigit() or len(text) > 10 or int(text) > INT_MAX:  # ids are INTEGER columns
            raise ValueError(text)
        return int(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("bad cursor", {"cursor": ["not a cursor this API issued"]}) from exc


def paginate(stmt, id_column, args: dict, reach: Reach | None = None, shown=None) -> dict:
    """Run ``stmt`` one page at a time after the cursor's id; one extra row tells if more follow.
    No total is counted: a count would read every row in reach, and the page would cost the
    table's size (issue 15 item 1).

    With ``reach`` (:class:`workflow.scoping.Reach`), ``stmt`` holds the filters and the caller's
    reach is added in the form that reads a page without reading the reach: each ``seek``
    predicate gives at most a page of ids in id order (its index), the pages are merged and the
    first ``limit + 1`` ids kept; a ``walk`` predicate is tested along the primary key.

    ``shown``: what of each row the caller is shown (e.g. a withheld event), applied to a page's
    rows and to a file's alike."""
    after = decode_cursor(args["cursor"]) if args.get("cursor") else None
    fmt = requested_format(args)
    if fmt is not None:
        batches = _batches(stmt, id_column, reach, after)
        return export(([shown(row) for row in batch] for batch in batches) if shown else batches, fmt)
    rows, more = _page(stmt, id_column, reach, after, args["limit"])
    cursor = encode_cursor(sa.inspect(rows[-1]).identity[0]) if more else None
    return {"items": [shown(row) for row in rows] if shown else rows, "next_cursor": cursor}


EXPORT_BATCH = 1000


def _batches(stmt, id_column, reach: Reach | None, after: int | None):
    """Every row after ``after``, a page at a time; each page leaves the session once written."""
    while True:
        rows, more = _page(stmt, id_column, reach, after, EXPORT_BATCH)
        if rows:
            yield rows
        if not more:
            return
        after = sa.inspect(rows[-1]).identity[0]
        for row in rows:
            db.session.expunge(row)


def _page(stmt, id_column, reach: Reach | None, after: int | None, limit: int) -> tuple[list, bool]:
    if reach is not None and reach.walk is not None:
        stmt = stmt.where(reach.walk)
    elif reach is not None:
        if not reach.seek:
            return [], False
        if len(reach.seek) == 1:
            stmt = stmt.where(reach.seek[0])
        else:
            stmt = stmt.where(id_column.in_(_merged(stmt, id_column, reach, after, limit + 1)))
    if after is not None:
        stmt = stmt.where(id_column > after)
    rows = db.session.execute(stmt.order_by(id_column).limit(limit + 1)).scalars().all()
    return rows[:limit], len(rows) > limit


def _merged(stmt, id_column, reach: Reach, after: int | None, count: int):
    """The first ``count`` ids after ``after`` matching ``stmt``'s filters and any seek predicate:
    a compound of one ordered, limited select per predicate, merged in id order (SQLite's
    compound ORDER BY merges its arms; PostgreSQL's Merge Append over the index scans)."""
    arms = []
    for predicate in reach.seek:
        arm = sa.select(id_column.label("id")).where(predicate)
        if stmt.whereclause is not None:
            arm = arm.where(stmt.whereclause)
        if after is not None:
            arm = arm.where(id_column > after)
        # a subquery: SQLite takes no ORDER BY or LIMIT on an arm of a compound itself
        page = arm.order_by(id_column).limit(count).subquery()
        arms.append(sa.select(page.c.id))
    compound = sa.union_all(*arms) if reach.disjoint else sa.union(*arms)
    return compound.order_by(compound.selected_columns.id).limit(count)

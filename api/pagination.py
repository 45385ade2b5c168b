"""Keyset pagination: ``{"items": [...], "next_cursor": ...}``, ordered by id."""
from __future__ import annotations

import base64

import marshmallow as ma
import sqlalchemy as sa

from api.fields import INT_MAX, Integer
from workflow.db import db
from workflow.errors import Invalid


class PageQuery(ma.Schema):
    limit = Integer(load_default=50, validate=ma.validate.Range(min=1, max=1000))
    cursor = ma.fields.String(load_default=None)


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


def paginate(stmt, id_column, args: dict) -> dict:
    """Run ``stmt`` one page at a time after the cursor's id; one extra row tells if more follow."""
    limit = args["limit"]
    if args.get("cursor"):
        stmt = stmt.where(id_column > decode_cursor(args["cursor"]))
    rows = db.session.execute(stmt.order_by(id_column).limit(limit + 1)).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(sa.inspect(rows[-1]).identity[0]) if more else None}

"""PATCH bodies (RFC 5789): a change names at least one field."""
from __future__ import annotations

import marshmallow as ma


class ChangeSchema(ma.Schema):
    """Base of every PATCH body: ``{}`` changes nothing and is refused (422), rather than
    answered 200 as if something had been done."""

    @ma.validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            names = ", ".join(sorted(name for name, field in self.fields.items() if not field.dump_only))
            raise ma.ValidationError(f"name at least one field to change: {names}", "_schema")

"""Forms generated from the tables' field rows (:class:`workflow.machines.base.Field`): a case
action's, a verification step kind's, a confirmation rung's. The type of each row chooses the
input, its label and ``required`` the label and mark, its choices the options; a new row (or a
new field on a row) appears on the page without template code. What a form posts is turned
back into the values the domain loads with the same row's schema, which checks them."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from workflow.machines.base import Field
from workflow.settings import local_zone

# type → the widget the template draws (templates/console/_forms.html)
WIDGETS = {
    "text": "text", "lines": "textarea", "choice": "select", "choices": "checkboxes", "money": "money",
    "days": "number", "count": "number", "date": "date", "datetime": "datetime", "org": "org",
    "accounts": "checkboxes",
}
LONG_TEXT = 200  # a text field allowing more than this is a textarea
MULTI = ("choices", "accounts")


@dataclass
class Input:
    """One field as the page draws it."""

    name: str
    label: str
    widget: str
    required: bool
    choices: tuple[tuple[str, str], ...] = ()
    value: object = ""
    errors: list[str] = field(default_factory=list)
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    hint: str = ""

    @property
    def values(self) -> list:
        return self.value if isinstance(self.value, list) else [self.value]


def inputs(fields: tuple[Field, ...], *, values: dict | None = None, errors: dict | None = None,
           options: dict[str, tuple[tuple[str, str], ...]] | None = None) -> list[Input]:
    """The inputs of a form over ``fields``; ``values`` posted before, ``errors`` by field name,
    ``options`` for the fields whose choices depend on the record (an org field's bodies in
    reach, the subject's accounts)."""
    values, errors, options = values or {}, errors or {}, options or {}
    out = []
    for f in fields:
        widget = WIDGETS[f.type]
        if widget == "text" and f.max_length and f.max_length > LONG_TEXT:
            widget = "textarea"
        choices = f.choices or options.get(f.name, ())
        if f.type == "org" and choices:
            widget = "select"
        hint = {"lines": "每行一项", "money": "金额（元），如 1234.56", "datetime": "北京时间",
                "days": "工作日", "org": "机构代码"}.get(f.type, "")
        value = values.get(f.name, [] if f.type in MULTI else "")
        out.append(Input(name=f.name, label=f.label or f.name, widget=widget, required=f.required,
                         choices=tuple(choices), value=value, errors=list(errors.get(f.name, ())),
                         minimum=1 if f.type in ("count", "days") else None,
                         maximum=f.maximum if f.type == "count" else (366 if f.type == "days" else None),
                         max_length=f.max_length if f.type in ("text", "lines") else None, hint=hint))
    return out


def _local_moment(text: str) -> str:
    """A ``datetime-local`` value (no offset) as ISO 8601 in the configured zone; anything
    else is passed on for the schema to refuse with its reason."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_zone())
    return moment.isoformat()


def read(fields: tuple[Field, ...], form) -> tuple[dict, dict]:
    """``(data for the domain, what was posted)`` of a submitted form over ``fields``. Empty
    inputs are left out, so that the schema names a missing required field as the API would."""
    data, posted = {}, {}
    for f in fields:
        if f.type in MULTI:
            chosen = [v for v in form.getlist(f.name) if v.strip()]
            posted[f.name] = chosen
            if chosen:
                data[f.name] = chosen
            continue
        raw = form.get(f.name, "")
        posted[f.name] = raw
        if not raw.strip():
            continue
        if f.type == "datetime":
            data[f.name] = _local_moment(raw.strip())
        elif f.type in ("count", "days") and raw.strip().isdigit():
            data[f.name] = int(raw.strip())
        elif f.type in ("money", "date", "choice", "org"):
            data[f.name] = raw.strip()
        else:
            data[f.name] = raw
    return data, posted


def field_errors(errors: dict) -> dict[str, list[str]]:
    """A domain error's ``{field: [reasons]}`` keyed by the form's input names (a list field's
    ``name.0`` goes to ``name``); what names no input stays under its key for the form's top."""
    out: dict[str, list[str]] = {}
    for key, reasons in (errors or {}).items():
        name = str(key).split(".")[0]
        out.setdefault(name, []).extend(reasons if isinstance(reasons, list) else [str(reasons)])
    return out

"""The message templates: one table of every name callers may pass to ``notify()``.

Each template is ``templates/messages/<name>.txt`` (Jinja2, plain text, Chinese): the
first line is the subject, the rest the body. Every template also receives
``case_id`` (or None) and ``link`` (an absolute URL built from FUNDWATCH_BASE_URL).
``requires`` lists the context keys the caller must give; templates treat other keys as
optional. Filters for the templates: ``when`` (local date and time), ``day`` (local
date), ``money`` (yuan). Rungs, actions and document kinds reach the templates already named
(``workflow.message_builders`` takes their labels from the machines and the document kinds' rows).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import jinja2

from workflow.articles import Cited, art, cite
from workflow.db import to_money
from workflow.settings import current, local_zone

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "messages"
SUBJECT_MAX = 300


@dataclass(frozen=True)
class MessageTemplate:
    name: str
    audience: str
    article: Cited
    requires: tuple[str, ...]
    purpose: str


_TABLE = (
    MessageTemplate("case_opened", "unit (or bank) the case is against; a unit's competent department",
                    cite(art(11, 5), art(21), art(22)),
                    ("subject_name", "rung"), "a case was opened on a rung, with its deadline"),
    MessageTemplate("case_action", "parties of the case", cite((art(21), art(22), art(23), art(24))),
                    ("subject_name", "trigger", "state"), "generic: an action moved the case to a new state"),
    MessageTemplate("rectification_order_copy", "competent department of the unit", art(21, 3),
                    ("unit_name",), "copy of a written rectification order issued to a subordinate unit"),
    MessageTemplate("deadline_reminder", "addressee of the deadline", art(21),
                    ("subject_name", "rung", "deadline"), "a deadline is near (N working days, or today)"),
    MessageTemplate("case_overdue", "finance department in charge", cite((art(21, 3), art(21, 4))),
                    ("subject_name", "rung", "deadline"), "a deadline passed; the proposed next action"),
    MessageTemplate("case_escalated", "unit (or bank) and finance", cite((art(21, 3), art(21, 4)), art(22)),
                    ("subject_name", "from_rung", "rung"), "the case moved up the ladder after a deadline"),
    MessageTemplate("overdue_digest", "each finance department", art(21),
                    ("finance_name", "cases", "as_of"), "daily list of overdue cases in the jurisdiction"),
    MessageTemplate("suspension_to_execute", "agent bank of the unit's accounts", cite(art(21, 4), art(28)),
                    ("unit_name",), "suspend disbursement to the unit's accounts"),
    MessageTemplate("account_closure_to_execute", "agent bank of the unit's accounts", cite(art(21, 4), art(28)),
                    ("unit_name",), "close the unit's accounts and confirm"),
    MessageTemplate("referral", "people's congress, audit, discipline inspection", art(23),
                    ("subject_name",), "a serious case referred for handling"),
    MessageTemplate("joint_investigation", "audit or discipline inspection", art(11, 2, 5),
                    ("subject_name",), "request to investigate a suspected violation jointly"),
    MessageTemplate("materials_requested", "budget unit and agent bank of a warning", art(11, 2, 2),
                    ("unit_name",), "finance asks for materials (documents, due_date) to verify a warning"),
    MessageTemplate("bank_refusal", "finance department in charge", art(28, 3),
                    ("bank_name", "unit_name", "reason"), "an agent bank refused a payment it judged illegal"),
    MessageTemplate("bank_report", "finance department in charge", art(10, 4, 6),
                    ("bank_name", "unit_name", "finding"),
                    "an agent bank reported a suspected violation on a payment it carries, without refusing it"),
    MessageTemplate("complaint_received", "finance department in charge", art(20),
                    ("summary",), "a complaint arrived (the complainant is never named here)"),
    MessageTemplate("unit_submission", "finance department in charge and the unit's competent department",
                    cite(art(21), art(27, 4)),
                    ("unit_name", "submission"), "a unit submitted rectification results or an explanation"),
    MessageTemplate("document_issued", "addressee of the document", cite(art(11), art(21)),
                    ("document_kind", "document_name", "issuer_name"), "a numbered document was issued"),
    MessageTemplate("notice_circulated", "each party in the scope of a public notice", art(21, 5),
                    ("subject_name", "document_number", "issuer_name"),
                    "a 通报 circulated to the party (the competent department, its units, or the region's)"),
    MessageTemplate("warning_raised", "budget unit, finance in charge; for block level its competent department "
                    "and the bank carrying the payment", cite(art(11, 1), art(12)),
                    ("unit_name", "items", "payments", "recipient_name", "recipient_kind"),
                    "screening (one batch) or finance by hand raised warnings on the unit: each payment, "
                    "level, rule and article"),
    MessageTemplate("warning_dismissed", "budget unit of the warning", art(11, 2),
                    ("unit_name", "reason"),
                    "verification dismissed a warning; whether its held payment was released"),
    MessageTemplate("warning_transferred", "the department a matter is handed on to; the budget unit",
                    art(11, 3), ("unit_name", "receiver_name", "recipient_name"),
                    "a confirmed matter outside finance's remit was handed on to a department with a 移交函"),
    MessageTemplate("transfer_closed", "budget unit of the warning", art(11, 3), ("unit_name", "summary"),
                    "the department answered and finance closed the matter handed on; what became of the payment"),
    MessageTemplate("step_reminder", "the party a verification step asks: the unit, the carrying bank, the competent "
                    "department, or (joint investigation) the oversight body alone", art(11, 2),
                    ("recipient_name", "step_title", "due_at"),
                    "what a verification step asks is due soon (N working days, or today)"),
    MessageTemplate("step_overdue", "finance department that issued the verification step", art(11, 2),
                    ("finance_name", "asked_name", "step_title", "due_at"),
                    "a party did not answer a verification step by its due date"),
    MessageTemplate("dispute_filed", "finance department in charge", art(24),
                    ("subject_name", "from_rung"), "an agent bank took a dispute to arbitration or court; deadline paused"),
)
TEMPLATES: dict[str, MessageTemplate] = {t.name: t for t in _TABLE}


class TemplateContextError(ValueError):
    """A caller named an unknown template or left out a key the template requires."""


def _when(value) -> str:
    if value is None:
        return "（未设定）"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        local = value.astimezone(local_zone())
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}（北京时间）"
    return f"{value.year}年{value.month}月{value.day}日"


def _day(value) -> str:
    if value is None:
        return "（未设定）"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = value.astimezone(local_zone()).date()
    return f"{value.year}年{value.month}月{value.day}日"


def _money(value) -> str:
    if value is None:
        return "—"
    return f"{to_money(value):,.2f}元"  # to_money refuses floats: money never passes through one


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                             undefined=jinja2.StrictUndefined, autoescape=False,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.filters.update(
        when=_when, day=_day, money=_money,
    )
    return env


_ENV = _environment()


def base_url() -> str:
    return str(current().base_url).rstrip("/")


def link_for(context: dict, case_id: int | None) -> str:
    """``context["path"]`` if given, else the case, else the inbox; absolute."""
    path = context.get("path") or (f"/api/v1/cases/{case_id}" if case_id is not None else "/api/v1/notifications")
    return base_url() + ("" if path.startswith("/") else "/") + path


def check_context(template: str, context: dict) -> None:
    """TemplateContextError unless ``template`` is known and ``context`` has what it requires."""
    spec = TEMPLATES.get(template)
    if spec is None:
        raise TemplateContextError(f"unknown message template {template!r}; see workflow.messages.TEMPLATES")
    missing = [key for key in spec.requires if key not in context]
    if missing:
        raise TemplateContextError(f"template {template!r} needs {', '.join(missing)}")


def render(template: str, context: dict, *, case_id: int | None = None) -> tuple[str, str, str]:
    """``(subject, body, link)`` of ``template`` for ``context``."""
    check_context(template, context)
    link = link_for(context, case_id)
    try:
        text = _ENV.get_template(f"{template}.txt").render({**context, "case_id": case_id, "link": link})
    except jinja2.UndefinedError as exc:
        raise TemplateContextError(f"template {template!r}: {exc.message}") from exc
    subject, _, body = text.strip().partition("\n")
    subject = " ".join(subject.split())
    if not subject:
        raise TemplateContextError(f"template {template!r} rendered an empty subject")
    return subject[:SUBJECT_MAX], body.strip() + "\n", link

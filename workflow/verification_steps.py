"""The verification step kinds (疑点核实, Art. 11(二)) as one table: each row says what the step
takes, the article it rests on, the notice it issues, whom it tells, and whether it moves the
warning (:mod:`workflow.machines.warning`). :func:`workflow.verification.add_step` is generic
over these rows.

==================== ================ ========== ==============================================
kind                 中文             article    takes / issues / tells
==================== ================ ========== ==============================================
phone                电话核实         11(二)1    summary (the record), contact
documents            调阅材料         11(二)2    documents (list), due_date → the unit and the
                                                 bank carrying the payment are asked for them
interview            约谈             11(二)3    interview_at, room → 约谈通知书 (annex 1); ends with a
                                                 约谈记录 (record)
onsite               实地核证         11(二)3    team (names), team_size, agency → 实地核证通知书 (annex 2);
                                                 ends with a 实地核证记录 (record)
focus_letter         重点关注         11(二)4    findings (defaults to the unit's warnings) → 关注函,
                                                 to the unit and its competent department
joint_investigation  部门协查         11(二)5    oversight_code: that body sees the warning and is
                                                 asked; confidential, the warning does not move
==================== ================ ========== ==============================================

Four kinds ask parties for something by a date (:class:`Ask`): the documents request asks the
unit and the carrying bank (``due_date``), the interview the unit (``interview_at``), the focus
letter the unit and its competent department (``reply_by``), the joint investigation the
oversight body alone (``reply_by``). :func:`workflow.verification.add_step` records one
:class:`workflow.step_requests.StepRequest` per party asked, with the due moment, and the
scheduler chases it (:mod:`workflow.scheduling`).

Every kind also takes ``notes``. Interviews and on-site checks end with a record (Art. 11(二)3:
书面和电子记录, archived): :attr:`StepKind.record`, a :class:`RecordKind` whose fields (when,
where, who was there and for which side, the minutes, who kept them) are ``Field`` rows too,
made once per step with its attachments by :func:`workflow.verification_files.make_record`
and documented as ``StepRecord.<kind>``. The fields are :class:`~workflow.machines.base.Field` rows,
like a case action's, with their bounds; each row's :attr:`StepKind.schema` is generated from
them (:func:`workflow.machines.base.fields_schema`): :func:`workflow.verification.add_step` loads
the step with it, and the API documents it as the component ``VerificationStep.<kind>``.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import marshmallow as ma
import sqlalchemy as sa

from workflow import message_builders
from workflow.articles import Article, art
from workflow.db import db
from workflow.errors import Invalid
from workflow.machines.base import Field, fields_schema, opt, req
from workflow.machines.warning import LIFECYCLE as WARNING
from workflow.monitoring.models import MonitoringWarning
from workflow.outbox import notify
from workflow.parties import Actor, Organisation
from workflow.schemas import choice
from workflow.settings import current, local_zone


@dataclass
class StepContext:
    """What a step row's callables see: who, on which warning, the step being recorded, its
    checked fields, the issuing finance department, the warning's unit, and when."""

    actor: Actor
    warning: MonitoringWarning
    step: object  # workflow.verification.VerificationStep, flushed (it has its id)
    fields: dict
    issuer: Organisation
    unit: Organisation
    now: dt.datetime
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """The numbered notice a step issues (``workflow.documents.KINDS``) to the warning's unit,
    with its context built from the step; annexes 1 and 2 recite the blocked payment. Its
    ``recipients`` are told it was issued (default: the unit)."""

    kind: str
    context: Callable[[StepContext], dict]
    recites_payment: bool = False
    recipients: Callable[[StepContext], list[int]] | None = None


@dataclass(frozen=True)
class Ask:
    """What a step asks of whom, by when: ``parties`` the organisations asked (a callable over
    the step's context), ``due`` the field that holds the due date, ``what`` the request as the
    reminder and the overdue message word it. A date field is due at the end of that working day
    in local time (a day off moves it to the end of the next working day); a datetime field is
    an appointment (the interview): due at the end of its local working day, and no reminder
    is sent once it has begun. A step whose due field was left out records who was asked and
    chases nobody."""

    parties: Callable[[StepContext], list[Organisation]]
    due: str
    what: str


@dataclass(frozen=True)
class RecordKind:
    """The record a step ends with (约谈记录, 实地核证记录; Art. 11(二)3 "形成书面和电子记录并存档"):
    its title, its fields, and how many files (the signed record, photos) may come with it."""

    title: str
    fields: tuple[Field, ...]
    attachments_max: int = 20

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def describe(self) -> dict:
        return {"title": self.title, "fields": [f.describe() for f in self.fields],
                "attachments_max": self.attachments_max}


@dataclass(frozen=True)
class StepKind:
    """One row: the kind, its title and article, its fields; its notice; whom it tells
    (callables over :class:`StepContext`); the addressee it resolves (a joint investigation's
    oversight body); whether it moves the warning (``verify``) or stays confidential; and its
    ``checks`` across fields (given the loaded values, raising ``ma.ValidationError``)."""

    name: str
    title: str
    article: Article
    own_fields: tuple[Field, ...]
    notice: Notice | None = None
    tells: tuple[Callable[[StepContext], None], ...] = ()
    addressee: Callable[[StepContext], Organisation] | None = None
    # A joint investigation leaves the status and version the parties under verification read
    # as they were (a change with no visible step would give it away), and is journaled apart.
    confidential: bool = False
    checks: tuple[Callable[[dict], None], ...] = ()
    asks: Ask | None = None
    record: RecordKind | None = None  # what the step ends with, made once (None: it takes no record)

    def __post_init__(self):
        # A record is read by whoever sees the warning (workflow.verification_files): a step
        # hidden from the parties under verification cannot have one.
        assert not (self.record and self.confidential), self.name

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.own_fields + (NOTES,)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @cached_property
    def schema(self) -> type[ma.Schema]:
        """The step's body, generated from the row: ``kind`` (this one), its fields, ``notes``;
        a field of another kind is named and refused."""
        return fields_schema(f"VerificationStep.{self.name}", self.fields,
                             f"{self.title} ({self.article.chinese})",
                             extra={"kind": choice((self.name,), required=True)},
                             unknown_message=f"not a field of a {self.name} step", checks=self.checks)

    @cached_property
    def record_schema(self) -> type[ma.Schema] | None:
        """The body of the step's record, generated from :attr:`record` (None: no record)."""
        if self.record is None:
            return None
        return fields_schema(f"StepRecord.{self.name}", self.record.fields,
                             f"{self.record.title} ({self.article.chinese})",
                             unknown_message=f"not a field of a {self.name} record")

    @property
    def moves_warning(self) -> str | None:
        """The warning lifecycle's trigger this step fires, or None (confidential)."""
        return None if self.confidential else "verify"

    def describe(self) -> dict:
        return {"kind": self.name, "title": self.title, "article": self.article.chinese,
                "fields": [f.describe() for f in self.fields],
                "document": self.notice.kind if self.notice else None,
                "notifies": [t.__name__ for t in self.tells], "moves_warning": self.moves_warning,
                "record": self.record.describe() if self.record else None,
                "asks": ({"parties": self.asks.parties.__name__, "due": self.asks.due, "what": self.asks.what}
                         if self.asks else None)}


NOTES = opt("notes", "text", "核实记录", max_length=4000)

# Who was present at an interview or an on-site check, and for whom.
PARTICIPANT_SIDES = (("finance", "财政部门"), ("unit", "被核实单位"),
                     ("other", "其他（主管部门、代理银行、会计中介机构等）"))


def _record_fields(what: str) -> tuple[Field, ...]:
    """A record's fields (Art. 11(二)3): when and where it was held, who was there, the minutes
    and who kept them (记录人)."""
    return (req("held_at", "datetime", f"{what}时间（含时区，不晚于记录时）"),
            opt("place", "text", f"{what}地点", max_length=200),
            req("participants", "people", "参加人员（姓名及所属方）", choices=PARTICIPANT_SIDES, max_items=50,
                item_max_length=50),
            req("minutes", "text", f"{what}记录正文", max_length=20000),
            req("kept_by", "text", "记录人", max_length=50))


# --- what the steps issue and whom they tell ---------------------------------------------------

def interview_notice(ctx: StepContext) -> dict:
    local = ctx.fields["interview_at"].astimezone(local_zone())
    return {"interview_date": local.date(), "interview_time": f"{local.hour}时{local.minute:02d}分",
            "room": ctx.fields["room"], "attendees": ctx.fields.get("attendees")}


def onsite_notice(ctx: StepContext) -> dict:
    fields = ctx.fields
    return {"team": fields["team"], "team_size": fields.get("team_size") or len(fields["team"]),
            "agency": fields.get("agency"), "onsite_date": fields.get("onsite_date")}


def focus_letter(ctx: StepContext) -> dict:
    findings = ctx.fields.get("findings") or unit_findings(ctx.warning, ctx.now)
    return {"findings": findings, "period": ctx.fields.get("period"), "reply_by": ctx.fields.get("reply_by")}


def the_unit_and_its_competent_department(ctx: StepContext) -> list[Organisation]:
    """发送至相关预算单位及其主管部门 (Art. 11(二)4)."""
    unit = ctx.unit
    return [unit] + ([unit.parent] if unit.parent is not None and unit.parent.kind == "competent" else [])


def unit_and_competent_department(ctx: StepContext) -> list[int]:
    """The recipients of a 关注函: :func:`the_unit_and_its_competent_department`, by id."""
    return [org.id for org in the_unit_and_its_competent_department(ctx)]


def the_unit_and_the_carrying_bank(ctx: StepContext) -> list[Organisation]:
    """通知预算单位和代理银行提供 (Art. 11(二)2): the unit, and the bank carrying the payment."""
    warning = ctx.warning
    return [ctx.unit] + ([warning.payment.bank] if warning.payment is not None and warning.payment.bank else [])


def the_unit(ctx: StepContext) -> list[Organisation]:
    """约谈预算单位 (Art. 11(二)3): the unit attends."""
    return [ctx.unit]


def the_oversight_body(ctx: StepContext) -> list[Organisation]:
    """The audit or discipline body asked (Art. 11(二)5), never the unit: the step is confidential."""
    return [ctx.step.addressee]


def ask_for_materials(ctx: StepContext) -> None:
    """通知预算单位和代理银行提供 (Art. 11(二)2): the unit, and the bank that carries the payment,
    each told the list and the due date."""
    warning, unit, step, fields = ctx.warning, ctx.unit, ctx.step, ctx.fields
    recipients = the_unit_and_the_carrying_bank(ctx)
    for message in message_builders.materials_requested(warning, step, unit=unit, recipients=recipients,
                                                        documents=fields["documents"], due_date=fields["due_date"]):
        notify(**message)


def ask_the_oversight_body(ctx: StepContext) -> None:
    """转送...共同调查核证 (Art. 11(二)5): the body asked is told the matters and the reply date."""
    warning, unit, step, fields = ctx.warning, ctx.unit, ctx.step, ctx.fields
    notify(**message_builders.joint_investigation(warning, step, unit=unit, body=step.addressee,
                                                  matters=fields.get("matters") or warning.message,
                                                  deadline=fields.get("reply_by")))


def oversight_body_in_reach(ctx: StepContext) -> Organisation:
    """The audit or discipline body named, within the issuing department's jurisdiction."""
    body = ctx.fields["oversight_code"]  # an oversight body the caller may address (its Field's check)
    if not body.finance_path.startswith(ctx.issuer.finance_path):
        raise Invalid("unknown oversight body", {"oversight_code": ["no audit or discipline body in your jurisdiction"]})
    return body


def team_size_covers_the_names(fields: dict) -> None:
    if fields.get("team_size") and fields.get("team") and fields["team_size"] < len(fields["team"]):
        raise ma.ValidationError("at least the number of names in team", "team_size")


# --- the table --------------------------------------------------------------------------------------

STEP_KINDS: dict[str, StepKind] = {k.name: k for k in (
    StepKind("phone", "电话核实", art(11, 2, 1),
             (req("summary", "text", "通话情况（文字记录）", max_length=4000),
              opt("contact", "text", "联系人", max_length=200))),
    StepKind("documents", "调阅材料", art(11, 2, 2),
             (req("documents", "lines", "调阅的材料（每项一条）", max_length=20000, max_items=100, item_max_length=200),
              req("due_date", "date", "提供期限")),
             tells=(ask_for_materials,), asks=Ask(the_unit_and_the_carrying_bank, "due_date", "提供调阅的材料")),
    StepKind("interview", "约谈", art(11, 2, 3),
             (req("interview_at", "datetime", "约谈时间（含时区）"), req("room", "text", "约谈地点", max_length=50),
              opt("attendees", "count", "约谈人数", maximum=20)),
             notice=Notice("interview_notice", interview_notice, recites_payment=True),
             record=RecordKind("约谈记录", _record_fields("约谈")),
             asks=Ask(the_unit, "interview_at", "按约谈通知书参加约谈并说明情况")),
    StepKind("onsite", "实地核证", art(11, 2, 3),
             (req("team", "lines", "核证人员", max_length=1500, max_items=30, item_max_length=50),
              opt("team_size", "count", "核证组人数", maximum=100),
              opt("agency", "text", "委托会计中介机构", max_length=200), opt("onsite_date", "date", "核证日期")),
             notice=Notice("onsite_notice", onsite_notice, recites_payment=True),
             checks=(team_size_covers_the_names,), record=RecordKind("实地核证记录", _record_fields("核证"))),
    StepKind("focus_letter", "重点关注（关注函）", art(11, 2, 4),
             (opt("findings", "lines", "关注事项（不填为该单位近期未决疑点）", max_length=25000, max_items=50,
                  item_max_length=500),
              opt("period", "text", "关注期间", max_length=100), opt("reply_by", "date", "回复期限")),
             notice=Notice("focus_letter", focus_letter, recipients=unit_and_competent_department),
             asks=Ask(the_unit_and_its_competent_department, "reply_by", "就关注函所列疑点说明情况")),
    StepKind("joint_investigation", "部门协查", art(11, 2, 5),
             (req("oversight_code", "org", "协查机关（审计、纪检监察）代码", org_kind="oversight"),
              opt("matters", "text", "协查事项", max_length=2000), opt("reply_by", "date", "回复期限")),
             tells=(ask_the_oversight_body,), addressee=oversight_body_in_reach, confidential=True,
             asks=Ask(the_oversight_body, "reply_by", "反馈协查意见")),
)}
CONFIDENTIAL_STEPS = tuple(name for name, kind in STEP_KINDS.items() if kind.confidential)


# --- the focus window (重点关注, Art. 11(二)4) --------------------------------------------------------

def focus_settings(overrides: dict | None = None) -> dict:
    """Thresholds of the focus list: a unit is listed when, within the last ``days`` days,
    it triggered at least ``min_warnings`` warnings (often), ``min_blocks`` blocking ones
    (seriously), or warnings on payments summing to ``min_amount`` yuan (large amounts).

    Configured by ``FUNDWATCH_FOCUS_DAYS``, ``FUNDWATCH_FOCUS_MIN_WARNINGS``,
    ``FUNDWATCH_FOCUS_MIN_BLOCKS``, ``FUNDWATCH_FOCUS_MIN_AMOUNT`` (the rule set holds
    only the rules' own parameters); finance may override any of them per request.
    Dismissed warnings do not count: verification found nothing wrong there.
    """
    settings = current()
    values = {"days": settings.focus_days, "min_warnings": settings.focus_min_warnings,
              "min_blocks": settings.focus_min_blocks, "min_amount": settings.focus_min_amount}
    for name, value in (overrides or {}).items():
        if value is not None and name in values:
            values[name] = value
    return values


def _local_date(value) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(local_zone()).date().isoformat()
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def unit_findings(warning: MonitoringWarning, now: dt.datetime) -> list[str]:
    """The unit's undecided warnings in the focus window, as the lines of a 关注函."""
    since = now - dt.timedelta(days=focus_settings()["days"])
    rows = db.session.execute(
        sa.select(MonitoringWarning).where(MonitoringWarning.unit_id == warning.unit_id,
                                           MonitoringWarning.status.in_(WARNING.undecided),
                                           sa.or_(MonitoringWarning.created_at >= since,
                                                  MonitoringWarning.id == warning.id))
        .order_by(MonitoringWarning.id).limit(50)).scalars()
    lines = []
    for row in rows:
        payment = row.payment
        prefix = (f"{_local_date(payment.paid_at)} 支付凭证号{payment.voucher_no}（{payment.amount:.2f}元，"
                  f"{payment.summary}）：") if payment is not None else ""
        lines.append(f"{prefix}{row.message}（依据{row.article}）")
    return lines

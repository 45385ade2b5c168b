"""Numbered notices (文书) issued by finance departments, rendered once and kept.

Every kind is declared once, in :data:`KINDS`: its Chinese title, template, the context
fields it needs, the party kind it is addressed to and the article it rests on.

- 约谈通知书 and 实地核证通知书 follow annexes 1 and 2 of the regulation (Art. 11(二)3);
- 关注函 (Art. 11(二)4), 处理决定 (Art. 21(二)), 书面责令整改意见 (Art. 21(三)),
  通报 (Art. 21(五)), 移送函 (Art. 23), 问题通报 of common problems (Art. 11(四));
- to the department that owns a matter outside finance's remit: 移交函 (Art. 11(三));
- to agent banks: 整改通知 (Art. 22(一)(二)), 通报批评及扣减服务费 and 终止代理协议 (Art. 22(三)).

Numbers read ``2026年第3号`` and count per issuing department, per year (Beijing time)
and per kind. They are taken from :class:`DocumentCounter` inside the caller's
transaction, so they are unique and gap-free: a rolled-back issue gives its number
back, and of two concurrent issues the second waits for the first to commit.

A notice is rendered to HTML when it is issued and the HTML is stored: what the
addressee signed must not change when a template does later.

A notice reaches its addressee and, as :class:`DocumentRecipient`, the competent department it
is copied to (抄送) and the parties a 通报 is circulated to (its scope, Art. 21(五)): each reads it
and lists it among its own (:func:`own_documents`). The addressee's acknowledgement may carry
the signed and stamped copy, checked and stored as case evidence is (:mod:`workflow.files`).

Journal (:mod:`workflow.journal`, stream ``document:<id>``): ``issued``, with the SHA-256
of the stored HTML (and the recipients' codes), so that what was issued can be proven later;
``acknowledged`` (with the signed copy's SHA-256).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import jinja2
import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from workflow import case_records
from workflow.articles import Cited, art, cite
from workflow.db import AwareDateTime, db, insert_now, to_money, upsert, utcnow
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.files import Checked, keep, stored_path
from workflow.journal import entries_of, record, stream_of
from workflow.parties import Actor, Organisation, User, require
from workflow.schemas import REQUIRED, Day, Lines, Money, Text, Whole, choice, errors_of, schema_for
from workflow.settings import local_zone

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
REGULATION = "《预算执行动态监控管理办法》"


# --- the table of kinds --------------------------------------------------------------

FIELD_TYPES = ("text", "lines", "names", "date", "money", "count", "choice")


@dataclass(frozen=True)
class ContextField:
    """One value a notice needs. ``type`` says how it is checked and stored:

    text: a non-empty string; lines: a list of strings (or one string, one item a line);
    names: a list of people (or a string separated by 、 or commas); date: a date, an aware
    datetime (taken in Beijing time) or ``YYYY-MM-DD``; money: yuan, never a float;
    count: a positive integer; choice: one of ``choices``.
    """

    name: str
    type: str = "text"
    required: bool = True
    choices: tuple[str, ...] = ()
    # A choice the notice states in words: (code, wording) pairs. The context stores the code;
    # the template receives the wording, so no template decides what a code means.
    wording: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        assert self.type in FIELD_TYPES, self.type
        if self.wording:
            assert self.type == "choice" and not self.choices, self.name
            object.__setattr__(self, "choices", tuple(code for code, _ in self.wording))
        assert not (self.type == "choice" and not self.choices), self.name

    def rendered(self, value):
        """The value as the template receives it: the wording of a worded choice."""
        return dict(self.wording)[value] if self.wording and value is not None else value

    def schema_field(self) -> ma.fields.Field:
        """The field as marshmallow reads it (and apispec documents it)."""
        kw = {"required": self.required}
        if self.type == "text":
            return Text(max_length=None, numbers=True, **kw)
        if self.type == "lines":
            return Lines(max_length=None, **kw)
        if self.type == "names":
            return Lines(separators=r"[、,，;；]", max_length=None, **kw)
        if self.type == "date":
            return Day(zone=local_zone, **kw)
        if self.type == "money":
            return Money(**kw)
        if self.type == "count":
            return Whole(minimum=1, **kw)
        assert self.type == "choice", self.type
        return choice(self.choices, **kw)


def req(name: str, type_: str = "text", **kw) -> ContextField:
    return ContextField(name, type_, True, **kw)


def opt(name: str, type_: str = "text", **kw) -> ContextField:
    return ContextField(name, type_, False, **kw)


# What became of the payment, as annexes 1 and 2 state it after reciting it: the form prints
# "现已被预算管理一体化系统监控拦截", true only of a held payment. One wording per status of the
# payment's lifecycle (workflow.machines.payment; a test holds the two together).
PAYMENT_STATUS_WORDING = (
    ("held", "现已被预算管理一体化系统监控拦截"),
    ("accepted", "预算管理一体化系统已对其发出监控预警，该笔资金已予支付"),
    ("refused", "现已被拒绝支付"),
)

# The facts of the payment that annexes 1 and 2 recite.
PAYMENT_FIELDS = (req("payment_date", "date"), req("payee"), req("voucher_number"), req("summary"),
                  req("payment_status", "choice", wording=PAYMENT_STATUS_WORDING))


@dataclass(frozen=True)
class Kind:
    name: str
    title: str          # the full title printed on the document
    short_name: str     # what messages call it: 约谈通知书, 关注函
    article: Cited
    addressee_kinds: tuple[str, ...]
    fields: tuple[ContextField, ...]
    copy_competent: bool = False  # 抄送 the addressee unit's competent department
    # Read by finance and the addressee alone, not by everyone who reads the case (移送函, Art. 23).
    within_finance: bool = False
    # 抄送 the finance department above the addressee (an analysis report, Art. 11(五)).
    copy_above: bool = False
    # Signed and returned by its addressee (the annex forms); a department's own report is not.
    acknowledged: bool = True
    template: str = field(default="")

    def __post_init__(self):
        if not self.template:
            object.__setattr__(self, "template", f"documents/{self.name}.html")

    @property
    def required_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @cached_property
    def schema(self) -> type[ma.Schema]:
        """The context's schema, generated from ``fields``. Keys it does not declare are dropped:
        callers pass an action's whole payload."""
        return schema_for({f.name: f.schema_field() for f in self.fields}, name=f"DocumentContext.{self.name}",
                          description=f"{self.title} ({self.article})", unknown=ma.EXCLUDE)


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("interview_notice", "预算执行动态监控约谈通知书", "约谈通知书", art(11, 2, 3), ("unit",),
         PAYMENT_FIELDS + (req("interview_date", "date"), req("room"), opt("interview_time"),
                           opt("attendees", "count"))),
    Kind("onsite_notice", "预算执行动态监控实地核证通知书", "实地核证通知书", art(11, 2, 3), ("unit",),
         PAYMENT_FIELDS + (req("team", "names"), opt("team_size", "count"), opt("agency"),
                           opt("onsite_date", "date"))),
    Kind("focus_letter", "预算执行动态监控关注函", "关注函", art(11, 2, 4), ("unit",),
         (req("findings", "lines"), opt("period"), opt("reply_by", "date")), copy_competent=True),
    # basis "21(四)": the measures taken when a written order was not carried out in time
    # (suspension of disbursement, closure of accounts) are handling decisions too.
    Kind("handling_decision", "预算执行动态监控违规问题处理决定", "处理决定", cite((art(21, 2), art(21, 4))), ("unit",),
         (req("violation"), req("measures", "lines"), opt("amount", "money"), opt("deadline", "date"),
          opt("basis", "choice", choices=("21(二)", "21(四)")))),
    Kind("rectification_order", "预算执行动态监控书面责令整改意见", "书面责令整改意见", art(21, 3), ("unit",),
         (req("violation"), req("requirements", "lines"), req("deadline", "date")), copy_competent=True),
    # Addressed to the violating unit (which acknowledges it) and circulated to the recipients of
    # the scope the action chose (``circulated_to``: how the notice names them, its salutation).
    Kind("public_notice", "关于预算执行动态监控违规问题的通报", "通报", art(21, 5), ("unit", "competent", "finance"),
         (req("subject_name"), req("violation"), req("handling", "lines"), req("circulated_to"), opt("scope"))),
    # Art. 11(四): common problems, typical cases and risks circulated to the same-level competent
    # departments (and, as finance chooses, their units), who check themselves by ``due_on``
    # (workflow.circulars). Addressed to the first department, circulated to the others.
    Kind("problem_circular", "关于预算执行动态监控发现共性问题的通报", "问题通报", art(11, 4), ("competent",),
         (req("period"), req("circulated_to"), req("findings", "lines"), opt("cases", "lines"),
          opt("requirements", "lines"), req("due_on", "date"))),
    Kind("referral_letter", "预算执行动态监控违规问题移送函", "移送函", art(23), ("oversight",),
         (req("subject_name"), req("violation"), opt("handling", "lines"), opt("materials", "lines")),
         within_finance=True),
    # A matter outside finance's remit handed on to the department that owns it (Art. 11(三)); the
    # unit is told of the hand-over by message, the letter stays between finance and the receiver.
    Kind("transfer_letter", "预算执行动态监控问题移交函", "移交函", art(11, 3), ("department",),
         (req("unit_name"), req("warning_summary"), req("matters", "lines"), req("basis"), opt("reply_by", "date"),
          opt("materials", "lines"), opt("payment_date", "date"), opt("payee"), opt("voucher_number"),
          opt("summary"), opt("amount", "money"),
          opt("payment_status", "choice", wording=PAYMENT_STATUS_WORDING)),
         within_finance=True),
    Kind("bank_rectification_notice", "代理银行违规问题整改通知书", "整改通知书", cite((art(22, 1), art(22, 2))), ("bank",),
         (req("ground", "choice", choices=("payment", "transmission")), req("violation"),
          req("measures", "lines"), req("deadline", "date"), opt("amount", "money"))),
    Kind("bank_criticism_notice", "关于代理银行违规问题的通报批评及扣减服务费通知", "通报批评及扣减服务费通知", art(22, 3), ("bank",),
         (req("violation"), req("fee_deduction", "money"), opt("evaluation"))),
    Kind("agreement_termination_notice", "终止国库集中支付代理协议通知书", "终止代理协议通知书", art(22, 3), ("bank",),
         (req("violation"), req("effective_date", "date"), opt("agreement"))),
    # A finance department's periodic analysis report (workflow.analysis_reports): addressed to
    # itself, copied to the department above. Its figures are rendered from the tables the
    # report keeps, not from the context.
    Kind("analysis_report", "预算执行动态监控分析报告", "监控分析报告", cite(art(11, 4), art(11, 5)), ("finance",),
         (req("period_kind", "choice", wording=(("monthly", "月度"), ("quarterly", "季度"), ("annual", "年度"))),
          req("period_label"), req("period_from", "date"), req("period_to", "date")),
         copy_above=True, acknowledged=False),
)}


WITHIN_FINANCE_KINDS = tuple(name for name, kind in KINDS.items() if kind.within_finance)


def payment_context(payment) -> dict:
    """The annex fields from a payment (``workflow.monitoring`` Payment or alike): the
    date it was applied for (Beijing time), the payee, the voucher number, the summary, and
    its status now (held, accepted or refused), which the notice states."""
    return {"payment_date": payment.paid_at, "payee": payment.payee_name,
            "voucher_number": payment.voucher_no, "summary": payment.summary, "payment_status": payment.status}


# --- models ----------------------------------------------------------------------------

class Document(db.Model):
    """A numbered notice (文书). Immutable once issued except for its acknowledgement."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    number: Mapped[str] = mapped_column(sa.String(32))
    year: Mapped[int]
    seq: Mapped[int]
    issuer_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    addressee_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    warning_id: Mapped[int | None] = mapped_column(sa.ForeignKey("warnings.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    context: Mapped[dict] = mapped_column(sa.JSON)
    html: Mapped[str] = mapped_column(sa.Text)
    issued_at: Mapped[dt.datetime] = mapped_column(AwareDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The signed and stamped copy the addressee returned with its acknowledgement (optional),
    # kept like case evidence (workflow.files).
    signed_filename: Mapped[str | None] = mapped_column(sa.String(255))
    signed_stored_name: Mapped[str | None] = mapped_column(sa.String(64))
    signed_content_type: Mapped[str | None] = mapped_column(sa.String(120))
    signed_size: Mapped[int | None]
    signed_sha256: Mapped[str | None] = mapped_column(sa.String(64))

    issuer: Mapped[Organisation] = relationship(foreign_keys=[issuer_id])
    addressee: Mapped[Organisation] = relationship(foreign_keys=[addressee_id])
    acknowledger: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by])

    __table_args__ = (
        sa.UniqueConstraint("issuer_id", "year", "kind", "seq", name="uq_documents_number"),
        # a case's notices in id order: the list page stops after the page (issue 15)
        sa.Index("ix_documents_case_id_id", "case_id", "id"),
    )


RECIPIENT_ROLES = ("copy", "circulated")


class DocumentRecipient(db.Model):
    """A party a notice reaches besides its addressee: ``copy`` (抄送, the addressee unit's
    competent department, for the kinds with ``copy_competent``) or ``circulated`` (the scope
    of a 通报, Art. 21(五)). Each receives it in its inbox and its document list."""

    __tablename__ = "document_recipients"

    document_id: Mapped[int] = mapped_column(sa.ForeignKey("documents.id"), primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(sa.String(12))

    org: Mapped[Organisation] = relationship()


class DocumentCounter(db.Model):
    """The last number given per issuing department, year and kind (编号计数)."""

    __tablename__ = "document_counters"

    issuer_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)


FROZEN_COLUMNS = ("kind", "number", "year", "seq", "issuer_id", "addressee_id", "case_id", "warning_id",
                  "title", "context", "html", "issued_at")


@sa.event.listens_for(Document, "before_update")
def _refuse_changes_to_an_issued_notice(_mapper, _connection, target: Document) -> None:
    state = sa.inspect(target)
    changed = [name for name in FROZEN_COLUMNS if state.attrs[name].history.has_changes()]
    if changed:
        raise Conflict("an issued notice cannot be changed", {name: ["fixed at issue"] for name in changed})


# --- numbering -------------------------------------------------------------------------

def format_number(year: int, seq: int) -> str:
    return f"{year}年第{seq}号"


def next_seq(issuer_id: int, year: int, kind: str) -> int:
    """Take the next number in the caller's transaction, in one statement:
    ``INSERT ... ON CONFLICT DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq``
    (:func:`workflow.db.upsert`). The counter row stays locked until the caller's commit or
    rollback on PostgreSQL (a concurrent creator of the same row waits for it too); on SQLite
    the write takes the database write lock, which serialises the same way. Callers take it
    as late as they can: every issue of the same department, year and kind waits here.
    """
    return upsert(DocumentCounter, {"issuer_id": issuer_id, "year": year, "kind": kind, "last_seq": 1},
                  index_elements=[DocumentCounter.issuer_id, DocumentCounter.year, DocumentCounter.kind],
                  set_={"last_seq": DocumentCounter.last_seq + 1}, returning=DocumentCounter.last_seq)


# --- context checking ------------------------------------------------------------------

def check_context(kind: Kind, context: dict) -> dict:
    """Keep the fields ``kind`` declares, checked and normalised (JSON-storable) by the kind's
    schema; unknown keys are dropped. Missing or bad fields → Invalid naming each."""
    schema = kind.schema()
    try:
        return schema.dump(schema.load(context))
    except ma.ValidationError as exc:
        errors = errors_of(exc, "context.")
    missing = [k.removeprefix("context.") for k, v in errors.items() if v == [REQUIRED]]
    message = (f"a {kind.name} needs {', '.join(missing)}" if missing
               else f"the {kind.name} context has bad values")
    raise Invalid(message, errors)


# --- rendering -------------------------------------------------------------------------

CN_SMALL = "零一两三四五六七八九十"


_DAY = Day(zone=local_zone)


def cn_date(value) -> str:
    """2026年3月2日, as official documents write dates."""
    day = _DAY.deserialize(value)
    return f"{day.year}年{day.month}月{day.day}日"


def cn_count(value: int) -> str:
    """两位, 三名: small counts in characters as the forms write them; larger ones in digits."""
    return CN_SMALL[value] if 0 <= value <= 10 else str(value)


def cn_money(value) -> str:
    return f"{to_money(value):,.2f}元"


_environment: jinja2.Environment | None = None


def environment() -> jinja2.Environment:
    """The documents' Jinja2 environment: autoescaped, and strict so a missing value fails."""
    global _environment
    if _environment is None:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters.update(cn_date=cn_date, cn_count=cn_count, cn_money=cn_money)
        _environment = env
    return _environment


def render(kind: Kind, *, number: str, issuer: Organisation, addressee: Organisation,
           context: dict, issued_at: dt.datetime, extra: dict | None = None) -> str:
    """The notice's HTML. ``extra``: values the template needs besides the context (an analysis
    report's tables and charts), rendered into the stored HTML but not kept in the context."""
    values = {spec.name: None for spec in kind.fields}
    values.update(context)
    values.update({spec.name: spec.rendered(values[spec.name]) for spec in kind.fields if spec.wording})
    competent = competent_of(addressee)
    return environment().get_template(kind.template).render(
        kind=kind, title=kind.title, number=number, issuer=issuer, addressee=addressee,
        copy_to=competent if kind.copy_competent else None, issued_on=issued_at.astimezone(local_zone()).date(),
        regulation=REGULATION, **(extra or {}), **values)


def competent_of(org: Organisation) -> Organisation | None:
    return org.parent if org.parent is not None and org.parent.kind == "competent" else None


# --- issuing ---------------------------------------------------------------------------

# Where the number goes in a notice rendered before its number is taken: a token no template or
# context holds (random per process), replaced by the number once it is known.
_NUMBER_SLOT = f"[[number-{secrets.token_hex(8)}]]"


@dataclass
class PreparedNotice:
    """A notice checked and rendered, waiting for its number: :meth:`issue` takes the number
    and writes it. Everything that reads or renders is done before, so that the department's
    counter, once taken, is held for two INSERTs only (issue 15)."""

    actor: Actor
    spec: Kind
    issuer: Organisation
    addressee: Organisation
    context: dict
    issued_at: dt.datetime
    case_id: int | None
    warning_id: int | None
    html: str  # with _NUMBER_SLOT where the number goes
    recipients: list[tuple[Organisation, str]]  # besides the addressee: (organisation, role)

    def issue(self) -> Document:
        """Take the next number (:func:`next_seq`) and write the notice and its journal entry,
        in the caller's transaction; nothing else the session holds is flushed."""
        kind, issuer, addressee = self.spec.name, self.issuer, self.addressee
        year = self.issued_at.astimezone(local_zone()).year
        seq = next_seq(issuer.id, year, kind)
        number = format_number(year, seq)
        html = self.html.replace(_NUMBER_SLOT, number)
        document = Document(kind=kind, number=number, year=year, seq=seq, issuer_id=issuer.id, issuer=issuer,
                            addressee_id=addressee.id, addressee=addressee, case_id=self.case_id,
                            warning_id=self.warning_id, title=self.spec.title, context=self.context, html=html,
                            issued_at=self.issued_at, acknowledged_at=None, acknowledged_by=None)
        insert_now(document)
        recipients = self.recipients
        if recipients:  # the table, not the model: a Core statement flushes nothing
            db.session.execute(sa.insert(DocumentRecipient.__table__), [
                {"document_id": document.id, "org_id": org.id, "role": role} for org, role in recipients])
        record(self.actor, stream_of("document", document.id), "issued",
               {"kind": kind, "number": number, "issuer_code": issuer.code, "addressee_code": addressee.code,
                "case_id": self.case_id, "warning_id": self.warning_id,
                **({"recipients": {role: [o.code for o, r in recipients if r == role] for role in
                                   dict.fromkeys(r for _, r in recipients)}} if recipients else {}),
                "html_sha256": hashlib.sha256(html.encode("utf-8")).hexdigest()}, self.issued_at, new_stream=True)
        return document


def prepare_notice(actor: Actor, *, kind: str, issuer: Organisation, addressee: Organisation,
                   context: dict, case_id: int | None = None, warning_id: int | None = None,
                   circulate_to: Sequence[Organisation] = (), now: dt.datetime | None = None,
                   extra: dict | None = None) -> PreparedNotice:
    """Check and render a notice (see :func:`issue_document`) and find its recipients, without
    taking its number. ``extra``: see :func:`render`."""
    require(actor, "finance", action="issue notices")
    spec = KINDS.get(kind)
    if spec is None:
        raise Invalid(f"unknown document kind {kind!r}", {"kind": [f"one of {', '.join(KINDS)}"]})
    if issuer.kind != "finance":
        raise Invalid("notices are issued by a finance department", {"issuer": ["not a finance department"]})
    if not actor.is_system and issuer.id != actor.org_id:
        raise Forbidden("a finance officer issues notices in the name of their own department")
    if addressee.kind not in spec.addressee_kinds:
        raise Invalid(f"a {kind} is addressed to a {' or '.join(spec.addressee_kinds)} party",
                      {"addressee": [f"a {addressee.kind} party cannot receive a {kind}"]})
    if not addressee.finance_path.startswith(issuer.finance_path):
        raise Invalid("the addressee is outside the issuer's jurisdiction",
                      {"addressee": ["outside the issuer's jurisdiction"]})
    outside = [org.code for org in circulate_to if not org.finance_path.startswith(issuer.finance_path)]
    if outside:
        raise Invalid("a recipient is outside the issuer's jurisdiction",
                      {"circulate_to": [f"outside the issuer's jurisdiction: {', '.join(outside)}"]})
    cleaned = check_context(spec, context or {})
    issued_at = now or utcnow()
    html = render(spec, number=_NUMBER_SLOT, issuer=issuer, addressee=addressee, context=cleaned, issued_at=issued_at,
                  extra=extra)
    return PreparedNotice(actor, spec, issuer, addressee, cleaned, issued_at, case_id, warning_id, html,
                          _recipients(spec, addressee, circulate_to))


def issue_document(actor: Actor, *, kind: str, issuer: Organisation, addressee: Organisation,
                   context: dict, case_id: int | None = None, warning_id: int | None = None,
                   circulate_to: Sequence[Organisation] = (), now: dt.datetime | None = None,
                   extra: dict | None = None) -> Document:
    """Issue a numbered notice in the caller's transaction (no commit here).

    Only finance issues notices (Art. 25), in the name of its own department (the
    scheduler, ``Actor.system()``, in the name of the case's department), to a party in
    the issuer's jurisdiction of the kind the notice is for. The kinds copied to the
    addressee's competent department record it as a ``copy`` recipient; ``circulate_to``
    (a 通报's scope) are ``circulated`` recipients, each in the issuer's jurisdiction.

    Raises Forbidden (not finance, or another department's name), Invalid (unknown
    kind, wrong addressee, missing or bad context fields, each named).
    """
    return prepare_notice(actor, kind=kind, issuer=issuer, addressee=addressee, context=context, case_id=case_id,
                          warning_id=warning_id, circulate_to=circulate_to, now=now, extra=extra).issue()


def _recipients(spec: Kind, addressee: Organisation,
                circulate_to: Sequence[Organisation]) -> list[tuple[Organisation, str]]:
    """Who receives the notice besides its addressee, each once (a copy wins over circulation)."""
    out: dict[int, tuple[Organisation, str]] = {}
    competent = competent_of(addressee)
    if spec.copy_competent and competent is not None:
        out[competent.id] = (competent, "copy")
    above = addressee.parent
    if spec.copy_above and above is not None and above.kind == "finance":
        out[above.id] = (above, "copy")
    for org in circulate_to:
        if org.id != addressee.id and org.id not in out:
            out[org.id] = (org, "circulated")
    return list(out.values())


def recipients_of(document: Document, role: str | None = None) -> list[Organisation]:
    """The parties the notice reached besides its addressee (of ``role`` if given), by code."""
    stmt = sa.select(Organisation).join(DocumentRecipient, DocumentRecipient.org_id == Organisation.id).where(
        DocumentRecipient.document_id == document.id)
    if role is not None:
        assert role in RECIPIENT_ROLES, role
        stmt = stmt.where(DocumentRecipient.role == role)
    return list(db.session.execute(stmt.order_by(Organisation.code)).scalars())


# --- who sees what ---------------------------------------------------------------------

def visible(actor: Actor) -> sa.ColumnElement[bool]:
    """Documents the caller may read (ASVS 8.2.2).

    - the addressee itself, and the parties it was copied or circulated to (``DocumentRecipient``);
    - finance: what a department of its region issued, what was addressed to a party of its
      region (a city reads the province's interview notice to its own unit: it is in charge of
      that unit, Art. 11(五)), and the notices of the cases it sees;
    - others: the notices to the units of a competent department (Art. 26(一)), the notices of
      a warning an oversight body was asked to investigate jointly (Art. 11(二)5: it verifies
      together with finance), and the notices of the cases they see, except the kinds kept within finance (``within_finance``: the
      referral letter to an oversight body, Art. 23, see ``workflow.cases.WITHIN_FINANCE_TRIGGERS``).
    """
    if actor.is_system:
        return sa.true()
    own = sa.or_(Document.addressee_id == actor.org_id, _received_besides(actor))
    if actor.kind == "finance":
        region = sa.select(Organisation.id).where(Organisation.finance_path.startswith(actor.finance_path))
        return sa.or_(own, Document.issuer_id.in_(region), Document.addressee_id.in_(region), _visible_cases(actor))
    shared = [_visible_cases(actor)]
    if actor.kind == "competent":
        shared.append(Document.addressee_id.in_(sa.select(Organisation.id).where(Organisation.parent_id == actor.org_id)))
    if actor.kind == "oversight":
        # The verification module issues documents, so it is reached by its table, not imported.
        steps = db.metadata.tables["verification_steps"]
        shared.append(Document.warning_id.in_(sa.select(steps.c.warning_id).where(
            steps.c.kind == "joint_investigation", steps.c.addressee_id == actor.org_id)))
    return sa.or_(own, sa.and_(Document.kind.not_in(WITHIN_FINANCE_KINDS), sa.or_(*shared)))


def _received_besides(actor: Actor) -> sa.ColumnElement[bool]:
    return Document.id.in_(sa.select(DocumentRecipient.document_id).where(DocumentRecipient.org_id == actor.org_id))


def _visible_cases(actor: Actor) -> sa.ColumnElement[bool]:
    """Documents of cases the caller can see, by the case module's own scope."""
    return Document.case_id.in_(sa.select(case_records.Case.id).where(case_records.visible(actor)))


def case_documents(actor: Actor, case_id: int):
    """The notices of a case, for whoever may see the case (the case module's scoped
    loader raises NotFound otherwise)."""
    case = case_records.get_case(actor, case_id)
    # issuer and addressee in one query each for the page, not one per notice
    return sa.select(Document).where(Document.case_id == case.id, _visible_in_a_visible_case(actor)).options(
        selectinload(Document.issuer), selectinload(Document.addressee))


def _visible_in_a_visible_case(actor: Actor) -> sa.ColumnElement[bool]:
    """:func:`visible` for the notices of a case the caller sees: its term "a notice of a case
    the caller sees" holds for each of them, so finance sees them all and the others all but
    the kinds kept within finance (and those addressed to them). The same answer without the
    subquery of every case the caller sees, which a list of 50 would otherwise read whole (issue 15)."""
    if actor.is_system or actor.kind == "finance":
        return sa.true()
    return sa.or_(Document.addressee_id == actor.org_id, Document.kind.not_in(WITHIN_FINANCE_KINDS))


def documents_for(actor: Actor):
    return sa.select(Document).where(visible(actor))


def own_documents(actor: Actor, *, kind: str | None = None, year: int | None = None,
                  unacknowledged: bool | None = None) -> sa.Select:
    """The notices the caller's party issued, was addressed, or received as a copy or in a
    通报's scope: its own, not everything it may read (a city does not list the province's
    notices, a competent department not its units'). ``unacknowledged``: true, only those not
    yet acknowledged by their addressee; false, only those acknowledged."""
    if actor.is_system:
        raise Forbidden("the scheduler has no documents of its own")
    stmt = sa.select(Document).where(sa.or_(Document.issuer_id == actor.org_id, Document.addressee_id == actor.org_id,
                                            _received_besides(actor)))
    if kind is not None:
        stmt = stmt.where(Document.kind == kind)
    if year is not None:
        stmt = stmt.where(Document.year == year)
    if unacknowledged is not None:
        acknowledged_at = Document.acknowledged_at
        stmt = stmt.where(acknowledged_at.is_(None) if unacknowledged else acknowledged_at.is_not(None))
    return stmt


def get_document(actor: Actor, document_id: int) -> Document:
    """A document the caller may see; NotFound otherwise (absent and hidden look alike)."""
    document = db.session.execute(documents_for(actor).where(Document.id == document_id)).scalar_one_or_none()
    if document is None:
        raise NotFound(f"no document {document_id}")
    return document


def acknowledge(actor: Actor, document_id: int, now: dt.datetime | None = None, *,
                signed_copy: Checked | None = None, upload_dir: str | None = None) -> Document:
    """The addressee's signed, stamped return of the notice (annexes 1 and 2), with the
    scanned copy if given (checked by :func:`workflow.files.checked_upload` before, stored here
    under its server-chosen name once nothing can refuse).

    NotFound if the caller cannot see it; Forbidden unless a user of the addressee;
    Conflict if it was already acknowledged (also when two acknowledge at once: the
    update only applies while the document is unacknowledged).
    """
    document = acknowledgeable(actor, document_id)
    when = now or utcnow()
    done = db.session.execute(
        sa.update(Document)
        .where(Document.id == document.id, Document.acknowledged_at.is_(None))
        .values(acknowledged_at=when, acknowledged_by=actor.user_id, **_signed_copy_columns(signed_copy))
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:  # another acknowledgement committed between the read and this update
        db.session.refresh(document)
        raise _acknowledged_already(document)
    db.session.refresh(document)
    facts = {"number": document.number}
    if signed_copy is not None:
        facts["signed_copy"] = {"filename": signed_copy.filename, "file_type": signed_copy.file_type.name,
                                "size": signed_copy.size, "sha256": signed_copy.sha256}
    record(actor, stream_of("document", document.id), "acknowledged", facts, when)
    if signed_copy is not None:
        assert upload_dir is not None, "a signed copy needs the upload folder"
        keep(signed_copy, upload_dir)
    return document


def acknowledgeable(actor: Actor, document_id: int) -> Document:
    """The notice if the caller may acknowledge it now: NotFound, Forbidden or Conflict as
    :func:`acknowledge` says (the API asks before it reads an uploaded copy)."""
    document = get_document(actor, document_id)
    if actor.is_system or actor.org_id != document.addressee_id:
        raise Forbidden("only the addressee acknowledges a notice")
    if not KINDS[document.kind].acknowledged:
        raise Conflict(f"a {KINDS[document.kind].short_name} is not acknowledged", {"kind": [document.kind]})
    if document.acknowledged_at is not None:
        raise _acknowledged_already(document)
    return document


def _signed_copy_columns(copy: Checked | None) -> dict:
    if copy is None:
        return {}
    return {"signed_filename": copy.filename, "signed_stored_name": copy.stored_name,
            "signed_content_type": copy.content_type, "signed_size": copy.size, "signed_sha256": copy.sha256}


def signed_copy_path(actor: Actor, document_id: int, upload_dir: str) -> tuple[Document, str]:
    """The stored signed copy of a notice the caller may see; NotFound if none was returned."""
    document = get_document(actor, document_id)
    if document.signed_stored_name is None:
        raise NotFound(f"document {document.number} has no signed copy")
    return document, stored_path(document.signed_stored_name, upload_dir)


def _acknowledged_already(document: Document) -> Conflict:
    return Conflict(f"document {document.number} was acknowledged already",
                    {"acknowledged_at": [document.acknowledged_at.astimezone(local_zone()).isoformat()]})


def history(actor: Actor, document_id: int) -> sa.Select:
    """The document's journal, for whoever may see the document (NotFound otherwise)."""
    document = get_document(actor, document_id)
    return entries_of(stream_of("document", document.id))

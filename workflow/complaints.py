"""Complaints and reports from anyone (投诉举报, Art. 20, 25(四)).

Anyone may report, without an account; finance triages each report into a warning
(to verify under Art. 11(二)), a case (when the facts are already clear), or dismisses
it with a reason. The reporter's identity is kept confidential (对举报人身份信息予以保密):
it is stored here and shown to finance only; notifications and the warnings and cases
a report turns into never carry it.

Public intake is rate-limited per client address with a fixed window counted in the
database (:class:`ComplaintRate`), so that the limit holds across gunicorn workers and
hosts. Addresses are stored as SHA-256 digests, never next to a complaint, and swept
after two windows: a digest of an IPv4 address can be reversed by trying them all, so
what protects the reporter is that no row links an address to a report, and that the
counters do not outlive the limit they serve.

Journal (:mod:`workflow.journal`, stream ``complaint:<id>``, finance only): ``received``
and ``triaged``. The entries carry a SHA-256 of the description rather than its text, and
nothing of the reporter: the identity stays in one place, the complaint row.
"""
from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow import message_builders, verification
from workflow.articles import art
from workflow.budget import unit_in_reach
from workflow.cases import open_case
from workflow.db import AwareDateTime, db, locked, upsert, utcnow
from workflow.errors import Conflict, DomainError, Invalid, NotFound
from workflow.journal import PUBLIC, entries_of, record, stream_of
from workflow.monitoring.models import Payment
from workflow.outbox import notify
from workflow.parties import Actor, Organisation, org_by_code, require
from workflow.scoping import units_of
from workflow.settings import current

COMPLAINT_STATUSES = ("received", "warning", "case", "dismissed")
TRIAGE_OUTCOMES = ("warning", "case", "dismissed")


class RateLimited(DomainError):
    """Too many reports from one address in the current window (API4: resource limits)."""

    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, {"_": [f"retry after {retry_after} seconds"]})
        self.retry_after = retry_after


class Complaint(db.Model):
    """One report (投诉举报). ``finance_id`` is the department that must handle it: the one
    in charge of the reported unit, else the one the reporter addressed, else the default."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    finance_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    subject_text: Mapped[str] = mapped_column(sa.String(200))  # the unit as the reporter named it
    description: Mapped[str] = mapped_column(sa.Text)
    voucher_no: Mapped[str | None] = mapped_column(sa.String(64))
    # Confidential (Art. 20): finance only.
    reporter_name: Mapped[str | None] = mapped_column(sa.String(100))
    reporter_phone: Mapped[str | None] = mapped_column(sa.String(40))
    reporter_email: Mapped[str | None] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(12), default="received")
    received_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    triaged_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    triaged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    warning_id: Mapped[int | None] = mapped_column(sa.ForeignKey("warnings.id"))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))

    finance: Mapped[Organisation] = relationship(foreign_keys=[finance_id])
    unit: Mapped[Organisation | None] = relationship(foreign_keys=[unit_id])

    __table_args__ = (sa.CheckConstraint(status.in_(COMPLAINT_STATUSES), name="status"),)

    @property
    def unit_code(self) -> str | None:
        return self.unit.code if self.unit is not None else None

    @property
    def finance_code(self) -> str:
        return self.finance.code


class ComplaintRate(db.Model):
    """Reports counted per client address digest and fixed window (``window_no`` = epoch
    seconds // window length). Old windows are swept on the next report."""

    __tablename__ = "complaint_rate"

    client: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    window_no: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    hits: Mapped[int] = mapped_column(default=0)


# --- rate limiting ------------------------------------------------------------------------

def rate_limit() -> tuple[int, int]:
    """(reports allowed per window, window length in seconds), from configuration:
    ``FUNDWATCH_COMPLAINTS_PER_WINDOW`` (default 5) and ``FUNDWATCH_COMPLAINT_WINDOW_SECONDS``
    (default 3600)."""
    settings = current()
    per_window, seconds = settings.complaints_per_window, settings.complaint_window_seconds
    if per_window < 1 or seconds < 1:
        raise ValueError("complaint rate limit settings must be positive")
    return per_window, seconds


def client_digest(address: str | None) -> str:
    return hashlib.sha256((address or "unknown").encode()).hexdigest()


def count_report(address: str | None, now: dt.datetime) -> None:
    """Count one report from ``address``; raise :class:`RateLimited` beyond the limit.

    One ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` statement increments the
    window's counter atomically: concurrent workers each see a distinct count (PostgreSQL
    locks the row until commit; SQLite has one writer), so the limit is never overshot.
    """
    per_window, seconds = rate_limit()
    epoch = int(now.timestamp())
    window = epoch // seconds
    digest = client_digest(address)
    table = ComplaintRate.__table__
    hits = upsert(table, dict(client=digest, window_no=window, hits=1), [table.c.client, table.c.window_no],
                  {"hits": table.c.hits + 1}, returning=table.c.hits)
    if hits > per_window:
        retry_after = max(1, (window + 1) * seconds - epoch)
        raise RateLimited(f"too many reports from this address; at most {per_window} per "
                          f"{seconds} seconds", retry_after)
    db.session.execute(sa.delete(ComplaintRate).where(ComplaintRate.window_no < window - 1)
                       .execution_options(synchronize_session=False))


# --- intake ---------------------------------------------------------------------------------

def finance_in_charge(org: Organisation) -> Organisation | None:
    """The finance department whose jurisdiction ``org`` sits in directly."""
    return db.session.execute(sa.select(Organisation).where(
        Organisation.kind == "finance", Organisation.finance_path == org.finance_path)).scalar_one_or_none()


def _default_finance() -> Organisation:
    code = current().complaint_finance_code
    if code:
        org = org_by_code(code)
        if org is not None and org.kind == "finance":
            return org
    org = db.session.execute(sa.select(Organisation).where(
        Organisation.kind == "finance", Organisation.parent_id.is_(None)).order_by(Organisation.id)).scalars().first()
    if org is None:
        raise Invalid("no finance department receives complaints yet", {"finance_code": ["none configured"]})
    return org


def _resolve_unit(code: str | None, name: str | None) -> Organisation | None:
    if code:
        org = org_by_code(code.strip())
        if org is not None and org.kind == "unit":
            return org
    if name:
        found = db.session.execute(sa.select(Organisation).where(
            Organisation.kind == "unit", Organisation.name == name.strip()).limit(2)).scalars().all()
        if len(found) == 1:
            return found[0]
    return None


def submit(data: dict, *, client_address: str | None, now: dt.datetime | None = None) -> Complaint:
    """Receive a report from the public (no actor). Counts it against the address's rate
    limit first; routes it to the finance department in charge; tells that department
    (without the reporter's identity). No commit here."""
    now = now or utcnow()
    count_report(client_address, now)
    code, name = data.get("unit_code"), data.get("unit_name")
    if not (code or name):
        raise Invalid("name the unit you report", {"unit_code": ["give unit_code or unit_name"],
                                                   "unit_name": ["give unit_code or unit_name"]})
    unit = _resolve_unit(code, name)
    finance = finance_in_charge(unit) if unit is not None else None
    if finance is None and data.get("finance_code"):
        addressed = org_by_code(data["finance_code"])
        if addressed is None or addressed.kind != "finance":
            raise Invalid("unknown finance department", {"finance_code": ["no such finance department"]})
        finance = addressed
    finance = finance or _default_finance()
    named = "（".join(part.strip() for part in (code, name) if part) + ("）" if code and name else "")
    complaint = Complaint(finance=finance, unit=unit, subject_text=named[:200],
                          description=data["description"].strip(), voucher_no=data.get("voucher_no") or None,
                          reporter_name=data.get("reporter_name") or None,
                          reporter_phone=data.get("reporter_phone") or None,
                          reporter_email=data.get("reporter_email") or None,
                          status="received", received_at=now)
    db.session.add(complaint)
    db.session.flush()
    record(PUBLIC, stream_of("complaint", complaint.id), "received",
           {"finance_code": finance.code, "unit_code": unit.code if unit is not None else None,
            "subject_text": complaint.subject_text, "voucher_no": complaint.voucher_no,
            "description_sha256": hashlib.sha256(complaint.description.encode("utf-8")).hexdigest()}, now)
    notify(**message_builders.complaint_received(complaint, finance=finance, unit=unit,
                                                 summary=_summary(complaint.description), now=now))
    return complaint


def _summary(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


# --- finance's view and triage ----------------------------------------------------------------

def complaints_for(actor: Actor):
    """Finance only (Art. 20, 25(四)): the reports routed to its department or one below it."""
    require(actor, "finance", action="read complaints")
    stmt = sa.select(Complaint)
    if actor.is_system:
        return stmt
    return stmt.where(Complaint.finance_id.in_(
        sa.select(Organisation.id).where(Organisation.finance_path.startswith(actor.finance_path))))


def get_complaint(actor: Actor, complaint_id: int, *, lock: bool = False) -> Complaint:
    stmt = complaints_for(actor).where(Complaint.id == complaint_id)
    if lock:
        stmt = locked(stmt)
    complaint = db.session.execute(stmt).scalar_one_or_none()
    if complaint is None:
        raise NotFound(f"no complaint {complaint_id}")
    return complaint


def triage(actor: Actor, complaint_id: int, data: dict, now: dt.datetime | None = None) -> Complaint:
    """Finance decides what a report becomes (Art. 20: 按照相关程序及时处理):

    - ``into: warning`` opens a manual warning (rule ``complaint``, 第二十条) on the payment
      the report names (``voucher_no``) or on the unit, to verify under Art. 11(二);
    - ``into: case`` opens a unit case on ``rung`` (Art. 21) with ``fields``;
    - ``into: dismissed`` records ``reason``.

    Finance may name the unit or payment it identified (``unit_code``, ``voucher_no``).
    Conflict if already triaged (also when two officers triage at once: the row is locked).
    """
    require(actor, "finance", action="triage complaints")
    now = now or utcnow()
    complaint = get_complaint(actor, complaint_id, lock=True)
    if complaint.status != "received":
        raise Conflict(f"complaint {complaint.id} was triaged already ({complaint.status})",
                       {"status": [complaint.status]})
    into = data["into"]
    if into == "dismissed":
        reason = (data.get("reason") or "").strip()
        if not reason:
            raise Invalid("a dismissal needs a reason", {"reason": ["required"]})
        complaint.reason = reason
    else:
        unit, payment = _subject_for_triage(actor, complaint, data)
        if into == "warning":
            message = (data.get("message") or "").strip() or f"投诉举报线索（第{complaint.id}号），待核实"
            warning = verification.open_manual_warning(
                actor, unit=unit, payment=payment, rule="complaint", level=data.get("level") or "warn",
                article=art(20), message=message, now=now)
            complaint.warning_id = warning.id
        elif into == "case":
            if not data.get("rung"):
                raise Invalid("a case needs its rung", {"rung": ["required"]})
            fields = dict(data.get("fields") or {})
            # The default summary names the report by number only: its text may identify the reporter.
            fields.setdefault("summary", f"经核实的投诉举报事项（投诉举报第{complaint.id}号）")
            case = open_case(actor, machine="unit_case", subject=unit, rung=data["rung"], fields=fields,
                             source={"complaint_id": complaint.id, "voucher_no": payment.voucher_no if payment else None},
                             now=now)
            complaint.case_id = case.id
        else:  # the schema allows only the three outcomes
            raise Invalid(f"cannot triage into {into!r}", {"into": [f"one of {', '.join(TRIAGE_OUTCOMES)}"]})
        complaint.unit_id = unit.id
        if payment is not None:
            complaint.voucher_no = payment.voucher_no
    complaint.status = into
    complaint.triaged_at = now
    complaint.triaged_by_id = actor.user_id
    unit = db.session.get(Organisation, complaint.unit_id) if complaint.unit_id else None
    record(actor, stream_of("complaint", complaint.id), "triaged",
           {"into": into, "reason": complaint.reason, "unit_code": unit.code if unit is not None else None,
            "voucher_no": complaint.voucher_no, "warning_id": complaint.warning_id, "case_id": complaint.case_id},
           now)
    return complaint


def history(actor: Actor, complaint_id: int) -> sa.Select:
    """The complaint's journal, for finance that may see the complaint (NotFound otherwise)."""
    complaint = get_complaint(actor, complaint_id)
    return entries_of(stream_of("complaint", complaint.id))


def _subject_for_triage(actor: Actor, complaint: Complaint, data: dict):
    """The unit (and payment, if any) a report is about, inside finance's jurisdiction."""
    unit = complaint.unit
    if data.get("unit_code"):
        unit = unit_in_reach(actor, data["unit_code"])
        if unit is None:
            raise Invalid("unknown budget unit", {"unit_code": ["no budget unit in your jurisdiction"]})
    voucher = data.get("voucher_no") or complaint.voucher_no
    payment = None
    if voucher:
        # voucher numbers are per unit: the unit, when known, says whose voucher it is
        stmt = sa.select(Payment).where(Payment.voucher_no == voucher, units_of(actor, Payment.unit_id))
        if unit is not None:
            stmt = stmt.where(Payment.unit_id == unit.id)
        found = db.session.execute(stmt.order_by(Payment.id).limit(2)).scalars().all()
        if len(found) > 1:
            raise Invalid("several units of your jurisdiction have used this voucher number",
                          {"unit_code": ["name the unit: voucher numbers are numbered per unit"]})
        payment = found[0] if found else None
        if payment is None and data.get("voucher_no"):
            where = "of the unit" if unit is not None else "in your jurisdiction"
            raise Invalid("unknown payment", {"voucher_no": [f"no payment with this voucher number {where}"]})
        if payment is not None:
            unit = payment.unit
    if unit is None:
        raise Invalid("name the unit the report is about", {"unit_code": ["required: the report names no known unit"]})
    if unit_in_reach(actor, unit.code) is None:
        raise Invalid("the unit is outside your jurisdiction", {"unit_code": ["outside your jurisdiction"]})
    return unit, payment

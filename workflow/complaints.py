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

Reports arrive by the web form (``channel`` ``web``, from anyone) or by telephone on the
hotlines (举报电话, ``FUNDWATCH_COMPLAINT_HOTLINES``), where a finance officer records the call
(``channel`` ``phone``, who recorded it, when the call came in); both enter the same triage.

A reporter who leaves a contact gets a receipt code (:func:`new_receipt_code`), shown once:
only its SHA-256 is stored. With it, anyone holding it may look up the report's coarse status
(:func:`public_status`: received, being handled, concluded, with dates) and nothing else:
not the outcome, not the warning or case it became. Look-ups are rate-limited per address
like reports, and an unknown, malformed or wrong code all answer the same NotFound.

Journal (:mod:`workflow.journal`, stream ``complaint:<id>``, finance only): ``received``
and ``triaged``. The entries carry a SHA-256 of the description rather than its text, and
nothing of the reporter: the identity stays in one place, the complaint row.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow import message_builders, verification
from workflow.articles import art
from workflow.budget import unit_in_reach
from workflow.case_records import Case
from workflow.cases import open_case
from workflow.db import AwareDateTime, db, locked, upsert, utcnow
from workflow.errors import Conflict, DomainError, Invalid, NotFound
from workflow.journal import PUBLIC, entries_of, record, stream_of
from workflow.machines.warning import CONFIRMED
from workflow.monitoring.models import MonitoringWarning, Payment
from workflow.outbox import notify
from workflow.parties import Actor, Organisation, User, org_by_code, require
from workflow.scoping import units_of
from workflow.settings import current

COMPLAINT_STATUSES = ("received", "warning", "case", "dismissed")
TRIAGE_OUTCOMES = ("warning", "case", "dismissed")
CHANNELS = ("web", "phone")  # the web form; a call to a hotline, recorded by finance
# What the reporter may learn of its report (received / being handled / concluded), never the outcome.
PUBLIC_STATUSES = ("received", "being_handled", "concluded")

# Receipt codes: Crockford's base32 (no I, L, O, U: read aloud over a phone without doubt),
# 16 symbols = 80 random bits, written in groups of four.
RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIPT_SYMBOLS = 16
# How long a recorded call may lie in the future of the server's clock (clock skew).
PHONE_SKEW = dt.timedelta(minutes=5)


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
    # SHA-256 of the receipt code given to a reporter who left a contact; the code itself is never stored.
    receipt_code_sha256: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    channel: Mapped[str] = mapped_column(sa.String(8), default="web", server_default="web")
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # phone: the officer
    status: Mapped[str] = mapped_column(sa.String(12), default="received")
    received_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    triaged_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    triaged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    warning_id: Mapped[int | None] = mapped_column(sa.ForeignKey("warnings.id"))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))

    finance: Mapped[Organisation] = relationship(foreign_keys=[finance_id])
    unit: Mapped[Organisation | None] = relationship(foreign_keys=[unit_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])

    __table_args__ = (sa.CheckConstraint(status.in_(COMPLAINT_STATUSES), name="status"),
                      sa.CheckConstraint(channel.in_(CHANNELS), name="channel"))

    @property
    def recorded_by_name(self) -> str | None:
        return self.recorded_by.name if self.recorded_by is not None else None

    @property
    def has_receipt_code(self) -> bool:
        return self.receipt_code_sha256 is not None

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


def _lookup_digest(address: str | None) -> str:
    """Look-ups are counted apart from reports: a reporter checking twice keeps the right to report."""
    return hashlib.sha256(b"lookup\x1f" + (address or "unknown").encode()).hexdigest()


def count_attempt(digest: str, per_window: int, seconds: int, now: dt.datetime, what: str) -> None:
    """Count one request of ``digest`` (an address's, or another key's, digest: each caller
    salts its own, so the counts of reports, look-ups and sign-ins never mix); raise
    :class:`RateLimited` beyond ``per_window`` in the fixed window of ``seconds``.

    One ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` statement increments the
    window's counter atomically: concurrent workers each see a distinct count (PostgreSQL
    locks the row until commit; SQLite has one writer), so the limit is never overshot.
    """
    epoch = int(now.timestamp())
    window = epoch // seconds
    table = ComplaintRate.__table__
    hits = upsert(table, dict(client=digest, window_no=window, hits=1), [table.c.client, table.c.window_no],
                  {"hits": table.c.hits + 1}, returning=table.c.hits)
    if hits > per_window:
        retry_after = max(1, (window + 1) * seconds - epoch)
        raise RateLimited(f"too many {what} from this address; at most {per_window} per "
                          f"{seconds} seconds", retry_after)
    db.session.execute(sa.delete(ComplaintRate).where(ComplaintRate.window_no < window - 1)
                       .execution_options(synchronize_session=False))


def count_report(address: str | None, now: dt.datetime) -> None:
    """Count one report from ``address``; raise :class:`RateLimited` beyond the limit."""
    per_window, seconds = rate_limit()
    count_attempt(client_digest(address), per_window, seconds, now, "reports")


def count_lookup(address: str | None, now: dt.datetime) -> None:
    """Count one receipt-code look-up from ``address`` (``FUNDWATCH_COMPLAINT_LOOKUPS_PER_WINDOW``
    per complaint window); raise :class:`RateLimited` beyond it. Guessing an 80-bit code is
    hopeless anyway; the limit keeps the attempt from costing the service."""
    _, seconds = rate_limit()
    per_window = current().complaint_lookups_per_window
    if per_window < 1:
        raise ValueError("FUNDWATCH_COMPLAINT_LOOKUPS_PER_WINDOW must be positive")
    count_attempt(_lookup_digest(address), per_window, seconds, now, "look-ups")


# --- receipt codes ------------------------------------------------------------------------------

def new_receipt_code() -> str:
    """A fresh code, e.g. ``7K2M-QX4P-9TRD-B3WN``, from the operating system's CSPRNG."""
    symbols = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_SYMBOLS))
    return "-".join(symbols[i:i + 4] for i in range(0, RECEIPT_SYMBOLS, 4))


def normal_receipt_code(code: str) -> str | None:
    """The code as stored (hashed): upper case, without separators, with the letters a listener
    may write for digits read as such (O→0, I/L→1); None if it cannot be a code."""
    folded = "".join(code.split()).replace("-", "").upper().translate(str.maketrans("OIL", "011"))
    if len(folded) != RECEIPT_SYMBOLS or any(c not in RECEIPT_ALPHABET for c in folded):
        return None
    return folded


def receipt_digest(code: str) -> str:
    """SHA-256 of a normal code: with 80 random bits, a stored digest cannot be reversed by trying codes."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


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


@dataclass(frozen=True)
class Receipt:
    """A report as just received, with the receipt code given for it (shown once; None if
    the reporter left no contact). Reads as the complaint otherwise."""

    complaint: Complaint
    receipt_code: str | None

    def __getattr__(self, name):
        return getattr(self.complaint, name)

    @property
    def public_status(self) -> str:
        return public_status(self.complaint)["status"]

    @property
    def hotlines(self) -> list[str]:
        return hotlines()


def hotlines() -> list[str]:
    """The hotline numbers (举报电话) configured, as the public form shows them."""
    return list(current().complaint_hotlines)


def submit(data: dict, *, client_address: str | None, now: dt.datetime | None = None) -> Receipt:
    """Receive a report from the public (no actor). Counts it against the address's rate
    limit first; routes it to the finance department in charge; tells that department
    (without the reporter's identity). No commit here."""
    now = now or utcnow()
    count_report(client_address, now)
    return _receive(PUBLIC, data, channel="web", received_at=now, fallback=None, now=now)


def record_phone(actor: Actor, data: dict, now: dt.datetime | None = None) -> Receipt:
    """Finance records a report received on a hotline (Art. 20): when the call came in
    (``received_at``, not in the future), who recorded it (the caller's user). It is routed
    as a web report is, except that a report naming no known unit stays with the recording
    department, and enters the same triage. No rate limit: the officer is authenticated.
    No commit here."""
    require(actor, "finance", action="record complaints received by phone")
    now = now or utcnow()
    received_at = data["received_at"]
    if received_at > now + PHONE_SKEW:
        raise Invalid("the call cannot have come in the future", {"received_at": ["in the future"]})
    recorder = db.session.get(Organisation, actor.org_id) if actor.org_id else None
    return _receive(actor, data, channel="phone", received_at=received_at, fallback=recorder, now=now)


def _receive(actor: Actor, data: dict, *, channel: str, received_at: dt.datetime,
             fallback: Organisation | None, now: dt.datetime) -> Receipt:
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
    finance = finance or fallback or _default_finance()
    named = "（".join(part.strip() for part in (code, name) if part) + ("）" if code and name else "")
    reporter_phone, reporter_email = data.get("reporter_phone") or None, data.get("reporter_email") or None
    receipt_code = new_receipt_code() if (reporter_phone or reporter_email) else None
    complaint = Complaint(finance=finance, unit=unit, subject_text=named[:200],
                          description=data["description"].strip(), voucher_no=data.get("voucher_no") or None,
                          reporter_name=data.get("reporter_name") or None,
                          reporter_phone=reporter_phone, reporter_email=reporter_email,
                          receipt_code_sha256=receipt_digest(normal_receipt_code(receipt_code)) if receipt_code else None,
                          channel=channel, recorded_by_id=actor.user_id if channel == "phone" else None,
                          status="received", received_at=received_at)
    db.session.add(complaint)
    db.session.flush()
    record(actor, stream_of("complaint", complaint.id), "received",
           {"finance_code": finance.code, "unit_code": unit.code if unit is not None else None,
            "subject_text": complaint.subject_text, "voucher_no": complaint.voucher_no,
            "channel": channel, "received_at": received_at.isoformat(),
            "description_sha256": hashlib.sha256(complaint.description.encode("utf-8")).hexdigest()}, now)
    notify(**message_builders.complaint_received(complaint, finance=finance, unit=unit,
                                                 summary=_summary(complaint.description), now=received_at))
    return Receipt(complaint, receipt_code)


def _summary(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


# --- the reporter's look-up -------------------------------------------------------------------

def find_by_receipt_code(code: str) -> Complaint:
    """The report a receipt code was given for. A malformed, unknown or wrong code is the same
    NotFound. The row is found by the code's digest (an index look-up: its timing tells
    nothing of any stored code), and the digests are compared in constant time."""
    normal = normal_receipt_code(code or "")
    digest = receipt_digest(normal) if normal else None
    complaint = None
    if digest is not None:
        complaint = db.session.execute(sa.select(Complaint).where(
            Complaint.receipt_code_sha256 == digest)).scalar_one_or_none()
    if complaint is None or not hmac.compare_digest(complaint.receipt_code_sha256, digest):
        raise NotFound("no complaint with this receipt code")
    return complaint


def public_status(complaint: Complaint) -> dict:
    """The report's coarse status for its reporter (Art. 20): ``received`` until finance
    triages it, ``being_handled`` from then, ``concluded`` once finance dismissed it, or the
    warning it became was decided and any case that followed is closed, with the dates. Never
    the outcome, the warning, the case, their numbers, measures or reasons: only when
    handling began and ended."""
    handled_from = complaint.triaged_at
    concluded_at = None
    if complaint.status == "dismissed":
        concluded_at = complaint.triaged_at
    elif complaint.status in ("warning", "case"):
        concluded_at = _matter_closed_at(complaint)
    status = "received" if handled_from is None else "concluded" if concluded_at is not None else "being_handled"
    return {"status": status, "received_at": complaint.received_at, "handled_from": handled_from,
            "concluded_at": concluded_at}


def _matter_closed_at(complaint: Complaint) -> dt.datetime | None:
    case_id = complaint.case_id
    if complaint.warning_id is not None:
        warning = db.session.get(MonitoringWarning, complaint.warning_id)
        if warning.status in ("dismissed", "transfer_closed"):  # a transfer (Art. 11(三)) ends when finance closes it
            return warning.closed_at
        if warning.status != CONFIRMED:
            return None
        case_id = warning.case_id
    case = db.session.get(Case, case_id) if case_id is not None else None
    return case.closed_at if case is not None else None


def status_by_receipt_code(code: str) -> dict:
    """What the reporter holding ``code`` may learn (:func:`public_status`), and the hotlines."""
    return {**public_status(find_by_receipt_code(code)), "hotlines": hotlines()}


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

"""Delivery of the outbox: inbox entries and e-mail over SMTP, with retries and a dead letter.

``deliver_pending()`` repeatedly claims a batch of due rows and commits once per batch. A
row is due when it is pending and either never tried (a new message goes out at once) or
its ``next_attempt_at`` after a failure has come:

- PostgreSQL: the claim is ``SELECT ... FOR NO KEY UPDATE SKIP LOCKED``, and the locks are held
  until the batch is committed, so any number of workers on any number of hosts can run
  at once: a row locked by one is invisible to the others, and once committed it is no
  longer pending. SQLite has no row locks: run one delivery worker there.
- inbox rows become an :class:`InboxNotification` (unique per outbox row: idempotent);
- e-mail rows are sent over one SMTP connection per batch. The Message-ID is derived from
  the outbox id (``<outbox-42.fundwatch@sender-domain>``) and the header
  ``X-FundWatch-Outbox-Id`` carries it too, so that a re-send after a crash between the
  SMTP acceptance and the commit (at-least-once) is recognisable as the same message.
- failure: ``attempts + 1``, ``last_error``, next try after ``base * 2**(attempts-1)``
  seconds (FUNDWATCH_OUTBOX_BACKOFF_SECONDS, default 60, capped at
  FUNDWATCH_OUTBOX_BACKOFF_MAX_SECONDS, default 6 h); after FUNDWATCH_OUTBOX_MAX_ATTEMPTS
  (default 8) the row is ``dead``: finance sees it in the dead-letter list and may retry it.
  A permanent refusal (a 5xx reply to this recipient or this message, :func:`permanent`)
  makes it dead at once: eight retries over a day would only delay the dead letter.
  If the server cannot be reached, every e-mail of the batch counts one failed attempt
  without waiting for the connection timeout again.

SMTP_URL (unset: e-mail is off, and e-mail rows wait, pending, until it is set):

- ``smtp://host:port`` plain SMTP (port 25 by default);
- ``smtp+starttls://user:password@host:587`` STARTTLS, then login (587 by default);
- ``smtps://user:password@host:465`` implicit TLS (465 by default);
- user and password are percent-decoded; login is attempted only when a user is given.
MAIL_SENDER is the envelope and ``From`` address; FUNDWATCH_SMTP_TIMEOUT (seconds, 10).
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa

from notifications.inbox import InboxNotification
from workflow.db import db, dialect_name, utcnow
from workflow.outbox import OutboxMessage, insert_ignoring_duplicates
from workflow.settings import current

log = logging.getLogger(__name__)

DEFAULT_BATCH = 50
ERROR_MAX = 2000
SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("ssl", 465),
           "smtp+ssl": ("ssl", 465)}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str = "plain"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0


def parse_smtp_url(url: str, *, timeout: float = 10.0) -> SmtpSettings:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"SMTP_URL: scheme must be one of {', '.join(SCHEMES)}, got {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError("SMTP_URL: a host is required")
    security, default_port = SCHEMES[parts.scheme]
    return SmtpSettings(host=parts.hostname, port=parts.port or default_port, security=security,
                        username=unquote(parts.username) if parts.username else None,
                        password=unquote(parts.password) if parts.password else None, timeout=timeout)


def smtp_settings() -> SmtpSettings | None:
    settings = current()
    if not settings.smtp_url:
        return None
    return parse_smtp_url(settings.smtp_url, timeout=settings.smtp_timeout)


def max_attempts() -> int:
    return current().outbox_max_attempts


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failure: 1, 2, 4, ... times the base, capped."""
    settings = current()
    base, cap = settings.outbox_backoff_seconds, settings.outbox_backoff_max_seconds
    return dt.timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def message_id(outbox_id: int, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "fundwatch.localhost"
    return f"<outbox-{outbox_id}.fundwatch@{domain}>"


def build_email(row: OutboxMessage, sender: str, now: dt.datetime) -> EmailMessage:
    """The e-mail of an outbox row: UTF-8 body, RFC 2047 subject, a Message-ID from its id."""
    msg = EmailMessage()
    msg["Subject"] = row.subject
    msg["From"] = sender
    msg["To"] = row.address
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id(row.id, sender)
    msg["X-FundWatch-Outbox-Id"] = str(row.id)
    msg.set_content(row.body, charset="utf-8", cte="base64")  # 7-bit safe on any server
    return msg


class Mailer:
    """One SMTP session, opened on first use. After the server could not be reached, it
    fails every further message at once instead of waiting for the timeout each time."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._unreachable: Exception | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if s.username:
            smtp.login(s.username, s.password or "")
        return smtp

    def send(self, msg: EmailMessage, sender: str, recipient: str) -> None:
        if self._unreachable is not None:
            raise self._unreachable
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except (OSError, smtplib.SMTPException) as exc:
                self._unreachable = exc
                raise
        try:
            self._smtp.send_message(msg, from_addr=parseaddr(sender)[1] or sender, to_addrs=[recipient])
        except smtplib.SMTPServerDisconnected:
            self._smtp = None  # the next message reconnects once
            raise
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            raise  # the server refused this message; the session is still usable
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.dead


def _claim(now: dt.datetime, channels: list[str], size: int) -> list[OutboxMessage]:
    stmt = (sa.select(OutboxMessage)
            .where(OutboxMessage.status == "pending",
                   # never tried: due at once, whatever clock the caller runs on (a check run
                   # with --now in the past must still deliver what it just queued)
                   sa.or_(OutboxMessage.attempts == 0, OutboxMessage.next_attempt_at <= now),
                   OutboxMessage.channel.in_(channels))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(size))
    if dialect_name() == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, key_share=True)  # see workflow.scheduling._lock
    return list(db.session.execute(stmt).scalars())


def _deliver_inbox(rows: list[OutboxMessage]) -> None:
    """One statement for the batch's inbox rows; an entry already there is left as it is."""
    insert_ignoring_duplicates(InboxNotification, [dict(
        outbox_message_id=row.id, user_id=row.recipient_user_id, org_id=row.recipient_org_id,
        case_id=row.case_id, subject=row.subject, body=row.body, link=row.link, created_at=row.created_at,
    ) for row in rows], ["outbox_message_id"])


def permanent(exc: Exception) -> bool:
    """Whether retrying the same message can never succeed (RFC 5321 §4.2.1: a 5yz reply is
    a permanent failure): the server refused this recipient or this message with a 5xx, or
    the message cannot be built (a malformed address). Transient replies (4xx), an
    unreachable server, and refusals that are the operator's configuration rather than the
    message's (the sender address, the login) are retried: once the configuration is mended
    the backlog flows without anyone retrying dead letters by hand."""
    if isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError)):
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600
    return isinstance(exc, ValueError)


def _failed(row: OutboxMessage, exc: Exception, now: dt.datetime, report: DeliveryReport) -> None:
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
    if permanent(exc):
        row.status = "dead"
        report.dead += 1
        log.error("outbox %s dead at once, refused permanently: %s", row.id, row.last_error)
    elif row.attempts >= max_attempts():
        row.status = "dead"
        report.dead += 1
        log.error("outbox %s dead after %s attempts: %s", row.id, row.attempts, row.last_error)
    else:
        row.next_attempt_at = now + backoff(row.attempts)
        report.failed += 1
    report.errors.append(f"{row.id}: {row.last_error}")


def deliver_pending(now: dt.datetime | None = None, limit: int = 1000, *,
                    batch_size: int = DEFAULT_BATCH) -> DeliveryReport:
    """Deliver up to ``limit`` due outbox rows; commits after each batch, so call it in a
    session of its own (a scheduler job, a CLI command), never inside a request."""
    now = now or utcnow()
    settings = smtp_settings()
    sender = str(current().mail_sender)
    channels = ["inbox", "email"] if settings else ["inbox"]
    report = DeliveryReport()
    mailer = Mailer(settings) if settings else None
    try:
        while report.handled < limit:
            batch = _claim(now, channels, min(batch_size, limit - report.handled))
            if not batch:
                break
            delivered = [row for row in batch if row.channel == "inbox"]
            _deliver_inbox(delivered)
            for row in batch:
                if row.channel != "email":
                    continue
                try:
                    mailer.send(build_email(row, sender, now), sender, row.address)
                except (OSError, smtplib.SMTPException, ValueError) as exc:
                    _failed(row, exc, now, report)
                    continue
                delivered.append(row)
            for row in delivered:
                row.status = "sent"
                row.sent_at = now
            report.sent += len(delivered)
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        if mailer is not None:
            mailer.close()
    return report

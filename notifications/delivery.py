"""Delivery of the outbox: inbox entries and e-mail over SMTP, with retries and a dead letter.

``deliver_pending()`` claims a batch of due rows, delivers it and commits, batch after batch
until none is due: there is no cap per call, so delivery keeps up with whatever the actions
write (the scheduler calls it again soon after a call that found work, see
:mod:`api.scheduler`). Each batch is its own transaction: a crash loses at most the batch it
was on, which the next call redoes. A row is due when it is pending and either never tried
(a new message goes out at once) or its ``next_attempt_at`` after a failure has come:

- PostgreSQL: the claim is ``SELECT ... FOR NO KEY UPDATE SKIP LOCKED``, and the locks are held
  until the batch is committed, so any number of workers on any number of hosts can run
  at once: a row locked by one is invisible to the others, and once committed it is no
  longer pending. SQLite has no row locks: run one delivery worker there.
- inbox rows become an :class:`InboxNotification` (unique per outbox row: idempotent);
- e-mail rows are sent over one SMTP connection per call, before the batch writes anything
  (on SQLite the first write takes the database's one write lock, which must not wait on an
  SMTP server); then the inbox entries, the rows sent and the failures are written in three
  statements whatever the batch's size. The Message-ID is derived from
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
import email.policy
import functools
import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa

from notifications.inbox import InboxNotification
from workflow.db import among, db, dialect_name, utcnow
from workflow.outbox import OutboxMessage, insert_ignoring_duplicates
from workflow.settings import current

log = logging.getLogger(__name__)

DEFAULT_BATCH = 50
ERROR_MAX = 2000
ERRORS_KEPT = 100  # in a report; each row keeps its own last_error
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


class _HeaderClasses(HeaderRegistry):
    """The standard header classes, each made once. The stock registry makes a new class on
    every lookup, several per header set and again when the message is written out: about a
    fifth of an e-mail's cost. The messages are byte for byte the same."""

    @functools.cache
    def __getitem__(self, name: str) -> type:
        return super().__getitem__(name)


POLICY = email.policy.default.clone(header_factory=_HeaderClasses())


def build_email(row: sa.Row, sender: str, now: dt.datetime) -> EmailMessage:
    """The e-mail of an outbox row: UTF-8 body, RFC 2047 subject, a Message-ID from its id."""
    msg = EmailMessage(policy=POLICY)
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
    # True when the call stopped because ``keep_going`` said so or ``limit`` was reached,
    # not because nothing was due: rows may be waiting.
    interrupted: bool = False

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.dead

    def __str__(self) -> str:
        more = f" (the first error: {self.errors[0]})" if self.errors else ""
        return f"{self.sent} sent, {self.failed} failed, {self.dead} dead{more}"


# What delivering a row reads of it.
CLAIMED = (OutboxMessage.id, OutboxMessage.channel, OutboxMessage.address, OutboxMessage.recipient_user_id,
           OutboxMessage.recipient_org_id, OutboxMessage.case_id, OutboxMessage.subject, OutboxMessage.body,
           OutboxMessage.link, OutboxMessage.created_at, OutboxMessage.attempts, OutboxMessage.next_attempt_at)


def _claim(now: dt.datetime, channel: str, size: int) -> list[sa.Row]:
    """The next ``size`` due rows of ``channel``, as plain rows (no ORM objects to track: the
    batch is written back by id in a few statements): a scan of ``ix_outbox_messages_claim``
    that stops at the limit. On PostgreSQL they stay locked until the batch's commit; another
    worker's claim skips them."""
    if size <= 0:
        return []
    stmt = (sa.select(*CLAIMED)
            .where(OutboxMessage.status == "pending", OutboxMessage.channel == channel,
                   # never tried: due at once, whatever clock the caller runs on (a check run
                   # with --now in the past must still deliver what it just queued)
                   sa.or_(OutboxMessage.attempts == 0, OutboxMessage.next_attempt_at <= now))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(size))
    if dialect_name() == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, key_share=True)  # see workflow.scheduling._lock
    return list(db.session.execute(stmt))


def _deliver_inbox(rows: list[sa.Row]) -> None:
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


def _failed(row: sa.Row, exc: Exception, now: dt.datetime, report: DeliveryReport) -> dict:
    """The row's new attempt count, error, status and next try after ``exc``."""
    attempts = row.attempts + 1
    error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
    values = {"id": row.id, "attempts": attempts, "last_error": error, "status": "pending",
              "next_attempt_at": row.next_attempt_at}
    if permanent(exc):
        values["status"] = "dead"
        report.dead += 1
        log.error("outbox %s dead at once, refused permanently: %s", row.id, error)
    elif attempts >= max_attempts():
        values["status"] = "dead"
        report.dead += 1
        log.error("outbox %s dead after %s attempts: %s", row.id, attempts, error)
    else:
        values["next_attempt_at"] = now + backoff(attempts)
        report.failed += 1
    if len(report.errors) < ERRORS_KEPT:  # a call has no cap: while SMTP is down, every e-mail fails
        report.errors.append(f"{row.id}: {error}")
    return values


def _deliver_batch(batch: list[sa.Row], mailer: Mailer | None, sender: str, now: dt.datetime,
                   report: DeliveryReport) -> None:
    """Send the batch's e-mail, then write the outcome of every row: the inbox entries, the
    rows sent, the failures. The e-mail goes out before anything is written because on SQLite
    the first write takes the database's one write lock, which must not wait on an SMTP
    server; on PostgreSQL the claimed rows are locked already. Nothing is committed here."""
    delivered = [row for row in batch if row.channel == "inbox"]
    failures = []
    for row in batch:
        if row.channel != "email":
            continue
        try:
            mailer.send(build_email(row, sender, now), sender, row.address)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            failures.append(_failed(row, exc, now, report))
            continue
        delivered.append(row)
    _deliver_inbox([row for row in batch if row.channel == "inbox"])
    if delivered:
        db.session.execute(sa.update(OutboxMessage)
                           .where(among(OutboxMessage.id, [row.id for row in delivered]))
                           .values(status="sent", sent_at=now))
    if failures:
        table = OutboxMessage.__table__
        db.session.execute(table.update().where(table.c.id == sa.bindparam("row_id")).values(
            attempts=sa.bindparam("attempts"), last_error=sa.bindparam("last_error"),
            status=sa.bindparam("status"), next_attempt_at=sa.bindparam("next_attempt_at")),
            [{**f, "row_id": f.pop("id")} for f in failures])
    report.sent += len(delivered)


def deliver_pending(now: dt.datetime | None = None, limit: int | None = None, *,
                    batch_size: int = DEFAULT_BATCH, keep_going: Callable[[], bool] | None = None
                    ) -> DeliveryReport:
    """Deliver every due outbox row: batch after batch, each claimed, delivered and committed
    on its own, until a claim finds nothing due. ``limit`` (rows handled) and ``keep_going``
    (asked before each batch after the first: the scheduler's "not shutting down, tick not
    over") end it earlier, with ``interrupted`` set; the rows left wait for the next call.
    Commits, so call it in a session of its own (a scheduler job, a CLI command), never
    inside a request.

    Rows that become due while it runs are delivered by the same call: a row written now is
    due at once (``attempts == 0``), so under a load that never lets up only ``keep_going``
    ends the call. A failed row's next try is measured against ``now``, fixed for the call:
    a long-running caller ends its call now and then and starts the next with a fresh clock
    (and a fresh SMTP connection, if the server had been unreachable)."""
    now = now or utcnow()
    settings = smtp_settings()
    sender = str(current().mail_sender)
    report = DeliveryReport()
    mailer = Mailer(settings) if settings else None
    try:
        while True:
            if (limit is not None and report.handled >= limit) or (
                    report.handled and keep_going is not None and not keep_going()):
                report.interrupted = True
                break
            size = batch_size if limit is None else min(batch_size, limit - report.handled)
            batch = _claim(now, "inbox", size)
            if mailer is not None:
                batch += _claim(now, "email", size - (0 if limit is None else len(batch)))
            if not batch:
                db.session.rollback()  # end the claim's read transaction
                break
            _deliver_batch(batch, mailer, sender, now, report)
            db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        if mailer is not None:
            mailer.close()
    return report

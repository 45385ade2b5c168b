"""The transactional outbox (发件箱): the messages a domain transaction leaves for delivery.

A state change and the notifications it causes are written in one transaction:
``notify()`` only inserts :class:`OutboxMessage` rows into the caller's session and
never commits. Delivery (the ``notifications`` package) runs later, outside that
transaction, and is at-least-once; its receivers are idempotent: an inbox entry is
unique per outbox row, and each e-mail carries a Message-ID derived from the row's id.

Idempotency: ``key`` names the effect (e.g. ``"reminder:case=12:deadline=2026-10-13:offset=2"``).
A second ``notify()`` with a key already in the outbox adds nothing, and the unique
constraint on (key, channel, recipient) settles two transactions racing with one key.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from workflow.db import AwareDateTime, among, chunks, db, insert_ignoring_duplicates, utcnow
from workflow.messages import check_context, render
from workflow.parties import User

CHANNELS = ("inbox", "email")
STATUSES = ("pending", "sent", "dead")
KEY_MAX = 200


class OutboxMessage(db.Model):
    """One message to one user on one channel, waiting for delivery or delivered."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(KEY_MAX))
    template: Mapped[str] = mapped_column(sa.String(64))
    channel: Mapped[str] = mapped_column(sa.String(8))
    recipient_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    recipient_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    address: Mapped[str | None] = mapped_column(sa.String(255))  # e-mail address when written
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(8), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)

    __table_args__ = (
        sa.UniqueConstraint("key", "channel", "recipient_user_id", name="uq_outbox_messages_key"),
        sa.CheckConstraint(channel.in_(CHANNELS), name="channel"),
        sa.CheckConstraint(status.in_(STATUSES), name="status"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # The delivery's claim: one channel's pending rows by due time, a range scan that stops
        # at its limit (not past the other channel's rows, e.g. e-mail waiting for SMTP_URL).
        sa.Index("ix_outbox_messages_claim", "status", "channel", "next_attempt_at", "id"),
    )


def notify(*, key: str, template: str, context: dict, org_ids: Iterable[int],
           case_id: int | None = None, now: dt.datetime | None = None) -> None:
    """Queue ``template`` for every active user of ``org_ids``: one inbox row each, and one
    e-mail row for each user with an address. Written in the caller's transaction (no
    commit); nothing is added if ``key`` is already in the outbox. Raises
    :class:`workflow.messages.TemplateContextError` for an unknown template or a
    missing context key, so that a bad call fails the caller's transaction early."""
    notify_all([dict(key=key, template=template, context=context, org_ids=org_ids, case_id=case_id)], now=now)


def notify_all(messages: Sequence[dict], now: dt.datetime | None = None) -> None:
    """:func:`notify` for several messages (each its keyword arguments, as the builders return
    them) in three statements whatever their number: the keys already in the outbox read at
    once, the users of every recipient at once, every row inserted by one executemany. For a
    screening batch that tells many units (:mod:`workflow.monitoring.alerts`). Every message's
    template and required keys are checked; only those with someone to read them are rendered."""
    queued = []
    for message in messages:
        _check_key(message["key"])
        check_context(message["template"], message["context"])
        org_ids = sorted({int(org_id) for org_id in message["org_ids"]})
        if org_ids:
            queued.append((message, org_ids))
    if not queued:
        return
    existing: set[str] = set()
    for chunk in chunks(sorted({m["key"] for m, _ in queued})):
        existing.update(db.session.execute(
            sa.select(OutboxMessage.key).where(among(OutboxMessage.key, chunk))).scalars())
    # As many notify() calls would: a key already queued, here or earlier, adds nothing.
    fresh = []
    for message, org_ids in queued:
        if message["key"] not in existing:
            existing.add(message["key"])
            fresh.append((message, org_ids))
    recipients = recipients_of(org_id for _, org_ids in fresh for org_id in org_ids)
    now = now or utcnow()
    rows = []
    for message, org_ids in fresh:
        if any(recipients[org_id] for org_id in org_ids):  # rendered only if someone reads it
            rendered = render(message["template"], message["context"], case_id=message.get("case_id"))
            rows += _rows(message["key"], message["template"], message.get("case_id"), rendered, org_ids,
                          recipients, now)
    insert_ignoring_duplicates(OutboxMessage, rows, ["key", "channel", "recipient_user_id"])


def recipients_of(org_ids: Iterable[int]) -> dict[int, list[tuple[int, int, str | None]]]:
    """The active users of ``org_ids`` as ``(user id, org id, e-mail)``, by organisation, in
    user id order: whom :func:`notify_all` and :func:`notify_fresh` write to. One query for all
    (per thousands of organisations)."""
    wanted = sorted({int(org_id) for org_id in org_ids})
    found: dict[int, list[tuple[int, int, str | None]]] = {org_id: [] for org_id in wanted}
    for chunk in chunks(wanted):  # a screening batch may tell more units than SQLite binds at once
        for user_id, org_id, email in db.session.execute(_RECIPIENTS, {"org_ids": chunk}):
            found[org_id].append((user_id, org_id, email))
    return found


_RECIPIENTS = (sa.select(User.id, User.org_id, User.email)
               .where(User.org_id.in_(sa.bindparam("org_ids", expanding=True)), User.active.is_(True))
               .order_by(User.id))


def notify_fresh(messages: Iterable[dict], recipients: dict[int, list] | None = None,
                 now: dt.datetime | None = None) -> None:
    """Queue several messages, each given as :func:`notify`'s keyword arguments, in one
    INSERT (issue 15: one statement for all of an action's notifications, not three per
    message). ``recipients`` is :func:`recipients_of` their organisations when the caller read
    it earlier (before taking its locks); otherwise it is read here, in one query.

    Only for keys new to the outbox, such as a case event's (they carry the case's new version,
    which the conditional update of the case makes this transaction's alone): unlike
    :func:`notify` and :func:`notify_all`, this does not look the key up first. A row whose key, channel and
    recipient are there already is still skipped (``ON CONFLICT DO NOTHING``)."""
    messages = list(messages)
    for message in messages:
        _check_key(message["key"])
    if recipients is None:
        recipients = recipients_of(org_id for m in messages for org_id in m["org_ids"])
    now = now or utcnow()
    rows = []
    for m in messages:
        rendered = render(m["template"], m["context"], case_id=m.get("case_id"))
        org_ids = sorted({int(org_id) for org_id in m["org_ids"]})
        rows += _rows(m["key"], m["template"], m.get("case_id"), rendered, org_ids, recipients, now)
    insert_ignoring_duplicates(OutboxMessage, rows, ["key", "channel", "recipient_user_id"])


def _check_key(key: str) -> None:
    if not key or len(key) > KEY_MAX:
        raise ValueError(f"an outbox key is 1..{KEY_MAX} characters")


def _rows(key: str, template: str, case_id: int | None, rendered: tuple[str, str, str], org_ids: list[int],
          recipients: dict[int, list], now: dt.datetime) -> list[dict]:
    """The outbox rows of one message: an inbox row for each active user of ``org_ids`` and an
    e-mail row for each of them with an address, in user id order."""
    subject, body, link = rendered
    common = dict(key=key, template=template, case_id=case_id, subject=subject, body=body, link=link,
                  status="pending", attempts=0, next_attempt_at=now, created_at=now)
    users = sorted(user for org_id in org_ids for user in recipients[org_id])
    rows = []
    for user_id, org_id, email in users:
        rows.append({**common, "channel": "inbox", "recipient_user_id": user_id,
                     "recipient_org_id": org_id, "address": None})
        if email and email.strip():
            rows.append({**common, "channel": "email", "recipient_user_id": user_id,
                         "recipient_org_id": org_id, "address": email.strip()})
    return rows

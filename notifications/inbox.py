"""The inbox (站内信) delivery fills, and what a party may read and do with notifications: its
own inbox, and (finance) the dead letters of its jurisdiction. Another user's notification is
simply not found."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from workflow import journal
from workflow.db import AwareDateTime, db, locked, utcnow
from workflow.errors import Conflict, NotFound
from workflow.outbox import OutboxMessage
from workflow.parties import Actor, Organisation, User, require


class InboxNotification(db.Model):
    """A message in a user's inbox. Unique per outbox row, so re-delivery adds nothing."""

    __tablename__ = "inbox_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_message_id: Mapped[int] = mapped_column(sa.ForeignKey("outbox_messages.id"), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)

    __table_args__ = (
        # A user's inbox page and unread count.
        sa.Index("ix_inbox_notifications_user", "user_id", "read_at"),
    )


def inbox_of(actor: Actor, *, unread: bool | None = None) -> sa.Select:
    """The caller's own inbox; a system actor has none."""
    stmt = sa.select(InboxNotification).where(InboxNotification.user_id == actor.user_id)
    if unread is True:
        stmt = stmt.where(InboxNotification.read_at.is_(None))
    elif unread is False:
        stmt = stmt.where(InboxNotification.read_at.is_not(None))
    return stmt


def unread_count(actor: Actor) -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(inbox_of(actor, unread=True).subquery())
    ).scalar_one()


def get_notification(actor: Actor, notification_id: int) -> InboxNotification:
    """The caller's notification, or :class:`NotFound` (also for anyone else's)."""
    row = db.session.execute(
        inbox_of(actor).where(InboxNotification.id == notification_id)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no notification {notification_id}")
    return row


def mark_read(actor: Actor, notification_id: int, now: dt.datetime | None = None) -> InboxNotification:
    """Mark as read; reading again keeps the first time it was read."""
    row = get_notification(actor, notification_id)
    if row.read_at is None:
        row.read_at = now or utcnow()
    return row


def _in_jurisdiction(actor: Actor):
    return OutboxMessage.recipient_org_id.in_(
        sa.select(Organisation.id).where(Organisation.finance_path.startswith(actor.finance_path)))


def dead_letters_of(actor: Actor) -> sa.Select:
    """Messages given up on whose recipients are in the finance department's jurisdiction."""
    require(actor, "finance", action="see undelivered notifications")
    return sa.select(OutboxMessage).where(OutboxMessage.status == "dead", _in_jurisdiction(actor))


def retry_dead(actor: Actor, message_id: int, now: dt.datetime | None = None) -> OutboxMessage:
    """Put a dead letter back in the queue with a fresh count of attempts. An e-mail goes
    to the user's address as it is now: a wrong address is the usual reason it died."""
    require(actor, "finance", action="retry undelivered notifications")
    row = db.session.execute(locked(
        sa.select(OutboxMessage).where(OutboxMessage.id == message_id, _in_jurisdiction(actor)))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no outbox message {message_id}")
    if row.status != "dead":
        raise Conflict(f"outbox message {message_id} is {row.status}, not dead",
                       {"status": [row.status]})
    if row.channel == "email":
        row.address = db.session.get(User, row.recipient_user_id).email
    journal.record(actor, journal.stream_of("outbox", row.id), "retried",
                   {"channel": row.channel, "attempts": row.attempts, "last_error": row.last_error,
                    "address": row.address}, now=now)
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = now or utcnow()
    return row

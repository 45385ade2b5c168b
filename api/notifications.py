"""The caller's inbox, and (finance) undelivered notifications: the dead-letter list."""
import marshmallow as ma
import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import current_actor
from api.fields import AwareDateTime, Integer
from api.pagination import PageQuery, decode_cursor, encode_cursor, page_schema, paginate
from notifications import inbox
from notifications.inbox import InboxNotification
from workflow.db import db
from workflow.outbox import STATUSES as OUTBOX_STATUSES
from workflow.outbox import OutboxMessage

blp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="Inbox and notification delivery")


class NotificationSchema(ma.Schema):
    id = Integer(dump_only=True)
    subject = ma.fields.String(dump_only=True)
    body = ma.fields.String(dump_only=True)
    link = ma.fields.String(dump_only=True)
    case_id = Integer(dump_only=True, allow_none=True)
    created_at = AwareDateTime(dump_only=True)
    read_at = AwareDateTime(dump_only=True, allow_none=True)
    read = ma.fields.Function(lambda n: n.read_at is not None, dump_only=True, metadata={"type": "boolean"})


class NotificationQuery(PageQuery):
    unread = ma.fields.Boolean(load_default=None, metadata={"description": "true: unread only; false: read only"})


class UnreadCountSchema(ma.Schema):
    unread = Integer(dump_only=True)


class OutboxMessageSchema(ma.Schema):
    id = Integer(dump_only=True)
    key = ma.fields.String(dump_only=True)
    template = ma.fields.String(dump_only=True)
    channel = ma.fields.String(dump_only=True)
    recipient_user_id = Integer(dump_only=True)
    recipient_org_id = Integer(dump_only=True)
    address = ma.fields.String(dump_only=True, allow_none=True)
    case_id = Integer(dump_only=True, allow_none=True)
    subject = ma.fields.String(dump_only=True)
    status = ma.fields.String(dump_only=True, validate=ma.validate.OneOf(OUTBOX_STATUSES))
    attempts = Integer(dump_only=True)
    next_attempt_at = AwareDateTime(dump_only=True)
    last_error = ma.fields.String(dump_only=True, allow_none=True)
    created_at = AwareDateTime(dump_only=True)
    sent_at = AwareDateTime(dump_only=True, allow_none=True)


def newest_first(stmt, id_column, args: dict) -> dict:
    """Keyset pages from the newest down: an inbox is read from the top."""
    limit = args["limit"]
    if args.get("cursor"):
        stmt = stmt.where(id_column < decode_cursor(args["cursor"]))
    rows = db.session.execute(stmt.order_by(id_column.desc()).limit(limit + 1)).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(sa.inspect(rows[-1]).identity[0]) if more else None}


@blp.route("/notifications")
class Notifications(MethodView):
    @blp.arguments(NotificationQuery, location="query")
    @blp.response(200, page_schema(NotificationSchema))
    def get(self, args):
        """The caller's inbox, newest first."""
        return newest_first(inbox.inbox_of(current_actor(), unread=args["unread"]), InboxNotification.id, args)


@blp.route("/notifications/unread-count")
class UnreadCount(MethodView):
    @blp.response(200, UnreadCountSchema)
    def get(self):
        return {"unread": inbox.unread_count(current_actor())}


@blp.route("/notifications/<int:notification_id>/read")
class MarkRead(MethodView):
    @blp.response(200, NotificationSchema)
    def post(self, notification_id):
        """Mark one of the caller's notifications as read (idempotent)."""
        row = inbox.mark_read(current_actor(), notification_id)
        db.session.commit()
        return row


@blp.route("/outbox/dead")
class DeadLetters(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_schema(OutboxMessageSchema))
    def get(self, args):
        """Finance: notifications to its jurisdiction that delivery gave up on."""
        return paginate(inbox.dead_letters_of(current_actor()), OutboxMessage.id, args)


@blp.route("/outbox/<int:message_id>/retry")
class Retry(MethodView):
    @blp.response(200, OutboxMessageSchema)
    def post(self, message_id):
        """Finance: queue a dead letter again, with a fresh count of attempts."""
        row = inbox.retry_dead(current_actor(), message_id)
        db.session.commit()
        return row

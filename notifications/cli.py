"""Operator commands: ``flask --app wsgi outbox deliver|status``.

The scheduler delivers the outbox every few seconds; these commands are for running it
once by hand (after fixing SMTP_URL, say) and for seeing what waits or died.
"""
from __future__ import annotations

import datetime as dt

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from notifications.delivery import deliver_pending
from workflow.db import db
from workflow.outbox import OutboxMessage

outbox_cli = AppGroup("outbox", help="Deliver and inspect the notification outbox.")


@outbox_cli.command("deliver")
@click.option("--now", "now", default=None, help="ISO time with offset (default: now).")
@click.option("--limit", default=10000, show_default=True, help="At most this many messages.")
def deliver(now, limit):
    """Deliver every due message once (inbox, and e-mail if SMTP_URL is set)."""
    moment = None
    if now:
        moment = dt.datetime.fromisoformat(now)
        if moment.tzinfo is None:
            raise click.BadParameter("give an offset, e.g. 2026-12-01T09:00+08:00", param_hint="--now")
    report = deliver_pending(now=moment, limit=limit)
    click.echo(f"sent {report.sent}, failed {report.failed}, dead {report.dead}")
    for line in report.errors[:20]:
        click.echo(f"  {line}")


@outbox_cli.command("status")
def status():
    """Count messages by channel and status."""
    rows = db.session.execute(
        sa.select(OutboxMessage.channel, OutboxMessage.status, sa.func.count())
        .group_by(OutboxMessage.channel, OutboxMessage.status)
        .order_by(OutboxMessage.channel, OutboxMessage.status)
    ).all()
    for channel, state, count in rows:
        click.echo(f"{channel:6} {state:8} {count}")
    if not rows:
        click.echo("outbox empty")

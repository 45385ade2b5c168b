"""Outbox throughput: notify() inside transactions, then delivery to the inbox and to a
real SMTP server (aiosmtpd on the loopback), and the working-day arithmetic behind it.

    python -m bench.outbox_delivery [--messages 2000] [--database-url postgresql://...]

Without --database-url a temporary SQLite file is used. On PostgreSQL a scratch schema is
created and dropped. Prints figures; asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import socket
import time

from bench.common import scratch_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="notify() calls (each: 1 user, 2 channels)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()

    from aiosmtpd.controller import Controller
    from flask_migrate import upgrade

    from api import create_app
    from notifications.delivery import deliver_pending
    from workflow import deadlines, demo
    from workflow.db import db
    from workflow.outbox import notify

    with scratch_url("postgresql" if args.database_url else "sqlite", args.database_url, prefix="fwbench") as (url, _folder):
        sink = _Sink()
        loop = asyncio.new_event_loop()
        port = _free_port()
        controller = Controller(sink, loop=loop, hostname="127.0.0.1", port=port)
        controller.start()
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SMTP_URL": f"smtp://127.0.0.1:{port}"})
        try:
            with app.app_context():
                upgrade(revision="heads")
                users = demo.load_demo()
                db.session.commit()
                unit = users["unit"].org_id
                deadline = dt.datetime(2026, 10, 13, 15, 59, 59, tzinfo=dt.timezone.utc)

                started = time.perf_counter()
                for i in range(args.messages):
                    notify(key=f"bench:{i}", template="deadline_reminder", org_ids=[unit],
                           context=dict(subject_name="克州政协机关", rung="order", deadline=deadline, days_left=2))
                    if i % 100 == 99:
                        db.session.commit()
                db.session.commit()
                queued = time.perf_counter() - started

                started = time.perf_counter()
                again = 0
                for i in range(0, args.messages, 10):
                    notify(key=f"bench:{i}", template="deadline_reminder", org_ids=[unit],
                           context=dict(subject_name="克州政协机关", rung="order", deadline=deadline, days_left=2))
                    again += 1
                db.session.commit()
                duplicate = time.perf_counter() - started

                started = time.perf_counter()
                report = deliver_pending(limit=10 * args.messages)
                delivered = time.perf_counter() - started

                calendar = deadlines.WorkingCalendar()
                start = dt.datetime(2026, 1, 1, 10, tzinfo=dt.timezone.utc)
                n = 20000
                t0 = time.perf_counter()
                for i in range(n):
                    deadlines.add_working_days(start + dt.timedelta(hours=7 * i % 8000), 15, calendar=calendar)
                arithmetic = time.perf_counter() - t0

                backend = db.engine.dialect.name
                db.session.remove()
                db.engine.dispose()
        finally:
            controller.stop()
            loop.close()

    rows = 2 * args.messages
    print(f"backend                      {backend}")
    print(f"notify() (1 user, 2 rows)    {args.messages} calls in {queued:.2f} s = {args.messages / queued:,.0f} calls/s")
    print(f"notify() with a known key    {again} calls in {duplicate:.2f} s = {again / duplicate:,.0f} calls/s (nothing written)")
    print(f"deliver_pending()            {report.sent} of {rows} rows in {delivered:.2f} s = {report.sent / delivered:,.0f} rows/s"
          f" (failed {report.failed}, dead {report.dead}; SMTP server received {sink.count})")
    print(f"add_working_days(.., 15)     {n} in {arithmetic:.3f} s = {arithmetic / n * 1e6:.1f} µs each")


if __name__ == "__main__":
    main()

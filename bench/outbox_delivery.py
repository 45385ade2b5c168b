"""Outbox throughput: notify() inside transactions, delivery to the inbox and to SMTP, draining
a backlog of N rows, and whether the scheduler's delivery job keeps up with a steady load.

    python -m bench.outbox_delivery [--messages 2000] [--drain 10000,100000] [--smtp stub,off]
                                    [--load-seconds 10] [--rate 290] [--database-url postgresql://...]

Sections (each on a fresh scratch database; without --database-url a temporary SQLite file,
with it a scratch schema, dropped after):

- ``notify``: ``--messages`` notify() calls (1 user, 2 rows each), then ``deliver_pending()`` to
  a real SMTP server (aiosmtpd on the loopback); and the working-day arithmetic behind reminders.
- ``drain``: N outbox rows (half inbox, half e-mail, as notify() writes them for users with an
  address) inserted in bulk, then delivered until nothing is due, calling ``deliver_pending()``
  as the scheduler's job does, once per tick. ``--smtp stub``: e-mail is "sent" by a Mailer that
  does nothing (the SMTP side costs nothing: what is left is the database's work); ``off``:
  SMTP_URL unset, e-mail rows stay pending and only the inbox rows are delivered (a second
  round then runs with those pending e-mail rows in the way); ``sink``: a real aiosmtpd server.
  ``ticks`` is the number of calls needed; with a cap per call, the scheduler delivers one call
  per ``FUNDWATCH_DELIVERY_SECONDS`` (15 s), and ``per tick cap`` is that rate.
- ``load``: the scheduler's own delivery job (``api.scheduler.build_scheduler``, default
  intervals) running while a producer thread writes ``--rate`` outbox rows per second (in
  transactions of ~10 rows, as busy actions do) for ``--load-seconds``; prints the largest
  backlog and how long after the load ended the last row was delivered.

Prints figures; asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import socket
import threading
import time

import sqlalchemy as sa

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


class _StubMailer:
    """Stands in for notifications.delivery.Mailer: every message is accepted at once."""

    sent = 0

    def __init__(self, settings):
        self.settings = settings

    def send(self, msg, sender, recipient):
        _StubMailer.sent += 1

    def close(self):
        pass


class _SmtpSink:
    def __init__(self):
        self.sink = _Sink()
        self.loop = asyncio.new_event_loop()
        self.port = _free_port()
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.sink, loop=self.loop, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
        self.loop.close()


def _app(url: str, smtp_url: str | None):
    from flask_migrate import upgrade

    from api import create_app
    from workflow import demo
    from workflow.db import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SMTP_URL": smtp_url})
    with app.app_context():
        logging.disable(logging.INFO)  # alembic's env.py resets the levels: silence its INFO lines
        try:
            upgrade(revision="heads")
        finally:
            logging.disable(logging.NOTSET)
        users = demo.load_demo()
        db.session.commit()
        unit = users["unit"]
        ids = (unit.id, unit.org_id, unit.email)
    return app, ids


def _rows(prefix: str, n: int, user: tuple[int, int, str], now: dt.datetime) -> list[dict]:
    """``n`` outbox rows: an inbox row and an e-mail row per key, as notify() writes them."""
    user_id, org_id, address = user
    common = dict(template="deadline_reminder", case_id=None, subject="【期限提醒】基准：书面责令整改还有2个工作日到期",
                  body="整改期限为 2026年11月26日 09:00（北京时间）。" * 8, link="/cases/1", status="pending",
                  attempts=0, next_attempt_at=now, created_at=now, recipient_user_id=user_id,
                  recipient_org_id=org_id)
    out = []
    for i in range(n):
        email = i % 2 == 1
        out.append({**common, "key": f"{prefix}:{i // 2}", "channel": "email" if email else "inbox",
                    "address": address if email else None})
    return out


def _insert(rows: list[dict]) -> None:
    from workflow.db import db, insert_ignoring_duplicates
    from workflow.outbox import OutboxMessage

    for start in range(0, len(rows), 5000):
        insert_ignoring_duplicates(OutboxMessage, rows[start:start + 5000], ["key", "channel", "recipient_user_id"])
        db.session.commit()


def _pending(channels=("inbox", "email")) -> int:
    from workflow.db import db
    from workflow.outbox import OutboxMessage

    count = db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == "pending", OutboxMessage.channel.in_(list(channels)))).scalar_one()
    db.session.commit()
    return count


def _drain_until_idle(deliver_pending, now) -> tuple[float, int, int, float]:
    """Call deliver_pending as scheduler ticks until one handles nothing: (seconds, rows, ticks,
    seconds of the slowest tick)."""
    total = ticks = 0
    slowest = 0.0
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        report = deliver_pending(now=now)
        slowest = max(slowest, time.perf_counter() - t0)
        ticks += 1
        if not report.handled:
            break
        total += report.handled
    return time.perf_counter() - started, total, ticks, slowest


def section_notify(args, base_url) -> list[str]:
    from notifications.delivery import deliver_pending
    from workflow import deadlines
    from workflow.db import db
    from workflow.outbox import notify

    with scratch_url("postgresql" if base_url else "sqlite", base_url, prefix="fwbench") as (url, _folder), \
            _SmtpSink() as smtp:
        app, (_uid, unit, _address) = _app(url, f"smtp://127.0.0.1:{smtp.port}")
        with app.app_context():
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

            seconds, sent, ticks, _slowest = _drain_until_idle(deliver_pending, None)

            calendar = deadlines.WorkingCalendar()
            start = dt.datetime(2026, 1, 1, 10, tzinfo=dt.timezone.utc)
            n = 20000
            t0 = time.perf_counter()
            for i in range(n):
                deadlines.add_working_days(start + dt.timedelta(hours=7 * i % 8000), 15, calendar=calendar)
            arithmetic = time.perf_counter() - t0
            db.session.remove()
            db.engine.dispose()
    rows = 2 * args.messages
    return [
        f"notify() (1 user, 2 rows)    {args.messages} calls in {queued:.2f} s = {args.messages / queued:,.0f} calls/s",
        f"notify() with a known key    {again} calls in {duplicate:.2f} s = {again / duplicate:,.0f} calls/s "
        "(nothing written)",
        f"deliver_pending() to aiosmtpd {sent} of {rows} rows in {seconds:.2f} s = {sent / seconds:,.0f} rows/s "
        f"({ticks} ticks; SMTP server received {smtp.sink.count})",
        f"add_working_days(.., 15)     {n} in {arithmetic:.3f} s = {arithmetic / n * 1e6:.1f} µs each",
    ]


def _smtp_context(mode: str, monkeypatch_target):
    """(SMTP_URL, context manager) for a mode; the stub replaces the Mailer class meanwhile."""
    from contextlib import contextmanager, nullcontext

    if mode == "off":
        return None, nullcontext()
    if mode == "stub":
        @contextmanager
        def stubbed():
            real = monkeypatch_target.Mailer
            monkeypatch_target.Mailer = _StubMailer
            try:
                yield
            finally:
                monkeypatch_target.Mailer = real
        return "smtp://127.0.0.1:9", stubbed()
    sink = _SmtpSink()
    return f"smtp://127.0.0.1:{sink.port}", sink


def section_drain(args, base_url) -> list[str]:
    from notifications import delivery
    from workflow.db import db, utcnow

    lines = []
    seconds_per_tick = 15.0
    for n in [int(x) for x in args.drain.split(",") if x.strip()]:
        for mode in [m.strip() for m in args.smtp.split(",") if m.strip()]:
            smtp_url, context = _smtp_context(mode, delivery)
            with scratch_url("postgresql" if base_url else "sqlite", base_url, prefix="fwbench") as (url, _f), context:
                app, user = _app(url, smtp_url)
                with app.app_context():
                    rounds = ["", " (pending e-mail in the way)"] if mode == "off" else [""]
                    for r, note in enumerate(rounds):
                        now = utcnow()
                        _insert(_rows(f"drain{r}", n, user, now))
                        seconds, rows, ticks, slowest = _drain_until_idle(delivery.deliver_pending, now)
                        left = _pending()
                        capped = min(rows / seconds, (rows / max(ticks - 1, 1)) / seconds_per_tick) \
                            if ticks > 2 else rows / seconds
                        lines.append(f"{n:>8,} rows  smtp {mode:<5}{rows:>8,} delivered in {seconds:7.2f} s = "
                                     f"{rows / seconds:>7,.0f} rows/s  {ticks:>4} ticks (slowest {slowest:5.2f} s; "
                                     f"per tick cap: {capped:,.0f} rows/s)  {left:,} left pending{note}")
                        print(lines[-1], flush=True)
                    db.session.remove()
                    db.engine.dispose()
    return lines


def section_load(args, base_url) -> list[str]:
    from api.scheduler import JOB_CHECKS, JOB_DIGEST, build_scheduler
    from notifications import delivery
    from workflow.db import db, utcnow

    lines = []
    for mode in [m.strip() for m in args.load_smtp.split(",") if m.strip()]:
        smtp_url, context = _smtp_context(mode, delivery)
        channels = ("inbox", "email") if mode != "off" else ("inbox",)
        with scratch_url("postgresql" if base_url else "sqlite", base_url, prefix="fwbench") as (url, _f), context:
            app, user = _app(url, smtp_url)
            scheduler = build_scheduler(app)
            scheduler.remove_job(JOB_CHECKS)
            scheduler.remove_job(JOB_DIGEST)
            stop = threading.Event()
            produced = [0]

            def producer():
                # ~10 rows per transaction, at the target rate, as busy actions write them
                with app.app_context():
                    started = time.monotonic()
                    i = 0
                    while not stop.is_set():
                        due = int((time.monotonic() - started) * args.rate)
                        if due - produced[0] >= 10:
                            _insert(_rows(f"load{i}", 10, user, utcnow()))
                            produced[0] += 10
                            i += 1
                        else:
                            time.sleep(0.005)
                    db.session.remove()

            with app.app_context():
                scheduler.start()
                time.sleep(1)  # the job's run at start, on an empty outbox
                thread = threading.Thread(target=producer)
                load_start = time.monotonic()
                thread.start()
                peak = 0
                while time.monotonic() - load_start < args.load_seconds:
                    time.sleep(0.25)
                    peak = max(peak, _pending(channels))
                stop.set()
                thread.join()
                load_end = time.monotonic()
                at_end = _pending(channels)
                while True:
                    left = _pending(channels)
                    if left == 0 or time.monotonic() - load_end > 120:
                        break
                    time.sleep(0.1)
                drained = time.monotonic() - load_end
                scheduler.shutdown(wait=True)
                db.session.remove()
                db.engine.dispose()
        lines.append(f"load smtp {mode:<5}{produced[0]:>7,} rows in {args.load_seconds:g} s "
                     f"({produced[0] / args.load_seconds:,.0f}/s): largest backlog {peak:,}, {at_end:,} at the end, "
                     + (f"all delivered {drained:.1f} s after the load ended" if left == 0
                        else f"{left:,} still pending {drained:.0f} s after"))
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="notify() calls (each: 1 user, 2 channels); 0 skips")
    parser.add_argument("--drain", default="10000", help="backlog sizes to drain, comma separated; empty skips")
    parser.add_argument("--smtp", default="stub,off", help="drain with: stub, off, sink (comma separated)")
    parser.add_argument("--load-seconds", type=float, default=10.0, help="length of the steady load; 0 skips")
    parser.add_argument("--rate", type=float, default=290.0, help="outbox rows per second during the load")
    parser.add_argument("--load-smtp", default="stub", help="SMTP during the load: stub, off, sink")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in ("alembic", "transitions", "workflow"):
        logging.getLogger(name).setLevel(logging.ERROR)

    backend = "postgresql" if args.database_url else "sqlite"
    print(f"backend {backend}")
    lines = []
    if args.drain:
        lines += section_drain(args, args.database_url)
    if args.load_seconds > 0:
        lines += section_load(args, args.database_url)
    if args.messages > 0:
        lines += section_notify(args, args.database_url)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Deadline checks over many open verification steps: the check costs in proportion to the
requests due, not to all open steps (issue 10, deadlines at the warning stage).

    python -m bench.bench_step_deadlines [--n 100000] [--compare 10000] [--due 1000]
                                         [--backends sqlite,postgresql] [--database-url postgresql://...]

For each backend, two data sets with the SAME number of due requests are built straight into
the tables by bulk insert (psycopg ``COPY`` / ``sqlite3.executemany``), in a throwaway PostgreSQL
schema or temporary SQLite file: ``--compare`` open requests in all (10,000) and ``--n``
(100,000). Each is a documents request (Art. 11(二)2) on a warning of its own asking two parties
(the demo unit and its competent department), so ``n`` requests are ``n/2`` steps and warnings.
``--due`` requests are past their due date, unanswered (finance is to be told), and as many
again are inside the reminder window (due in two working days: the party is to be reminded);
the others are due 10 to 120 days ahead. Besides those, as many requests again as are open
were answered or told already (``chase_at`` NULL): the history months of use leave behind.

Timed, as of one fixed ``now``:

- ``scan``: reading every overdue candidate through the index ``(chase_at, id)`` (no handling);
- ``check``: ``run_deadline_checks(now)``, each due request handled in its own transaction
  (reminder or overdue notice: the effect claimed, the message queued, the journal entry);
- ``rerun``: the same check a minute later, when nothing new is due (the told requests left the
  range; the reminded ones are probed in the effects' unique index).

Then the query plans (``EXPLAIN``) of the overdue and reminder candidate queries. If the check
followed all open steps, the larger line would be ``n/compare`` times the smaller one; it is not.
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import random
import sys
import time
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bench.bench_deadlines import _bind, explain
from bench.common import scratch_database

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 24, 9, 30, tzinfo=SH)  # a Tuesday morning
REMIND_DAY = dt.date(2026, 11, 26)  # two working days later: its offset-2 reminder is due at 9:00 today
WARNING_COLUMNS = ("id", "unit_id", "rule", "level", "article", "message", "status", "version", "created_at")
STEP_COLUMNS = ("id", "warning_id", "kind", "details", "created_at")
REQUEST_COLUMNS = ("step_id", "warning_id", "org_id", "finance_id", "due_at", "chase_at", "answered_at", "created_at")


def _end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=SH)


def build(open_requests: int, due: int, seed: int = 7) -> float:
    """Insert ``open_requests`` chased requests (``due`` overdue, ``due`` in the reminder window)
    and as many answered ones; seconds taken."""
    from workflow.db import db
    from workflow.parties import org_by_code

    rng = random.Random(seed)
    # Plain ids: the organisations expire at each table's commit, and reloading one in the middle
    # of the next COPY would use the very connection the COPY holds.
    unit, competent = org_by_code("653000-301001").id, org_by_code("653000-301").id
    finance = org_by_code("653000-CZ").id
    created = NOW - dt.timedelta(days=30)
    steps = open_requests  # half chased, half answered: two requests per step
    overdue = set(rng.sample(range(steps // 2), due // 2))
    remind = set(rng.sample(sorted(set(range(steps // 2)) - overdue), due // 2))

    def warnings():
        for i in range(1, steps + 1):
            yield (i, unit, "manual", "warn", "第十二条", f"基准疑点{i}", "verifying", 1, created)

    def step_rows():
        for i in range(1, steps + 1):
            yield (i, i, "documents", json.dumps({"documents": ["会计原始凭证"]}, ensure_ascii=False), created)

    def requests():
        for i in range(1, steps + 1):
            chased = i <= steps // 2
            k = i - 1
            if chased and k in overdue:
                day = NOW.date() - dt.timedelta(days=rng.randint(1, 20))
            elif chased and k in remind:
                day = REMIND_DAY
            else:
                day = NOW.date() + dt.timedelta(days=rng.randint(10, 120))
            due_at = _end_of_day(day)
            for org in (unit, competent):
                yield (i, i, org, finance, due_at, due_at if chased else None, None if chased else created, created)

    started = time.perf_counter()
    raw = db.session.connection().connection.driver_connection
    for table, columns, rows in (("warnings", WARNING_COLUMNS, warnings), ("verification_steps", STEP_COLUMNS, step_rows),
                                 ("step_requests", REQUEST_COLUMNS, requests)):
        if db.engine.dialect.name == "postgresql":
            with raw.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows():
                        copy.write_row(row)
        else:
            raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                            ([_bind(v) if isinstance(v, dt.datetime) else v for v in row] for row in rows()))
        db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    return time.perf_counter() - started


def measure(backend: str, base_url: str | None, total: int, due: int, show_plans: bool) -> dict:
    from workflow.db import db

    with scratch_database(backend, base_url, {"SMTP_URL": None}, prefix="fw-bench-steps-"):
        from workflow import demo, deadlines, scheduling
        from workflow.step_requests import StepRequest

        demo.load_demo()
        db.session.commit()
        try:
            build_seconds = build(total, due)
            plans = {}
            if show_plans:
                offsets = sorted(deadlines.reminder_offsets())
                calendar = deadlines.current_calendar()
                end = dt.datetime.combine(calendar.shift(NOW.date(), offsets[-1] + 1), dt.time(0), tzinfo=SH)
                for title, where in (("overdue", StepRequest.chase_at < NOW),
                                     ("reminder", sa.and_(StepRequest.chase_at >= NOW, StepRequest.chase_at < end))):
                    plans[f"{title} candidates, first batch"] = explain(scheduling.step_candidates_stmt(where))
            started = time.perf_counter()
            scanned = sum(1 for _ in scheduling._step_candidates(StepRequest.chase_at < NOW))
            scan = time.perf_counter() - started
            started = time.perf_counter()
            result = scheduling.run_deadline_checks(NOW)
            check = time.perf_counter() - started
            started = time.perf_counter()
            rerun_result = scheduling.run_deadline_checks(NOW + dt.timedelta(minutes=1))
            rerun = time.perf_counter() - started
            return {"backend": backend, "total": total, "build": build_seconds, "scanned": scanned, "scan": scan,
                    "check": check, "reminded": len(result.step_reminded), "overdue": len(result.step_overdue),
                    "failed": len(result.step_failed), "rerun": rerun, "rerun_handled": bool(rerun_result),
                    "plans": plans}
        finally:
            db.session.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="open (chased) requests in the large set")
    parser.add_argument("--compare", type=int, default=10_000, help="open requests in the small set")
    parser.add_argument("--due", type=int, default=1000,
                        help="requests overdue (and as many in the reminder window) in both sets")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in ("alembic", "workflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    sizes = [args.compare, args.n]
    print(f"verification steps' deadline checks as of {NOW.isoformat()}: {args.due} requests overdue and "
          f"{args.due} to remind, in {sizes[0]:,} and in {sizes[1]:,} open requests (as many again answered)\n")
    header = (f"{'backend':<11}{'open':>9}{'build s':>9}{'scan s':>9}{'check s':>9}{'ms/due':>8}{'rerun s':>9}"
              "  outcome")
    print(header)
    print("-" * len(header))
    results = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        for i, total in enumerate(sizes):
            r = measure(backend, args.database_url, total, args.due, show_plans=i == len(sizes) - 1)
            results.append(r)
            handled = max(1, r["reminded"] + r["overdue"])
            print(f"{backend:<11}{r['total']:>9,}{r['build']:>9.1f}{r['scan']:>9.3f}{r['check']:>9.2f}"
                  f"{1000 * r['check'] / handled:>8.2f}{r['rerun']:>9.3f}  "
                  f"{r['reminded']} reminded, {r['overdue']} told to finance, {r['failed']} failed; "
                  f"rerun {'did something' if r['rerun_handled'] else 'found nothing new'}", flush=True)
    print()
    for backend in dict.fromkeys(r["backend"] for r in results):
        small, large = [r for r in results if r["backend"] == backend]
        print(f"{backend}: {large['total'] // small['total']}x the open requests, same due -> check "
              f"{large['check'] / small['check']:.2f}x, scan {large['scan'] / small['scan']:.2f}x, "
              f"rerun {large['rerun'] / small['rerun']:.2f}x")
    for r in results:
        for title, plan in r["plans"].items():
            print(f"\n{r['backend']} {r['total']:,} open requests, {title}:\n{plan}")


if __name__ == "__main__":
    sys.exit(main())

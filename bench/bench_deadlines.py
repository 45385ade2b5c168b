"""Deadline checks over many open cases: the check costs in proportion to the due cases,
not to all cases.

    python -m bench.bench_deadlines [--n 1000000] [--due-fraction 0.01] [--compare 100000]
                                    [--backends sqlite,postgresql] [--database-url postgresql://...]

For each backend, two data sets with the SAME number of due cases (``due-fraction`` of
``--n``, 10,000 by default) are built straight into the tables by bulk insert (psycopg
``COPY`` / ``sqlite3.executemany``), in a throwaway PostgreSQL schema or temporary SQLite
file: ``--compare`` open cases in all (100,000) and ``--n`` (1,000,000). Half the due cases
are on the ``warning`` rung (automatic escalation: the system fires ``escalate``, which
writes the order, its numbered document, the history event and the outbox rows), half on
``order`` (no automatic escalation: marked overdue, finance told). The other cases have
deadlines 10 to 120 days ahead, outside the reminder window, and each has two reminders of
an earlier deadline in ``deadline_effects`` (the history months of use leave behind).

Timed, as of one fixed ``now``:

- ``scan``: reading every escalation candidate through the index (no handling);
- ``check``: ``run_deadline_checks(now)``, handling each due case in its own transaction;
- ``rerun``: the same check a minute later, when nothing new is due (the overdue-marked
  half stays in the range awaiting finance: each is one index probe into deadline_effects).

Then the query plans (``EXPLAIN``) of the escalation and reminder candidate queries, and of
the probe for effects already recorded. ``--scan-only`` skips the check (quick, for plans). If the
check cost followed all cases, the 1,000,000 line would be ~10x the 100,000 one; it is not.
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import random
import sys
import time
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bench.common import scratch_database

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 24, 9, 30, tzinfo=SH)  # a Tuesday morning
COLUMNS = ("machine", "subject_id", "finance_id", "summary", "state", "rung", "deadline", "funds_suspended",
           "measures", "version", "last_hash", "created_at")
EVENT_COLUMNS = ("case_id", "seq", "party_kind", "trigger", "from_state", "to_state", "payload", "created_at",
                 "prev_hash", "hash")


def _end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=SH)


def build_cases(total: int, due: int, seed: int = 7) -> tuple[float, list[int]]:
    """Insert ``total`` open cases, ``due`` of them past their deadline; seconds taken."""
    from workflow.db import db
    from workflow.parties import org_by_code

    rng = random.Random(seed)
    units = [org_by_code("653000-301001").id, org_by_code("653000-302001").id]
    finance = org_by_code("653000-CZ").id
    created = NOW - dt.timedelta(days=60)
    due_positions = set(rng.sample(range(total), due))
    today = NOW.date()

    def rows():
        for i in range(total):
            if i in due_positions:
                rung = "warning" if i % 2 == 0 else "order"
                deadline = _end_of_day(today - dt.timedelta(days=rng.randint(1, 30)))
            else:
                rung = "warning" if i % 3 else "decision"
                deadline = _end_of_day(today + dt.timedelta(days=rng.randint(10, 120)))
            yield ("unit_case", units[i % 2], finance, f"基准案件{i}", rung, rung, deadline, False, "{}", 1, "0" * 64,
                   created)

    started = time.perf_counter()
    connection = db.session.connection()
    raw = connection.connection.driver_connection
    if db.engine.dialect.name == "postgresql":
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY cases ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows():
                    copy.write_row(row)
    else:
        def sqlite_rows():
            for row in rows():
                values = list(row)
                for k in (6, 11):
                    values[k] = _bind(values[k])
                yield values
        raw.executemany(f"INSERT INTO cases ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                        sqlite_rows())
    db.session.commit()
    _history(total, rng)
    # The escalation appends event 2 to each due case's history: give them their event 1.
    due_ids = db.session.execute(sa.text("SELECT id, state FROM cases WHERE deadline < :now"),
                                 {"now": _bind(NOW)}).all()
    events = [{"case_id": case_id, "seq": 1, "party_kind": "finance", "trigger": f"open_{state}",
               "from_state": "new", "to_state": state, "payload": "{}", "created_at": _bind(created),
               "prev_hash": "0" * 64, "hash": f"{case_id:064x}"} for case_id, state in due_ids]
    db.session.execute(sa.text(f"INSERT INTO case_events ({', '.join(EVENT_COLUMNS)}) VALUES "
                               f"({', '.join(':' + c for c in EVENT_COLUMNS)})"), events)
    db.session.execute(sa.text("UPDATE cases SET last_hash = :hash WHERE id = :case_id"), events)
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    return time.perf_counter() - started, [case_id for case_id, _ in due_ids]


def _history(total: int, rng: random.Random) -> None:
    """What earlier runs left behind: two reminders at an earlier deadline of every case that
    is not due, so that deadline_effects is large (2 rows per open case) as it would be
    after months of use, and the check must probe it by its index, not read it."""
    from workflow.db import db

    past = [_end_of_day(NOW.date() - dt.timedelta(days=d)) for d in range(40, 400)]
    created = NOW - dt.timedelta(days=400)
    raw = db.session.connection().connection.driver_connection
    ids = db.session.execute(sa.text("SELECT id FROM cases WHERE deadline > :now"), {"now": _bind(NOW)}).scalars()

    def rows():
        for case_id in ids:
            deadline = rng.choice(past)
            for kind in ("remind_2", "remind_0"):
                yield (case_id, deadline, kind, "", created)

    columns = "case_id, deadline, kind, detail, created_at"
    if db.engine.dialect.name == "postgresql":
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY deadline_effects ({columns}) FROM STDIN") as copy:
                for row in rows():
                    copy.write_row(row)
    else:
        raw.executemany(f"INSERT INTO deadline_effects ({columns}) VALUES (?, ?, ?, ?, ?)",
                        ((c, _bind(d), k, "", _bind(t)) for c, d, k, _, t in rows()))
    db.session.commit()


def _bind(moment: dt.datetime):
    from workflow.db import db

    if db.engine.dialect.name == "sqlite":  # naive UTC text, exactly as AwareDateTime binds it
        return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def explain(stmt) -> str:
    from workflow.db import db

    dialect = db.engine.dialect
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "postgresql":
        rows = db.session.execute(sa.text("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)).scalars()
        plan = "\n".join(rows)
    else:
        rows = db.session.execute(sa.text("EXPLAIN QUERY PLAN " + sql)).all()
        plan = "\n".join(str(r[-1]) for r in rows)
    db.session.commit()
    return plan


def measure(backend: str, base_url: str | None, total: int, due: int, show_plans: bool,
            scan_only: bool = False) -> dict:
    from workflow.db import db

    with scratch_database(backend, base_url, {"SMTP_URL": None}, prefix="fw-bench-deadlines-"):
        from workflow import demo

        demo.load_demo()
        db.session.commit()
        try:
            return _measure(total, due, show_plans, scan_only, backend)
        finally:
            db.session.rollback()


def _measure(total: int, due: int, show_plans: bool, scan_only: bool, backend: str) -> dict:
    from workflow import deadlines, scheduling
    from workflow.db import db

    build_seconds, due_ids = build_cases(total, due)
    offsets = sorted(deadlines.reminder_offsets())

    def plans(when: str) -> dict:
        if not show_plans:
            return {}
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        plan = {}
        for title, due_ in (("escalation", scheduling.escalation_due(NOW)),
                            ("reminder (offset 2)", scheduling.reminder_window(NOW, 2, offsets))):
            stmt = scheduling.candidates_stmt(due_.where)
            ids = [row.id for row in db.session.execute(stmt)] or [0]
            plan[f"{title} candidates, first batch, {when}"] = explain(stmt)
            plan[f"{title}: effects already recorded for that batch, {when}"] = explain(
                scheduling.done_stmt(ids, due_.done_kinds))
        return plan

    plans_before = plans("before the check (everything due still to do)")
    started = time.perf_counter()
    scanned = sum(1 for _ in scheduling._candidates(scheduling.escalation_due(NOW)))
    scan = time.perf_counter() - started

    if scan_only:
        return {"backend": backend, "total": total, "due": len(due_ids), "build": build_seconds,
                "scanned": scanned, "scan": scan, "plans": plans_before}
    profile = _Profile() if PROFILE else None
    started = time.perf_counter()
    if profile is not None:
        with profile:
            result = scheduling.run_deadline_checks(NOW)
    else:
        result = scheduling.run_deadline_checks(NOW)
    check = time.perf_counter() - started

    started = time.perf_counter()
    rerun_result = scheduling.run_deadline_checks(NOW + dt.timedelta(minutes=1))
    rerun = time.perf_counter() - started
    plans_after = plans("after it (the overdue-marked half awaits finance)")
    return {"backend": backend, "total": total, "due": len(due_ids), "build": build_seconds, "scanned": scanned,
            "scan": scan, "check": check, "escalated": len(result.escalated), "overdue": len(result.overdue),
            "failed": len(result.failed), "rerun": rerun, "rerun_handled": bool(rerun_result),
            "plans": {**plans_before, **plans_after}, "profile": profile.report() if profile else None}


PROFILE = False  # --profile
# How the batch reads of scheduling._candidates are recognised among the statements.
BATCH_READS = ("ORDER BY cases.deadline, cases.id", "FROM deadline_effects WHERE deadline_effects.case_id IN")


class _Profile:
    """Where a due case's time goes: the check is cut into one segment per case handled (a
    segment starts when the case is locked), each with its statements (counted and timed at
    the cursor), its commit, and the time inside ``cases.apply_action`` and ``outbox.notify``;
    a segment that went through apply_action is an escalation, the others a mark as overdue.
    The batch reads of candidates and of effects already recorded are counted apart."""

    def __init__(self):
        self.segments: list[dict] = []
        self.batch = {"statements": 0, "seconds": 0.0}
        self._t0 = None

    def _segment(self):
        return self.segments[-1] if self.segments else None

    def __enter__(self):
        from workflow import cases, outbox, scheduling
        from workflow.db import db

        self.patched = []

        def wrap(module, name, mark):
            real = getattr(module, name)

            def wrapper(*args, **kwargs):
                t0 = time.perf_counter()
                try:
                    return real(*args, **kwargs)
                finally:
                    seg = self._segment()
                    if seg is not None:
                        seg[mark] = seg.get(mark, 0.0) + time.perf_counter() - t0
            setattr(module, name, wrapper)
            self.patched.append((module, name, real))

        real_lock = scheduling._lock

        def lock(case_id, deadline):
            if not self.segments or self.segments[-1]["case"] != case_id:
                self.segments.append({"case": case_id, "statements": [], "seconds": 0.0, "commit": 0.0,
                                      "started": time.perf_counter()})
            return real_lock(case_id, deadline)
        scheduling._lock = lock
        self.patched.append((scheduling, "_lock", real_lock))
        wrap(cases, "apply_action", "apply_action")
        wrap(outbox, "notify", "notify")
        self.engine = db.engine
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        self.session = db.session
        sa.event.listen(db.session, "before_commit", self._before_commit)
        sa.event.listen(db.session, "after_commit", self._after_commit)
        return self

    def __exit__(self, *exc):
        for module, name, real in self.patched:
            setattr(module, name, real)
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)
        sa.event.remove(self.session, "before_commit", self._before_commit)
        sa.event.remove(self.session, "after_commit", self._after_commit)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._t0 = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        elapsed = time.perf_counter() - self._t0
        words = " ".join(statement.split())
        if any(mark in words for mark in BATCH_READS):
            self.batch["statements"] += 1
            self.batch["seconds"] += elapsed
            return
        seg = self._segment()
        if seg is not None:
            verb = words.split(" ", 1)[0].upper()
            table = next((w for w in words.split(" ")[1:8] if w.islower() and w.isidentifier()), "?") \
                if verb in ("INSERT", "UPDATE") else words.split(" FROM ", 1)[-1].split(" ", 1)[0]
            seg["statements"].append((verb, table, elapsed))

    def _before_commit(self, session):
        self._c0 = time.perf_counter()

    def _after_commit(self, session):
        seg = self._segment()
        if seg is not None and self._c0 is not None:
            seg["commit"] += time.perf_counter() - self._c0
            seg["ended"] = time.perf_counter()
        self._c0 = None

    def report(self) -> list[str]:
        from collections import Counter

        lines = []
        for path, segs in (("escalated", [g for g in self.segments if "apply_action" in g]),
                           ("marked overdue", [g for g in self.segments if "apply_action" not in g])):
            if not segs:
                continue
            n = len(segs)
            total = sum(g.get("ended", g["started"]) - g["started"] for g in segs)
            stmts = [st for g in segs for st in g["statements"]]
            sql = sum(e for _, _, e in stmts)
            commit = sum(g["commit"] for g in segs)
            inner = sum(g.get("apply_action", 0.0) for g in segs)
            notify = sum(g.get("notify", 0.0) for g in segs)
            lines.append(f"{path}: {n} cases, {1000 * total / n:.2f} ms each: {len(stmts) / n:.1f} statements "
                         f"({1000 * sql / n:.2f} ms at the cursor), commit {1000 * commit / n:.2f} ms; "
                         f"inside apply_action {1000 * inner / n:.2f} ms, inside notify {1000 * notify / n:.2f} ms")
            kinds = Counter((verb, table) for verb, table, _ in stmts)
            spent = Counter()
            for verb, table, e in stmts:
                spent[(verb, table)] += e
            for (verb, table), count in kinds.most_common():
                lines.append(f"    {count / n:5.2f} x {verb:<8}{table:<28}{1000 * spent[(verb, table)] / n:6.3f} ms")
        lines.append(f"batch reads (candidates, effects recorded): {self.batch['statements']} statements, "
                     f"{1000 * self.batch['seconds']:.1f} ms in all")
        return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="open cases in the large set")
    parser.add_argument("--compare", type=int, default=None,
                        help="open cases in the small set with the same due cases (default n/10)")
    parser.add_argument("--due-fraction", type=float, default=0.01)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--scan-only", action="store_true",
                        help="only read the due candidates (no handling): quick, for the query plans")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--profile", action="store_true",
                        help="count and time the statements of each due case (escalated, marked overdue)")
    args = parser.parse_args()
    global PROFILE
    PROFILE = args.profile
    logging.basicConfig(level=logging.WARNING)
    for name in ("alembic", "transitions", "workflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    due = max(1, round(args.n * args.due_fraction))
    sizes = [args.compare or max(due * 10, args.n // 10), args.n]

    print(f"deadline checks as of {NOW.isoformat()}: {due} due cases in {sizes[0]:,} and in {sizes[1]:,} open cases")
    print(f"(half the due cases escalate automatically, half are marked overdue for finance)\n")
    header = f"{'backend':<11}{'open':>11}{'due':>8}{'build s':>9}{'scan s':>9}" + (
        "" if args.scan_only else f"{'check s':>9}{'ms/due':>8}{'rerun s':>9}  outcome")
    print(header)
    print("-" * len(header))
    results = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        for i, total in enumerate(sizes):
            r = measure(backend, args.database_url, total, due, show_plans=i == len(sizes) - 1,
                        scan_only=args.scan_only)
            results.append(r)
            if args.scan_only:
                print(f"{backend:<11}{r['total']:>11,}{r['due']:>8,}{r['build']:>9.1f}{r['scan']:>9.3f}"
                      f"  ({r['scanned']} candidates read; no check run)", flush=True)
                continue
            print(f"{backend:<11}{r['total']:>11,}{r['due']:>8,}{r['build']:>9.1f}{r['scan']:>9.3f}{r['check']:>9.1f}"
                  f"{1000 * r['check'] / max(1, r['due']):>8.2f}{r['rerun']:>9.3f}  "
                  f"{r['escalated']} escalated, {r['overdue']} overdue, {r['failed']} failed; "
                  f"rerun {'did something' if r['rerun_handled'] else 'found nothing new'}", flush=True)
    print()
    for backend in {r["backend"] for r in results}:
        small, large = [r for r in results if r["backend"] == backend]
        if args.scan_only:
            print(f"{backend}: {large['total'] // small['total']}x the open cases, same due cases -> scan "
                  f"{large['scan'] / small['scan']:.2f}x")
            continue
        print(f"{backend}: {large['total'] // small['total']}x the open cases, same due cases -> check "
              f"{large['check'] / small['check']:.2f}x, scan {large['scan'] / small['scan']:.2f}x, "
              f"rerun {large['rerun'] / small['rerun']:.2f}x")
    for r in results:
        if r.get("profile"):
            print(f"\n{r['backend']} {r['total']:,} open cases, per due case:")
            print("\n".join(r["profile"]))
    for r in results:
        for title, plan in r["plans"].items():
            print(f"\n{r['backend']} {r['total']:,} open cases, {title}:\n{plan}")


if __name__ == "__main__":
    sys.exit(main())

"""Lists of 50 as tables grow (issue 15 item 1): the same page at 10k and at 1M rows, its plan,
and what PostgreSQL's plan cache does to it.

    python -m bench.bench_lists [--sizes 10000,1000000] [--rounds 200] [--backends sqlite,postgresql]
                                [--modes force_custom_plan,auto] [--database-url postgresql://...]
                                [--plans]

One scratch database per backend: the demo parties plus 200 units cloned under the demo's
competent department (so the province's and the city's finance, the competent department and
the bank see nearly every row; the demo unit sees 1/201 of them; the other demo unit has the
10 oldest rows only: a list that walked the id order filtering would read the whole table for
it). payments, warnings, cases and documents are filled to each size in turn, by INSERT ...
SELECT in the database (the rows are for reading: no screening, no events).

Each list (``GET /api/v1/cases``, ``/warnings``, ``/payments`` and ``/cases/{id}/documents``,
``limit=50``) is fetched by each party through the in-process test client, ``--rounds``
times; the median is printed with its ratio to a bare Flask endpoint answering 50 small
objects as JSON (in process too: the HTTP benchmark gives the figures over a socket).

PostgreSQL runs one app per ``--modes`` entry (``plan_cache_mode`` set on each connection;
``prepare0`` is psycopg with ``prepare_threshold=None``, no server-side statements), each kept
with its pooled connection from the first size to the last, as a long-running worker is: a
plan cached while the tables were small is what it would run once they have grown. At each
later size the lists are timed before and after ANALYZE (what autovacuum or the import command
would do). ``--plans`` prints each list query's plan (PostgreSQL ``EXPLAIN ANALYZE``, SQLite
``EXPLAIN QUERY PLAN``) at each size. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time

import sqlalchemy as sa
from flask import Flask, jsonify

from bench.bench_screening import build_world
from bench.common import DEFAULT_PG, scratch_database

PARTIES = ("finance", "competent", "unit", "other_unit", "bank", "county_finance")
LISTS = ("cases", "warnings", "payments", "documents")
NARROW_ROWS = 10  # the other demo unit's rows: the oldest ten


def bare_app() -> Flask:
    """A bare Flask endpoint: 50 small objects as JSON, no database."""
    app = Flask("bare")
    items = [{"id": i, "name": f"item {i}", "amount": "1500.00", "status": "open"} for i in range(50)]

    @app.get("/bare")
    def bare():
        return jsonify(items=items, next_cursor=None)

    return app


def median_ms(client, url: str, headers: dict, rounds: int) -> float:
    """The median of ``rounds`` requests, in milliseconds."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    return statistics.median(times) * 1000


class World:
    """The parties, their tokens and the ids the fill draws on."""

    def __init__(self):
        from workflow import demo
        from workflow.db import db
        from workflow.parties import Organisation, org_by_code

        build_world(200)
        self.tokens = demo.issue_demo_tokens()
        db.session.commit()
        bench_units = db.session.execute(sa.select(Organisation.id).where(
            Organisation.code.like("BENCH-%")).order_by(Organisation.id)).scalars().all()
        self.unit = org_by_code("653000-301001").id
        self.other_unit = org_by_code("653000-302001").id
        self.city_finance = org_by_code("653000-CZ").id
        self.bank = org_by_code("BANK-ICBC-KZ").id
        self.spread = [self.unit, *bench_units]  # k -> unit, k = row number % 201
        db.session.execute(sa.text("CREATE TABLE bench_units (k INTEGER PRIMARY KEY, unit_id INTEGER)"))
        db.session.execute(sa.text("INSERT INTO bench_units (k, unit_id) VALUES (:k, :u)"),
                           [{"k": k, "u": u} for k, u in enumerate(self.spread)])
        db.session.commit()
        self.rows = 0
        self.first_case = None

    def fill(self, total: int) -> None:
        """Add rows up to ``total`` in each of payments, warnings, cases and documents."""
        from workflow.db import AwareDateTime, db, dialect_name

        start, end = self.rows + 1, total
        if end < start:
            return
        now = sa.bindparam("now", dt.datetime(2021, 6, 1, tzinfo=dt.timezone.utc), type_=AwareDateTime())
        yes = sa.bindparam("yes", True, type_=sa.Boolean())
        no = sa.bindparam("no", False, type_=sa.Boolean())
        n = len(self.spread)
        if dialect_name() == "postgresql":
            series = "generate_series(CAST(:a AS integer), CAST(:b AS integer)) AS s(g)"
            prefix = ""
        else:
            series = "s"
            prefix = "WITH RECURSIVE s(g) AS (SELECT :a UNION ALL SELECT g + 1 FROM s WHERE g < :b) "
        unit = f"CASE WHEN g <= {NARROW_ROWS} THEN {self.other_unit} ELSE bu.unit_id END"
        join = f"{series} JOIN bench_units bu ON bu.k = g % {n}"
        statements = [
            ("payments", f"""{prefix}INSERT INTO payments (id, voucher_no, unit_id, payer_account, amount, paid_at,
                budget_year, settlement, method, functional_code, economic_code, summary, payee_name, payee_account,
                payee_kind, project, bank_id, counted, status, created_at)
                SELECT g, 'L' || g, {unit}, '8000000001', 150000, :now, 2021, 'transfer', 'authorized', '2010201',
                '30201', '日常公用支出', '克州某某商贸有限公司', '6222000000000001', 'company', '',
                {self.bank}, :yes, CASE WHEN g % 10 = 0 THEN 'held' ELSE 'accepted' END, :now FROM {join}"""),
            ("warnings", f"""{prefix}INSERT INTO warnings (id, payment_id, unit_id, rule, level, article, message,
                rule_set_version, status, version, created_at)
                SELECT g, g, {unit}, 'luxury', 'warn', '第十九条', '摘要含奢侈消费用语', 1,
                CASE WHEN g % 3 = 0 THEN 'verifying' ELSE 'open' END, 1, :now FROM {join}"""),
            ("cases", f"""{prefix}INSERT INTO cases (id, machine, subject_id, finance_id, summary, state, rung,
                funds_suspended, measures, version, created_at)
                SELECT g, 'unit_case', {unit}, {self.city_finance}, '违规问题', 'warning', 'warning', :no, '{{}}', 1,
                :now FROM {join}"""),
            # the first 60 notices go to case 201 (the demo unit's, k = 0), the rest one per case
            ("documents", f"""{prefix}INSERT INTO documents (id, kind, number, year, seq, issuer_id, addressee_id,
                case_id, title, context, html, issued_at)
                SELECT g, 'focus_letter', '2021年第' || g || '号', 2021, g, {self.city_finance}, {unit},
                CASE WHEN g <= 60 THEN {n} ELSE g END, '预算执行动态监控关注函', '{{}}', '', :now FROM {join}"""),
        ]
        for table, sql in statements:
            typed = [param for param in (now, yes, no) if f":{param.key}," in sql or f":{param.key} " in sql]
            db.session.execute(sa.text(sql).bindparams(*typed), {"a": start, "b": end})
        if dialect_name() == "postgresql":
            for table, _ in statements:
                db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {end})"))
        db.session.commit()
        self.rows = end
        self.first_case = n  # row g = 201 has k = 0: the demo unit's

    def urls(self) -> dict[str, str]:
        return {"cases": "/api/v1/cases?limit=50", "warnings": "/api/v1/warnings?limit=50",
                "payments": "/api/v1/payments?limit=50",
                "documents": f"/api/v1/cases/{self.first_case}/documents?limit=50"}


def capture(engine, into: list):
    def before(conn, cursor, statement, parameters, context, executemany):
        # the page's own query (not the lookup of the organisations in reach)
        if "LIMIT" in statement and not executemany and not statement.startswith("SELECT organisations.id"):
            into.append((statement, parameters))
    sa.event.listen(engine, "before_cursor_execute", before)
    return lambda: sa.event.remove(engine, "before_cursor_execute", before)


def explain(engine, statement: str, parameters) -> str:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + statement, parameters)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(f"{row[-1]}" for row in cursor.fetchall())
    finally:
        raw.rollback()
        raw.close()


def time_lists(app, world: World, rounds: int, plans: bool, label: str, bare_ms: float, lists=LISTS) -> None:
    from workflow.db import db

    client = app.test_client()
    with app.app_context():
        for name in lists:
            url = world.urls()[name]
            cells = []
            for party in PARTIES:
                headers = {"Authorization": f"Bearer {world.tokens[party]}"}
                response = client.get(url, headers=headers)
                if response.status_code == 404:
                    cells.append(f"{party} 404")
                    continue
                ms = median_ms(client, url, headers, rounds)
                cells.append(f"{party} {ms:6.2f} ms ({bare_ms / ms:4.2f}x)")
                if plans:
                    seen: list = []
                    stop = capture(db.engine, seen)
                    try:
                        client.get(url, headers=headers)
                    finally:
                        stop()
                    for statement, parameters in seen[:1]:
                        print(f"    -- {label} {name} as {party}:\n      "
                              + explain(db.engine, statement, parameters).replace("\n", "\n      "))
            print(f"  {label:34s} {name:9s} " + " | ".join(cells), flush=True)


def bench(backend: str, base_url: str, sizes: list[int], rounds: int, modes: list[str], plans: bool,
          lists=LISTS) -> None:
    from api import create_app
    from workflow.db import analyse, db

    bare = bare_app().test_client()
    bare_ms = median_ms(bare, "/bare", {}, max(rounds, 500))
    print(f"\n== {backend}: bare JSON endpoint (in process) {bare_ms:.3f} ms", flush=True)
    with scratch_database(backend, base_url) as main_app:
        world = World()
        url = db.engine.url.render_as_string(hide_password=False)
        apps = {}
        for mode in (modes if backend == "postgresql" else ["-"]):
            config = {"SQLALCHEMY_DATABASE_URI": url, "TESTING": True}
            if mode == "prepare0":
                config.update(FUNDWATCH_PG_PLAN_CACHE_MODE="",
                              SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"prepare_threshold": None}})
            elif mode != "-":
                config["FUNDWATCH_PG_PLAN_CACHE_MODE"] = mode
            apps[mode] = create_app(config)
        for index, size in enumerate(sizes):
            world.fill(size)
            for mode, app in apps.items():
                label = f"{size:>9,} rows {mode}"
                if index and backend == "postgresql":
                    time_lists(app, world, rounds, False, label + " stale", bare_ms, lists)
            if backend == "postgresql":
                with main_app.app_context():
                    analyse(*db.metadata.tables)
                    db.session.commit()
            for mode, app in apps.items():
                time_lists(app, world, rounds, plans and mode in ("-", "force_custom_plan"),
                           f"{size:>9,} rows {mode}", bare_ms, lists)
        for app in apps.values():
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--modes", default="force_custom_plan,auto,prepare0",
                        help="PostgreSQL plan_cache_mode per app (prepare0: psycopg prepares nothing)")
    parser.add_argument("--plans", action="store_true", help="print each list query's plan")
    parser.add_argument("--lists", default=",".join(LISTS), help=f"which of {', '.join(LISTS)}")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for backend in args.backends.split(","):
        bench(backend.strip(), args.database_url, sizes, args.rounds, args.modes.split(","), args.plans,
              args.lists.split(","))
    print(file=sys.stderr)


if __name__ == "__main__":
    main()

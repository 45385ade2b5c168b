"""Statistics at size (issue 13): `GET /api/v1/statistics` with 1M payments, 100k warnings and
10k cases, each grouping, as the province's finance (the widest reach), the competent department
and the demo unit.

    python -m bench.bench_statistics [--payments 1000000] [--warnings 100000] [--cases 10000]
                                     [--rounds 5] [--backends postgresql,sqlite] [--database-url ...]

The parties are the demo's plus 200 units cloned under the demo's competent department
(:func:`bench.bench_screening.build_world`). Rows are written by INSERT ... SELECT in the database,
spread over the 201 units and the twelve months of 2021, with a tenth of the payments held or
refused, warnings in every status and level over a dozen rules, and a third of the cases closed
(the rows are for reading: no screening, no events). ANALYZE follows the fill, as the import
command does. Each request goes through the in-process test client; the median of ``--rounds``
is printed. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time

import sqlalchemy as sa

from bench.bench_lists import World
from bench.common import DEFAULT_PG, scratch_database

GROUPINGS = ("finance", "competent", "unit", "rule", "level", "month")
PARTIES = ("finance", "competent", "unit")
RULES = ("cash_over_limit", "official_card_required", "no_budget", "luxury_specialties", "sangong_over_budget",
         "duplicate_voucher", "individual_payee", "split_payment", "year_end_rush", "frozen_indicator",
         "transfer_to_own_account", "consulting_fees")


def fill(world: World, payments: int, warnings: int, cases: int) -> None:
    from workflow.db import AwareDateTime, db, dialect_name

    start = sa.bindparam("start", dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc), type_=AwareDateTime())
    yes = sa.bindparam("yes", True, type_=sa.Boolean())
    no = sa.bindparam("no", False, type_=sa.Boolean())
    n = len(world.spread)
    if dialect_name() == "postgresql":
        series = "generate_series(1, CAST(:b AS integer)) AS s(g)"
        prefix = ""
        at = "(:start + (g % 365) * interval '1 day' + (g % 1440) * interval '1 minute')"
        closed = "(:start + (g % 365) * interval '1 day' + (g % 30 + 1) * interval '1 day')"
    else:
        series = "s"
        prefix = "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :b) "
        at = "datetime(:start, '+' || (g % 365) || ' days', '+' || (g % 1440) || ' minutes')"
        closed = "datetime(:start, '+' || (g % 365 + g % 30 + 1) || ' days')"
    join = f"{series} JOIN bench_units bu ON bu.k = g % {n}"
    rules = " ".join(f"WHEN {i} THEN '{rule}'" for i, rule in enumerate(RULES))
    statements = [
        (payments, f"""{prefix}INSERT INTO payments (id, voucher_no, unit_id, payer_account, amount, paid_at,
            budget_year, settlement, method, functional_code, economic_code, summary, payee_name, payee_account,
            payee_kind, project, bank_id, counted, status, created_at)
            SELECT g, 'S' || g, bu.unit_id, '8000000001', 100000 + g % 997 * 100, {at}, 2021, 'transfer',
            'authorized', '2010201', '30201', '日常公用支出', '克州某某商贸有限公司', '6222000000000001', 'company', '',
            {world.bank}, CASE WHEN g % 20 = 7 THEN :no ELSE :yes END,
            CASE WHEN g % 20 = 3 THEN 'held' WHEN g % 20 = 7 THEN 'refused' ELSE 'accepted' END, {at} FROM {join}"""),
        # the warnings sit on every tenth payment (g * 10), the unit that payment's
        (warnings, f"""{prefix}INSERT INTO warnings (id, payment_id, unit_id, rule, level, article, message,
            rule_set_version, status, status_reason, case_id, closed_at, version, created_at)
            SELECT g, g * 10, bu.unit_id, CASE g % {len(RULES)} {rules} END,
            CASE WHEN g % 4 = 0 THEN 'block' WHEN g % 4 = 1 THEN 'remind' ELSE 'warn' END, '第十三条', '疑点', 1,
            CASE g % 5 WHEN 0 THEN 'open' WHEN 1 THEN 'verifying' WHEN 2 THEN 'confirmed' ELSE 'dismissed' END,
            NULL, NULL, CASE WHEN g % 5 >= 2 THEN {closed} END, 1, {at}
            FROM {series} JOIN bench_units bu ON bu.k = (g * 10) % {n}"""),
        (cases, f"""{prefix}INSERT INTO cases (id, machine, subject_id, finance_id, summary, state, rung,
            funds_suspended, measures, version, last_hash, created_at, closed_at, deadline)
            SELECT g, 'unit_case', bu.unit_id, {world.city_finance}, '违规问题',
            CASE WHEN g % 3 = 0 THEN 'closed_rectified' ELSE 'warning' END,
            CASE g % 4 WHEN 0 THEN 'decision' WHEN 1 THEN 'order' ELSE 'warning' END, :no, '{{}}', 1, '',
            {at}, CASE WHEN g % 3 = 0 THEN {closed} END, CASE WHEN g % 3 <> 0 THEN {closed} END FROM {join}"""),
    ]
    for rows, sql in statements:
        typed = [param for param in (start, yes, no) if f":{param.key}" in sql]
        db.session.execute(sa.text(sql).bindparams(*typed), {"b": rows})
    db.session.commit()


def median_ms(client, url: str, headers: dict, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.get_data(as_text=True)[:300]}")
    return statistics.median(times) * 1000


def bench(backend: str, base_url: str, payments: int, warnings: int, cases: int, rounds: int) -> None:
    from workflow.db import analyse, db

    with scratch_database(backend, base_url) as app:
        world = World()
        started = time.perf_counter()
        fill(world, payments, warnings, cases)
        if backend == "postgresql":
            analyse("payments", "warnings", "cases", "organisations")
            db.session.commit()
        print(f"\n== {backend}: {payments:,} payments, {warnings:,} warnings, {cases:,} cases "
              f"(filled in {time.perf_counter() - started:.0f} s)", flush=True)
        client = app.test_client()
        for party in PARTIES:
            headers = {"Authorization": f"Bearer {world.tokens[party]}"}
            cells = []
            for grouping in GROUPINGS:
                url = f"/api/v1/statistics?from=2021-01-01&to=2021-12-31&group_by={grouping}"
                cells.append(f"{grouping} {median_ms(client, url, headers, rounds):7.1f} ms")
            print(f"  {party:10s} " + " | ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--warnings", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG)
    args = parser.parse_args()
    for backend in args.backends.split(","):
        bench(backend.strip(), args.database_url, args.payments, args.warnings, args.cases, args.rounds)


if __name__ == "__main__":
    main()

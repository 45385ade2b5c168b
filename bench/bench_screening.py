"""Screening throughput: validate, screen (every rule) and store N synthetic payments, and in the
same run insert the same payments with the database driver alone; print both and the ratio,
overall and per batch along the series (first batches against last: no collapse as it grows).

    python -m bench.bench_screening [--n 1000000] [--batch-size 10000] [--units 200] [--resend]
                                    [--single 2000] [--raw executemany|copy]
                                    [--pg-plan-mode force_custom_plan|auto|prepare0]
                                    [--backends sqlite,postgresql] [--database-url postgresql://...]

The payments are built from the demo budget (克州政协机关 2021): the demo unit's indicators and
accounts are cloned for ``--units`` synthetic units, and each payment draws an indicator in
proportion to its budget with an amount that brings most indicators near (some past) their
budget by the end (each basic indicator planned at a twelfth a month and approved, so that the
payment-plan rule holds each month to its quota), plus a realistic sprinkle of cash, official-card items, individuals (half
filed), real-fund transfers (half with an exception), unbudgeted codes, luxury words and
unknown accounts — so the rules fire as they would, not on nothing.

Screening is timed as the import command runs it: ``screen_payments`` per batch (rows as text,
as read from CSV) and a commit per batch, from an empty payments table. Right after each batch
the very rows it stored, converted to their stored form (outside the timing), are written by
the driver alone into an identical second database, a commit per batch: ``executemany`` of one
INSERT (``--raw executemany``, the default, on both databases) or psycopg ``COPY`` (``--raw
copy``, PostgreSQL's fastest path). Interleaved batch by batch, the two see the same load. Each
database is a scratch SQLite file or PostgreSQL schema, dropped afterwards. The per-batch table
lists the mean time of each tenth of the series, screening against raw, so a plan that degrades
as the tables grow shows as a rising line.

``--resend`` then posts the same payments again, as a resumed import does: every row is compared
with its stored payment (one batched lookup per batch) and answered as stored. ``--single N``
then posts N more payments one per call (a 1-row ``POST /payments`` without HTTP), each
committed, against the same rows inserted one per statement and commit by the driver.
``--pg-plan-mode`` sets the app's PostgreSQL ``plan_cache_mode`` (``prepare0``: psycopg prepares
nothing). Nothing here runs ANALYZE: the series shows what plans do as the tables grow under
autovacuum alone. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from decimal import Decimal

import sqlalchemy as sa

from bench.common import scratch_database

BASE_DAY = dt.datetime(2021, 1, 4, 1, 0, tzinfo=dt.timezone.utc)
CASH_CODES = ("30201", "30211", "30226", "30229", "30242", "30101")
EARMARKED = {"30108": ("克州社会保险事业管理局", "缴纳基本养老保险费"),
             "30112": ("克州社会保险事业管理局", "缴纳医疗保险费"),
             "30113": ("克州住房公积金管理中心", "缴纳住房公积金")}


def build_world(units: int) -> dict:
    """Load the demo, then clone its unit (indicators, accounts) ``units`` times, with each basic
    indicator's approved monthly plans; file half of a pool of individual payees. Returns what the
    payment generator draws from."""
    from workflow import demo
    from workflow.accounts import BankAccount
    from workflow.budget import Indicator
    from workflow.db import db, utcnow
    from workflow.monitoring.models import PayeeRegistration
    from workflow.monitoring.plans import PaymentPlan
    from workflow.parties import Organisation, org_by_code

    demo.load_demo()
    db.session.commit()
    template = org_by_code("653000-301001")
    bank = org_by_code("BANK-ICBC-KZ")
    indicators = db.session.execute(sa.select(Indicator).where(Indicator.unit_id == template.id)).scalars().all()
    now = utcnow()
    first_id = db.session.execute(sa.select(sa.func.max(Organisation.id))).scalar_one() + 1
    orgs, accounts, inds, people = [], [], [], []
    world = {"units": [], "indicators": [], "people": []}
    for n in range(units):
        unit_id = first_id + n
        code = f"BENCH-{n:05d}"
        orgs.append({"id": unit_id, "code": code, "name": f"基准测试单位{n}", "kind": "unit",
                     "parent_id": template.parent_id, "finance_path": template.finance_path})
        zero, real = f"80{n:08d}0001", f"80{n:08d}0002"
        accounts += [{"unit_id": unit_id, "bank_id": bank.id, "number": zero, "kind": "zero_balance",
                      "registered": True, "status": "active", "created_at": now, "changed_at": now},
                     {"unit_id": unit_id, "bank_id": bank.id, "number": real, "kind": "real_fund",
                      "registered": True, "status": "active", "created_at": now, "changed_at": now}]
        for ind in indicators:
            inds.append({"unit_id": unit_id, "year": ind.year, "functional_code": ind.functional_code,
                         "economic_code": ind.economic_code, "fund_source": ind.fund_source,
                         "expenditure_kind": ind.expenditure_kind, "project": ind.project, "amount": ind.amount,
                         "frozen": False, "created_at": now})
        for p in range(5):
            id_number = f"6530012000{n:05d}{p:02d}1"
            account = f"62170{n:05d}{p:04d}"
            world["people"].append((code, id_number, f"职工{n}-{p}", account))
            if p % 2 == 0:  # half of them filed (Art. 16)
                people.append({"unit_id": unit_id, "id_number": id_number, "name": f"职工{n}-{p}",
                               "employer": f"基准测试单位{n}", "title": "科员", "account": account,
                               "created_at": now, "updated_at": now})
        world["units"].append((code, zero, real))
    db.session.execute(sa.insert(Organisation), orgs)
    db.session.execute(sa.insert(BankAccount), accounts)
    db.session.execute(sa.insert(Indicator), inds)
    db.session.execute(sa.insert(PayeeRegistration), people)
    basic = db.session.execute(sa.select(Indicator.id, Indicator.unit_id, Indicator.year, Indicator.amount).where(
        Indicator.unit_id >= first_id, Indicator.expenditure_kind == "basic")).all()
    db.session.execute(sa.insert(PaymentPlan), [
        {"unit_id": unit_id, "indicator_id": ind_id, "year": year, "month": month, "amount": share,
         "approved_amount": share, "status": "approved", "uneven": False, "filed_at": now, "decided_at": now}
        for ind_id, unit_id, year, amount in basic for share in [(amount / 12).quantize(Decimal("0.01"))]
        for month in range(1, 13)])
    if db.engine.dialect.name == "postgresql":  # explicit ids above: move the sequence past them
        db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence('organisations', 'id'), "
                                   "(SELECT max(id) FROM organisations))"))
    db.session.commit()
    world["indicators"] = [(i.functional_code, i.economic_code, i.project, i.amount) for i in indicators]
    return world


def payments(world: dict, n: int, batch_size: int, skip: int = 0):
    """Yield batches of payment rows as text (as the import command reads them), deterministic;
    the first ``skip`` rows are drawn but not yielded."""
    rng = random.Random(20210101)
    units, people = world["units"], world["people"]
    indicators = world["indicators"]
    weights = [int(amount * 100) for *_, amount in indicators]  # fen, as draw weights
    per_unit = max(n // len(units), 1)
    # each unit's payments spread its budget: 0.92 of it on average, so some indicators cross
    mean_fen = 92 * sum(weights) // (100 * per_unit)
    seconds = 365 * 86400 - 7200
    batch = []
    for i in range(n):
        unit_code, zero, real = units[i % len(units)]
        functional, economic, project, budget = rng.choices(indicators, weights)[0]
        amount = Decimal(rng.randint(mean_fen // 5, mean_fen * 9 // 5) + 1) / 100
        row = {"voucher_no": f"B{i:09d}", "unit_code": unit_code, "payer_account": zero,
               "amount": f"{amount:.2f}", "paid_at": (BASE_DAY + dt.timedelta(seconds=seconds * i // n)).isoformat(),
               "settlement": "transfer", "method": "authorized", "functional_code": functional,
               "economic_code": economic, "summary": "日常公用支出", "payee_name": "克州某某商贸有限公司",
               "payee_account": f"6222{rng.randrange(5000):012d}", "payee_kind": "company"}
        if project:
            row["project"] = project
        if economic in EARMARKED:  # contributions go to the fund centre / social-security agency
            row.update(payee_kind="unit", payee_name=EARMARKED[economic][0], summary=EARMARKED[economic][1])
        roll = rng.random()
        if roll < 0.05:  # cash, mostly small
            row.update(settlement="cash", economic_code=rng.choice(CASH_CODES), functional_code="2010201",
                       amount=f"{rng.choice(('300.00', '800.00', '1500.00', '2600.00'))}")
            row.pop("project", None)
        elif roll < 0.13:
            row["settlement"] = "card"
        elif roll < 0.15:  # individuals, half of them filed
            code, id_number, name, account = people[rng.randrange(len(people))]
            if code == unit_code:
                row.update(payee_kind="individual", payee_name=name, payee_id_number=id_number,
                           payee_account=account, economic_code="30226", functional_code="2010201")
                row.pop("project", None)
        elif roll < 0.153:  # to the unit's own real-fund account, half under the union-dues exception
            row.update(payee_account=real, payee_kind="unit", economic_code="30228", functional_code="2010201")
            row.pop("project", None)
            if rng.random() < 0.5:
                row.update(exception="union_tax_payroll", exception_ref="工会〔2021〕1号")
        elif roll < 0.158:
            row["economic_code"] = "30215"  # 会议费: not budgeted
        elif roll < 0.161:
            row["summary"] = "购买茅台酒"
        elif roll < 0.163:
            row["payer_account"] = "9999000011112222"  # not registered
        if i < skip:
            continue
        batch.append(row)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_screening(world, n, batch_size, skip: int = 0) -> tuple[list[float], dict]:
    """Screen the payments batch by batch (after the first ``skip`` payments); each batch's seconds."""
    from workflow.db import db
    from workflow.monitoring.screening import screen_payments
    from workflow.parties import Actor

    actor = Actor.system()
    counts = {"created": 0, "duplicates": 0, "refused": 0, "warnings": 0, "held": 0}
    times = []
    for batch in payments(world, n, batch_size, skip):
        started = time.perf_counter()
        result = screen_payments(actor, batch, answer=False, max_rows=None, changed="skip")
        result.refused = len(result.refused)
        db.session.commit()
        times.append(time.perf_counter() - started)
        for key in counts:
            counts[key] += getattr(result, key)
        print(f"\r  screened {counts['created']:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return times, counts


def converted_rows(after_id: int) -> list[tuple]:
    """The payments screening stored with ids above ``after_id``, in their stored form (not timed)."""
    from workflow.db import db
    from workflow.monitoring.bulk import _processor
    from workflow.monitoring.models import Payment
    from workflow.monitoring.screening import PAYMENT_COLUMNS

    table = Payment.__table__
    dialect = db.engine.dialect
    processors = [_processor(table.c[name].type, dialect) for name in PAYMENT_COLUMNS]
    result = db.session.execute(sa.select(*[table.c[name] for name in PAYMENT_COLUMNS])
                                .where(table.c.id > after_id).order_by(table.c.id))
    return [tuple(value if proc is None else proc(value) for value, proc in zip(row, processors))
            for row in result]


def raw_insert(driver, postgresql: bool, method: str, rows: list[tuple]) -> float:
    """Insert ``rows`` with the driver alone and commit; the seconds it took."""
    from workflow.monitoring.screening import PAYMENT_COLUMNS

    names = ", ".join(f'"{c}"' for c in PAYMENT_COLUMNS)
    mark = "%s" if postgresql else "?"
    started = time.perf_counter()
    if postgresql and method == "copy":
        with driver.cursor() as cursor:
            with cursor.copy(f"COPY payments ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    else:
        cursor = driver.cursor()
        try:
            cursor.executemany(f"INSERT INTO payments ({names}) VALUES ({', '.join([mark] * len(PAYMENT_COLUMNS))})",
                               rows)
        finally:
            cursor.close()
    driver.commit()
    return time.perf_counter() - started


def run_interleaved(screen_app, raw_app, world, n: int, batch_size: int, method: str, skip: int = 0):
    """Each batch screened and stored in ``screen_app``'s database, then the very rows it stored
    inserted by the driver alone into ``raw_app``'s: the two timings of a batch are taken a moment
    apart, under the same load. Returns (screening seconds per batch, raw seconds per batch, counts)."""
    from workflow.db import db
    from workflow.monitoring.models import Payment
    from workflow.monitoring.screening import screen_payments
    from workflow.parties import Actor

    actor = Actor.system()
    counts = {"created": 0, "duplicates": 0, "refused": 0, "warnings": 0, "held": 0}
    screen_times, raw_times = [], []
    with raw_app.app_context():
        raw = db.engine.raw_connection()
        postgresql = db.engine.dialect.name == "postgresql"
    try:
        with screen_app.app_context():
            last_id = db.session.execute(sa.select(sa.func.coalesce(sa.func.max(Payment.id), 0))).scalar_one()
        for batch in payments(world, n, batch_size, skip):
            with screen_app.app_context():
                started = time.perf_counter()
                result = screen_payments(actor, batch, answer=False, max_rows=None, changed="skip")
                db.session.commit()
                screen_times.append(time.perf_counter() - started)
                rows = converted_rows(last_id)
                db.session.commit()
            if rows:
                last_id = rows[-1][0]
            raw_times.append(raw_insert(raw.driver_connection, postgresql, method, rows))
            result.refused = len(result.refused)
            for key in counts:
                counts[key] += getattr(result, key)
            print(f"\r  screened {skip + counts['created']:,}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    finally:
        raw.close()
    return screen_times, raw_times, counts


def tenths(screen: list[float], raw: list[float]) -> None:
    """Mean batch time of each tenth of the series, screening against raw."""
    count = min(len(screen), len(raw))
    step = max(count // 10, 1)
    print("  batches       screening ms   raw ms   ratio")
    for start in range(0, count, step):
        s, r = screen[start:start + step], raw[start:start + step]
        ms, mr = 1000 * sum(s) / len(s), 1000 * sum(r) / len(r)
        print(f"  {start + 1:>5}-{start + len(s):<6}  {ms:10.2f}  {mr:9.2f}  {ms / mr:6.2f}x")


def bench(backend: str, base_url: str | None, n: int, batch_size: int, units: int, resend: bool = False,
          single: int = 0, raw_method: str = "executemany", plan_mode: str = "force_custom_plan") -> None:
    config = {}
    if backend == "postgresql":
        if plan_mode == "prepare0":
            config = {"FUNDWATCH_PG_PLAN_CACHE_MODE": "",
                      "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"prepare_threshold": None}}}
        else:
            config = {"FUNDWATCH_PG_PLAN_CACHE_MODE": plan_mode}
    mode = f", plan_cache_mode {plan_mode}" if backend == "postgresql" else ""
    print(f"\n== {backend}: {n:,} payments, batches of {batch_size:,}, {units} units{mode}", flush=True)
    with scratch_database(backend, base_url, config) as screen_app:
        world = build_world(units)
        with scratch_database(backend, base_url, config) as raw_app:
            build_world(units)
            screen_times, raw_times, counts = run_interleaved(screen_app, raw_app, world, n, batch_size, raw_method)
            if single:
                single_times, single_raw, _ = run_interleaved(screen_app, raw_app, world, n + single, 1,
                                                              "executemany", skip=n)
        if resend:
            with screen_app.app_context():
                resend_times, again = run_screening(world, n, batch_size)
    method = {"executemany": "executemany", "copy": "COPY"}[raw_method] if backend == "postgresql" \
        else "sqlite3 executemany"
    screen_time, raw_time = sum(screen_times), sum(raw_times)
    print(f"  screening + storing : {screen_time:8.2f} s  ({n / screen_time:10,.0f} payments/s)  "
          f"{counts['warnings']:,} warnings, {counts['held']:,} held")
    print(f"  raw insert ({method}): {raw_time:8.2f} s  ({n / raw_time:10,.0f} payments/s)")
    print(f"  ratio               : {screen_time / raw_time:8.2f} x  (target <= 2.00)", flush=True)
    tenths(screen_times, raw_times)
    if resend:
        resend_time = sum(resend_times)
        print(f"  resent, all stored  : {resend_time:8.2f} s  ({n / resend_time:10,.0f} payments/s)  "
              f"{again['duplicates']:,} answered as stored, {again['created']:,} stored, "
              f"{again['refused']:,} refused", flush=True)
    if single:
        ms, mr = (1000 * statistics.median(single_times), 1000 * statistics.median(single_raw))
        print(f"  1-row posts         : median {ms:.3f} ms, raw 1-row insert + commit {mr:.3f} ms: "
              f"{mr / ms:.2f}x of raw (target >= 0.50 over HTTP, against a bare endpoint)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--units", type=int, default=200, help="synthetic units cloned from the demo unit")
    parser.add_argument("--resend", action="store_true", help="then post the same payments again (a resumed import)")
    parser.add_argument("--single", type=int, default=0, help="then post this many payments one per call")
    parser.add_argument("--raw", choices=("executemany", "copy"), default="executemany",
                        help="the raw baseline on PostgreSQL (SQLite: executemany)")
    parser.add_argument("--pg-plan-mode", choices=("force_custom_plan", "auto", "prepare0"),
                        default="force_custom_plan")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        bench(backend.strip(), args.database_url, args.n, args.batch_size, args.units, args.resend,
              args.single, args.raw, args.pg_plan_mode)


if __name__ == "__main__":
    main()

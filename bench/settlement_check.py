"""Settlement check throughput (Art. 10(四)): how long a bank's settlement report takes to
compare with the payment instructions, per line, on SQLite and PostgreSQL.

    python -m bench.settlement_check [--lines 10000] [--mismatch-every 100]
                                     [--backends sqlite,postgresql] [--database-url postgresql://...]

The demo unit's bank (BANK-ICBC-KZ) carries ``--lines`` clean transfers, posted through
``screen_payments`` as finance posts them. The bank then reports one settlement of
``--lines`` lines (the API's maximum per request is 10,000): half with voucher numbers,
half without (matched by accounts and amount), every ``--mismatch-every``-th paid with a
different amount, which opens an agent-bank case (Art. 22) with its notice and messages.
Timed, each in its own transaction and committed: the first report; the same report
again (every line a duplicate). Prints figures; asserts nothing. Each backend uses a
scratch SQLite file or PostgreSQL schema, dropped afterwards.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from decimal import Decimal

import sqlalchemy as sa

from bench.common import scratch_database

BEIJING = dt.timezone(dt.timedelta(hours=8))


def payments(n: int) -> list[dict]:
    rows = []
    start = dt.datetime(2021, 3, 1, 9, 0, tzinfo=BEIJING)
    for i in range(n):
        rows.append({"voucher_no": f"BENCH-{i:07d}", "unit_code": "653000-301001",
                     "payer_account": "3009000109200012345", "amount": f"{100 + i % 9000}.{i % 100:02d}",
                     "paid_at": (start + dt.timedelta(minutes=i)).isoformat(), "settlement": "transfer",
                     "method": "authorized", "functional_code": "2010201", "economic_code": "30201",
                     "summary": "办公用品", "payee_name": f"克州商贸{i % 500}号有限公司",
                     "payee_kind": "company", "payee_account": f"62220000{i:08d}"})
    return rows


def settlement(rows: list[dict], mismatch_every: int) -> list[dict]:
    lines = []
    for i, row in enumerate(rows):
        amount = row["amount"]
        if mismatch_every and i % mismatch_every == mismatch_every - 1:
            amount = str(Decimal(amount) + Decimal("1.00"))
        lines.append({"voucher_no": row["voucher_no"] if i % 2 == 0 else None,
                      "payer_account": row["payer_account"], "amount": Decimal(amount),
                      "payee_name": row["payee_name"], "payee_account": row["payee_account"],
                      "paid_at": dt.datetime.fromisoformat(row["paid_at"])})
    return lines


def run(backend: str, base_url: str | None, n: int, mismatch_every: int) -> None:
    with scratch_database(backend, base_url, prefix="fw-bench-settle-"):
        from workflow import demo
        from workflow.bank_intake import report_settlements
        from workflow.db import db

        users = demo.load_demo()
        db.session.commit()
        from workflow.monitoring.screening import screen_payments
        from workflow.parties import Actor

        finance = Actor.of(users["city_finance"])
        bank = Actor.of(users["bank"])
        rows = payments(n)
        for start in range(0, n, 10_000):
            screen_payments(finance, rows[start:start + 10_000])
            db.session.commit()
        # The bench is about the comparison, not the rules: whatever the budget rules held
        # (these synthetic payments soon pass 30201's budget) is taken as released by finance.
        from workflow.monitoring.models import Payment

        db.session.execute(sa.update(Payment).values(status="accepted"))
        db.session.commit()
        lines = settlement(rows, mismatch_every)

        began = time.perf_counter()
        answers = report_settlements(bank, lines)
        db.session.commit()
        first = time.perf_counter() - began
        outcomes = {}
        for answer in answers:
            outcomes[answer["outcome"]] = outcomes.get(answer["outcome"], 0) + 1

        db.session.expire_all()
        began = time.perf_counter()
        again = report_settlements(bank, lines)
        db.session.commit()
        second = time.perf_counter() - began
        duplicates = sum(1 for a in again if a["outcome"] == "duplicate")

        print(f"{backend:10s} {n} lines: first report {first:6.2f} s ({n / first:8.0f} lines/s) "
              f"{outcomes}; repeated {second:6.2f} s ({n / second:8.0f} lines/s), {duplicates} duplicates")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--mismatch-every", type=int, default=100)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL")
                        or "postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        run(backend.strip(), args.database_url, args.lines, args.mismatch_every)


if __name__ == "__main__":
    main()

"""The console's pages at size (issue 14): server-side time of the to-do page and of a list page
of 50 rows with 100k cases (and 10k warnings, 100k payments) in the database, as the province's
finance (the widest reach), the competent department and the demo unit.

    python -m bench.bench_console [--payments 100000] [--warnings 10000] [--cases 100000]
                                  [--rounds 5] [--backends postgresql] [--database-url ...]

The rows are those of :mod:`bench.bench_statistics` (INSERT ... SELECT over 201 units, a third
of the cases closed, the others with deadlines through 2021-2022); ANALYZE follows the fill.
Each page is requested through the in-process test client, signed in through the login form;
the median of ``--rounds`` is printed. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import html
import os
import re

from bench.bench_lists import World
from bench.bench_statistics import fill, median_ms
from bench.common import DEFAULT_PG, scratch_database

PARTIES = ("finance", "competent", "unit")
PAGES = ("/", "/cases", "/cases?sort=-id", "/cases?due=overdue", "/warnings", "/warnings?sort=-amount",
         "/warnings?level=block&status=open")


def signed_in_client(app, email: str, password: str):
    client = app.test_client()
    token = html.unescape(re.search(r'name="csrf_token" value="([^"]+)"',
                                    client.get("/login").get_data(as_text=True)).group(1))
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert answer.status_code == 302, answer.status_code
    return client


def bench(backend: str, base_url: str, payments: int, warnings: int, cases: int, rounds: int) -> None:
    from workflow import demo
    from workflow.db import analyse, db

    with scratch_database(backend, base_url, config={"FUNDWATCH_SECRET_KEY": "bench",
                                                     "FUNDWATCH_SIGN_INS_PER_WINDOW": 1000}) as app:
        world = World()
        fill(world, payments, warnings, cases)
        logins = demo.set_demo_passwords()
        db.session.commit()
        if backend == "postgresql":
            analyse("payments", "warnings", "cases", "organisations", "documents")
            db.session.commit()
        print(f"\n== {backend}: {payments:,} payments, {warnings:,} warnings, {cases:,} cases", flush=True)
        for party in PARTIES:
            client = signed_in_client(app, logins[party]["email"], logins[party]["password"])
            cells = [f"{page} {median_ms(client, page, {}, rounds):6.1f} ms" for page in PAGES]
            print(f"  {party:10s} " + " | ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--warnings", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", default="postgresql")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG)
    args = parser.parse_args()
    for backend in args.backends.split(","):
        bench(backend.strip(), args.database_url, args.payments, args.warnings, args.cases, args.rounds)


if __name__ == "__main__":
    main()

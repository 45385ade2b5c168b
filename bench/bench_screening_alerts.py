"""What telling costs screening (issue 10): the same synthetic payments as ``bench_screening``
screened twice into fresh databases, once with the messages of each batch
(``workflow.monitoring.alerts.tell_screened``) and once with it switched off; prints both.

    python -m bench.bench_screening_alerts [--n 10000] [--batch-size 2000] [--units 200]
                                           [--backends sqlite,postgresql] [--database-url postgresql://...]

The demo's units have users, the synthetic units none (their messages are checked, not
rendered); finance, the competent department and the bank have users, so each batch renders
about three messages per unit with block- or warn-level warnings. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os

from bench import bench_screening
from bench.common import scratch_database
from workflow.monitoring import alerts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args()
    telling = alerts.tell_screened
    for backend in args.backends.split(","):
        for label, tell in (("without telling", lambda *a, **k: None), ("with telling", telling)):
            alerts.tell_screened = tell
            with scratch_database(backend, args.database_url):
                world = bench_screening.build_world(args.units)
                elapsed, counts = bench_screening.run_screening(world, args.n, args.batch_size)
            print(f"  {backend} {label:16}: {elapsed:7.2f} s  ({args.n / elapsed:8,.0f} payments/s)  "
                  f"{counts['warnings']:,} warnings", flush=True)
        alerts.tell_screened = telling


if __name__ == "__main__":
    main()

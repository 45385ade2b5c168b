"""Issue 16 item 2's reproduction: many officers confirm one warning at the same moment.

    python -m bench.decision_races [--trials 5] [--requests 16] [--workers 2] [--backend sqlite]
                                   [--database-url postgresql://postgres@127.0.0.1:5432/test]

A scratch database (bench.common) is migrated and loaded with the demo parties, then served by
gunicorn with ``--workers`` sync workers, as ``make run`` serves it. Each trial posts a payment
that a block-level warning holds and sends ``--requests`` confirmations of that warning at once
(one thread and one connection each). Prints, per trial, the status codes and the number of
cases opened from the warning (1 is right), then ``audit verify``'s exit code. Asserts nothing.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from bench.common import DEFAULT_PG, scratch_database

HELD = {"unit_code": "653000-301001", "payer_account": "3009000109200012345", "amount": "1500.00",
        "paid_at": "2021-06-01T10:00:00+08:00", "settlement": "cash", "method": "authorized",
        "functional_code": "2010201", "economic_code": "30211", "summary": "差旅费报销",
        "payee_name": "克州迎宾馆", "payee_kind": "company", "payee_account": "6222000011112222"}


def _call(base: str, token: str, method: str, path: str, body) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(base: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/api/v1/health", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=DEFAULT_PG)
    args = parser.parse_args()

    with scratch_database(args.backend, args.database_url) as app:
        from workflow import demo
        from workflow.db import db

        demo.load_demo()
        token = demo.issue_demo_tokens()["city_finance"]
        db.session.commit()
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        db.engine.dispose()
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "gunicorn"), "--bind",
                                   f"127.0.0.1:{port}", "--workers", str(args.workers), "wsgi:app"],
                                  env={**os.environ, "DATABASE_URL": url}, stderr=subprocess.DEVNULL)
        try:
            _wait_up(base)
            for trial in range(1, args.trials + 1):
                status, body = _call(base, token, "POST", "/api/v1/payments",
                                     [{**HELD, "voucher_no": f"RACE-{trial:03d}-{port}"}])
                assert status == 201, body
                warning_id = next(w["id"] for w in body["items"][0]["warnings"] if w["level"] == "block")
                start = threading.Barrier(args.requests)
                statuses = []

                def confirm():
                    start.wait()
                    statuses.append(_call(base, token, "POST", f"/api/v1/warnings/{warning_id}/confirm",
                                          {"rung": "warning"})[0])

                threads = [threading.Thread(target=confirm) for _ in range(args.requests)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                cases = db.session.execute(db.text(
                    "SELECT count(*) FROM case_events WHERE seq = 1 AND CAST(payload AS TEXT) LIKE :p"),
                    {"p": f'%"warning_id": {warning_id},%'}).scalar_one()
                db.session.remove()
                print(f"trial {trial}: statuses {dict(sorted(collections.Counter(statuses).items()))}, "
                      f"cases opened from warning {warning_id}: {cases}")
        finally:
            server.terminate()
            server.wait(30)
        verify = subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "wsgi",
                                 "audit", "verify"], env={**os.environ, "DATABASE_URL": url},
                                capture_output=True, text=True)
        print(f"audit verify: exit {verify.returncode}: {(verify.stdout + verify.stderr).strip()[-600:]}")


if __name__ == "__main__":
    main()

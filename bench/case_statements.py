"""SQL statements per request of a case action and of ``GET /api/v1/cases/{id}``.

    python -m bench.case_statements [--backends sqlite,postgresql] [--show]
                                    [--database-url postgresql://postgres@127.0.0.1:5432/test]

For each backend a scratch database (bench.common) gets the demo parties and a few cases;
then one request of each kind goes through the Flask test client (bearer token, the same
before_request authentication, one commit per request) while an engine listener counts the
statements sent to the database (an executemany counts once), the connection pings
(``pool_pre_ping``) and where the first write came, from which on SQLite the writer lock is
held. ``--show`` prints each request's statements. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile

import sqlalchemy as sa

from bench.common import DEFAULT_PG, scratch_database

WRITES = ("INSERT", "UPDATE", "DELETE")


class Counter:
    """Statements sent through the engine while ``active``, and pings of pooled connections."""

    def __init__(self, engine):
        self.statements: list[str] = []
        self.pings = 0
        self.active = False
        sa.event.listen(engine, "before_cursor_execute", self._on_execute)
        dialect = engine.dialect
        original = dialect.do_ping

        def ping(connection):
            if self.active:
                self.pings += 1
            return original(connection)

        dialect.do_ping = ping

    def _on_execute(self, _conn, _cursor, statement, _parameters, _context, _executemany):
        if self.active:
            self.statements.append(" ".join(statement.split()))

    def start(self) -> None:
        self.statements, self.pings, self.active = [], 0, True

    def stop(self) -> dict:
        self.active = False
        first_write = next((i + 1 for i, s in enumerate(self.statements) if s.split(" ", 1)[0].upper() in WRITES),
                           None)
        return {"statements": len(self.statements), "pings": self.pings, "first_write": first_write,
                "sql": list(self.statements)}


def measure(app, backend: str) -> dict[str, dict]:
    from workflow import cases, demo
    from workflow.db import db
    from workflow.parties import Actor, org_by_code

    users = demo.load_demo()
    tokens = demo.issue_demo_tokens()
    db.session.commit()
    client = app.test_client()
    counter = Counter(db.engine)

    def headers(key):
        return {"Authorization": f"Bearer {tokens[key]}"}

    finance = Actor.of(users["city_finance"])
    unit = org_by_code("653000-301001")
    ids = [cases.open_case(finance, machine="unit_case", subject=unit, rung="warning",
                           fields={"summary": f"现金支付超限（语句计数{i}）"}).id for i in range(3)]
    db.session.commit()
    for case_id in ids[1:]:
        response = client.post(f"/api/v1/cases/{case_id}/evidence", headers=headers("unit"),
                               content_type="multipart/form-data",
                               data={"file": (io.BytesIO("整改报告".encode()), "r.txt", "text/plain")})
        assert response.status_code == 201, response.get_json()
    versions = {case_id: client.get(f"/api/v1/cases/{case_id}", headers=headers("city_finance")).get_json()["version"]
                for case_id in ids}

    def act(key, case_id, trigger, body):
        response = client.post(f"/api/v1/cases/{case_id}/actions/{trigger}", headers=headers(key),
                               json={"version": versions[case_id], **body})
        assert response.status_code == 200, response.get_json()
        versions[case_id] = response.get_json()["version"]

    def plan(review_case):
        return [
            ("publish_notice", lambda: act("city_finance", ids[0], "publish_notice", {"scope": "competent"})),
            ("submit_rectification", lambda: act("unit", review_case, "submit_rectification", {"report": "已整改"})),
            ("reject_rectification", lambda: act("city_finance", review_case, "reject_rectification",
                                                 {"reason": "材料不全", "deadline_days": 5})),
            ("GET /cases/{id}", lambda: client.get(f"/api/v1/cases/{ids[0]}", headers=headers("city_finance"))),
        ]

    for _, run in plan(ids[2]):
        run()  # warm: the first request of a kind compiles and caches its statements
    results = {}
    for name, run in plan(ids[1]):
        db.session.remove()  # as at the end of every request served: nothing carried over
        counter.start()
        run()
        results[name] = counter.stop()
    db.session.remove()
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--show", action="store_true", help="print each request's statements")
    args = parser.parse_args(argv)
    import logging

    logging.getLogger("workflow.deadlines").setLevel(logging.ERROR)
    print(f"{'backend':<11} {'request':<22} {'statements':>10} {'pings':>5} {'first write':>11}")
    for backend in args.backends.split(","):
        config = {"SMTP_URL": None, "FUNDWATCH_UPLOAD_DIR": tempfile.mkdtemp(prefix="fw-bench-uploads-")}
        with scratch_database(backend.strip(), args.database_url, config, prefix="fw-bench-stmts-") as app:
            results = measure(app, backend.strip())
        for name, r in results.items():
            print(f"{backend:<11} {name:<22} {r['statements']:>10} {r['pings']:>5} {str(r['first_write'] or '-'):>11}")
            if args.show:
                for i, sql in enumerate(r["sql"], 1):
                    print(f"    {i:>2}. {sql[:160]}", file=sys.stderr)


if __name__ == "__main__":
    main()

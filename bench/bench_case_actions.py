"""Case actions per second through the HTTP API, against a bare endpoint doing one insert.

    python -m bench.bench_case_actions [--actions 400] [--rounds 8] [--page 1000] [--backends sqlite,postgresql]
                                       [--database-url postgresql://postgres@127.0.0.1:5432/test]

For each backend a scratch database (a temporary SQLite file, or a PostgreSQL schema of its
own, dropped after) is migrated and loaded with the demo parties. Requests go through the
Flask test client in this process, with bearer tokens, the same before_request
authentication and one commit per request, so the figures compare like with like:

- ``bare``: ``POST /bench/bare`` inserting one row into a scratch table (authenticated too);
- ``review``: the unit submits its rectification and finance returns it with a new deadline,
  over and over (``submit_rectification`` / ``reject_rectification``): machine, version
  check, state write, history event, notifications;
- ``notice``: finance issues a public notice (``publish_notice``): the same plus a numbered,
  rendered document.

- ``bare json``: ``GET /bench/json`` answering a constant (authenticated too);
- ``GET case``: ``GET /api/v1/cases/{id}``, the case with the caller's ``allowed_actions``.

The five are measured in ``--rounds`` interleaved rounds, so that a change in the machine's load
touches every figure alike; ratios are to the bare endpoint (1.00x: as fast). After every request
the session is removed, as a server does at the end of each request. A second line gives the CPU
this process spent per request (SQLite's work included, PostgreSQL's not): on a busy machine it
moves less than the wall-clock figures.

Then a page of ``--page`` cases with their ``allowed_actions`` (``GET /api/v1/cases``), with
a count of ``transitions.Machine`` objects built meanwhile (there must be none: the
shared machine answers from its index). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time

import sqlalchemy as sa

from bench.common import DEFAULT_PG, scratch_database


class Scratch:
    """The demo parties, their tokens and a bare endpoint, on a scratch database (bench.common)."""

    def __init__(self, app, backend: str):
        from workflow import demo
        from workflow.db import db

        self.app = app
        self._add_bare_endpoint()
        with db.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE bench_bare (id INTEGER PRIMARY KEY, note VARCHAR(40) NOT NULL)"
                                 if backend == "sqlite" else
                                 "CREATE TABLE bench_bare (id SERIAL PRIMARY KEY, note VARCHAR(40) NOT NULL)"))
        from workflow.parties import Actor

        self.users = demo.load_demo()
        self.tokens = demo.issue_demo_tokens()
        self.finance = Actor.of(self.users["city_finance"])  # the users leave with the session
        db.session.commit()
        self.client = self.app.test_client()

    def _add_bare_endpoint(self) -> None:
        from workflow.db import db

        def bare():
            db.session.execute(sa.text("INSERT INTO bench_bare (note) VALUES (:note)"), {"note": "x"})
            db.session.commit()
            return {"ok": True}, 201

        self.app.add_url_rule("/bench/bare", "bench_bare", bare, methods=["POST"])
        self.app.add_url_rule("/bench/json", "bench_json", lambda: {"ok": True}, methods=["GET"])

    def headers(self, key: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[key]}"}


def _post(s: Scratch, key: str, url: str, body: dict | None = None, expect: int = 200) -> dict:
    from workflow.db import db

    response = s.client.post(url, json=body or {}, headers=s.headers(key))
    # The benchmark holds an app context that every request shares; a server ends each
    # request's session instead, so nothing loaded by one request serves the next.
    db.session.remove()
    if response.status_code != expect:
        raise SystemExit(f"{url}: {response.status_code} {response.get_json()}")
    return response.get_json()


def _open_cases(s: Scratch, n: int, rung: str = "warning") -> list[int]:
    from workflow import cases
    from workflow.db import db
    from workflow.parties import org_by_code

    finance = s.finance
    unit = org_by_code("653000-301001")
    ids = []
    for i in range(n):
        ids.append(cases.open_case(finance, machine="unit_case", subject=unit, rung=rung,
                                   fields={"summary": f"现金支付超限（基准测试{i}）"}).id)
        if i % 200 == 199:
            db.session.commit()
    db.session.commit()
    return ids


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    """Seconds since ``start``: on the wall, and of this process's CPU (what the app itself
    spent, SQLite included, less disturbed by whatever else the machine runs)."""
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def bench_bare(s: Scratch, n: int) -> tuple[float, float]:
    """Seconds (wall, CPU) for n bare inserts."""
    start = _clock()
    for _ in range(n):
        _post(s, "unit", "/bench/bare", expect=201)
    return _since(start)


def bench_reads(s: Scratch, n: int, url: str) -> tuple[float, float]:
    """Seconds (wall, CPU) for n authenticated GETs of ``url`` (as finance)."""
    from workflow.db import db

    start = _clock()
    for _ in range(n):
        response = s.client.get(url, headers=s.headers("city_finance"))
        db.session.remove()
        assert response.status_code == 200, response.get_json()
    return _since(start)


class Review:
    """The unit submits its rectification and finance returns it with a new deadline, over and
    over (``submit_rectification`` / ``reject_rectification``), over a few cases."""

    def __init__(self, s: Scratch):
        self.s = s
        self.ids = _open_cases(s, 10)
        for case_id in self.ids:
            response = s.client.post(f"/api/v1/cases/{case_id}/evidence", headers=s.headers("unit"),
                                     content_type="multipart/form-data",
                                     data={"file": (io.BytesIO("整改报告".encode()), "r.txt", "text/plain")})
            assert response.status_code == 201, response.get_json()
        self.versions = {case_id: _get_version(s, case_id) for case_id in self.ids}
        self.done = 0

    def __call__(self, n: int) -> tuple[float, float]:
        """Seconds (wall, CPU) for the next n actions (each case alternates submit and reject)."""
        s, ids = self.s, self.ids
        start = _clock()
        for _ in range(n):
            case_id = ids[self.done % len(ids)]
            if self.done // len(ids) % 2 == 0:
                body = _post(s, "unit", f"/api/v1/cases/{case_id}/actions/submit_rectification",
                             {"version": self.versions[case_id], "report": "已整改"})
            else:
                body = _post(s, "city_finance", f"/api/v1/cases/{case_id}/actions/reject_rectification",
                             {"version": self.versions[case_id], "reason": "材料不全", "deadline_days": 5})
            self.versions[case_id] = body["version"]
            self.done += 1
        return _since(start)


class Notice:
    """Finance issues a public notice (``publish_notice``), round the same few cases."""

    def __init__(self, s: Scratch):
        self.s = s
        self.ids = _open_cases(s, 10)
        self.versions = {case_id: 1 for case_id in self.ids}
        self.done = 0

    def __call__(self, n: int) -> tuple[float, float]:
        start = _clock()
        for _ in range(n):
            case_id = self.ids[self.done % len(self.ids)]
            body = _post(self.s, "city_finance", f"/api/v1/cases/{case_id}/actions/publish_notice",
                         {"version": self.versions[case_id], "scope": "competent"})
            self.versions[case_id] = body["version"]
            self.done += 1
        return _since(start)


def _get_version(s: Scratch, case_id: int) -> int:
    response = s.client.get(f"/api/v1/cases/{case_id}", headers=s.headers("city_finance"))
    return response.get_json()["version"]


def bench_page(s: Scratch, size: int, repeats: int = 5) -> tuple[float, float, int]:
    """(median ms for the page over HTTP, ms for allowed_actions alone over the page, machines built)."""
    import transitions

    from workflow import case_records, cases
    from workflow.db import db

    _open_cases(s, size)
    built = []
    original = transitions.Machine.__init__

    def spy(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    transitions.Machine.__init__ = spy
    try:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            response = s.client.get(f"/api/v1/cases?limit={size}", headers=s.headers("city_finance"))
            times.append(time.perf_counter() - start)
            assert response.status_code == 200 and len(response.get_json()["items"]) == size
        finance = s.finance
        rows = db.session.execute(case_records.cases_for(finance).order_by(case_records.Case.id).limit(size)).scalars().all()
        start = time.perf_counter()
        for case in rows:
            cases.allowed_actions(finance, case)
        allowed_ms = (time.perf_counter() - start) * 1000
    finally:
        transitions.Machine.__init__ = original
    return statistics.median(times) * 1000, allowed_ms, len(built)


def run(backend: str, args) -> dict:
    config = {"SMTP_URL": None, "FUNDWATCH_UPLOAD_DIR": tempfile.mkdtemp(prefix="fw-bench-uploads-")}
    with scratch_database(backend, args.database_url, config, prefix="fw-bench-cases-") as app:
        s = Scratch(app, backend)
        _post(s, "unit", "/bench/bare", expect=201)  # warm up the path and the connection pool
        result = {"backend": backend}
        review, notice = Review(s), Notice(s)
        # Interleaved rounds, so that a change in the machine's load touches every figure alike.
        case_url = f"/api/v1/cases/{notice.ids[0]}"
        kinds = {"bare": lambda n: bench_bare(s, n), "review": review, "notice": notice,
                 "json": lambda n: bench_reads(s, n, "/bench/json"), "read": lambda n: bench_reads(s, n, case_url)}
        spent = {name: [0.0, 0.0] for name in kinds}
        per_round = max(1, args.actions // args.rounds)
        for _ in range(args.rounds):
            for name, measure in kinds.items():
                wall, cpu = measure(per_round)
                spent[name][0] += wall
                spent[name][1] += cpu
        total = per_round * args.rounds
        for name, (wall, cpu) in spent.items():
            result[name] = total / wall
            result[f"{name}_cpu_ms"] = cpu / total * 1000
        result["page_ms"], result["allowed_ms"], result["machines"] = bench_page(s, args.page)
        return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--actions", type=int, default=400)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds the actions are spread over")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args(argv)
    import logging

    logging.getLogger("workflow.deadlines").setLevel(logging.ERROR)
    print(f"{args.actions} requests per figure, Flask test client, one commit per request; "
          f"page of {args.page} cases", file=sys.stderr)
    header = (f"{'backend':<11} {'bare insert/s':>13} {'review act/s':>12} {'ratio':>6} {'notice act/s':>12} "
              f"{'ratio':>6} {'bare json/s':>11} {'GET case/s':>10} {'ratio':>6} {'page ms':>8} {'allowed ms':>10} "
              f"{'machines':>8}")
    print(header)
    for backend in args.backends.split(","):
        r = run(backend.strip(), args)
        print(f"{r['backend']:<11} {r['bare']:>13.0f} {r['review']:>12.0f} {r['review'] / r['bare']:>5.2f}x "
              f"{r['notice']:>12.0f} {r['notice'] / r['bare']:>5.2f}x {r['json']:>11.0f} {r['read']:>10.0f} "
              f"{r['read'] / r['json']:>5.2f}x {r['page_ms']:>8.0f} {r['allowed_ms']:>10.1f} {r['machines']:>8}")
        print(f"{'':<11} CPU ms per request in this process: " + ", ".join(
            f"{name} {r[f'{name}_cpu_ms']:.2f}" for name in ("bare", "review", "notice", "json", "read")))


if __name__ == "__main__":
    main()

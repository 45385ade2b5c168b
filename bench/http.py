"""Issue 15's table over real HTTP: gunicorn as ``make run`` serves it, wrk as the load, each
figure next to a bare endpoint measured in the same run.

    python -m bench.http [--backends sqlite,postgresql] [--seconds 4] [--rounds 2]
                         [--connections 8,16] [--rows 10000,1000000] [--batches 40]
                         [--phases intake,reads,writes,outbox] [--burst 10] [--analyze]
                         [--database-url postgresql://postgres@127.0.0.1:5432/test] [--json FILE]

Needs ``wrk`` on the PATH (Debian/Ubuntu: ``apt-get install wrk``) and the project's
dependencies (gunicorn, aiosmtpd). For each backend a scratch database is made, migrated and
loaded with the demo parties and their tokens (a temporary SQLite file, or a PostgreSQL schema
of its own, dropped after: ``bench.common``). Two servers run on it, each started like
``make run`` starts gunicorn (``--workers 2 --access-logfile -``, sync workers):

- the API, ``wsgi:app``;
- the bare app, ``bench.bare_wsgi:app``: Flask and the product's Flask-SQLAlchemy extension,
  configuration and token authentication, with ``POST /bench/insert`` (one insert into a
  scratch table and a commit) and ``GET /bench/json`` (a small JSON object). It is not part
  of the shipped API.

wrk runs with one connection per thread (``-t N -c N``), so that each thread's Lua script
keeps the state of its own case (version, review state) and numbers its own vouchers.
Rounds are interleaved: bare, real, real, ..., bare, real, real, ..., bare; a figure is the
median over its rounds (requests per second of 2xx answers, p50 and p99 latency) and its
ratio is to the median of the bare endpoint's rounds in the same group, so machine noise
hits both. Phases (``--phases``):

- ``intake``: ``POST /payments`` with ``--batch-size`` (1,000) rows, ``--batches`` times,
  one after the other, into a database of its own that starts with no payment (the 1M-row
  posting run is ``--batches 1000``). Rows/s over the first and the last 10 batches, each
  against the driver inserting the same stored rows (``executemany`` of sqlite3 / psycopg,
  then a commit; the copies are deleted after) at the same point of the series.
- ``reads``: ``GET /cases/{id}`` and the lists of 50 (cases, warnings, payments, a case's
  documents) against bare JSON, at the first ``--connections``, for every table size in
  ``--rows``: the four tables are filled up to that size (at least) by ``INSERT ... SELECT``
  copies of real rows the API wrote, straight into the tables, before the size is measured.
  ``--analyze`` runs ANALYZE after each fill (default: not; the planner then knows what
  autovacuum has found meanwhile, as after any bulk load).
- ``writes``: ``publish_notice`` (a notice-issuing action), the review cycle
  (``submit_rectification`` by the unit, ``reject_rectification`` by finance, in turn on
  each connection's own case) and ``POST /payments`` with one row, against bare insert, at
  every ``--connections``. Run after the reads of the first size and before the others.
- ``outbox``: the scheduler (``flask --app wsgi scheduler``, its default settings, an SMTP
  sink on the loopback as its ``SMTP_URL``) runs while ``publish_notice`` is posted for
  ``--burst`` seconds; then the outbox is polled until nothing is pending.

Prints a markdown table (and progress on stderr); asserts nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from bench.common import DEFAULT_PG, scratch_database
from workflow import cases as case_engine
from workflow import demo
from workflow.db import db
from workflow.parties import Actor, org_by_code

ROOT = Path(__file__).resolve().parent.parent
UNIT = "653000-301001"
FINANCE = "city_finance"  # 克州财政局: in charge of the demo units, sees all they do
ACTION_SUMMARY = "现金支付超限（HTTP 基准测试）"
NOTICE_BODY = {"scope": "全州预算单位"}
SUBMIT_BODY = {"report": "已整改"}
REJECT_BODY = {"reason": "材料不全", "deadline_days": 5}
DOC_CASE_NOTICES = 60  # the documents of the case whose list is read: more than a page of 50


class BenchError(Exception):
    """A phase could not go on (a server did not start, an answer was not the one expected)."""


def payment_row(voucher: str, **overrides) -> dict:
    """A clean payment of the demo unit (office supplies, by transfer to a company, from its
    registered account): it raises no warning. 0.01 yuan, so that a million of them stay
    inside the indicator's budget and every batch is screened alike."""
    row = {"voucher_no": voucher, "unit_code": UNIT, "payer_account": "3009000109200012345",
           "amount": "0.01", "paid_at": "2021-03-01T10:00:00+08:00", "settlement": "transfer",
           "method": "authorized", "functional_code": "2010201", "economic_code": "30201",
           "summary": "购买打印纸", "payee_name": "克州文具有限公司", "payee_account": "6222020000001234567",
           "payee_kind": "company"}
    row.update(overrides)
    return row


# --- processes -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child in a session of its own (so that its workers are stopped with it), logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict, log: Path):
        self.name, self.log = name, log
        self.handle = open(log, "wb")
        self.popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.handle, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 30) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.handle.close()

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Server(Process):
    """gunicorn as ``make run`` starts it: 2 sync workers, the access log on stdout."""

    def __init__(self, name: str, app: str, env: dict, work: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**env, "FUNDWATCH_BASE_URL": self.base}
        super().__init__(name, [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                                "--workers", "2", "--access-logfile", "-", app], env, work / f"{name}.log")

    def wait_ready(self, path: str, token: str, timeout: float = 60) -> None:
        """Wait until ``path`` answers 200. Also how the bench waits, after a wrk run, for the
        requests wrk abandoned at the end of its round: they are still queued in the workers,
        and a new request is answered after them."""
        self.ready = (path, token)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise BenchError(f"{self.name} exited:\n{self.tail()}")
            with contextlib.suppress(OSError):
                if request(self.port, "GET", path, token)[0] == 200:
                    return
            time.sleep(0.2)
        raise BenchError(f"{self.name} did not answer {path} within {timeout:g} s:\n{self.tail()}")


def request(port: int, method: str, path: str, token: str, body=None) -> tuple[int, object]:
    """One request on a connection of its own (gunicorn's sync workers close it anyway)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, path, payload, headers)
        response = connection.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, data.decode(errors="replace")
    finally:
        connection.close()


def server_env(url: str, work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SMTP_URL", "SQLALCHEMY_ECHO")}
    env.update(DATABASE_URL=url, FUNDWATCH_UPLOAD_DIR=str(work / "uploads"), PYTHONUNBUFFERED="1")
    return env


# --- wrk -----------------------------------------------------------------------------------------

# Every script: each thread learns its number (one connection per thread), counts the answers
# it did not expect and keeps the first, and the main thread prints one JSON line at the end.
LUA_PRELUDE = r'''
local threads, started = {}, 0
function setup(thread)
  thread:set("tid", started)
  started = started + 1
  table.insert(threads, thread)
end
bad, first_bad = 0, ""
function note_bad(status, body)
  bad = bad + 1
  if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
end
function response(status, headers, body)
  if status >= 300 then note_bad(status, body) end
end
function done(summary, latency, requests)
  local nbad, first = 0, ""
  for _, t in ipairs(threads) do
    nbad = nbad + (t:get("bad") or 0)
    local f = t:get("first_bad")
    if first == "" and f and f ~= "" then first = f end
  end
  first = (string.gsub(first, '[%c"\\]', ' '))
  local e = summary.errors
  io.write(string.format('WRK {"requests": %.0f, "duration_us": %.0f, "p50_us": %.0f, "p99_us": %.0f, ' ..
    '"status_errors": %.0f, "socket_errors": %.0f, "timeouts": %.0f, "bad": %.0f, "first_bad": "%s"}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write, e.timeout, nbad, first))
end
'''


def lua_string(text: str) -> str:
    """A Lua long-bracket literal: no escapes, UTF-8 as it is (LuaJIT has no \\u escapes)."""
    level = "=" * 3
    assert f"]{level}]" not in text
    return f"[{level}[{text}]{level}]"


def lua_static(method: str, path: str, token: str, body: str | None = None) -> str:
    lines = [f"wrk.method = {lua_string(method)}", f"wrk.path = {lua_string(path)}",
             f'wrk.headers["Authorization"] = {lua_string("Bearer " + token)}']
    if body is not None:
        lines += ['wrk.headers["Content-Type"] = "application/json"', f"wrk.body = {lua_string(body)}"]
    return "\n".join(lines)


def lua_json_fields(body: dict) -> str:
    """The fields of ``body`` as JSON text without its braces, to follow a version in Lua."""
    return json.dumps(body, ensure_ascii=False)[1:-1]


@dataclass
class Run:
    requests: int
    seconds: float
    ok_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    first_error: str
    ended: float = 0.0  # time.monotonic() when wrk stopped


@dataclass
class Scenario:
    """What one wrk run sends: ``script()`` is called before each run (the state it needs,
    e.g. the cases' versions, is read from the database then)."""
    name: str
    server: Server
    script: object  # () -> Lua source
    single: tuple | None = None  # (method, path, token): the request timed alone if a round is too short
    runs: list = field(default_factory=list)
    alone_s: float | None = None


def run_wrk(scenario: Scenario, connections: int, seconds: float, work: Path, record: bool = True) -> Run:
    path = work / f"{scenario.name}.lua"
    path.write_text(LUA_PRELUDE + "\n" + scenario.script(), encoding="utf-8")
    argv = ["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s",
            "-s", str(path), scenario.server.base]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
    line = next((line for line in done.stdout.splitlines() if line.startswith("WRK ")), None)
    if line is None:
        raise BenchError(f"wrk failed ({scenario.name}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(line[4:])
    ended = time.monotonic()
    scenario.server.wait_ready(*scenario.server.ready, timeout=900)  # what wrk cut off at the end is done
    seconds_run = data["duration_us"] / 1e6
    errors = int(max(data["bad"], data["status_errors"]) + data["socket_errors"] + data["timeouts"])
    ok = max(0, data["requests"] - max(data["bad"], data["status_errors"]))
    run = Run(int(data["requests"]), seconds_run, ok / seconds_run, data["p50_us"] / 1000, data["p99_us"] / 1000,
              errors, data["first_bad"], ended)
    if record:
        scenario.runs.append(run)
    note = f"  {run.errors} errors, first: {run.first_error[:200]}" if run.errors else ""
    log(f"    {scenario.name:<24} c={connections:<3} {run.ok_per_s:9,.1f}/s  p50 {run.p50_ms:7.1f} ms  "
        f"p99 {run.p99_ms:7.1f} ms{note}{'' if record else '  (warm-up, not counted)'}")
    return run


def interleaved(bare: Scenario, reals: list[Scenario], connections: int, args, work: Path) -> None:
    """``rounds`` times bare then each real scenario, and bare once more to close the last round,
    after a second of each to warm the workers up (imports, caches, prepared statements).
    A scenario whose warm-up (one connection per worker) saw no answer at all is timed once alone
    instead, and left out of the rounds if that one request takes more than half a round: with a
    request that slow a round would measure only the queue of requests it leaves behind."""
    for scenario in (bare, *reals):
        scenario.runs, scenario.alone_s = [], None
        warm = run_wrk(scenario, min(2, connections), min(1, args.seconds), work, record=False)
        if warm.ok_per_s == 0 and scenario.single:
            started = time.perf_counter()
            status, body = request(scenario.server.port, *scenario.single)
            took = time.perf_counter() - started
            log(f"    {scenario.name:<24} one request alone: {status} in {took:,.2f} s")
            if took > args.seconds / 2:
                scenario.alone_s = took
    reals = [s for s in reals if s.alone_s is None]
    for _ in range(args.rounds):
        run_wrk(bare, connections, args.seconds, work)
        for scenario in reals:
            run_wrk(scenario, connections, args.seconds, work)
    run_wrk(bare, connections, args.seconds, work)


@dataclass
class Figure:
    per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    ratio: float | None = None
    against: str = ""
    unit: str = "/s"
    latency: tuple[str, str] = ("p50", "p99")
    note: str = ""

    def cell(self) -> str:
        text = f"{self.per_s:,.{0 if self.per_s >= 10 else 1}f}{self.unit}"
        if self.ratio is not None:
            text += f" ({self.ratio:.2f}× {self.against})"
        text += f", {self.latency[0]} {self.p50_ms:,.1f} / {self.latency[1]} {self.p99_ms:,.1f} ms"
        if self.errors:
            text += f", **{self.errors} errors**"
        if self.note:
            text += f" **({self.note})**"
        return text


def figure(scenario: Scenario, bare: Scenario | None = None, against: str = "") -> Figure:
    runs = scenario.runs
    if scenario.alone_s is not None:
        result = Figure(1 / scenario.alone_s, scenario.alone_s * 1000, scenario.alone_s * 1000, 0,
                        latency=("one request alone:", "again"), note="too slow for a round")
        if bare is not None:
            result.ratio = result.per_s / statistics.median(r.ok_per_s for r in bare.runs)
            result.against = against + " (at most)"
        return result
    result = Figure(statistics.median(r.ok_per_s for r in runs), statistics.median(r.p50_ms for r in runs),
                    statistics.median(r.p99_ms for r in runs), sum(r.errors for r in runs))
    if bare is not None:
        result.ratio = result.per_s / statistics.median(r.ok_per_s for r in bare.runs)
        result.against = against
    return result


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- the database --------------------------------------------------------------------------------

def query(sql: str, **params):
    """One statement in a transaction of its own: the bench holds nothing open while wrk runs."""
    try:
        result = db.session.execute(sa.text(sql), params)
        return result.all() if result.returns_rows else []
    finally:
        db.session.commit()


def scalar(sql: str, **params):
    return query(sql, **params)[0][0]


class World:
    """What the API is driven with: the demo parties' tokens, each connection's cases, and the
    real rows (a case, a payment, a warning, a notice) the tables are filled with copies of."""

    def __init__(self, app, connections: int):
        client = app.test_client()
        users = demo.load_demo()
        self.tokens = demo.issue_demo_tokens()
        finance = Actor.of(users[FINANCE])
        unit = org_by_code(UNIT)
        dialect = db.engine.dialect.name
        db.session.execute(sa.text("CREATE TABLE bench_bare (id INTEGER PRIMARY KEY, note VARCHAR(40) NOT NULL)"
                                   if dialect == "sqlite" else
                                   "CREATE TABLE bench_bare (id SERIAL PRIMARY KEY, note VARCHAR(40) NOT NULL)"))

        def open_cases(n: int) -> list[int]:
            return [case_engine.open_case(finance, machine="unit_case", subject=unit, rung="warning",
                                          fields={"summary": ACTION_SUMMARY}).id for _ in range(n)]

        self.notice_cases = open_cases(connections)
        self.review_cases = open_cases(connections)
        self.doc_case = open_cases(1)[0]
        db.session.commit()

        def post(path, key, expect, **kwargs):
            response = client.post(path, headers={"Authorization": f"Bearer {self.tokens[key]}"}, **kwargs)
            if response.status_code != expect:
                raise BenchError(f"setup: {path}: {response.status_code} {response.get_data(as_text=True)[:500]}")
            return response.get_json()

        for case_id in self.review_cases:  # submitting a rectification needs evidence attached
            post(f"/api/v1/cases/{case_id}/evidence", "unit", 201, content_type="multipart/form-data",
                 data={"file": (io.BytesIO("整改报告".encode()), "report.txt", "text/plain")})
        version = 1
        for _ in range(DOC_CASE_NOTICES):
            version = post(f"/api/v1/cases/{self.doc_case}/actions/publish_notice", FINANCE, 200,
                           json={"version": version, **NOTICE_BODY})["version"]
        clean = post("/api/v1/payments", FINANCE, 201, json=[payment_row("TPL-CLEAN")])["items"][0]
        flagged = post("/api/v1/payments", FINANCE, 201,
                       json=[payment_row("TPL-FLAGGED", payer_account="9999000011112222")])["items"][0]
        if not flagged["warnings"]:
            raise BenchError("setup: a payment from an unregistered account raised no warning to copy")
        self.template = {
            "cases": self.doc_case,
            "payments": clean["id"],
            "warnings": flagged["warnings"][0]["id"],
            "documents": scalar("SELECT max(id) FROM documents WHERE case_id = :c", c=self.doc_case),
        }
        db.session.commit()

    def token(self, key: str = FINANCE) -> str:
        return self.tokens[key]


def _series(dialect: str) -> tuple[str, str]:
    """(prefix, source) of the numbers 1..:count, as a row source named n(i)."""
    if dialect == "postgresql":
        return "", "generate_series(1, :count) AS n(i)"
    return "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) ", "n"


def _copy(table: str, source: str, overrides: dict[str, str], prefix: str = "", **params) -> None:
    """``INSERT INTO table SELECT`` the template row ``t`` (id ``:tid``) once per row of ``source``,
    every column copied but the id and ``overrides`` (SQL expressions over t and the source)."""
    columns = [c["name"] for c in sa.inspect(db.engine).get_columns(table) if c["name"] != "id"]
    values = ", ".join(overrides.get(c, f"t.{c}") for c in columns)
    if db.engine.dialect.name == "postgresql" and db.session.execute(sa.text(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar():
        # The copies point at rows that exist (those of the template): skip the foreign-key
        # triggers, a row each, for this transaction; the checks are not what is measured.
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    db.session.execute(sa.text(f"{prefix}INSERT INTO {table} ({', '.join(columns)}) "
                               f"SELECT {values} FROM {source}, {table} t WHERE t.id = :tid"), params)


def fill(world: World, size: int, analyze: bool) -> dict[str, int]:
    """Fill cases, payments, warnings and documents up to ``size`` rows each (at least), by copies
    of the API's own rows made inside the database. Returns the row counts."""
    dialect = db.engine.dialect.name
    prefix, series = _series(dialect)
    started = time.perf_counter()

    def count(table: str) -> int:
        return scalar(f"SELECT count(*) FROM {table}")

    if (need := size - count("cases")) > 0:
        _copy("cases", series, {}, prefix, count=need, tid=world.template["cases"])
        db.session.commit()
    # A warning is raised once per payment and rule: the copies go to payments that have none yet.
    rule = scalar("SELECT rule FROM warnings WHERE id = :w", w=world.template["warnings"])
    warned = scalar("SELECT coalesce(max(payment_id), 0) FROM warnings WHERE rule = :r", r=rule)
    need_warnings = size - count("warnings")
    free = scalar("SELECT count(*) FROM payments WHERE id > :p", p=warned)
    if (need := max(size - count("payments"), need_warnings - free)) > 0:
        tag = f"B{int(time.time() * 1000) % 10**9}-"
        _copy("payments", series, {"voucher_no": f"'{tag}' || CAST(n.i AS TEXT)"}, prefix, count=need,
              tid=world.template["payments"])
        db.session.commit()
    if need_warnings > 0:
        _copy("warnings", "(SELECT id FROM payments WHERE id > :after ORDER BY id LIMIT :count) p",
              {"payment_id": "p.id"}, count=need_warnings, after=warned, tid=world.template["warnings"])
        db.session.commit()
    # One notice per case that has none yet, numbered after the issuer's counter, which then
    # moves past them so that the API goes on numbering after them.
    if (need := size - count("documents")) > 0:
        issuer, year, kind = query("SELECT issuer_id, year, kind FROM documents WHERE id = :d",
                                   d=world.template["documents"])[0]
        last = scalar("SELECT coalesce(max(case_id), 0) FROM documents")
        base = scalar("SELECT max(seq) FROM documents WHERE issuer_id = :i AND year = :y AND kind = :k",
                      i=issuer, y=year, k=kind)
        if (free := scalar("SELECT count(*) FROM cases WHERE id > :c", c=last)) < need:
            _copy("cases", series, {}, prefix, count=need - free, tid=world.template["cases"])
        _copy("documents", "(SELECT id FROM cases WHERE id > :after ORDER BY id LIMIT :count) c",
              {"case_id": "c.id", "seq": f"{base} + c.id", "number": f"'批量' || CAST({base} + c.id AS TEXT)",
               "html": "'<p>bulk</p>'"}, count=need, after=last, tid=world.template["documents"])
        db.session.execute(sa.text("UPDATE document_counters SET last_seq = (SELECT max(seq) FROM documents "
                                   "WHERE issuer_id = :i AND year = :y AND kind = :k) "
                                   "WHERE issuer_id = :i AND year = :y AND kind = :k"), {"i": issuer, "y": year, "k": kind})
        db.session.commit()
    if analyze:
        query("ANALYZE")
    counts = {table: count(table) for table in ("cases", "payments", "warnings", "documents")}
    log(f"  filled to {size:,} in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    return counts


# --- the phases ----------------------------------------------------------------------------------

class Phases:
    def __init__(self, backend: str, args, work: Path):
        self.backend, self.args, self.work = backend, args, work
        self.figures: dict[tuple[str, str], Figure | str] = {}
        self.notes: list[str] = []

    def put(self, metric: str, conns: str, value) -> None:
        self.figures[(metric, conns)] = value

    # -- intake series, in a database of its own ----------------------------------------------

    def intake(self) -> None:
        args = self.args
        log(f"  intake: {args.batches} batches of {args.batch_size:,} rows from an empty database")
        with scratch_database(self.backend, args.database_url, {"SMTP_URL": None}, prefix="fw-bench-http-") as app:
            demo.load_demo()
            tokens = demo.issue_demo_tokens()
            db.session.commit()
            url = app.config["SQLALCHEMY_DATABASE_URI"]
            server = Server("api-intake", "wsgi:app", server_env(url, self.work), self.work)
            try:
                server.wait_ready("/api/v1/health", tokens[FINANCE])
                times, raw = [], {}
                edges = set(range(min(10, args.batches))) | set(range(max(0, args.batches - 10), args.batches))
                for b in range(args.batches):
                    rows = [payment_row(f"S{b:06d}{i:05d}") for i in range(args.batch_size)]
                    before = scalar("SELECT coalesce(max(id), 0) FROM payments")
                    started = time.perf_counter()
                    status, body = request(server.port, "POST", "/api/v1/payments", tokens[FINANCE], rows)
                    times.append(time.perf_counter() - started)
                    if status != 201:
                        raise BenchError(f"intake batch {b + 1}: {status} {str(body)[:500]}")
                    if b in edges:
                        raw[b] = self._raw_insert(before)
                    if (b + 1) % 10 == 0:
                        log(f"    batch {b + 1}: {times[-1] * 1000:,.0f} ms"
                            + (f" (raw executemany {raw[b] * 1000:,.1f} ms)" if b in raw else ""))
            finally:
                server.stop()
        windows = [("first", list(range(min(10, args.batches))))]
        if args.batches > 10:
            windows.append(("last", list(range(max(10, args.batches - 10), args.batches))))
        for label, batches in windows:
            api_s = [times[b] for b in batches]
            raw_s = [raw[b] for b in batches]
            rate = args.batch_size * len(batches) / sum(api_s)
            raw_rate = args.batch_size * len(batches) / sum(raw_s)
            name = (f"`POST /payments`, {args.batch_size:,} rows: batches {batches[0] + 1}-{batches[-1] + 1} "
                    f"of {args.batches}")
            self.put(name, "1", Figure(rate, statistics.median(api_s) * 1000, max(api_s) * 1000, 0,
                                       rate / raw_rate, f"raw executemany at {raw_rate:,.0f} rows/s", " rows/s",
                                       ("median batch", "slowest")))

    def _raw_insert(self, before: int) -> float:
        """Seconds for the driver to insert the rows the API just stored (fresh vouchers) and commit."""
        columns = [c["name"] for c in sa.inspect(db.engine).get_columns("payments") if c["name"] != "id"]
        raw = db.engine.raw_connection()
        try:
            driver = raw.driver_connection
            mark = "?" if db.engine.dialect.name == "sqlite" else "%s"
            cursor = driver.cursor()
            cursor.execute(f"SELECT {', '.join(columns)} FROM payments WHERE id > {mark} ORDER BY id", (before,))
            voucher = columns.index("voucher_no")
            rows = [tuple("R" + v if i == voucher else v for i, v in enumerate(row)) for row in cursor.fetchall()]
            driver.commit()
            cursor.execute("SELECT max(id) FROM payments")
            max_id = cursor.fetchone()[0]
            driver.commit()
            insert = f"INSERT INTO payments ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
            started = time.perf_counter()
            cursor.executemany(insert, rows)
            driver.commit()
            seconds = time.perf_counter() - started
            cursor.execute(f"DELETE FROM payments WHERE id > {mark}", (max_id,))
            driver.commit()
            cursor.close()
            return seconds
        finally:
            raw.close()

    # -- the main database ----------------------------------------------------------------------

    def main_database(self, phases: set[str]) -> None:
        args = self.args
        config = {"SMTP_URL": None, "FUNDWATCH_UPLOAD_DIR": str(self.work / "uploads")}
        with scratch_database(self.backend, args.database_url, config, prefix="fw-bench-http-") as app:
            started = time.perf_counter()
            world = World(app, max(args.connections))
            log(f"  setup: demo, tokens, {2 * max(args.connections) + 1} cases, "
                f"{DOC_CASE_NOTICES} notices in {time.perf_counter() - started:.1f} s")
            env = server_env(app.config["SQLALCHEMY_DATABASE_URI"], self.work)
            api = Server("api", "wsgi:app", env, self.work)
            bare = Server("bare", "bench.bare_wsgi:app", env, self.work)
            try:
                api.wait_ready("/api/v1/health", world.token())
                bare.wait_ready("/bench/json", world.token())
                sizes = args.rows if "reads" in phases else []
                if "writes" in phases and not sizes:
                    self.writes(world, api, bare)
                for i, size in enumerate(sizes):
                    counts = fill(world, size, args.analyze)
                    self.reads(world, api, bare, size, counts)
                    if i == 0 and "writes" in phases:
                        self.writes(world, api, bare)
                if "outbox" in phases:
                    self.outbox(world, api, env)
            finally:
                api.stop()
                bare.stop()

    def reads(self, world: World, api: Server, bare_server: Server, size: int, counts: dict) -> None:
        c = self.args.connections[0]
        token = world.token()
        log(f"  reads at {size:,} rows, {c} connections")
        bare = Scenario("bare-json", bare_server, lambda: lua_static("GET", "/bench/json", token))
        paths = {
            "`GET /cases/{id}`": f"/api/v1/cases/{world.doc_case}",
            "`GET /cases?limit=50`": "/api/v1/cases?limit=50",
            "`GET /warnings?limit=50`": "/api/v1/warnings?limit=50",
            "`GET /payments?limit=50`": "/api/v1/payments?limit=50",
            "`GET /cases/{id}/documents?limit=50`": f"/api/v1/cases/{world.doc_case}/documents?limit=50",
        }
        reals = [Scenario(name.strip("`").split("?")[0].replace("/", "-").replace(" ", "").lower(), api,
                          lambda path=path: lua_static("GET", path, token), ("GET", path, token))
                 for name, path in paths.items()]
        interleaved(bare, reals, c, self.args, self.work)
        label = f"{size:,} rows"
        self.put(f"bare JSON ({label})", str(c), figure(bare))
        for (name, _), scenario in zip(paths.items(), reals):
            self.put(f"{name} ({label})", str(c), figure(scenario, bare, "bare JSON"))
        self.notes.append(f"{self.backend} at {size:,}: " + ", ".join(f"{t} {n:,}" for t, n in counts.items())
                          + self._analysed())

    def _analysed(self) -> str:
        if db.engine.dialect.name != "postgresql":
            return ""
        rows = query("SELECT relname, n_mod_since_analyze FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                     "AND relname IN ('cases', 'payments', 'warnings', 'documents') ORDER BY relname")
        return " (rows changed since the last analyse: " + ", ".join(f"{r} {n:,}" for r, n in rows) + ")"

    def writes(self, world: World, api: Server, bare_server: Server) -> None:
        finance, unit = world.token(), world.token("unit")
        bare = Scenario("bare-insert", bare_server, lambda: lua_static("POST", "/bench/insert", finance, "{}"))
        notice = Scenario("publish-notice", api, lambda: self._notice_lua(world.notice_cases, finance))
        review = Scenario("review-cycle", api, lambda: self._review_lua(world.review_cases, finance, unit))
        runs = iter(range(10**6))
        pay = Scenario("post-payment-1-row", api, lambda: self._payment_lua(finance, next(runs)))
        for c in self.args.connections:
            log(f"  writes, {c} connections")
            interleaved(bare, [notice, review, pay], c, self.args, self.work)
            self.put("bare insert + commit", str(c), figure(bare))
            self.put("`publish_notice`", str(c), figure(notice, bare, "bare insert"))
            self.put("review cycle (`submit_rectification` / `reject_rectification`)", str(c),
                     figure(review, bare, "bare insert"))
            self.put("`POST /payments`, 1 row", str(c), figure(pay, bare, "bare insert"))

    @staticmethod
    def _case_state(case_ids: list[int]) -> list[tuple[int, int, str]]:
        rows = {r[0]: r for r in query(f"SELECT id, version, state FROM cases WHERE id IN "
                                       f"({', '.join(str(i) for i in case_ids)})")}
        return [rows[i] for i in case_ids]

    def _notice_lua(self, case_ids: list[int], token: str) -> str:
        state = self._case_state(case_ids)
        return f'''
local cases = {{{", ".join(str(s[0]) for s in state)}}}
local versions = {{{", ".join(str(s[1]) for s in state)}}}
local headers = {{["Authorization"] = {lua_string("Bearer " + token)}, ["Content-Type"] = "application/json"}}
local fields = {lua_string(lua_json_fields(NOTICE_BODY))}
function init(args)
  case_id, version = cases[tid + 1], versions[tid + 1]
end
function request()
  return wrk.format("POST", "/api/v1/cases/" .. case_id .. "/actions/publish_notice", headers,
                    '{{"version": ' .. version .. ', ' .. fields .. '}}')
end
function response(status, headers, body)
  if status == 200 then
    version = tonumber(string.match(body, '"version":%s*(%d+)')) or version
  else
    note_bad(status, body)
  end
end
'''

    def _review_lua(self, case_ids: list[int], finance: str, unit: str) -> str:
        state = self._case_state(case_ids)
        return f'''
local cases = {{{", ".join(str(s[0]) for s in state)}}}
local versions = {{{", ".join(str(s[1]) for s in state)}}}
local reviewing = {{{", ".join("true" if s[2] == "under_review" else "false" for s in state)}}}
local as_finance = {{["Authorization"] = {lua_string("Bearer " + finance)}, ["Content-Type"] = "application/json"}}
local as_unit = {{["Authorization"] = {lua_string("Bearer " + unit)}, ["Content-Type"] = "application/json"}}
local reject = {lua_string(lua_json_fields(REJECT_BODY))}
local submit = {lua_string(lua_json_fields(SUBMIT_BODY))}
function init(args)
  case_id, version, under_review = cases[tid + 1], versions[tid + 1], reviewing[tid + 1]
end
function request()
  if under_review then
    return wrk.format("POST", "/api/v1/cases/" .. case_id .. "/actions/reject_rectification", as_finance,
                      '{{"version": ' .. version .. ', ' .. reject .. '}}')
  end
  return wrk.format("POST", "/api/v1/cases/" .. case_id .. "/actions/submit_rectification", as_unit,
                    '{{"version": ' .. version .. ', ' .. submit .. '}}')
end
function response(status, headers, body)
  if status == 200 then
    version = tonumber(string.match(body, '"version":%s*(%d+)')) or version
    under_review = string.match(body, '"state":%s*"under_review"') ~= nil
  else
    note_bad(status, body)
  end
end
'''

    def _payment_lua(self, token: str, run: int) -> str:
        marker = "@VOUCHER@"
        before, after = json.dumps([payment_row(marker)], ensure_ascii=False).split(marker)
        return f'''
local headers = {{["Authorization"] = {lua_string("Bearer " + token)}, ["Content-Type"] = "application/json"}}
local before, after = {lua_string(before)}, {lua_string(after)}
local n = 0
function request()
  n = n + 1
  return wrk.format("POST", "/api/v1/payments", headers,
                    before .. string.format("H%s%03d%03d%08d", "{self.backend[0].upper()}", {run}, tid, n) .. after)
end
function response(status, headers, body)
  if status ~= 201 then note_bad(status, body) end
end
'''

    def outbox(self, world: World, api: Server, env: dict) -> None:
        args = self.args
        c = args.connections[0]
        log(f"  outbox: the scheduler runs while publish_notice is posted for {args.burst:g} s ({c} connections)")
        # What earlier phases left pending is not this phase's backlog.
        query("UPDATE outbox_messages SET status = 'sent', sent_at = created_at WHERE status = 'pending'")
        sink = _Sink()
        controller = Controller(sink, hostname="127.0.0.1", port=free_port())
        controller.start()
        scheduler = Process("scheduler", [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"],
                            {**env, "SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
                             "FUNDWATCH_BASE_URL": api.base}, self.work / "scheduler.log")
        try:
            deadline = time.monotonic() + 60
            while "scheduler started" not in scheduler.log.read_text(errors="replace"):
                if not scheduler.alive() or time.monotonic() > deadline:
                    raise BenchError(f"the scheduler did not start:\n{scheduler.tail()}")
                time.sleep(0.2)
            time.sleep(2)  # its first runs (all jobs run once at start) are over
            first = scalar("SELECT coalesce(max(id), 0) FROM outbox_messages")
            burst = Scenario("outbox-burst", api, lambda: self._notice_lua(world.notice_cases, world.token()))
            run = run_wrk(burst, c, args.burst, self.work)
            ended = run.ended
            created = scalar("SELECT count(*) FROM outbox_messages WHERE id > :f", f=first)
            pending_at_end = scalar("SELECT count(*) FROM outbox_messages WHERE status = 'pending'")
            drained = None
            limit = time.monotonic() + args.drain_timeout
            while time.monotonic() < limit:
                pending = scalar("SELECT count(*) FROM outbox_messages WHERE status = 'pending'")
                if pending == 0:
                    drained = time.monotonic() - ended
                    break
                time.sleep(0.25)
            left = scalar("SELECT count(*) FROM outbox_messages WHERE status = 'pending'")
        finally:
            scheduler.stop()
            controller.stop()
        rate = created / run.seconds
        text = (f"{created:,} rows in {run.seconds:.0f} s ({rate:,.0f}/s, {run.ok_per_s:,.0f} actions/s); "
                f"{pending_at_end:,} pending at the end; ")
        text += (f"drained {drained:.1f} s after the burst" if drained is not None
                 else f"**{left:,} still pending {args.drain_timeout:g} s after the burst**")
        self.put(f"outbox backlog after {args.burst:g} s of `publish_notice`", str(c), text)
        self.notes.append(f"{self.backend} outbox: the SMTP sink received {sink.count:,} messages")


class _Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


# --- the table -----------------------------------------------------------------------------------

def table(results: dict[str, Phases]) -> str:
    backends = list(results)
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    rows = []
    for phases in results.values():
        for key in phases.figures:
            if key not in rows:
                rows.append(key)
    lines = ["| metric | conns | " + " | ".join(names.get(b, b) for b in backends) + " |",
             "| --- | --- | " + " | ".join("---" for _ in backends) + " |"]
    for metric, conns in rows:
        cells = []
        for backend in backends:
            value = results[backend].figures.get((metric, conns), "")
            cells.append(value.cell() if isinstance(value, Figure) else value)
        lines.append(f"| {metric} | {conns} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=4, help="length of one wrk round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each scenario (bare: one more)")
    parser.add_argument("--connections", default="8,16", help="wrk connections (one thread each)")
    parser.add_argument("--rows", default="10000,1000000", help="table sizes the lists are read at")
    parser.add_argument("--batches", type=int, default=40, help="intake: batches posted one after the other")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--burst", type=float, default=10, help="outbox: seconds of publish_notice")
    parser.add_argument("--drain-timeout", type=float, default=120)
    parser.add_argument("--phases", default="intake,reads,writes,outbox")
    parser.add_argument("--analyze", action="store_true", help="ANALYZE after each fill")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    args.rows = [int(float(r)) for r in args.rows.split(",") if r.strip()]
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    # SIGTERM unwinds like Ctrl-C: the servers are stopped and the scratch databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("wrk") is None:
        raise SystemExit("bench.http needs wrk on the PATH (Debian/Ubuntu: apt-get install wrk)")
    for name in ("workflow", "transitions", "alembic", "fundwatch"):
        logging.getLogger(name).setLevel(logging.ERROR)

    started = time.monotonic()
    results = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        log(f"== {backend} (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores)")
        work = Path(tempfile.mkdtemp(prefix=f"fw-bench-http-{backend}-"))
        results[backend] = bench = Phases(backend, args, work)
        try:
            for wanted, step in (("intake" in phases and args.batches, bench.intake),
                                 (phases & {"reads", "writes", "outbox"}, lambda: bench.main_database(phases))):
                if wanted:
                    try:
                        step()
                    except BenchError as exc:
                        log(f"  {backend}: {exc}")
                        bench.notes.append(f"{backend}: stopped: {str(exc)[:300]}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nwrk: {args.seconds:g} s rounds, {args.rounds} rounds per figure (medians), one connection per "
          f"thread; gunicorn --workers 2 (sync) for the API and the bare app; "
          f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores; "
          f"{(time.monotonic() - started) / 60:.1f} min\n")
    print(table(results))
    print()
    for phases_ in results.values():
        for note in phases_.notes:
            print(f"- {note}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {b: {f"{m} [{c}]": (v.__dict__ if isinstance(v, Figure) else v) for (m, c), v in p.figures.items()}
             for b, p in results.items()}, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

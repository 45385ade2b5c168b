"""Issue 16 item 7: the scheduler stops when told.

A real ``flask --app wsgi scheduler`` process (for the forty runs, forked from one that imported
the application once), submitting jobs as often as it can (intervals of a millisecond), gets
SIGTERM or SIGINT at a random moment after it started, many times over; it must exit, with
status 0, every time. The signal used to be handled by shutting the scheduler down
inside the handler, which deadlocked whenever it interrupted ``ThreadPoolExecutor.submit`` (the
executor's shutdown lock is not reentrant).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from workflow.db import db, utcnow
from workflow.outbox import OutboxMessage, notify

ROOT = Path(__file__).resolve().parent.parent
RUNS = 20            # per signal and backend
EXIT_BOUND = 10      # seconds: a process still running after this is counted as hung
START_BOUND = 60     # seconds to log "scheduler started" (a loaded CI machine is slow)


def scheduler_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name != "SMTP_URL"}
    return {**env, "DATABASE_URL": database_url, "FUNDWATCH_CHECK_SECONDS": "0.001",
            "FUNDWATCH_DELIVERY_SECONDS": "0.001", "PYTHONUNBUFFERED": "1",
            # A hung process is sent SIGABRT: faulthandler then writes every thread's stack to the log.
            "PYTHONFAULTHANDLER": "1", **extra}


def start_scheduler(env: dict[str, str], log_path: Path, *, sigint=signal.SIG_DFL) -> subprocess.Popen:
    """Start the scheduler and return once it has logged that it started (its signal handling
    is in place then). It gets SIGINT as a terminal's foreground job does (``SIG_DFL``), or
    ignored as a shell's background job does (``SIG_IGN``), whatever pytest itself has."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
    deadline = time.monotonic() + START_BOUND
    while "scheduler started" not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_hard(process)
            raise AssertionError(f"the scheduler did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.02)
    return process


def stop_hard(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


class ForkedSchedulers:
    """Schedulers started by fork from one process that imported the application once
    (``tests/scheduler_forks.py``): the same command and code, without two seconds of import
    per start, so the runs below are spent signalling, not importing."""

    def __init__(self, env: dict[str, str]):
        self.server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "scheduler_forks.py")], cwd=ROOT,
                                       env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.pid: int | None = None

    def start(self, log_path: Path) -> None:
        self.server.stdin.write(f"{log_path}\n".encode())
        self.server.stdin.flush()
        self.pid = int(self._answer(START_BOUND))
        deadline = time.monotonic() + START_BOUND
        while not log_path.exists() or "scheduler started" not in log_path.read_text(errors="replace"):
            ended = select.select([self.server.stdout], [], [], 0)[0]
            if ended or time.monotonic() > deadline:
                raise AssertionError(f"the scheduler did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.02)

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int:
        """The child's exit status; ``subprocess.TimeoutExpired`` if it is still running."""
        status = int(self._answer(timeout))
        self.pid = None
        return status

    def _answer(self, timeout: float) -> str:
        readable, _, _ = select.select([self.server.stdout], [], [], timeout)
        if not readable:
            raise subprocess.TimeoutExpired("scheduler", timeout)
        line = self.server.stdout.readline()
        if not line:
            raise AssertionError(f"the fork server ended (status {self.server.wait()})")
        return line.decode().strip()

    def close(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.server.stdin.close()
        self.server.stdout.close()
        try:
            self.server.wait(EXIT_BOUND)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()


def test_the_scheduler_exits_with_status_0_on_every_sigterm_and_sigint_even_during_job_submission(
        database_url, tmp_path):
    moments = random.Random(16)
    hung, statuses = [], {}
    schedulers = ForkedSchedulers(scheduler_env(database_url))
    try:
        for run in range(RUNS):
            for signum in (signal.SIGTERM, signal.SIGINT):
                log_path = tmp_path / f"scheduler-{run}-{signum.name}.log"
                schedulers.start(log_path)
                time.sleep(moments.uniform(0, 0.5))  # the main loop submits jobs all the while
                schedulers.send_signal(signum)
                try:
                    statuses[log_path.name] = schedulers.wait(EXIT_BOUND)
                except subprocess.TimeoutExpired:
                    schedulers.send_signal(signal.SIGABRT)
                    schedulers.wait(EXIT_BOUND)
                    hung.append(log_path)
    finally:
        schedulers.close()
    stacks = "\n\n".join(f"{path.name}:\n{path.read_text(errors='replace')[-2500:]}" for path in hung[:2])
    assert not hung, f"{len(hung)} of {2 * RUNS} runs did not exit within {EXIT_BOUND} s:\n{stacks}"
    assert set(statuses.values()) == {0}, statuses


def test_on_sqlite_a_second_scheduler_refuses_to_start_and_a_killed_one_leaves_no_stale_lock(database_url, tmp_path):
    """README: on SQLite run one scheduler; on PostgreSQL several may run (rows are claimed with
    SKIP LOCKED), so there the second one starts beside the first."""
    env = scheduler_env(database_url, FUNDWATCH_CHECK_SECONDS="3600", FUNDWATCH_DELIVERY_SECONDS="3600")
    sqlite = database_url.startswith("sqlite")
    first = start_scheduler(env, tmp_path / "first.log")
    try:
        if sqlite:
            second = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"], cwd=ROOT, env=env,
                                    capture_output=True, text=True, timeout=START_BOUND)
            assert second.returncode == 1, second.stdout + second.stderr
            assert f"another scheduler (pid {first.pid}) is running" in second.stderr
            assert "scheduler started" not in second.stdout + second.stderr
            first.kill()  # however it ends, the operating system releases its lock
            first.wait()
        another = start_scheduler(env, tmp_path / "another.log")
        try:
            another.send_signal(signal.SIGTERM)
            assert another.wait(EXIT_BOUND) == 0
        finally:
            stop_hard(another)
        if not sqlite:
            first.send_signal(signal.SIGTERM)
            assert first.wait(EXIT_BOUND) == 0
    finally:
        stop_hard(first)


def queue_mail_to_the_unit(demo) -> None:
    notify(key="signals:stuck-mail", template="deadline_reminder", org_ids=[demo.users["unit"].org_id],
           context=dict(subject_name="克州政协机关", rung="书面责令整改", deadline=utcnow() + dt.timedelta(days=3),
                        days_left=2), now=utcnow() - dt.timedelta(minutes=1))
    db.session.commit()
    db.session.remove()


def stuck_mail_env(database_url: str, silent: socket.socket, grace: str) -> dict[str, str]:
    """Delivery to an SMTP server that accepts and never greets: the job hangs in flight."""
    silent.settimeout(START_BOUND)
    return scheduler_env(database_url, FUNDWATCH_CHECK_SECONDS="3600", FUNDWATCH_DELIVERY_SECONDS="3600",
                         SMTP_URL=f"smtp://127.0.0.1:{silent.getsockname()[1]}", FUNDWATCH_SMTP_TIMEOUT="600",
                         FUNDWATCH_STOP_GRACE_SECONDS=grace)


@pytest.mark.parametrize("grace, signals, status", [
    ("600", (signal.SIGTERM, signal.SIGINT), 128 + signal.SIGINT),  # the second signal stops it at once
    ("0.5", (signal.SIGTERM,), 1),                                 # the grace ends: abandoned, status 1
], ids=["second-signal", "grace-ends"])
def test_a_job_that_does_not_finish_is_abandoned_on_a_second_signal_or_when_the_grace_ends(
        demo, database_url, tmp_path, grace, signals, status):
    """Running jobs may finish, but not forever: the e-mail it was sending stays pending for the
    next start (nothing half-written), and the process exits non-zero."""
    queue_mail_to_the_unit(demo)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        log_path = tmp_path / "scheduler.log"
        process = start_scheduler(stuck_mail_env(database_url, silent, grace), log_path)
        try:
            connection, _ = silent.accept()  # the delivery job is now waiting for the greeting
            with connection:
                process.send_signal(signals[0])
                while "stopping after the running jobs finish" not in log_path.read_text(errors="replace"):
                    assert process.poll() is None, log_path.read_text(errors="replace")
                    time.sleep(0.02)
                for signum in signals[1:]:
                    process.send_signal(signum)
                assert process.wait(EXIT_BOUND) == status, log_path.read_text(errors="replace")
        finally:
            stop_hard(process)
    assert "abandoned" in log_path.read_text(errors="replace")
    db.session.expire_all()
    mail = db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.channel == "email")).scalar_one()
    assert (mail.status, mail.attempts) == ("pending", 0)


def test_a_scheduler_started_with_sigint_ignored_keeps_ignoring_it(demo, database_url, tmp_path):
    """A shell's background job (``make run``) has SIGINT ignored, so that the terminal's Ctrl-C
    reaches only the shell, whose trap then sends SIGTERM once: that SIGTERM is the first signal
    the scheduler takes (the grace then ends: 1), not a second one (128 + SIGTERM)."""
    queue_mail_to_the_unit(demo)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        log_path = tmp_path / "scheduler.log"
        process = start_scheduler(stuck_mail_env(database_url, silent, "0.5"), log_path, sigint=signal.SIG_IGN)
        try:
            connection, _ = silent.accept()
            with connection:
                process.send_signal(signal.SIGINT)
                process.send_signal(signal.SIGTERM)
                assert process.wait(EXIT_BOUND) == 1, log_path.read_text(errors="replace")
        finally:
            stop_hard(process)
    assert "SIGTERM: stopping" in log_path.read_text(errors="replace")

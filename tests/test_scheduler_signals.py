"""Issue 16 item 7: the scheduler stops when told.

A real ``flask --app wsgi scheduler`` process, submitting jobs as often as it can (intervals of a
millisecond), gets SIGTERM or SIGINT at a random moment after it started, many times over; it must
exit, with status 0, every time. The signal used to be handled by shutting the scheduler down
inside the handler, which deadlocked whenever it interrupted ``ThreadPoolExecutor.submit`` (the
executor's shutdown lock is not reentrant).
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 20            # per signal and backend
EXIT_BOUND = 10      # seconds: a process still running after this is counted as hung
START_BOUND = 60     # seconds to log "scheduler started" (a loaded CI machine is slow)


def scheduler_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "FUNDWATCH_CHECK_SECONDS": "0.001",
           "FUNDWATCH_DELIVERY_SECONDS": "0.001", "PYTHONUNBUFFERED": "1",
           # A hung process is sent SIGABRT: faulthandler then writes every thread's stack to the log.
           "PYTHONFAULTHANDLER": "1", **extra}
    env.pop("SMTP_URL", None)
    return env


def start_scheduler(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start the scheduler and return once it has logged that it started (its signal handling
    is in place then)."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
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


def test_the_scheduler_exits_with_status_0_on_every_sigterm_and_sigint_even_during_job_submission(
        database_url, tmp_path):
    moments = random.Random(16)
    hung, statuses = [], {}
    for run in range(RUNS):
        for signum in (signal.SIGTERM, signal.SIGINT):
            log_path = tmp_path / f"scheduler-{run}-{signum.name}.log"
            process = start_scheduler(scheduler_env(database_url), log_path)
            try:
                time.sleep(moments.uniform(0, 0.5))  # the main loop submits jobs all the while
                process.send_signal(signum)
                try:
                    statuses[log_path.name] = process.wait(EXIT_BOUND)
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGABRT)
                    process.wait(EXIT_BOUND)
                    hung.append(log_path)
            finally:
                stop_hard(process)
    stacks = "\n\n".join(f"{path.name}:\n{path.read_text(errors='replace')[-2500:]}" for path in hung[:2])
    assert not hung, f"{len(hung)} of {2 * RUNS} runs did not exit within {EXIT_BOUND} s:\n{stacks}"
    assert set(statuses.values()) == {0}, statuses

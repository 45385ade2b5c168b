"""Start many schedulers quickly: a parent that has imported the application forks each one.

Importing the application takes two to three seconds, far longer than a scheduler takes to
start once imported; a test that starts the scheduler forty times would spend almost all its
time importing. This process imports ``wsgi`` once, then for each line on its standard input
(the path of a log file) forks a child that runs exactly what ``flask --app wsgi scheduler``
runs (``flask.cli.main`` with those arguments) with its output in that log and SIGINT at its
default, as a terminal's foreground job has it. It answers with the child's pid, then, when
the child has ended, with its exit status (the negative signal number if a signal ended it).

Nothing is connected and no thread is running when it forks (importing ``wsgi`` opens no
connection), so each child starts as a fresh process would, minus the import. The child leaves
through ``SystemExit`` as the real command does, so interpreter shutdown (joining non-daemon
threads, ``atexit``) is part of what the tests see.

    python tests/scheduler_forks.py    (environment: DATABASE_URL and the scheduler's settings)
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask.cli import main as flask_main  # noqa: E402  (after the path, as `flask --app wsgi` finds it)

import wsgi  # noqa: E402,F401  (the import each child is spared)


def run_child(log_path: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(nothing)
    sys.argv = ["flask", "--app", "wsgi", "scheduler"]
    flask_main()  # ends with SystemExit, which unwinds this process to its normal exit


def serve() -> None:
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        pid = os.fork()
        if pid == 0:
            run_child(line.rstrip("\n"))
            return  # not reached: the scheduler command always exits
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)


if __name__ == "__main__":
    serve()

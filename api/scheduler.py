"""The scheduler process and the operators' deadline command.

``flask --app wsgi scheduler`` runs APScheduler 3.x (a ``BackgroundScheduler``, while the main
thread waits for the stop signal) with three jobs:

=================  ===========================================  ==============================
job id             what                                         when
=================  ===========================================  ==============================
deadline-checks    :func:`workflow.scheduling.run_deadline_checks` every ``FUNDWATCH_CHECK_SECONDS`` (60)
outbox-delivery    :func:`notifications.delivery.deliver_pending`  every ``FUNDWATCH_DELIVERY_SECONDS`` (2) or sooner
overdue-digest     :func:`workflow.scheduling.daily_digest`         daily at ``FUNDWATCH_DIGEST_TIME`` (08:30, local)
analysis-reports   :func:`workflow.analysis_reports.scheduled_reports`  daily at ``FUNDWATCH_REPORT_TIME`` (07:00, local)
=================  ===========================================  ==============================

Why it is built this way (APScheduler 3.x pitfalls, from its FAQ and issue tracker):

- Its own process, never inside gunicorn workers: APScheduler's FAQ says a job store must
  never be shared between schedulers, and schedulers in web workers run jobs once per worker.
  Each process has a ``MemoryJobStore`` of its own; the jobs are added at start-up with fixed
  ids and ``replace_existing=True``, so a restart never adds copies.
- ``coalesce=True`` and ``max_instances=1``: a backlog of missed runs becomes one run, and a
  slow run is never overlapped by the next. ``misfire_grace_time`` is raised from APScheduler's
  default of 1 s (apscheduler#296): a run that starts late still runs. Catching up after
  downtime does not depend on it, though: a check at time T handles everything due up to T,
  and all three jobs run once at start-up (the digest only if today's time has passed).
- Delivery keeps up with the actions: a run delivers until nothing is due (no cap per run),
  and one that delivered something brings the next forward to ``FUNDWATCH_DELIVERY_BUSY_SECONDS``
  (0.25) later, or at once if it stopped after ``DELIVERY_RUN_SECONDS`` with rows still
  coming (:func:`_delivery_job`). PostgreSQL's LISTEN/NOTIFY would wake it sooner still, but
  a committing transaction that has notified takes a lock shared by all such commits: every
  action that writes a notification would queue on it, the very contention issue 15 removes.
- Several schedulers may run at once against one PostgreSQL (several hosts): every job claims
  its rows with ``SELECT ... FOR NO KEY UPDATE SKIP LOCKED`` and keys each effect in a unique table,
  so each due item is handled exactly once. On SQLite run ONE scheduler (SQLite has no row
  locks; the unique keys still prevent duplicates, but concurrent writers wait on each other);
  a lock file beside the database makes a second one refuse to start.
- SIGTERM / SIGINT shut it down gracefully and exit 0: no new runs start, running jobs finish
  (each case is its own transaction, so even a hard kill loses nothing). A second signal, or
  ``FUNDWATCH_STOP_GRACE_SECONDS`` (20) passing, abandons them and exits at once. No work is done
  in a signal handler: the signals are taken with ``sigwait`` (issue 16, see :func:`serve`).

``flask --app wsgi deadlines run [--now 2026-12-01T09:00+08:00]`` runs the same checks once, at
the given time (default: now): reminders and escalation of cases, reminders and overdue notices
of verification steps, the digest if its time of day has passed, then outbox delivery.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import gc
import logging
import os
import signal
import sys
import threading
import time

import click
import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from notifications.delivery import deliver_pending
from workflow import analysis_reports, scheduling
from workflow.db import db, utcnow
from workflow.settings import current, local_zone

log = logging.getLogger("fundwatch.scheduler")

JOB_CHECKS = "deadline-checks"
JOB_DELIVERY = "outbox-delivery"
JOB_DIGEST = "overdue-digest"
JOB_REPORTS = "analysis-reports"


def _in_app(app, func, name: str):
    """A job body: its own app context (so its own session), the current time, errors logged
    and the session released, so that one failed run never poisons the next."""
    def job():
        with app.app_context():
            try:
                result = func(utcnow())
                if result:
                    log.info("%s: %s", name, result)
            except Exception:
                db.session.rollback()
                log.exception("%s failed; the next run retries", name)
            finally:
                db.session.remove()
    job.__name__ = name.replace("-", "_")
    return job


# How long one delivery run goes on while rows keep coming: then it ends and the next starts
# at once, with a fresh clock (rows that failed earlier become due again) and a fresh SMTP
# connection (an unreachable server is tried again).
DELIVERY_RUN_SECONDS = 10.0


def _deliver(now, keep_going=None):
    report = deliver_pending(now=now, keep_going=keep_going)
    return report if report.handled else None


class Scheduler(BackgroundScheduler):
    """APScheduler's background scheduler, with a way for a running job to move its own next run
    that cannot deadlock a stop.

    ``shutdown(wait=True)`` holds the job stores' lock while it waits for the running jobs, and
    ``modify_job`` needs that lock: a job moving its next run just as the stop began waited for
    the stop, which waited for the job, until the grace ran out (found by the signal test). So
    the stop first closes a gate of its own; a job moves its next run only through the gate,
    and not at all once it is closed."""

    def __init__(self, **options):
        super().__init__(**options)
        self._moves = threading.Lock()
        self._stopping = False

    def move_next_run(self, job_id: str, seconds: float) -> None:
        with self._moves:
            if self._stopping or not self.running:
                return
            try:
                self.modify_job(job_id, next_run_time=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds))
            except JobLookupError:  # removed meanwhile: no next run
                pass

    def shutdown(self, wait: bool = True) -> None:
        with self._moves:
            self._stopping = True
        super().shutdown(wait)


def _delivery_job(scheduler: Scheduler, idle_seconds: float, busy_seconds: float):
    """The outbox-delivery job: deliver until nothing is due, then pick the next run.

    Its interval (``FUNDWATCH_DELIVERY_SECONDS``) is the idle poll. A run that delivered
    something brings the next one forward: at once if it was cut off by
    ``DELIVERY_RUN_SECONDS`` (rows are waiting), else after ``FUNDWATCH_DELIVERY_BUSY_SECONDS``
    (more are probably on their way). So a busy outbox is watched closely and a quiet one
    costs one indexed query per interval. While it runs, the next run is held back until after
    its end, so that the interval does not fire into a running job (APScheduler would skip
    it with a warning). Once the scheduler shuts down, the run stops after the batch in hand
    (each batch is its own transaction)."""
    def next_run_in(seconds: float) -> None:
        scheduler.move_next_run(JOB_DELIVERY, seconds)

    def deliver(now):
        next_run_in(DELIVERY_RUN_SECONDS + idle_seconds)
        ends = time.monotonic() + DELIVERY_RUN_SECONDS
        report = None
        try:
            report = _deliver(now, keep_going=lambda: scheduler.running and time.monotonic() < ends)
        finally:
            next_run_in(idle_seconds if report is None else 0 if report.interrupted else busy_seconds)
        return report
    return deliver


def _digest_if_due(now):
    return scheduling.daily_digest(now) if scheduling.digest_due(now) else None


def build_scheduler(app) -> Scheduler:
    """The scheduler with its own in-memory job store and its four jobs (not started)."""
    with app.app_context():
        settings, zone = current(), local_zone()
        hour, minute = scheduling.digest_time()
        report_hour, report_minute = analysis_reports.report_time()
    # Fractions of a second are allowed (the signal tests submit jobs as often as they can).
    check_seconds, delivery_seconds = settings.check_seconds, settings.delivery_seconds
    grace = settings.misfire_grace_seconds
    # Each job states its options rather than relying on job_defaults: they are then
    # visible on the job before the scheduler starts, and cannot drift apart.
    options = {"coalesce": True, "max_instances": 1, "misfire_grace_time": grace, "replace_existing": True}
    # In a thread of its own: the main thread only waits for the stop signals (see serve).
    scheduler = Scheduler(
        jobstores={"default": MemoryJobStore()},
        # One thread for the checks and the digest, so that the digest (at start, too) lists
        # what is overdue after the checks have escalated what they could; one for delivery,
        # so that a long check never holds the outbox back.
        executors={"default": ThreadPoolExecutor(max_workers=1), "delivery": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
        timezone=zone,
    )
    start = dt.datetime.now(zone)  # every job runs once at start: catch up after downtime
    scheduler.add_job(_in_app(app, scheduling.run_deadline_checks, JOB_CHECKS),
                      IntervalTrigger(seconds=check_seconds, timezone=zone),
                      id=JOB_CHECKS, name=JOB_CHECKS, next_run_time=start, **options)
    deliver = _delivery_job(scheduler, delivery_seconds, settings.delivery_busy_seconds)
    scheduler.add_job(_in_app(app, deliver, JOB_DELIVERY),
                      IntervalTrigger(seconds=delivery_seconds, timezone=zone),
                      id=JOB_DELIVERY, name=JOB_DELIVERY, next_run_time=start, executor="delivery", **options)
    # A digest late by hours is still worth sending today: a grace of most of a day. At
    # start it runs too, and sends only if today's time has passed and it was not sent.
    scheduler.add_job(_in_app(app, _digest_if_due, JOB_DIGEST),
                      CronTrigger(hour=hour, minute=minute, timezone=zone),
                      id=JOB_DIGEST, name=JOB_DIGEST, next_run_time=start,
                      **{**options, "misfire_grace_time": max(grace, 20 * 3600)})
    # The periodic analysis reports: each run issues what is due and not issued yet (the last
    # month, quarter and year once their first working day after has come), so a run at start
    # catches up after downtime. Same executor as the checks: one writer of cases at a time.
    scheduler.add_job(_in_app(app, analysis_reports.scheduled_reports, JOB_REPORTS),
                      CronTrigger(hour=report_hour, minute=report_minute, timezone=zone),
                      id=JOB_REPORTS, name=JOB_REPORTS, next_run_time=start,
                      **{**options, "misfire_grace_time": max(grace, 20 * 3600)})
    return scheduler


def serve(app) -> int:
    """Run the scheduler until SIGTERM or SIGINT; return the exit status (0: stopped cleanly).

    No signal handler runs: SIGTERM and SIGINT are blocked in every thread (the scheduler's
    threads are started after, and inherit the mask) and the main thread takes them with
    ``sigwait``. A handler would interrupt the main thread anywhere, also while it holds a
    non-reentrant lock that shutting down needs (``ThreadPoolExecutor.submit``'s shutdown lock,
    the scheduler's wake-up ``Event``), and waiting for that lock in the handler hangs forever
    (issue 16). The first signal stops new runs and lets running jobs finish for up to
    ``FUNDWATCH_STOP_GRACE_SECONDS`` (20); a second signal, or the end of the grace, abandons them
    (each case is its own transaction: nothing is half-written) and exits non-zero at once.
    """
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        # Like Python itself, keep a SIGINT ignored at start ignored: a shell's background job
        # (`make run`) is not meant to get the terminal's Ctrl-C; its trap sends SIGTERM once.
        stop_signals.discard(signal.SIGINT)
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    for signum in stop_signals:
        # A blocked signal stays pending for sigwait; an ignored one would be discarded.
        signal.signal(signum, signal.SIG_DFL)
    with app.app_context():
        grace = current().stop_grace_seconds
    scheduler = build_scheduler(app)
    backend = db.engine.dialect.name
    if backend == "sqlite":
        log.info("SQLite database: this is its only scheduler (%s)", _lock_path(db.engine.url))
    scheduler.start()
    log.info("scheduler started (%s): %s", backend, ", ".join(job.id for job in scheduler.get_jobs()))

    received = signal.Signals(signal.sigwait(stop_signals))
    log.info("%s: stopping after the running jobs finish (at most %g s; a second signal stops at once)",
             received.name, grace)
    # shutdown(wait=True) blocks until the running jobs end: in a thread of its own, so that
    # the main thread can still take a second signal and keep the grace period.
    stopper = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, name="scheduler-stop", daemon=True)
    stopper.start()
    deadline = time.monotonic() + grace
    while stopper.is_alive():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            log.warning("running jobs did not finish within %g s: abandoned, the next start redoes them", grace)
            _exit_now(1)
        again = signal.sigtimedwait(stop_signals, min(remaining, 0.2))
        if again is not None:
            log.warning("second signal (%s): running jobs abandoned, the next start redoes them",
                        signal.Signals(again.si_signo).name)
            _exit_now(128 + again.si_signo)
    log.info("scheduler stopped")
    return 0


def _exit_now(status: int) -> None:
    """Exit without waiting for the job threads (a normal exit joins them: it would wait for
    the very jobs being abandoned)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _lock_path(url: sa.engine.URL) -> str | None:
    """The scheduler's lock file beside a SQLite database file; None for other databases."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return os.path.abspath(url.database) + ".scheduler.lock"


def hold_scheduler_lock(url: sa.engine.URL):
    """On SQLite, make this process the database's only scheduler, or refuse to start.

    SQLite has no row locks to share the work between schedulers (README), so one process holds
    an exclusive ``flock`` on ``<database>.scheduler.lock`` as long as it runs. The operating
    system drops the lock when the process ends, however it ends, so a killed scheduler never
    leaves a stale lock behind. Returns the open file (keep it open), or None on PostgreSQL, where
    several schedulers may run.
    """
    path = _lock_path(url)
    if path is None:
        return None
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise click.ClickException(
            f"another scheduler (pid {holder}) is running on {url.database}; on SQLite only one may run "
            f"(its lock: {path})") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


@click.command("scheduler", help="Run the scheduled jobs (deadline checks, outbox delivery, "
                                 "daily digest, analysis reports) until SIGTERM/SIGINT.")
@with_appcontext
def scheduler_command():
    app = current_app._get_current_object()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("fundwatch").setLevel(logging.INFO)
    # APScheduler logs every run at INFO; its warnings (missed runs) and errors remain.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    lock = hold_scheduler_lock(db.engine.url)
    # The application's objects (models, schemas, machines, templates) live as long as the
    # process: frozen out of the collector, every collection in the jobs skips them, and so does
    # the interpreter's teardown at exit, which otherwise spends a second or more walking them.
    gc.freeze()
    try:
        status = serve(app)
    finally:
        if lock is not None:
            lock.close()
    sys.exit(status)


deadlines_cli = AppGroup("deadlines", help="Deadline checks (reminders, escalation, digest).")


def _parse_now(value: str | None) -> dt.datetime:
    if not value:
        return utcnow()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 date-time: {value!r}", param_hint="--now") from exc
    if moment.tzinfo is None:
        raise click.BadParameter("give a UTC offset, e.g. 2026-12-01T09:00+08:00", param_hint="--now")
    return moment


@deadlines_cli.command("run")
@click.option("--now", "now_text", default=None, metavar="DATETIME",
              help="Run as of this time (ISO 8601 with offset); default: the current time.")
@click.option("--no-delivery", is_flag=True, help="Leave the outbox for the delivery job.")
def run_command(now_text, no_delivery):
    """Run the deadline checks once: reminders, escalation, digest, delivery."""
    now = _parse_now(now_text)
    checks = scheduling.run_deadline_checks(now)
    click.echo(f"checks at {now.isoformat()}: {checks}")
    if scheduling.digest_due(now):
        click.echo(f"digest: {scheduling.daily_digest(now)}")
    else:
        click.echo("digest: not yet due today")
    if not no_delivery:
        report = _deliver(now)
        click.echo(f"delivery: {report.sent if report else 0} sent, {report.failed if report else 0} failed, "
                   f"{report.dead if report else 0} dead")

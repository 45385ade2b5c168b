"""The scheduler process (``flask --app wsgi scheduler``) and the operators' command
(``flask --app wsgi deadlines run --now ...``), issue 6."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from api.scheduler import JOB_CHECKS, JOB_DELIVERY, JOB_DIGEST, JOB_REPORTS, build_scheduler
from notifications.delivery import deliver_pending
from notifications.inbox import InboxNotification
from workflow.case_records import Case, CaseEvent
from workflow.cases import open_case
from workflow.db import db, utcnow
from workflow.outbox import notify
from workflow.parties import Actor

SH = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parent.parent


def open_warning(demo, now) -> int:
    case = open_case(Actor.of(demo.users["city_finance"]), machine="unit_case", subject=demo.users["unit"].org,
                     rung="warning", fields={"summary": "差旅费超标准报销"}, now=now)
    db.session.commit()
    return case.id


def test_the_scheduler_has_its_own_memory_job_store_and_four_fixed_jobs_that_catch_up(app):
    scheduler = build_scheduler(app)
    jobs = {job.id: job for job in scheduler.get_jobs()}

    assert set(jobs) == {JOB_CHECKS, JOB_DELIVERY, JOB_DIGEST, JOB_REPORTS}
    assert isinstance(scheduler._jobstores["default"], MemoryJobStore)  # never a shared store
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time >= 3600  # APScheduler's default of 1 s drops late runs
        assert job.next_run_time is not None and job.next_run_time <= dt.datetime.now(SH)  # runs at start
    assert isinstance(jobs[JOB_CHECKS].trigger, IntervalTrigger)
    assert jobs[JOB_CHECKS].trigger.interval == dt.timedelta(seconds=60)
    assert isinstance(jobs[JOB_DIGEST].trigger, CronTrigger) and str(jobs[JOB_DIGEST].trigger.timezone) == "Asia/Shanghai"
    assert isinstance(jobs[JOB_REPORTS].trigger, CronTrigger) and str(jobs[JOB_REPORTS].trigger.timezone) == "Asia/Shanghai"


def test_the_intervals_and_the_digest_time_are_configurable(app):
    app.config.update(FUNDWATCH_CHECK_SECONDS=30, FUNDWATCH_DELIVERY_SECONDS=5, FUNDWATCH_DIGEST_TIME="07:15")
    jobs = {job.id: job for job in build_scheduler(app).get_jobs()}

    assert jobs[JOB_CHECKS].trigger.interval == dt.timedelta(seconds=30)
    assert jobs[JOB_DELIVERY].trigger.interval == dt.timedelta(seconds=5)
    fields = {f.name: str(f) for f in jobs[JOB_DIGEST].trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("7", "15")


def test_deadlines_run_escalates_as_of_the_given_time_and_delivers_the_inbox(runner, demo):
    case_id = open_warning(demo, dt.datetime(2026, 11, 2, 10, 0, tzinfo=SH))

    result = runner.invoke(args=["deadlines", "run", "--now", "2026-11-10T09:00+08:00"])

    assert result.exit_code == 0, result.output
    assert "1 escalated" in result.output and "not yet due today" not in result.output
    db.session.expire_all()
    assert db.session.get(Case, case_id).state == "order"
    inbox = db.session.execute(sa.select(InboxNotification).where(
        InboxNotification.org_id == demo.users["unit"].org_id)).scalars().all()
    assert any("升级" in n.subject for n in inbox)
    again = runner.invoke(args=["deadlines", "run", "--now", "2026-11-10T09:05+08:00"])
    assert "0 escalated" in again.output


def test_deadlines_run_refuses_a_time_without_offset(runner, demo):
    result = runner.invoke(args=["deadlines", "run", "--now", "2026-11-10T09:00"])
    assert result.exit_code == 2 and "offset" in result.output


def test_the_scheduler_process_catches_up_at_start_and_stops_cleanly_on_sigterm(app, demo, database_url, tmp_path):
    """Started after the deadline passed (downtime), it escalates at once; SIGTERM stops it
    with exit status 0 after the running jobs finish."""
    case_id = open_warning(demo, utcnow() - dt.timedelta(days=30))
    db.session.remove()
    env = {**os.environ, "DATABASE_URL": database_url, "FUNDWATCH_CHECK_SECONDS": "3600",
           "FUNDWATCH_DELIVERY_SECONDS": "3600", "PYTHONUNBUFFERED": "1"}
    env.pop("SMTP_URL", None)
    log_path = tmp_path / "scheduler.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            state = "warning"
            while state != "order" and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.3)
                db.session.expire_all()
                state = db.session.get(Case, case_id).state
                db.session.rollback()
            assert state == "order", log_path.read_text()
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    output = log_path.read_text()
    assert "scheduler started" in output and "scheduler stopped" in output
    [event] = db.session.execute(sa.select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                            CaseEvent.trigger == "escalate")).scalars().all()
    assert event.party_kind == "system"


def test_issue15_a_delivery_run_that_found_work_brings_the_next_run_forward(app, demo):
    """The interval is the idle poll; after a run that delivered something the next comes after
    FUNDWATCH_DELIVERY_BUSY_SECONDS, so a busy outbox never waits a whole interval."""
    app.config.update(FUNDWATCH_DELIVERY_SECONDS=3600, FUNDWATCH_DELIVERY_BUSY_SECONDS=0.5)
    scheduler = build_scheduler(app)
    scheduler.start(paused=True)  # nothing runs by itself; the job is called here
    try:
        deliver_pending()  # whatever the demo left
        job = scheduler.get_job(JOB_DELIVERY)
        scheduler.modify_job(JOB_DELIVERY, next_run_time=dt.datetime.now(SH) + dt.timedelta(hours=1))
        job.func()  # nothing to deliver: the next run stays an interval away
        assert scheduler.get_job(JOB_DELIVERY).next_run_time > dt.datetime.now(SH) + dt.timedelta(minutes=59)

        notify(key="busy", template="deadline_reminder", org_ids=[demo.users["unit"].org_id],
               context=dict(subject_name="克州政协机关", rung="书面责令整改", deadline=utcnow() + dt.timedelta(days=3),
                            days_left=2))
        db.session.commit()
        before = dt.datetime.now(SH)
        job.func()
        next_run = scheduler.get_job(JOB_DELIVERY).next_run_time
        assert before < next_run <= dt.datetime.now(SH) + dt.timedelta(seconds=0.5)
    finally:
        scheduler.shutdown(wait=False)

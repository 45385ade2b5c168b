"""Exactly once under crashes and under several schedulers (issue 6): a scheduler killed
half-way leaves no half-done case and the rerun duplicates nothing; two schedulers over the
same due cases escalate each case once (SQLite too: issue 16 item 2) and, with the outbox
delivery running in both (PostgreSQL; one deliverer on SQLite), every e-mail reaches a real
SMTP server (aiosmtpd) once."""
from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import socket
import threading
import time
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from notifications.delivery import deliver_pending
from workflow import cases as case_module
from workflow import scheduling
from workflow.case_records import Case, CaseEvent
from workflow.cases import open_case
from workflow.db import db
from workflow.outbox import OutboxMessage
from workflow.parties import Actor
from workflow.scheduling import DeadlineEffect, daily_digest, run_deadline_checks

SH = ZoneInfo("Asia/Shanghai")
OPENED = dt.datetime(2026, 11, 2, 10, 0, tzinfo=SH)  # warning rung: due Mon 9 Nov, 23:59:59
AFTER = dt.datetime(2026, 11, 10, 9, 0, tzinfo=SH)


class ProcessKilled(BaseException):
    """What a SIGKILL looks like from inside: not an Exception, nothing catches it."""


class Mailbox:
    """A real SMTP server (aiosmtpd) that keeps every message it accepts."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.controller = Controller(self, loop=self.loop, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def outbox_ids(self) -> list[int]:
        return sorted(int(m["X-FundWatch-Outbox-Id"]) for m in self.messages)


@pytest.fixture
def smtp(app):
    box = Mailbox()
    box.controller.start()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{box.port}"
    yield box
    box.controller.stop()
    box.loop.close()


@pytest.fixture
def postgres_only(backend):
    if backend != "postgresql":
        pytest.skip("several schedulers at once need PostgreSQL's row locks (SKIP LOCKED)")


def open_due_cases(demo, n: int) -> list[int]:
    finance = Actor.of(demo.users["city_finance"])
    ids = []
    for i in range(n):
        unit = demo.users["unit" if i % 2 == 0 else "other_unit"].org
        ids.append(open_case(finance, machine="unit_case", subject=unit, rung="warning",
                             fields={"summary": f"违规支付 {i + 1}"}, now=OPENED).id)
    db.session.commit()
    return ids


def escalate_events(case_id: int) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.trigger == "escalate")).scalar_one()


def states(ids: list[int]) -> list[str]:
    db.session.expire_all()
    return [db.session.get(Case, i).state for i in ids]


def effect_rows() -> list[tuple[int, str]]:
    return [tuple(r) for r in db.session.execute(
        sa.select(DeadlineEffect.case_id, DeadlineEffect.kind).order_by(DeadlineEffect.case_id))]


def test_a_scheduler_killed_in_the_second_case_leaves_it_untouched_and_the_rerun_duplicates_nothing(
        demo, monkeypatch):
    ids = open_due_cases(demo, 3)
    real = case_module.apply_action
    calls = []

    def killed_on_second(*args, **kwargs):
        calls.append(args[1])
        result = real(*args, **kwargs)  # the escalation is written into the session...
        if len(calls) == 2:
            raise ProcessKilled()  # ...and the process dies before the commit
        return result

    monkeypatch.setattr(case_module, "apply_action", killed_on_second)
    with pytest.raises(ProcessKilled):
        run_deadline_checks(AFTER)
    db.session.rollback()  # the dead process's connection goes away with its transaction
    assert states(ids) == ["order", "warning", "warning"]
    assert effect_rows() == [(ids[0], "escalated")]

    monkeypatch.setattr(case_module, "apply_action", real)
    rerun = run_deadline_checks(AFTER + dt.timedelta(minutes=1))

    assert rerun.escalated == ids[1:] and rerun.failed == []
    assert states(ids) == ["order", "order", "order"]
    assert [escalate_events(i) for i in ids] == [1, 1, 1]
    assert effect_rows() == [(i, "escalated") for i in ids]
    keys = db.session.execute(sa.select(OutboxMessage.key, OutboxMessage.recipient_user_id,
                                        OutboxMessage.channel)).all()
    assert len(keys) == len(set(keys))
    assert db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.template == "case_escalated", OutboxMessage.channel == "inbox",
        OutboxMessage.recipient_org_id.in_([demo.users["unit"].org_id, demo.users["other_unit"].org_id]))
    ).scalar_one() == 3


def test_a_scheduler_killed_while_telling_finance_sends_nothing_twice_after_the_rerun(app, demo, monkeypatch):
    app.config["FUNDWATCH_AUTO_ESCALATION"] = "unit_case.warning=off"
    ids = open_due_cases(demo, 3)
    import workflow.outbox as outbox

    real = outbox.notify
    calls = []

    def killed_on_second(**kwargs):
        calls.append(kwargs["key"])
        outbox_result = real(**kwargs)
        if len(calls) == 2:
            raise ProcessKilled()
        return outbox_result

    monkeypatch.setattr(outbox, "notify", killed_on_second)
    with pytest.raises(ProcessKilled):
        run_deadline_checks(AFTER)
    db.session.rollback()
    monkeypatch.setattr(outbox, "notify", real)
    rerun = run_deadline_checks(AFTER)

    assert rerun.overdue == ids[1:]
    assert effect_rows() == [(i, "overdue") for i in ids]
    finance_messages = db.session.execute(sa.select(OutboxMessage.case_id).where(
        OutboxMessage.template == "case_overdue", OutboxMessage.channel == "inbox")).scalars().all()
    assert sorted(finance_messages) == ids


@pytest.mark.postgres_only
def test_a_case_is_escalated_while_another_transaction_inserts_a_row_that_names_it(demo, postgres_only):
    """A foreign-key insert (here: delivering the case's inbox entry at the same moment)
    holds FOR KEY SHARE on the case row; the check must not take that for another scheduler
    and skip the case until its next run (found by CI: the scheduler's catch-up at start
    raced its own outbox delivery)."""
    [case_id] = open_due_cases(demo, 1)
    with db.engine.connect() as delivery:
        delivery.execute(sa.text("SELECT id FROM cases WHERE id = :id FOR KEY SHARE"), {"id": case_id})

        result = run_deadline_checks(AFTER)

        delivery.rollback()
    assert result.escalated == [case_id] and result.failed == []
    assert states([case_id]) == ["order"]


@pytest.mark.postgres_only
def test_a_case_held_by_another_scheduler_is_skipped_not_waited_for(demo, postgres_only):
    """The other side of the same lock: a scheduler (or an officer's action) that holds the
    case row for an update makes this run pass it by; its own run handles it."""
    [case_id] = open_due_cases(demo, 1)
    with db.engine.connect() as other:
        other.execute(sa.text("SELECT id FROM cases WHERE id = :id FOR NO KEY UPDATE"), {"id": case_id})

        result = run_deadline_checks(AFTER)

        other.rollback()
    assert result.escalated == [] and result.failed == []
    assert states([case_id]) == ["warning"]
    assert run_deadline_checks(AFTER).escalated == [case_id]


def test_two_schedulers_escalate_each_case_once_digest_once_and_deliver_each_email_once(app, demo, smtp, backend,
                                                                                     monkeypatch):
    ids = open_due_cases(demo, 24)
    reminded = open_case(Actor.of(demo.users["city_finance"]), machine="unit_case", subject=demo.users["unit"].org,
                         rung="warning", fields={"summary": "临近期限"}, now=OPENED + dt.timedelta(days=2)).id  # due 11 Nov
    overdue = open_case(Actor.of(demo.users["city_finance"]), machine="unit_case", subject=demo.users["unit"].org,
                        rung="order", fields={"summary": "拒不执行处理决定", "grounds": "refused_decision"},
                        now=dt.datetime(2026, 10, 16, 10, 0, tzinfo=SH)).id  # due 6 Nov; suspension is finance's call
    db.session.commit()
    real = scheduling._escalate

    def slow(case_id, now):  # keep both schedulers inside the same batch at the same time
        time.sleep(0.01)
        return real(case_id, now)

    monkeypatch.setattr(scheduling, "_escalate", slow)
    start = threading.Barrier(2)
    results, digests, deliveries, errors = [], [], [], []

    def scheduler():
        try:
            with app.app_context():
                start.wait()
                results.append(run_deadline_checks(AFTER))
                digests.append(daily_digest(AFTER))
                if backend == "postgresql":
                    deliveries.append(deliver_pending(now=AFTER, batch_size=5))
                db.session.remove()
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    if backend == "sqlite":
        # One deliverer on SQLite (README): its claim of outbox rows takes no lock there, and
        # holding the one write lock while a batch goes out by SMTP would stall every request.
        deliveries.append(deliver_pending(now=AFTER, batch_size=5))

    escalated = [case_id for r in results for case_id in r.escalated]
    assert sorted(escalated) == ids  # each case by exactly one of the two
    if backend == "postgresql":  # SQLite's lock is not fair: one scheduler may take every case in turn
        assert all(r.escalated for r in results), "both schedulers took part"
    assert [r.failed for r in results] == [[], []]
    assert states(ids) == ["order"] * len(ids)
    assert [escalate_events(i) for i in ids] == [1] * len(ids)
    assert sum(len(r.reminded) for r in results) == 1 and (reminded, "remind_2") in effect_rows()

    assert sum(len(r.overdue) for r in results) == 1 and (overdue, "overdue") in effect_rows()
    # The overdue order reaches the digest of each finance department over the unit once:
    # the province's and the city's, each sent by one of the two schedulers.
    sent = sorted(org_id for d in digests for org_id in d.sent)
    assert sent == sorted([demo.users["finance"].org_id, demo.users["city_finance"].org_id])
    emails = db.session.execute(sa.select(OutboxMessage.id, OutboxMessage.status).where(
        OutboxMessage.channel == "email").order_by(OutboxMessage.id)).all()
    assert {status for _, status in emails} == {"sent"}
    assert smtp.outbox_ids() == [i for i, _ in emails]  # each e-mail received exactly once
    assert sum(d.sent for d in deliveries) == db.session.execute(
        sa.select(sa.func.count()).select_from(OutboxMessage)).scalar_one()

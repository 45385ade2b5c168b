"""Delivery of the outbox to the inbox and to a real SMTP server (aiosmtpd, started here):
retries with backoff, nothing lost while the server refuses or is down, dead letters."""
import asyncio
import datetime as dt
import email
import email.policy
import smtplib
import socket
import threading

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from notifications import delivery
from notifications.delivery import backoff, deliver_pending, parse_smtp_url
from notifications.inbox import InboxNotification
from workflow.db import db
from workflow.outbox import OutboxMessage, notify

NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai
REFUSE = "451 4.3.0 Mailbox temporarily unavailable"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """An SMTP server that keeps what it accepts, and can refuse or be stopped."""

    def __init__(self, **smtp_options):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: str | None = None
        self.refuse_rcpt: str | None = None
        self.delay = 0.0
        self.port = free_port()
        self.smtp_options = smtp_options
        self.controller = None
        self.loop = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refuse_rcpt:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def start(self):
        self.loop = asyncio.new_event_loop()
        self.controller = Controller(self, loop=self.loop, hostname="127.0.0.1", port=self.port,
                                     **self.smtp_options)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.loop.close()
            self.controller = None

    def outbox_ids(self) -> list[int]:
        return sorted(int(m["X-FundWatch-Outbox-Id"]) for m in self.messages)


@pytest.fixture
def smtp(app):
    box = Mailbox()
    box.start()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{box.port}"
    app.config["MAIL_SENDER"] = "FundWatch <fundwatch@czj.example.cn>"
    yield box
    box.stop()


def queue(demo, n=1, *, org_keys=("unit",), prefix="reminder"):
    for i in range(n):
        notify(key=f"{prefix}:{i}", template="deadline_reminder",
               org_ids=[demo.users[k].org_id for k in org_keys],
               context=dict(subject_name="克州政协机关", rung="书面责令整改", deadline=NOW + dt.timedelta(days=3),
                            days_left=2), now=NOW)
    db.session.commit()


def outbox(channel=None):
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    if channel:
        stmt = stmt.where(OutboxMessage.channel == channel)
    db.session.expire_all()
    return db.session.execute(stmt).scalars().all()


def inbox_count() -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(InboxNotification)).scalar_one()


def test_inbox_delivery_writes_the_users_inbox_once(demo):
    queue(demo)
    deliver_pending(now=NOW)
    deliver_pending(now=NOW + dt.timedelta(hours=1))
    note = db.session.execute(sa.select(InboxNotification)).scalar_one()
    assert note.user_id == demo.users["unit"].id and note.read_at is None
    assert note.subject.startswith("【期限提醒】")
    assert [r.status for r in outbox("inbox")] == ["sent"]


def test_email_waits_pending_while_smtp_is_not_configured(demo):
    queue(demo)
    report = deliver_pending(now=NOW)
    assert report.sent == 1
    assert [(r.status, r.attempts) for r in outbox("email")] == [("pending", 0)]


def test_email_is_sent_over_smtp_with_a_chinese_subject_and_body(demo, smtp):
    queue(demo, org_keys=("unit", "competent"))
    report = deliver_pending(now=NOW)
    assert report.sent == 4 and report.failed == 0
    assert sorted(m["To"] for m in smtp.messages) == ["competent@demo.fundwatch.invalid",
                                                      "unit@demo.fundwatch.invalid"]
    message = smtp.messages[0]
    assert message["Subject"] == "【期限提醒】克州政协机关：书面责令整改还有2个工作日到期"
    assert "整改期限为 2026年11月26日 09:00（北京时间）" in message.get_content()
    assert message["From"] == "FundWatch <fundwatch@czj.example.cn>"


def test_message_id_is_derived_from_the_outbox_row_so_a_resend_is_recognisable(demo, smtp):
    queue(demo)
    deliver_pending(now=NOW)
    row = outbox("email")[0]
    assert smtp.messages[0]["Message-ID"] == f"<outbox-{row.id}.fundwatch@czj.example.cn>"
    assert (row.status, row.sent_at) == ("sent", NOW)


def test_running_delivery_twice_sends_nothing_twice(demo, smtp):
    queue(demo, 3)
    deliver_pending(now=NOW)
    deliver_pending(now=NOW + dt.timedelta(minutes=5))
    assert len(smtp.messages) == 3 and inbox_count() == 3


def test_a_new_message_is_due_at_once_even_under_an_earlier_controlled_clock(demo, smtp):
    queue(demo)
    report = deliver_pending(now=NOW - dt.timedelta(days=30))
    assert report.sent == 2 and len(smtp.messages) == 1


def test_smtp_refusing_then_coming_back_loses_nothing_and_sends_each_once(demo, smtp):
    queue(demo, 3)
    smtp.refuse = REFUSE
    first = deliver_pending(now=NOW)
    assert (first.sent, first.failed) == (3, 3)  # the inbox rows went through
    rows = outbox("email")
    assert {(r.status, r.attempts) for r in rows} == {("pending", 1)}
    assert all("451" in r.last_error for r in rows)
    assert {r.next_attempt_at for r in rows} == {NOW + dt.timedelta(seconds=60)}

    assert deliver_pending(now=NOW + dt.timedelta(seconds=30)).handled == 0  # backing off
    smtp.refuse = None
    assert deliver_pending(now=NOW + dt.timedelta(seconds=61)).sent == 3
    deliver_pending(now=NOW + dt.timedelta(hours=1))
    assert smtp.outbox_ids() == [r.id for r in rows]
    assert {r.status for r in outbox("email")} == {"sent"}


def test_smtp_server_down_then_back_loses_nothing(demo, smtp):
    queue(demo, 2)
    smtp.stop()
    report = deliver_pending(now=NOW)
    assert report.failed == 2
    assert all("Connection" in r.last_error or "Errno" in r.last_error for r in outbox("email"))
    smtp.start()
    deliver_pending(now=NOW + dt.timedelta(minutes=2))
    assert smtp.outbox_ids() == [r.id for r in outbox("email")]


def test_a_crash_half_way_through_a_batch_loses_nothing(demo, smtp, monkeypatch):
    """The batch is one transaction: a crash after the first e-mail rolls every row back to
    pending. The next run re-sends that one e-mail with the same Message-ID (at-least-once,
    recognisable) and sends the others once."""
    queue(demo, 3)
    real_build = delivery.build_email
    calls = []

    def crash_on_second(row, sender, now):
        calls.append(row.id)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real_build(row, sender, now)

    monkeypatch.setattr(delivery, "build_email", crash_on_second)
    with pytest.raises(RuntimeError):
        deliver_pending(now=NOW)
    assert {r.status for r in outbox()} == {"pending"} and inbox_count() == 0
    monkeypatch.setattr(delivery, "build_email", real_build)
    deliver_pending(now=NOW)
    ids = [r.id for r in outbox("email")]
    assert sorted(set(smtp.outbox_ids())) == ids
    assert len(smtp.messages) == 4 and len({m["Message-ID"] for m in smtp.messages}) == 3
    assert inbox_count() == 3


def test_dead_after_the_configured_attempts(app, demo, smtp):
    app.config["FUNDWATCH_OUTBOX_MAX_ATTEMPTS"] = 3
    queue(demo)
    smtp.refuse = REFUSE
    for hour in range(5):
        deliver_pending(now=NOW + dt.timedelta(hours=hour))
    row = outbox("email")[0]
    assert (row.status, row.attempts) == ("dead", 3)
    assert "451" in row.last_error and smtp.messages == []


def test_a_permanent_refusal_of_the_recipient_is_a_dead_letter_at_once(demo, smtp):
    """A 5xx reply (RFC 5321: permanent) will not change on retry; the others still go."""
    queue(demo, org_keys=("unit", "competent"))
    smtp.refuse_rcpt = "unit@demo.fundwatch.invalid"
    report = deliver_pending(now=NOW)
    rows = {r.address: r for r in outbox("email")}
    dead = rows["unit@demo.fundwatch.invalid"]
    assert (dead.status, dead.attempts) == ("dead", 1) and "550" in dead.last_error
    assert rows["competent@demo.fundwatch.invalid"].status == "sent"
    assert report.dead == 1 and [m["To"] for m in smtp.messages] == ["competent@demo.fundwatch.invalid"]


def test_a_permanent_refusal_of_the_message_is_a_dead_letter_at_once(demo, smtp):
    queue(demo)
    smtp.refuse = "554 5.6.0 Message content rejected"
    deliver_pending(now=NOW)
    row = outbox("email")[0]
    assert (row.status, row.attempts) == ("dead", 1) and "554" in row.last_error


@pytest.mark.parametrize("exc, is_permanent", [
    (smtplib.SMTPRecipientsRefused({"a@x.cn": (550, b"no such user")}), True),
    (smtplib.SMTPRecipientsRefused({"a@x.cn": (450, b"mailbox busy")}), False),
    (smtplib.SMTPDataError(554, b"rejected"), True),
    (smtplib.SMTPDataError(451, b"try later"), False),
    (smtplib.SMTPSenderRefused(553, b"sender not allowed", "fundwatch@czj.example.cn"), False),
    (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
    (smtplib.SMTPServerDisconnected("gone"), False),
    (ConnectionRefusedError(111, "Connection refused"), False),
    (ValueError("invalid address"), True),
])
def test_which_failures_are_permanent(exc, is_permanent):
    """Only what retrying cannot mend; the operator's configuration (sender, login) is retried."""
    assert delivery.permanent(exc) is is_permanent


def test_backoff_doubles_from_the_base_and_is_capped(app):
    app.config["FUNDWATCH_OUTBOX_BACKOFF_SECONDS"] = 30
    app.config["FUNDWATCH_OUTBOX_BACKOFF_MAX_SECONDS"] = 3600
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4, 8, 20)] == [30, 60, 120, 240, 3600, 3600]


@pytest.mark.parametrize("url, expected", [
    ("smtp://mail.example.cn", ("mail.example.cn", 25, "plain", None, None)),
    ("smtp://127.0.0.1:1025", ("127.0.0.1", 1025, "plain", None, None)),
    ("smtp+starttls://fw%40czj:p%3Ass@mail.example.cn", ("mail.example.cn", 587, "starttls", "fw@czj", "p:ss")),
    ("smtps://u:p@mail.example.cn:2465", ("mail.example.cn", 2465, "ssl", "u", "p")),
])
def test_smtp_url_forms(url, expected):
    s = parse_smtp_url(url)
    assert (s.host, s.port, s.security, s.username, s.password) == expected


def test_an_unknown_smtp_scheme_is_refused():
    with pytest.raises(ValueError, match="scheme"):
        parse_smtp_url("http://mail.example.cn")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtp_login_with_the_credentials_in_the_url(app, demo):
    """Plain AUTH on the loopback test server; production URLs use smtp+starttls or smtps."""
    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    box = Mailbox(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    box.start()
    try:
        app.config["SMTP_URL"] = f"smtp://fw%40czj:s3cret@127.0.0.1:{box.port}"
        queue(demo)
        assert deliver_pending(now=NOW).failed == 0
    finally:
        box.stop()
    assert seen == [(b"fw@czj", b"s3cret")] and len(box.messages) == 1


@pytest.fixture
def postgres_only(backend):
    if backend != "postgresql":
        pytest.skip("row locks with SKIP LOCKED need PostgreSQL")


@pytest.mark.postgres_only
def test_two_delivery_workers_deliver_each_message_exactly_once(app, demo, smtp, postgres_only):
    queue(demo, 40)
    smtp.delay = 0.02  # keep both workers busy at the same time
    start = threading.Barrier(2)
    reports, errors = [], []

    def worker():
        try:
            with app.app_context():
                start.wait()
                reports.append(deliver_pending(now=NOW, batch_size=5))
                db.session.remove()
        except Exception as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert smtp.outbox_ids() == [r.id for r in outbox("email")]
    assert inbox_count() == 40
    assert sorted(r.sent for r in reports)[0] > 0 and sum(r.sent for r in reports) == 80


def test_a_dead_letter_retried_by_finance_is_delivered_once(app, demo, smtp):
    from notifications.inbox import retry_dead
    from workflow.parties import Actor

    app.config["FUNDWATCH_OUTBOX_MAX_ATTEMPTS"] = 2
    queue(demo)
    smtp.refuse = REFUSE
    deliver_pending(now=NOW)
    deliver_pending(now=NOW + dt.timedelta(hours=1))
    row = outbox("email")[0]
    assert row.status == "dead"
    smtp.refuse = None
    retry_dead(Actor.of(demo.users["city_finance"]), row.id, now=NOW + dt.timedelta(hours=2))
    db.session.commit()
    deliver_pending(now=NOW + dt.timedelta(hours=2))
    deliver_pending(now=NOW + dt.timedelta(hours=3))
    assert smtp.outbox_ids() == [row.id] and outbox("email")[0].status == "sent"


def test_operators_deliver_once_from_the_command_line(demo, smtp, runner):
    queue(demo, 2)
    result = runner.invoke(args=["outbox", "deliver", "--now", "2026-11-23T09:00+08:00"])
    assert result.exit_code == 0, result.output
    assert "sent 4, failed 0, dead 0" in result.output and len(smtp.messages) == 2
    status = runner.invoke(args=["outbox", "status"])
    assert "email  sent     2" in status.output and "inbox  sent     2" in status.output


def test_the_command_refuses_a_time_without_offset(demo, runner):
    result = runner.invoke(args=["outbox", "deliver", "--now", "2026-11-23T09:00"])
    assert result.exit_code != 0 and "offset" in result.output


def test_smtp_switched_off_in_the_app_config_wins_over_the_environment(demo, monkeypatch):
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:9")
    queue(demo)
    assert deliver_pending(now=NOW).failed == 0
    assert [r.status for r in outbox("email")] == ["pending"]


# --- issue 15: delivery keeps up with the actions ------------------------------------------

def test_issue15_one_call_delivers_every_due_row_batch_after_batch_with_no_cap(demo):
    """No fixed number of rows per call: 30 reminders (30 inbox rows, 30 e-mail rows waiting
    for SMTP) in batches of 4 all reach the inbox in one call."""
    queue(demo, 30)
    report = deliver_pending(now=NOW, batch_size=4)
    assert (report.sent, report.interrupted) == (30, False)
    assert inbox_count() == 30 and {r.status for r in outbox("inbox")} == {"sent"}


def test_issue15_rows_written_while_a_call_runs_are_delivered_by_the_same_call(demo, monkeypatch):
    queue(demo, 2)
    real = delivery._claim
    written = []

    def and_meanwhile_an_action(*args):
        rows = real(*args)
        if not written:  # another transaction commits a new row while the first batch is in hand
            written.append(True)
            with db.engine.connect() as other:
                other.execute(sa.insert(OutboxMessage), [dict(
                    key="late", template="deadline_reminder", channel="inbox", recipient_user_id=demo.users["unit"].id,
                    recipient_org_id=demo.users["unit"].org_id, subject="s", body="b", link="/", status="pending",
                    attempts=0, next_attempt_at=NOW, created_at=NOW)])
                other.commit()
        return rows

    monkeypatch.setattr(delivery, "_claim", and_meanwhile_an_action)
    assert deliver_pending(now=NOW, batch_size=1).sent == 3 and inbox_count() == 3


def test_issue15_each_batch_is_its_own_transaction_so_a_crash_keeps_the_batches_before(demo, smtp, monkeypatch):
    queue(demo, 3)  # 3 inbox rows and 3 e-mail rows, in id order: inbox, e-mail, inbox, ...
    real_build = delivery.build_email
    calls = []

    def crash_on_third(row, sender, now):
        calls.append(row.id)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return real_build(row, sender, now)

    monkeypatch.setattr(delivery, "build_email", crash_on_third)
    with pytest.raises(RuntimeError):
        deliver_pending(now=NOW, batch_size=2)
    statuses = [r.status for r in outbox()]
    assert statuses == ["sent", "sent", "sent", "sent", "pending", "pending"] and inbox_count() == 2


def test_issue15_keep_going_stops_the_call_after_the_batch_in_hand(demo):
    queue(demo, 10)
    asked = []
    report = deliver_pending(now=NOW, batch_size=3, keep_going=lambda: asked.append(1) or len(asked) < 2)
    assert (report.sent, report.interrupted) == (6, True) and inbox_count() == 6
    assert deliver_pending(now=NOW).sent == 4  # the rest wait for the next call


def test_issue15_a_report_is_one_line_however_many_rows_failed(demo, smtp):
    queue(demo, 3)
    smtp.stop()
    report = deliver_pending(now=NOW)
    assert str(report).startswith("3 sent, 3 failed, 0 dead (the first error: ")
    assert "\n" not in str(report)


def test_issue15_on_sqlite_the_email_goes_out_before_the_batch_takes_the_write_lock(demo, smtp, backend, monkeypatch):
    """SQLite has one writer: a batch waiting on an SMTP server must not hold it."""
    if backend != "sqlite":
        pytest.skip("SQLite's write lock")
    queue(demo, 2)
    real_send = delivery.Mailer.send
    writing = []

    def send(self, msg, sender, recipient):
        writing.append(db.session.connection().connection.driver_connection.in_transaction)
        return real_send(self, msg, sender, recipient)

    monkeypatch.setattr(delivery.Mailer, "send", send)
    assert deliver_pending(now=NOW).sent == 4
    assert writing == [False, False]

"""The scheduled deadline checks (issue 6), with controlled time: reminders before a
deadline (Art. 21), escalation by the system once it has passed (Art. 21(三)-(四)), the
overdue mark and finance's proposal where escalation is not automatic, paused deadlines
under appeal (Art. 24), catch-up after downtime, and the daily digest."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from workflow import scheduling
from workflow.case_records import Case, CaseEvent
from workflow.cases import apply_action, open_case
from workflow.db import db
from workflow.outbox import OutboxMessage
from workflow.parties import Actor
from workflow.scheduling import DeadlineEffect, OverdueDigest, daily_digest, digest_due, run_deadline_checks

SH = ZoneInfo("Asia/Shanghai")
OPENED = dt.datetime(2026, 11, 2, 10, 0, tzinfo=SH)  # Monday
# 5 working days (the warning rung's default) after Mon 2 Nov: 3, 4, 5, 6, 9 Nov.
DEADLINE = dt.datetime(2026, 11, 9, 23, 59, 59, tzinfo=SH)

RUNG_FIELDS = {
    "warning": {},
    "decision": {"measures": ["return_funds", "adjust_accounts"]},
    "order": {"grounds": "not_corrected_in_time"},
}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SH)


def open_unit_case(demo, rung="warning", when=OPENED, unit="unit", **fields) -> int:
    finance = Actor.of(demo.users["city_finance"])
    case = open_case(finance, machine="unit_case", subject=demo.users[unit].org, rung=rung,
                     fields={"summary": "公务接待费以现金支付且超过限额", **RUNG_FIELDS[rung], **fields}, now=when)
    db.session.commit()
    return case.id


def case(case_id: int) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case_id)


def effects(case_id: int | None = None) -> list[tuple[int, str]]:
    stmt = sa.select(DeadlineEffect.case_id, DeadlineEffect.kind).order_by(DeadlineEffect.id)
    if case_id is not None:
        stmt = stmt.where(DeadlineEffect.case_id == case_id)
    return [tuple(r) for r in db.session.execute(stmt)]


def messages(template: str, org_id: int | None = None, channel: str = "inbox") -> list[OutboxMessage]:
    stmt = sa.select(OutboxMessage).where(OutboxMessage.template == template, OutboxMessage.channel == channel)
    if org_id is not None:
        stmt = stmt.where(OutboxMessage.recipient_org_id == org_id)
    return list(db.session.execute(stmt.order_by(OutboxMessage.id)).scalars())


def events(case_id: int, trigger: str) -> list[CaseEvent]:
    return list(db.session.execute(sa.select(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.trigger == trigger).order_by(CaseEvent.seq)).scalars())


# --- reminders ---------------------------------------------------------------------------

def test_art21_reminder_two_working_days_before_the_deadline_is_sent_once_even_when_run_twice(demo):
    case_id = open_unit_case(demo)
    assert case(case_id).deadline == DEADLINE
    unit_id = demo.users["unit"].org_id

    # Offset 2 is 09:00 on Thu 5 Nov (Fri 6 and Mon 9 are the last two working days).
    assert run_deadline_checks(at("2026-11-05T08:59")).reminded == []
    first = run_deadline_checks(at("2026-11-05T09:00"))
    second = run_deadline_checks(at("2026-11-05T09:01"))

    assert first.reminded == [case_id] and second.reminded == []
    assert effects(case_id) == [(case_id, "remind_2")]
    [message] = messages("deadline_reminder", unit_id)
    assert "还有2个工作日到期" in message.subject and message.case_id == case_id


def test_art21_reminder_on_the_last_day_follows_the_earlier_one(demo):
    case_id = open_unit_case(demo)
    run_deadline_checks(at("2026-11-05T10:00"))
    run_deadline_checks(at("2026-11-09T09:30"))
    run_deadline_checks(at("2026-11-09T18:00"))

    assert effects(case_id) == [(case_id, "remind_2"), (case_id, "remind_0")]
    subjects = [m.subject for m in messages("deadline_reminder", demo.users["unit"].org_id)]
    assert len(subjects) == 2 and "今日到期" in subjects[1]


def test_art21_after_downtime_only_the_most_urgent_reminder_is_sent_not_a_stale_one(demo):
    case_id = open_unit_case(demo)
    result = run_deadline_checks(at("2026-11-09T12:00"))  # the scheduler was down since the 4th

    assert result.reminded == [case_id]
    assert effects(case_id) == [(case_id, "remind_0")]
    assert len(messages("deadline_reminder")) == 1


def test_art21_the_reminder_goes_to_the_unit_of_a_unit_case_and_no_one_else(demo):
    case_id = open_unit_case(demo)
    run_deadline_checks(at("2026-11-05T09:30"))

    reminded_orgs = {m.recipient_org_id for m in messages("deadline_reminder")}
    assert reminded_orgs == {demo.users["unit"].org_id}
    assert case(case_id).state == "warning"


def test_art22_the_reminder_of_a_bank_case_goes_to_the_bank(demo):
    finance = Actor.of(demo.users["city_finance"])
    bank_case = open_case(finance, machine="bank_case", subject=demo.users["bank"].org, rung="transmission_fix",
                          fields={"summary": "监控数据未及时传输"}, now=OPENED)
    db.session.commit()
    run_deadline_checks(at("2026-11-05T09:30"))  # bank_rectify: 5 working days, like the warning

    assert {m.recipient_org_id for m in messages("deadline_reminder")} == {demo.users["bank"].org_id}
    assert effects(bank_case.id) == [(bank_case.id, "remind_2")]


# --- escalation ----------------------------------------------------------------------------

def test_art21_3_deadline_passed_escalates_exactly_one_rung_by_the_system_with_its_history(demo):
    case_id = open_unit_case(demo)
    assert run_deadline_checks(DEADLINE).escalated == []  # the last second is still in time

    first = run_deadline_checks(at("2026-11-10T00:00"))
    second = run_deadline_checks(at("2026-11-10T00:01"))

    assert first.escalated == [case_id] and second.escalated == []
    escalated = case(case_id)
    assert (escalated.state, escalated.rung) == ("order", "order")
    [event] = events(case_id, "escalate")
    assert (event.party_kind, event.actor_user_id, event.from_state, event.to_state) == \
        ("system", None, "warning", "order")
    assert escalated.deadline > at("2026-11-10T00:00")  # the order runs its own period
    assert (case_id, "escalated") in effects(case_id)
    assert len(messages("case_escalated", demo.users["unit"].org_id)) == 1


def test_art21_4_order_overdue_is_marked_and_finance_told_the_proposed_suspension_once(demo):
    """Suspending funds is discretionary (可以采取): no automatic escalation by default."""
    case_id = open_unit_case(demo, rung="order")
    deadline = case(case_id).deadline
    finance_id = demo.users["city_finance"].org_id

    first = run_deadline_checks(deadline + dt.timedelta(seconds=1))
    second = run_deadline_checks(deadline + dt.timedelta(hours=5))

    assert first.overdue == [case_id] and second.overdue == [] and first.escalated == []
    assert case(case_id).state == "order" and events(case_id, "escalate") == []
    assert (case_id, "overdue") in effects(case_id)
    [message] = messages("case_overdue", finance_id)
    assert "暂停拨付资金" in message.body and "第二十一条（四）" in message.body


def test_auto_escalation_off_for_a_rung_tells_finance_instead(app, demo):
    """Art. 21(三): with automatic escalation off, finance is proposed the written order."""
    app.config["FUNDWATCH_AUTO_ESCALATION"] = "unit_case.warning=off"
    case_id = open_unit_case(demo)

    result = run_deadline_checks(at("2026-11-10T09:00"))

    assert result.overdue == [case_id] and result.escalated == []
    assert case(case_id).state == "warning"
    [message] = messages("case_overdue", demo.users["city_finance"].org_id)
    assert "制发书面责令整改意见" in message.body


def test_auto_escalation_on_for_the_order_rung_suspends_funds_by_the_system(app, demo):
    """Art. 21(四), where finance has configured it: the system suspends disbursement."""
    app.config["FUNDWATCH_AUTO_ESCALATION"] = "unit_case.order=on"
    case_id = open_unit_case(demo, rung="order")

    result = run_deadline_checks(case(case_id).deadline + dt.timedelta(minutes=1))

    assert result.escalated == [case_id]
    assert case(case_id).state == "funds_suspended"
    assert events(case_id, "escalate")[0].party_kind == "system"


def test_art22_bank_cases_are_never_escalated_automatically_finance_gets_the_proposal(demo):
    finance = Actor.of(demo.users["city_finance"])
    bank_case = open_case(finance, machine="bank_case", subject=demo.users["bank"].org, rung="refund_or_redo",
                          fields={"summary": "违规支付", "measures": ["refund"]}, now=OPENED)
    db.session.commit()

    result = run_deadline_checks(at("2026-11-12T09:00"))

    assert result.overdue == [bank_case.id]
    assert case(bank_case.id).state == "refund_or_redo"
    [message] = messages("case_overdue", demo.users["city_finance"].org_id)
    assert "通报批评" in message.body


def test_a_refused_escalation_leaves_nothing_half_done_and_tells_finance_why(app, demo):
    """Closing accounts needs open accounts (the machine's guard): with none left, the
    automatic step is refused, the case stays, and finance is told why."""
    from workflow.accounts import BankAccount

    app.config["FUNDWATCH_AUTO_ESCALATION"] = "unit_case.order=on,unit_case.funds_suspended=on"
    case_id = open_unit_case(demo, rung="order")
    run_deadline_checks(case(case_id).deadline + dt.timedelta(minutes=1))
    assert case(case_id).state == "funds_suspended"
    db.session.execute(sa.update(BankAccount).where(BankAccount.unit_id == demo.users["unit"].org_id)
                       .values(status="closed"))
    db.session.commit()
    version = case(case_id).version

    result = run_deadline_checks(case(case_id).deadline + dt.timedelta(minutes=1))

    assert result.overdue == [case_id] and result.escalated == []
    assert case(case_id).state == "funds_suspended" and case(case_id).version == version
    [message] = messages("case_overdue")
    assert "自动升级未执行" in message.body


def test_nothing_fires_on_a_holiday_shifted_day_that_is_not_yet_due(demo):
    """Opened Wed 30 Sep 2026 with 5 working days: 1-7 Oct is the National Day holiday and
    Sat 10 Oct a swapped working day (调休), so the days are 8, 9, 10, 12, 13 Oct. Counting
    weekdays only would have made it 7 Oct."""
    case_id = open_unit_case(demo, when=at("2026-09-30T15:00"), deadline_days=5)
    assert case(case_id).deadline == at("2026-10-13T23:59:59")

    for moment in ("2026-10-07T12:00", "2026-10-08T09:30", "2026-10-09T18:00", "2026-10-10T09:30",
                   "2026-10-11T12:00", "2026-10-13T23:59:59"):
        result = run_deadline_checks(at(moment))
        assert result.escalated == [] and result.overdue == [], moment
    assert case(case_id).state == "warning"
    # The "2 working days before" reminder falls on the swapped Saturday, 10 Oct.
    assert [(e.kind, e.created_at) for e in _effect_rows(case_id)] == \
        [("remind_2", at("2026-10-10T09:30")), ("remind_0", at("2026-10-13T23:59:59"))]

    assert run_deadline_checks(at("2026-10-14T00:00")).escalated == [case_id]


def _effect_rows(case_id):
    return list(db.session.execute(sa.select(DeadlineEffect).where(DeadlineEffect.case_id == case_id)
                                   .order_by(DeadlineEffect.id)).scalars())


def test_catch_up_after_a_gap_handles_what_fell_due_in_between_once(demo):
    """Art. 21(三): a check at T handles everything due up to T — missed runs are caught up,
    one rung each, not dropped and not repeated."""
    first = open_unit_case(demo)  # due 9 Nov
    second = open_unit_case(demo, when=at("2026-11-03T10:00"), unit="other_unit")  # due 10 Nov
    later = open_unit_case(demo, when=at("2026-11-06T10:00"))  # due 13 Nov: not yet

    result = run_deadline_checks(at("2026-11-12T09:00"))  # nothing ran for three days
    again = run_deadline_checks(at("2026-11-12T09:01"))

    assert sorted(result.escalated) == sorted([first, second]) and again.escalated == []
    assert [case(i).state for i in (first, second, later)] == ["order", "order", "warning"]
    assert [len(events(i, "escalate")) for i in (first, second, later)] == [1, 1, 0]


def test_art24_a_deadline_paused_by_an_appeal_does_not_escalate_and_resumes_with_its_time(demo):
    case_id = open_unit_case(demo, rung="decision")  # 10 working days: due 16 Nov
    unit = Actor.of(demo.users["unit"])
    apply_action(unit, case_id, "appeal", {"route": "reconsideration", "authority": "克州人民政府"},
                 now=at("2026-11-10T10:00"))  # 4 working days left (11, 12, 13, 16)
    db.session.commit()

    paused = run_deadline_checks(at("2026-11-30T10:00"))
    assert paused.escalated == paused.overdue == paused.reminded == []
    assert case(case_id).state == "appealed" and effects(case_id) == []

    finance = Actor.of(demo.users["city_finance"])
    apply_action(finance, case_id, "uphold_after_appeal", {}, now=at("2026-12-01T10:00"))
    db.session.commit()
    assert case(case_id).deadline == at("2026-12-07T23:59:59")  # 2, 3, 4, 7 Dec
    assert run_deadline_checks(at("2026-12-07T23:00")).escalated == []
    assert run_deadline_checks(at("2026-12-08T00:00")).escalated == [case_id]


def test_art24_a_case_closed_as_revoked_is_neither_reminded_nor_escalated(demo):
    case_id = open_unit_case(demo, rung="decision")
    apply_action(Actor.of(demo.users["unit"]), case_id, "appeal",
                 {"route": "litigation", "authority": "阿图什市人民法院"}, now=at("2026-11-03T10:00"))
    apply_action(Actor.of(demo.users["city_finance"]), case_id, "revoke_after_appeal", {},
                 now=at("2026-11-04T10:00"))
    db.session.commit()

    for moment in ("2026-11-12T09:30", "2026-11-16T09:30", "2026-11-30T10:00"):
        result = run_deadline_checks(at(moment))
        assert result.reminded == result.escalated == result.overdue == [], moment
    assert case(case_id).state == "closed_revoked" and effects(case_id) == []


def test_a_failing_case_is_left_for_the_next_run_and_the_others_go_on(demo, monkeypatch):
    """Art. 21(三): one case's failure (rolled back, logged) does not hold back the others'
    escalation, and the next run retries it."""
    first = open_unit_case(demo)
    second = open_unit_case(demo, unit="other_unit")
    real = scheduling._escalate

    def flaky(case_id, now):
        if case_id == first:
            raise RuntimeError("database hiccup")
        return real(case_id, now)

    monkeypatch.setattr(scheduling, "_escalate", flaky)
    result = run_deadline_checks(at("2026-11-10T09:00"))
    assert result.failed == [first] and result.escalated == [second]
    assert effects(first) == []

    monkeypatch.setattr(scheduling, "_escalate", real)
    assert run_deadline_checks(at("2026-11-10T09:01")).escalated == [first]


# --- the daily digest ------------------------------------------------------------------------

def test_daily_digest_once_per_day_to_each_finance_department_over_its_jurisdiction(demo):
    """Art. 21, 25: finance departments supervise the cases of their region (the province
    all, the city its units, the county none of these)."""
    open_unit_case(demo)
    open_unit_case(demo, unit="other_unit")
    run_deadline_checks(at("2026-11-10T00:30"))  # both escalated to order (due 1 Dec)
    order_case = open_unit_case(demo, rung="order", when=at("2026-11-02T10:00"))  # due 23 Nov

    morning = at("2026-11-24T08:30")
    first = daily_digest(morning)
    second = daily_digest(at("2026-11-24T17:00"))
    next_day = daily_digest(at("2026-11-25T08:30"))

    province, city = demo.users["finance"].org_id, demo.users["city_finance"].org_id
    county = demo.users["county_finance"].org_id
    assert first.sent == {province: 1, city: 1} and not second.sent and next_day.sent == {province: 1, city: 1}
    assert messages("overdue_digest", county) == []
    digests = messages("overdue_digest", city)
    assert len(digests) == 2 and f"案件{order_case}" in digests[0].body
    assert db.session.execute(sa.select(sa.func.count()).select_from(OverdueDigest)).scalar() == 4


def test_no_digest_when_nothing_is_overdue(demo):
    """Art. 21: the digest lists overdue cases; with none, nothing is sent."""
    open_unit_case(demo)
    assert not daily_digest(at("2026-11-05T08:30")).sent
    assert messages("overdue_digest") == []


def test_the_digest_is_due_at_its_local_time_on_working_days(app):
    """Issue 6: the digest at the configured Asia/Shanghai time, on working days (调休 included)."""
    assert not digest_due(at("2026-11-24T08:29"))
    assert digest_due(at("2026-11-24T08:30"))
    assert not digest_due(at("2026-11-28T09:00"))  # Saturday
    assert digest_due(at("2026-10-10T09:00"))  # a swapped working day
    app.config["FUNDWATCH_DIGEST_TIME"] = "17:45"
    assert not digest_due(at("2026-11-24T17:44")) and digest_due(at("2026-11-24T17:45"))


# --- configuration ---------------------------------------------------------------------------

def test_auto_escalation_defaults_follow_art21_mandatory_and_discretionary_steps(app):
    """Art. 21(三) says finance issues the order (制发): automatic; 21(四) says it may (可以)
    suspend funds or close accounts: finance decides."""
    auto = scheduling.auto_escalation()
    assert auto[("unit_case", "warning")] and auto[("unit_case", "decision")]
    assert not auto[("unit_case", "order")] and not auto[("unit_case", "funds_suspended")]


@pytest.mark.parametrize("value", ["unit_case.closed_rectified=on", "bank_case.refund_or_redo=on",
                                   "unit_case.warning=maybe", "warning"])
def test_a_misconfigured_auto_escalation_is_refused(app, value):
    """Art. 22 has no automatic step, closed cases none: a typo must not pass silently."""
    app.config["FUNDWATCH_AUTO_ESCALATION"] = value
    with pytest.raises(ValueError):
        scheduling.auto_escalation()


def test_a_naive_time_is_refused(app):
    """Deadlines are instants in Asia/Shanghai (Art. 21): a time without offset is ambiguous."""
    with pytest.raises(ValueError):
        run_deadline_checks(dt.datetime(2026, 11, 10, 9, 0))

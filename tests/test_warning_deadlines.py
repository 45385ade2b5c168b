"""Deadlines at the warning stage (issue 10): what a verification step asks is due on a local
working day, the party asked is reminded before it, and the finance department that issued the
step is told once when it passes unanswered (Art. 11(二)2 documents request, 11(二)3 interview,
11(二)4 focus letter, 11(二)5 joint investigation, confidential: the unit never learns of it).

The steps are recorded through the API; the scheduler's checks run at chosen moments
(``run_deadline_checks(now)``), in Asia/Shanghai."""
from __future__ import annotations

import datetime as dt
import threading
import time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from verification_support import OVERSIGHT, held_payment, outbox

from workflow import scheduling
from workflow.db import db
from workflow.journal import JournalEntry
from workflow.outbox import OutboxMessage
from workflow.scheduling import run_deadline_checks
from workflow.step_requests import StepRequest, StepRequestEffect

SH = ZoneInfo("Asia/Shanghai")
DUE = "2026-12-04"  # a Friday: due 2026-12-04 23:59:59+08:00
TWO_DAYS_BEFORE = dt.datetime(2026, 12, 2, 9, 0, tzinfo=SH)  # offset 2 at FUNDWATCH_REMINDER_HOUR
ON_THE_DAY = dt.datetime(2026, 12, 4, 9, 0, tzinfo=SH)  # offset 0
LAST_SECOND = dt.datetime(2026, 12, 4, 23, 59, 59, tzinfo=SH)
PASSED = dt.datetime(2026, 12, 5, 0, 0, 1, tzinfo=SH)


def steps_url(warning_id: int) -> str:
    return f"/api/v1/warnings/{warning_id}/steps"


def answer(party, warning_id: int, **body):
    return party.post(f"/api/v1/warnings/{warning_id}/responses", json={"text": "材料已上传", **body})


def documents_request(finance, due: str = DUE) -> tuple[int, dict]:
    """A held payment's warning and a documents request on it (the unit and the bank asked)."""
    _, warning_id = held_payment(finance)
    response = finance.post(steps_url(warning_id), json={"kind": "documents", "documents": ["会计原始凭证"],
                                                         "due_date": due})
    assert response.status_code == 201, response.get_json()
    return warning_id, response.get_json()


def messages(template: str) -> list[tuple[int, str]]:
    return [(m.recipient_org_id, m.key) for m in outbox(template)]


def told(template: str) -> list[int]:
    return sorted(org_id for org_id, _ in messages(template))


def journal(stream: str) -> list[str]:
    db.session.expire_all()
    return list(db.session.execute(sa.select(JournalEntry.action).where(JournalEntry.stream == stream)
                                   .order_by(JournalEntry.seq)).scalars())


def asked(party, warning_id: int, step_id: int) -> dict:
    detail = party.get(f"/api/v1/warnings/{warning_id}")
    assert detail.status_code == 200
    step = next(s for s in detail.get_json()["steps"] if s["id"] == step_id)
    return step


# --- Art. 11(二)2: reminded before, finance told after --------------------------------------------

def test_art11_2_2_the_unit_and_the_bank_are_reminded_before_the_due_date_and_finance_told_once_after(
        as_city_finance, as_unit, as_bank):
    warning_id, step = documents_request(as_city_finance)
    assert step["due_date"] == DUE
    assert dt.datetime.fromisoformat(step["due_at"]) == LAST_SECOND
    assert sorted(a["org_code"] for a in step["asked"]) == sorted([as_unit.org.code, as_bank.org.code])

    assert not run_deadline_checks(TWO_DAYS_BEFORE - dt.timedelta(minutes=1))
    first = run_deadline_checks(TWO_DAYS_BEFORE)
    assert len(first.step_reminded) == 2 and first.step_failed == []
    assert told("step_reminder") == sorted([as_unit.org.id, as_bank.org.id])
    [body] = {m.body for m in outbox("step_reminder") if m.recipient_org_id == as_unit.org.id}
    assert "第十一条（二）2" in body and "还有2个工作日" in body and "2026年12月4日 23:59" in body
    assert not run_deadline_checks(TWO_DAYS_BEFORE + dt.timedelta(hours=1))  # each reminder once

    assert len(run_deadline_checks(ON_THE_DAY).step_reminded) == 2  # and on the day
    assert len(outbox("step_reminder")) == 4
    assert not run_deadline_checks(LAST_SECOND)  # in time up to the last second of the day
    assert outbox("step_overdue") == []

    late = run_deadline_checks(PASSED)
    assert len(late.step_overdue) == 2
    assert told("step_overdue") == [as_city_finance.org.id] * 2  # the department that issued the step
    [body] = {m.body for m in outbox("step_overdue") if as_bank.org.name in m.subject}
    assert "调阅材料" in body and "第十一条（二）2" in body and "已过" in body
    assert not run_deadline_checks(PASSED + dt.timedelta(days=3))  # told once, no longer chased
    assert len(outbox("step_overdue")) == 2

    shown = asked(as_unit, warning_id, step["id"])["asked"]
    assert all(a["answered_at"] is None and a["reminded_at"] and a["overdue_at"] for a in shown)
    assert dt.datetime.fromisoformat(shown[0]["reminded_at"]) == ON_THE_DAY
    assert dt.datetime.fromisoformat(shown[0]["overdue_at"]) == PASSED
    assert journal(f"warning:{warning_id}")[-6:] == ["step_reminded"] * 4 + ["step_overdue"] * 2


def test_art11_2_2_after_downtime_only_the_most_urgent_reminder_goes_out(as_city_finance):
    documents_request(as_city_finance)
    result = run_deadline_checks(ON_THE_DAY + dt.timedelta(hours=1))
    assert len(result.step_reminded) == 2
    assert db.session.execute(sa.select(StepRequestEffect.kind)).scalars().all() == ["remind_0", "remind_0"]
    assert all("今日到期" in m.subject for m in outbox("step_reminder"))


# --- answered steps are not chased ------------------------------------------------------------------

def test_art27_3_a_unit_that_answered_is_not_chased_and_the_bank_that_did_not_is(as_city_finance, as_unit, as_bank):
    warning_id, step = documents_request(as_city_finance)
    assert answer(as_unit, warning_id).status_code == 201

    run_deadline_checks(TWO_DAYS_BEFORE)
    assert told("step_reminder") == [as_bank.org.id]
    run_deadline_checks(PASSED)
    [(finance, key)] = messages("step_overdue")
    assert finance == as_city_finance.org.id and f"asked={as_bank.org.id}" in key

    by_org = {a["org_code"]: a for a in asked(as_city_finance, warning_id, step["id"])["asked"]}
    unit, bank = by_org[as_unit.org.code], by_org[as_bank.org.code]
    assert unit["answered_at"] and unit["response_id"] and unit["reminded_at"] is None and unit["overdue_at"] is None
    assert bank["answered_at"] is None and bank["reminded_at"] and bank["overdue_at"]


def test_art28_2_an_answer_names_the_step_it_answers_and_only_a_step_that_asked_the_caller(
        as_city_finance, as_unit, as_bank, as_competent):
    warning_id, documents = documents_request(as_city_finance)
    interview = as_city_finance.post(steps_url(warning_id), json={
        "kind": "interview", "interview_at": "2026-12-03T10:00:00+08:00", "room": "财政局301会议室"}).get_json()
    other_warning, other_step = documents_request(as_city_finance)

    refused = [answer(as_bank, warning_id, step_id=interview["id"]),  # the interview asked the unit alone
               answer(as_bank, warning_id, step_id=other_step["id"]),  # another warning's step
               answer(as_bank, warning_id, step_id=10**6),  # no such step
               answer(as_competent, warning_id, step_id=documents["id"])]  # the documents request did not ask it
    assert [r.status_code for r in refused] == [422] * 4
    assert len({str(r.get_json()["errors"]["step_id"]) for r in refused}) == 1  # worded alike: nothing to learn

    named = answer(as_bank, warning_id, step_id=documents["id"])
    assert named.status_code == 201 and named.get_json()["step_id"] == documents["id"]
    # The unit answers the interview by name: its documents request stays open and is chased.
    assert answer(as_unit, warning_id, step_id=interview["id"]).status_code == 201
    by_org = {a["org_code"]: a for a in asked(as_unit, warning_id, documents["id"])["asked"]}
    assert by_org[as_bank.org.code]["response_id"] == named.get_json()["id"]
    assert by_org[as_unit.org.code]["answered_at"] is None
    assert asked(as_unit, warning_id, interview["id"])["asked"][0]["answered_at"]

    run_deadline_checks(PASSED)
    overdue_keys = [key for _, key in messages("step_overdue")]
    assert any(f"warning:{warning_id}:step:{documents['id']}:asked={as_unit.org.id}" in k for k in overdue_keys)
    assert not any(f"warning:{warning_id}:step:{documents['id']}:asked={as_bank.org.id}" in k for k in overdue_keys)
    assert not any(f"step:{interview['id']}:" in k for k in overdue_keys)


def test_art11_2_an_answer_given_before_the_step_does_not_answer_it(as_city_finance, as_unit):
    _, warning_id = held_payment(as_city_finance)
    assert answer(as_unit, warning_id).status_code == 201
    step = as_city_finance.post(steps_url(warning_id), json={"kind": "focus_letter", "reply_by": DUE}).get_json()
    run_deadline_checks(PASSED)
    assert sorted(a["org_kind"] for a in asked(as_unit, warning_id, step["id"])["asked"]) == ["competent", "unit"]
    assert told("step_overdue") == [as_city_finance.org.id] * 2  # Art. 11(二)4: the unit and its department


# --- decided warnings are never chased ---------------------------------------------------------------

def test_art11_3_a_confirmed_or_dismissed_warning_is_never_chased(as_city_finance):
    confirmed, _ = documents_request(as_city_finance)
    dismissed, _ = documents_request(as_city_finance)
    assert as_city_finance.post(f"/api/v1/warnings/{confirmed}/confirm", json={"rung": "warning"}).status_code == 201
    assert as_city_finance.post(f"/api/v1/warnings/{dismissed}/dismiss", json={"reason": "已核实无误"}).status_code == 200

    for moment in (TWO_DAYS_BEFORE, ON_THE_DAY, PASSED):
        result = run_deadline_checks(moment)
        assert result.step_reminded == result.step_overdue == result.step_failed == []
    assert outbox("step_reminder") == outbox("step_overdue") == []
    db.session.expire_all()
    assert db.session.execute(sa.select(StepRequest.chase_at)).scalars().all() == [None] * 4


# --- Art. 11(二)5: confidential ----------------------------------------------------------------------

def test_art11_2_5_a_joint_investigation_reminds_the_body_and_tells_finance_never_the_unit(
        as_city_finance, as_unit, as_competent, as_bank, as_oversight):
    _, warning_id = held_payment(as_city_finance)
    step = as_city_finance.post(steps_url(warning_id), json={
        "kind": "joint_investigation", "oversight_code": OVERSIGHT, "reply_by": DUE}).get_json()
    assert [a["org_code"] for a in step["asked"]] == [OVERSIGHT]

    run_deadline_checks(TWO_DAYS_BEFORE)
    run_deadline_checks(PASSED)
    assert told("step_reminder") == [as_oversight.org.id]
    assert told("step_overdue") == [as_city_finance.org.id]
    [reminder] = outbox("step_reminder")
    assert "部门协查" in reminder.subject and "反馈协查意见" in reminder.body
    unit_side = {as_unit.org.id, as_competent.org.id, as_bank.org.id}
    db.session.expire_all()
    assert db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.template.in_(["step_reminder", "step_overdue"]),
        OutboxMessage.recipient_org_id.in_(unit_side))).scalar_one() == 0
    # Journaled in the investigation's own chain: the warning's chain, which the unit reads, is untouched.
    assert journal(f"joint_investigation:{warning_id}") == ["joint_investigation_requested", "step_reminded",
                                                           "step_overdue"]
    assert journal(f"warning:{warning_id}") == []
    for party in (as_unit, as_competent, as_bank):
        seen = party.get(f"/api/v1/warnings/{warning_id}")
        assert seen.get_json()["steps"] == [] and seen.get_json()["version"] == 1
        assert party.get(f"/api/v1/warnings/{warning_id}/events").get_json()["items"] == []
        refused = answer(party, warning_id, step_id=step["id"])
        assert refused.status_code == 422 and "step_id" in refused.get_json()["errors"]
    body_view = asked(as_oversight, warning_id, step["id"])["asked"][0]
    assert body_view["reminded_at"] and body_view["overdue_at"]


def test_art11_2_5_the_bodys_findings_answer_the_joint_investigation(as_city_finance, as_oversight):
    _, warning_id = held_payment(as_city_finance)
    step = as_city_finance.post(steps_url(warning_id), json={
        "kind": "joint_investigation", "oversight_code": OVERSIGHT, "reply_by": DUE}).get_json()
    assert answer(as_oversight, warning_id, text="协查意见：情况属实").status_code == 201
    assert not run_deadline_checks(PASSED)
    assert asked(as_city_finance, warning_id, step["id"])["asked"][0]["answered_at"]


# --- Art. 11(二)3: the interview -----------------------------------------------------------------------

def test_art11_2_3_an_interview_is_due_at_the_end_of_its_day_and_no_reminder_follows_its_start(
        as_city_finance, as_unit):
    _, warning_id = held_payment(as_city_finance)
    step = as_city_finance.post(steps_url(warning_id), json={
        "kind": "interview", "interview_at": "2026-12-04T08:30:00+08:00", "room": "财政局301会议室"}).get_json()
    assert dt.datetime.fromisoformat(step["due_at"]) == LAST_SECOND
    assert [a["org_code"] for a in step["asked"]] == [as_unit.org.code]  # the unit attends

    assert len(run_deadline_checks(TWO_DAYS_BEFORE).step_reminded) == 1
    assert not run_deadline_checks(ON_THE_DAY)  # 9:00 is after the interview began at 8:30
    [reminder] = outbox("step_reminder")
    assert "约谈" in reminder.body and "2026年12月4日 08:30" in reminder.body
    assert run_deadline_checks(PASSED).step_overdue and told("step_overdue") == [as_city_finance.org.id]


# --- working days and the local date --------------------------------------------------------------

def test_art11_2_a_due_date_on_a_day_off_is_due_at_the_end_of_the_next_working_day(as_city_finance):
    _, saturday = documents_request(as_city_finance, due="2026-12-05")
    _, national_day = documents_request(as_city_finance, due="2026-10-03")  # 国庆节: next working day 10-08
    assert (saturday["due_date"], national_day["due_date"]) == ("2026-12-07", "2026-10-08")
    end_of_monday = dt.datetime(2026, 12, 7, 23, 59, 59, tzinfo=SH)
    assert dt.datetime.fromisoformat(saturday["due_at"]) == end_of_monday
    # Offset 2 is two working days before Monday: Thursday the 3rd, not Saturday the 5th.
    assert not run_deadline_checks(dt.datetime(2026, 12, 2, 23, 0, tzinfo=SH)).step_reminded
    assert len(run_deadline_checks(dt.datetime(2026, 12, 3, 9, 0, tzinfo=SH)).step_reminded) == 2
    assert not run_deadline_checks(dt.datetime(2026, 12, 7, 15, 59, 59, tzinfo=dt.timezone.utc)).step_overdue
    # One second after midnight in Shanghai is still the 7th in UTC: due all the same.
    assert len(run_deadline_checks(dt.datetime(2026, 12, 7, 16, 0, 1, tzinfo=dt.timezone.utc)).step_overdue) == 2


# --- exactly once with two schedulers --------------------------------------------------------------------

def test_art11_2_two_schedulers_racing_remind_and_tell_finance_of_each_request_exactly_once(
        app, as_city_finance, backend, monkeypatch):
    warnings = [documents_request(as_city_finance)[0] for _ in range(8)]  # 16 requests: unit and bank each
    real = scheduling.claim_effect

    def slow(*args, **kwargs):  # keep both schedulers inside the same batch at the same time
        time.sleep(0.005)
        return real(*args, **kwargs)

    monkeypatch.setattr(scheduling, "claim_effect", slow)
    for moment in (TWO_DAYS_BEFORE, PASSED):
        start = threading.Barrier(2)
        results, errors = [], []

        def scheduler(moment=moment):
            try:
                with app.app_context():
                    start.wait()
                    results.append(run_deadline_checks(moment))
                    db.session.remove()
            except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
                errors.append(exc)

        threads = [threading.Thread(target=scheduler) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == [] and [r.step_failed for r in results] == [[], []]
        handled = [i for r in results for i in (r.step_reminded if moment == TWO_DAYS_BEFORE else r.step_overdue)]
        assert len(handled) == len(set(handled)) == 16  # each by exactly one of the two

    db.session.expire_all()
    effects = db.session.execute(sa.select(StepRequestEffect.request_id, StepRequestEffect.kind)).all()
    assert len(effects) == len(set(effects)) == 32
    assert len(outbox("step_reminder")) == 16 and len(outbox("step_overdue")) == 16
    keys = db.session.execute(sa.select(OutboxMessage.key, OutboxMessage.recipient_user_id,
                                        OutboxMessage.channel)).all()
    assert len(keys) == len(set(keys))
    for warning_id in warnings:  # each reminder and notice journaled once
        assert journal(f"warning:{warning_id}").count("step_reminded") == 2
        assert journal(f"warning:{warning_id}").count("step_overdue") == 2

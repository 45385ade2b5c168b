"""The transactional outbox: notify() writes in the caller's transaction, once per key,
one row per active user and channel, rendered in Chinese from templates/messages."""
import datetime as dt
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from workflow import message_builders
from workflow.cases import open_case
from workflow.db import db
from workflow.messages import TEMPLATES, TEMPLATES_DIR, TemplateContextError, render
from workflow.outbox import OutboxMessage, notify
from workflow.parties import Actor, User

DEADLINE = dt.datetime(2026, 10, 13, 15, 59, 59, tzinfo=dt.timezone.utc)  # 23:59:59 in Shanghai
SAMPLE = dict(
    subject_name="克州政协机关", unit_name="克州政协机关", rung="书面责令整改", from_rung="处理决定",
    deadline=DEADLINE, trigger="issue_order", state="ordered", finance_name="克州财政局",
    cases=[dict(case_id=3, subject_name="克州政协机关", rung="书面责令整改", deadline=DEADLINE)],
    as_of=DEADLINE, bank_name="中国工商银行克州分行", reason="无预算支付", summary="超预算支付差旅费",
    submission="整改结果", document_kind="rectification_order", document_name="书面责令整改意见",
    issuer_name="克州财政局", document_number="2026年第3号", amount=Decimal("1500.00"),
    accounts=["3009000109200012345"], finding="收款人与合同约定的供应商不一致",
    recipient_kind="unit", recipient_name="克州政协机关", step_title="调阅材料", due_at=DEADLINE,
    asked_name="克州政协机关", receiver_name="克州市场监督管理局", to_receiver=False, voucher_number="ZF2021-000001",
    reply_by=None, payment_status="held",
    items=[dict(voucher_number="ZF2021-000001", level_label="拦截", rule_title="现金支付超限额",
                article="第十三条（二）1⑦", message="现金支付1500元，超过限额1000元")],
    payments=[dict(voucher_number="ZF2021-000001", payee_name="克州迎宾馆", amount=Decimal("1500.00"),
                   findings=[dict(level_label="拦截", rule_title="现金支付超限额", article="第十三条（二）1⑦",
                                  message="现金支付1500元，超过限额1000元")])],
)


def rows(**where):
    stmt = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(OutboxMessage, name) == value)
    return db.session.execute(stmt).scalars().all()


def opened(key="case:1:opened", org_ids=(), case_id=None, **extra):
    notify(key=key, template="case_opened", case_id=case_id, org_ids=org_ids,
           context=dict(subject_name="克州政协机关", rung="书面责令整改", deadline=DEADLINE, **extra))


def test_one_row_per_active_user_of_each_org_and_channel(demo):
    unit = demo.users["unit"].org
    db.session.add_all([User(org=unit, name="第二位", email="second@demo.fundwatch.invalid"),
                        User(org=unit, name="已停用", email="gone@demo.fundwatch.invalid", active=False)])
    db.session.flush()
    opened(org_ids=[unit.id, demo.users["competent"].org_id])
    written = {(r.recipient_user_id, r.channel) for r in rows()}
    active = [u.id for u in db.session.scalars(sa.select(User).where(User.org_id.in_(
        [unit.id, demo.users["competent"].org_id]), User.active.is_(True)))]
    assert written == {(uid, ch) for uid in active for ch in ("inbox", "email")}
    assert len(active) == 3


def test_email_row_only_for_a_user_with_an_address(demo):
    unit = demo.users["unit"].org
    silent = User(org=unit, name="无邮箱", email="")
    db.session.add(silent)
    db.session.flush()
    opened(org_ids=[unit.id])
    assert [r.channel for r in rows(recipient_user_id=silent.id)] == ["inbox"]
    assert rows(recipient_user_id=demo.users["unit"].id, channel="email")[0].address == "unit@demo.fundwatch.invalid"


def test_same_key_twice_adds_nothing(demo):
    unit = demo.users["unit"].org_id
    opened(org_ids=[unit])
    db.session.commit()
    opened(org_ids=[unit, demo.users["competent"].org_id])
    db.session.commit()
    assert len(rows()) == 2


def test_an_org_listed_twice_is_notified_once(demo):
    unit = demo.users["unit"].org_id
    opened(org_ids=[unit, unit])
    assert len(rows()) == 2


def test_outbox_rows_are_written_in_the_callers_transaction_and_roll_back_with_it(demo):
    opened(org_ids=[demo.users["unit"].org_id])
    assert len(rows()) == 2  # visible inside the transaction
    db.session.rollback()
    assert rows() == []


def test_rows_start_pending_and_due_now(demo):
    opened(org_ids=[demo.users["unit"].org_id])
    row = rows()[0]
    assert (row.status, row.attempts, row.case_id, row.template) == ("pending", 0, None, "case_opened")
    assert row.next_attempt_at <= dt.datetime.now(dt.timezone.utc)


def test_message_names_case_rung_deadline_and_link(app, demo):
    app.config["FUNDWATCH_BASE_URL"] = "https://fundwatch.example.cn/"
    case = open_case(Actor.of(demo.users["city_finance"]), machine="unit_case", subject=demo.users["unit"].org,
                     rung="warning", fields={"summary": "差旅费以现金支付1500元（第十三条（二）1）"})
    db.session.flush()
    opened(key="test:opened", org_ids=[demo.users["unit"].org_id], case_id=case.id)
    row = rows(key="test:opened")[0]
    assert row.subject == f"【违规问题处理】克州政协机关：书面责令整改（案件{case.id}）"
    assert "2026年10月13日 23:59（北京时间）" in row.body
    assert row.link == f"https://fundwatch.example.cn/api/v1/cases/{case.id}"
    assert row.link in row.body and row.case_id == case.id


def test_unknown_template_is_refused_before_anything_is_written(demo):
    with pytest.raises(TemplateContextError, match="no_such"):
        notify(key="k", template="no_such", context={}, org_ids=[demo.users["unit"].org_id])
    assert rows() == []


def test_missing_context_key_is_named(demo):
    with pytest.raises(TemplateContextError, match="deadline"):
        notify(key="k", template="deadline_reminder", context=dict(subject_name="x", rung="order"),
               org_ids=[demo.users["unit"].org_id])


def test_every_template_file_is_in_the_table_and_every_name_has_a_file():
    files = {p.stem for p in Path(TEMPLATES_DIR).glob("*.txt") if not p.stem.startswith("_")}
    assert files == set(TEMPLATES)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_each_template_renders_a_chinese_subject_body_and_link(app, name):
    subject, body, link = render(name, SAMPLE, case_id=7)
    assert "\n" not in subject and any("\u4e00" <= ch <= "\u9fff" for ch in subject)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body)
    assert link in body


def test_art20_complaint_message_never_names_the_complainant(app):
    subject, body, _ = render("complaint_received", dict(summary="公务接待超标", complainant="张三"))
    assert "张三" not in subject + body


def test_art21_3_competent_department_copy_names_unit_order_and_deadline(app):
    subject, body, _ = render("rectification_order_copy",
                              dict(unit_name="克州政协机关", deadline=DEADLINE, document_number="2026年第3号"))
    assert "克州政协机关" in subject and "2026年第3号" in subject
    assert "第二十一条第（三）项" in body and "2026年10月13日" in body


def test_reminder_says_how_many_working_days_are_left_and_names_the_rung_as_the_machine_does(app):
    case = SimpleNamespace(id=7, machine="unit_case", rung="warning", subject_id=1,
                           subject=SimpleNamespace(name="克州政协机关"))
    message = message_builders.deadline_reminder(case, key="k", deadline=DEADLINE, days_left=2)
    subject, _, _ = render(message["template"], message["context"], case_id=message["case_id"])
    assert subject == "【期限提醒】克州政协机关：警示纠正还有2个工作日到期"


def test_money_in_a_message_is_exact_and_floats_are_refused(app):
    context = dict(bank_name="工行", unit_name="克州政协机关", reason="无预算")
    _, body, _ = render("bank_refusal", {**context, "amount": Decimal("158000.10")})
    assert "158,000.10元" in body
    with pytest.raises(TypeError):
        render("bank_refusal", {**context, "amount": 158000.1})

"""One builder per message template (workflow.message_builders): each builder's context gives
what its template requires, and every template a machine row names has a builder for its group."""
import datetime as dt
from decimal import Decimal
from types import SimpleNamespace as O

import pytest

from workflow import message_builders as mb
from workflow.machines import MACHINES
from workflow.messages import TEMPLATES, render
from workflow.verification_steps import STEP_KINDS

NOW = dt.datetime(2026, 10, 9, 2, 0, tzinfo=dt.timezone.utc)
DEADLINE = dt.datetime(2026, 10, 13, 15, 59, 59, tzinfo=dt.timezone.utc)
UNIT = O(id=11, code="653000-301001", name="克州政协机关", kind="unit", parent=None)
BANK = O(id=12, name="中国工商银行克州分行", kind="bank")
FINANCE = O(id=13, name="克州财政局", kind="finance")
BODY = O(id=14, name="克州审计局", kind="oversight")
COMPETENT = O(id=15, name="克州政协", kind="competent")
DEPARTMENT = O(id=16, name="克州市场监管局", kind="department")
PAYMENT = O(voucher_no="V-1", amount=Decimal("1500.00"), status="accepted", bank=BANK)
WARNING = O(id=21, unit=UNIT, payment=PAYMENT, article="第十三条（二）1", message="现金支付超限")
STEP = O(id=31, created_at=NOW)
REQUEST = O(org_id=BANK.id, org=BANK, finance_id=FINANCE.id, finance=FINANCE, due_at=DEADLINE, appointment_at=None)
ITEM = {"warning_id": 81, "voucher_number": "V-1", "payee_name": "克州迎宾馆", "amount": Decimal("1500.00"),
        "level": "block", "level_label": "拦截", "rule": "cash_over_limit", "rule_title": "现金支付超限额",
        "article": "第十三条（二）1⑦", "message": "现金支付超限",
        "bank_id": BANK.id}
CASE = O(id=41, machine="unit_case", rung="order", state="order", subject=UNIT, subject_id=UNIT.id,
         finance=FINANCE, finance_id=FINANCE.id, deadline=DEADLINE, summary="超预算支付差旅费")


def _facts():
    row = MACHINES["unit_case"].by_trigger["issue_order"][0]
    ctx = O(case=CASE, machine=MACHINES["unit_case"], row=row, from_state="warning",
            actor=O(name="克州财政局"), payload={"note": "限期整改"}, now=NOW)
    return mb.case_facts(ctx, [O(number="2026年第3号")], O(name="克州政协"))


def _built() -> list[dict]:
    facts = _facts()
    messages = [build(facts, key="k", case_id=CASE.id, recipient=UNIT) for build in mb.CASE_MESSAGES.values()]
    messages += [build(facts, key="k", case_id=CASE.id, bank=BANK, accounts=["3009"])
                 for build in mb.BANK_MESSAGES.values()]
    notice = O(id=52, kind="public_notice", number="2026年第2号", title="关于预算执行动态监控违规问题的通报",
               issuer=FINANCE)
    messages += [build(facts, key="k", case_id=CASE.id, recipient=BODY, document=notice)
                 for build in mb.CIRCULATED_MESSAGES.values()]
    messages += [
        mb.deadline_reminder(CASE, key="k", deadline=DEADLINE, days_left=2),
        mb.case_overdue(CASE, key="k", deadline=DEADLINE, proposal="suspend_funds", note=None),
        mb.overdue_digest(org_id=FINANCE.id, finance_name=FINANCE.name, day=DEADLINE.date(), now=NOW,
                          cases=[{"case_id": CASE.id, "subject_name": UNIT.name, "rung": "书面责令整改",
                                  "deadline": DEADLINE, "proposed_action": None}]),
        mb.document_issued(WARNING, STEP, document=O(id=51, kind="focus_letter", number="2026年第1号"),
                           issuer=FINANCE, addressee=UNIT, org_ids=[UNIT.id]),
        *mb.materials_requested(WARNING, STEP, unit=UNIT, recipients=[UNIT, BANK], documents=["会计凭证"],
                                due_date=DEADLINE.date()),
        mb.joint_investigation(WARNING, STEP, unit=UNIT, body=BODY, matters="核实", deadline=None),
        mb.warning_dismissed(WARNING, finance_name=FINANCE.name, reason="已核实"),
        *mb.warning_transferred(WARNING, O(receiver=DEPARTMENT, details={"reply_by": "2026-10-20"}),
                                document=O(kind="transfer_letter", number="2026年第4号"), issuer=FINANCE),
        mb.transfer_closed(WARNING, finance_name=FINANCE.name, summary="市场监管局已查处"),
        mb.step_reminder(REQUEST, STEP, WARNING, STEP_KINDS["documents"], key="k", days_left=2),
        mb.step_overdue(REQUEST, STEP, WARNING, STEP_KINDS["documents"], key="k"),
        *mb.bank_refusal(O(id=61, reason="无预算"), bank=BANK, unit=UNIT, payment=PAYMENT, warning=WARNING,
                         finance=FINANCE),
        mb.bank_report(O(id=62, finding="收款人与用途不符"), bank=BANK, unit=UNIT, payment=PAYMENT, warning=WARNING,
                       finance=FINANCE),
        mb.complaint_received(O(id=71, subject_text="某单位", channel="phone", recorded_by_name="李科员"), finance=FINANCE, unit=None, summary="公务接待超标",
                              now=NOW),
        *mb.warning_raised(UNIT, [ITEM, {**ITEM, "warning_id": 82, "level": "warn", "rule": "official_card_required",
                                         "article": "第十三条（二）2"}],
                           batch="screening:81", finance=FINANCE, competent=COMPETENT, banks=[BANK]),
    ]
    return messages


def test_every_template_has_a_builder_and_every_builder_one_template():
    assert {m["template"] for m in _built()} == set(TEMPLATES)
    builders = {**mb.CASE_MESSAGES, **mb.BANK_MESSAGES, **mb.CIRCULATED_MESSAGES}
    assert all(name == build.__name__ for name, build in builders.items())


@pytest.mark.parametrize("message", _built(), ids=lambda m: m["template"] + ":" + str(m["org_ids"]))
def test_each_builders_context_satisfies_its_template(app, message):
    assert set(TEMPLATES[message["template"]].requires) <= set(message["context"])
    assert message["key"] and message["org_ids"]
    subject, body, _ = render(message["template"], message["context"], case_id=message.get("case_id"))
    assert subject and body


def test_every_template_a_machine_row_names_has_a_builder_for_its_recipients():
    for machine in MACHINES.values():
        for rows in machine.by_trigger.values():
            for row in rows:
                for tell in row.tells:
                    table = (mb.BANK_MESSAGES if tell.to in ("unit_banks", "closing_banks")
                             else mb.CIRCULATED_MESSAGES if tell.to == "circulation" else mb.CASE_MESSAGES)
                    assert tell.template in table, (row.trigger, tell)


def test_rungs_and_actions_are_named_as_the_machines_name_them():
    assert mb.rung_label("unit_case", "warning") == MACHINES["unit_case"].state("warning").label
    assert mb.action_label("unit_case", "suspend_funds").startswith("暂停拨付资金（")


def test_issue10_a_warning_tells_the_unit_finance_and_for_a_block_the_competent_department_and_the_bank():
    messages = mb.warning_raised(UNIT, [ITEM, {**ITEM, "warning_id": 82, "level": "warn", "bank_id": None,
                                               "rule": "official_card_required", "article": "第十三条（二）2"}],
                                 batch="screening:81", finance=FINANCE, competent=COMPETENT, banks=[BANK])
    by_kind = {m["context"]["recipient_kind"]: m for m in messages}
    assert set(by_kind) == {"unit", "finance", "competent", "bank"}
    assert [i["warning_id"] for i in by_kind["bank"]["context"]["items"]] == [81], "only the held payment it carries"
    assert len({m["key"] for m in messages}) == 4, "keys per (batch, unit, recipient)"
    only_warned = mb.warning_raised(UNIT, [{**ITEM, "level": "warn"}], batch="b", finance=FINANCE,
                                    competent=COMPETENT, banks=[BANK])
    assert {m["context"]["recipient_kind"] for m in only_warned} == {"unit", "finance"}


def test_art27_4_the_competent_department_reads_the_submission_as_a_copy(app):
    facts = _facts()
    _, to_competent, _ = render("unit_submission", mb.unit_submission(facts, key="k", case_id=CASE.id,
                                                                      recipient=COMPETENT)["context"], case_id=CASE.id)
    _, to_finance, _ = render("unit_submission", mb.unit_submission(facts, key="k", case_id=CASE.id,
                                                                    recipient=FINANCE)["context"], case_id=CASE.id)
    assert "第二十七条第（四）项" in to_competent and "请审核" not in to_competent
    assert "请审核" in to_finance

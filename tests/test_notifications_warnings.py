"""Issue 10, "People are told": who learns of a warning (Art. 11(一)-(二), 12, 26(二), 28).

When screening holds or warns on payments, the unit is told once per batch with every payment
(voucher, payee, amount), its level, rule and article; finance in charge gets the same; for a
block-level item the unit's competent department too, and the bank carrying the held payment,
which reads only the payments it carries. A reminder (提示) alone tells nobody.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from cases_support import BANK, COMPETENT, act_ok, attach_evidence, open_case, outbox_to
from verification_support import UNIT, cash_travel, clean_transfer, post_payments

from workflow.db import db
from workflow.outbox import OutboxMessage
from workflow.parties import org_by_code

CITY_FINANCE = "653000-CZ"


def told(template: str = "warning_raised") -> dict[str, list[OutboxMessage]]:
    """The inbox rows of ``template`` by recipient organisation code."""
    db.session.expire_all()
    rows = db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.template == template, OutboxMessage.channel == "inbox").order_by(OutboxMessage.id)).scalars()
    by_org: dict[str, list[OutboxMessage]] = {}
    for row in rows:
        by_org.setdefault(db.session.get(type(org_by_code(UNIT)), row.recipient_org_id).code, []).append(row)
    return by_org


def distinct_keys(rows: list[OutboxMessage]) -> set[str]:
    return {row.key for row in rows}


def test_art11_1_one_message_per_unit_and_batch_lists_every_held_or_warned_payment(as_city_finance):
    first, second = cash_travel(payee_name="克州迎宾馆"), cash_travel(payee_name="克州宾馆", amount="2300.00")
    post_payments(as_city_finance, [first, second, clean_transfer()])

    messages = told()
    assert len(distinct_keys(messages[UNIT])) == 1, "one message per unit per batch"
    body = messages[UNIT][0].body
    for row in (first, second):
        assert row["voucher_no"] in body and row["payee_name"] in body
    assert "2,300.00元" in body and "1,500.00元" in body
    assert "拦截" in body and "现金支付超限额" in body and "第十三条（二）1⑦" in body, body
    assert "第十三条（二）2" in body, "the warn-level rule (official card) is listed too"
    assert "你单位" in body


def test_art11_1_finance_in_charge_gets_the_same_list_per_batch(as_city_finance):
    row = cash_travel()
    post_payments(as_city_finance, [row])
    post_payments(as_city_finance, [cash_travel()])

    messages = told()
    assert len(distinct_keys(messages[CITY_FINANCE])) == 2, "one per batch"
    assert row["voucher_no"] in messages[CITY_FINANCE][0].body
    assert "请组织核实" in messages[CITY_FINANCE][0].body


def test_art26_2_and_28_a_block_tells_the_competent_department_and_the_carrying_bank(as_city_finance):
    row = cash_travel()
    post_payments(as_city_finance, [row])

    messages = told()
    assert row["voucher_no"] in messages[COMPETENT][0].body
    assert "所属预算单位" in messages[COMPETENT][0].body
    bank_body = messages[BANK][0].body
    assert row["voucher_no"] in bank_body and "暂停支付" in bank_body
    assert "第十三条（二）2" not in bank_body, "the bank reads the held payments only, not the other findings"


def test_art11_1_a_warn_level_payment_tells_the_unit_and_finance_but_not_the_competent_or_bank(as_city_finance):
    # 800 yuan of travel in cash: under the cash limit, but the official card is required (warn).
    row = clean_transfer(settlement="cash")
    items = post_payments(as_city_finance, [row])
    assert items[0]["status"] == "accepted" and {w["level"] for w in items[0]["warnings"]} == {"warn"}, items

    messages = told()
    assert row["voucher_no"] in messages[UNIT][0].body
    assert CITY_FINANCE in messages
    assert COMPETENT not in messages and BANK not in messages


def test_art11_1_a_clean_batch_tells_nobody(as_city_finance):
    post_payments(as_city_finance, [clean_transfer()])
    assert told() == {}


def test_art11_1_the_same_voucher_posted_again_tells_nobody_again(as_city_finance):
    row = cash_travel()
    post_payments(as_city_finance, [row])
    before = {org: len(rows) for org, rows in told().items()}
    post_payments(as_city_finance, [row])
    assert {org: len(rows) for org, rows in told().items()} == before


def test_art11_1_a_bank_posting_a_batch_is_told_like_the_others(as_bank):
    row = cash_travel()
    post_payments(as_bank, [row])
    messages = told()
    assert {UNIT, CITY_FINANCE, COMPETENT, BANK} <= set(messages)


# --- the competent department is told of its unit's cases (issue 10) ------------------------

@pytest.mark.parametrize("rung, template", [("warning", "case_opened"), ("decision", "case_opened"),
                                            ("order", "rectification_order_copy")])
def test_art21_the_competent_department_is_told_when_a_case_is_opened_on_its_unit(as_city_finance, rung, template):
    case_id = open_case(as_city_finance, rung)["id"]
    assert outbox_to(COMPETENT, template, case_id) == 1
    if template == "case_opened":
        body = told("case_opened")[COMPETENT][0].body
        assert "你部门所属预算单位" in body and "你单位存在" not in body


def test_art27_4_rectification_is_reported_to_finance_and_the_competent_department(as_city_finance, as_unit):
    case_id = open_case(as_city_finance, "warning")["id"]
    attach_evidence(as_unit, case_id)
    act_ok(as_unit, case_id, "submit_rectification", report="已退回资金并调整账目")
    assert outbox_to(CITY_FINANCE, "unit_submission", case_id) == 1
    assert outbox_to(COMPETENT, "unit_submission", case_id) == 1
    body = told("unit_submission")[COMPETENT][0].body
    assert "第二十七条第（四）项" in body and "请审核" not in body
    assert "请审核" in told("unit_submission")[CITY_FINANCE][0].body

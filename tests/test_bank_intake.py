"""Agent banks: refusals (拒付, Art. 28(三)), reports without a refusal (Art. 10(四)6) and settlement
checks (Art. 10(四), 22, 28(四))."""
import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from verification_support import (
    OTHER_ZERO_BALANCE,
    ZERO_BALANCE,
    clean_transfer,
    count,
    held_payment,
    outbox,
    payment_status,
    post_payments,
)

from workflow.bank_intake import Instruction, ReportedLine, SettlementLine, choose_instruction, compare, fingerprint

BEIJING = dt.timezone(dt.timedelta(hours=8))
PAID = dt.datetime(2021, 6, 1, 10, 0, tzinfo=BEIJING)


def settlement(row: dict, **over) -> dict:
    """What the bank paid for a posted payment row, as it reports it."""
    line = {"voucher_no": row["voucher_no"], "payer_account": row["payer_account"], "amount": row["amount"],
            "payee_name": row["payee_name"], "payee_account": row["payee_account"], "paid_at": row["paid_at"]}
    line.update(over)
    return line


def bank_cases() -> int:
    from workflow.case_records import Case

    return count(Case, Case.machine == "bank_case")


# --- refusals --------------------------------------------------------------------------------------

def test_art28_3_bank_refuses_a_payment_finance_and_unit_are_told_why(as_city_finance, as_bank, as_unit):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    response = as_bank.post("/api/v1/bank-refusals", json={"voucher_no": row["voucher_no"],
                                                            "reason": "收款账户户名与预留信息不符"})
    assert response.status_code == 201, response.get_json()
    refusal = response.get_json()
    assert refusal["payment_status"] == "refused"
    assert payment_status(row["voucher_no"]) == "refused"

    warning = as_city_finance.get(f"/api/v1/warnings/{refusal['warning_id']}").get_json()
    assert (warning["rule"], warning["article"], warning["status"]) == ("bank_refusal", "第二十八条（三）", "open")
    assert "收款账户户名与预留信息不符" in warning["message"]
    assert as_unit.get(f"/api/v1/warnings/{refusal['warning_id']}").status_code == 200

    messages = outbox("bank_refusal")
    assert sorted(m.recipient_org_id for m in messages) == sorted([as_city_finance.org.id, as_unit.org.id])
    assert all("收款账户户名与预留信息不符" in m.body and row["voucher_no"] in m.body for m in messages)


def test_art28_3_a_held_payment_may_be_refused_too(as_city_finance, as_bank):
    item, _ = held_payment(as_city_finance)
    response = as_bank.post("/api/v1/bank-refusals", json={"voucher_no": item["voucher_no"], "reason": "现金超限"})
    assert response.status_code == 201
    assert payment_status(item["voucher_no"]) == "refused"


def test_art28_3_a_payment_is_refused_once(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    assert as_bank.post("/api/v1/bank-refusals", json={"voucher_no": row["voucher_no"], "reason": "a"}).status_code == 201
    again = as_bank.post("/api/v1/bank-refusals", json={"voucher_no": row["voucher_no"], "reason": "b"})
    assert again.status_code == 409
    assert len(outbox("bank_refusal")) == 2  # finance and the unit, once


def test_art28_3_a_bank_refuses_only_payments_it_carries(as_city_finance, as_other_bank, as_unit):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    response = as_other_bank.post("/api/v1/bank-refusals", json={"voucher_no": row["voucher_no"], "reason": "x"})
    assert response.status_code == 404
    assert as_unit.post("/api/v1/bank-refusals", json={"voucher_no": row["voucher_no"], "reason": "x"}).status_code == 403
    assert payment_status(row["voucher_no"]) == "accepted"


def test_art28_3_a_refusal_needs_its_reason(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    response = as_bank.post("/api/v1/bank-refusals", json={"voucher_no": row["voucher_no"]})
    assert response.status_code == 422
    assert "reason" in response.get_json()["errors"]


def test_art28_3_refused_payment_no_longer_counts_against_the_budget(as_city_finance, as_bank):
    from workflow.db import db
    from workflow.monitoring.models import SpendingTotal

    row = clean_transfer(amount="5000.00")
    post_payments(as_city_finance, [row])

    def spent(totals: str):  # the indicator's total for the year, and for the month (its payment plan's)
        db.session.expire_all()
        return db.session.execute(sa.select(sa.func.sum(SpendingTotal.spent)).where(
            SpendingTotal.key.startswith(totals))).scalar_one()

    before = {totals: spent(totals) for totals in ("indicator:", "month:")}
    as_bank.post("/api/v1/bank-refusals", json={"voucher_no": row["voucher_no"], "reason": "无效指令"})
    assert {totals: before[totals] - spent(totals) for totals in before} == {
        "indicator:": Decimal("5000.00"), "month:": Decimal("5000.00")}



# --- reports without a refusal (Art. 10(四)6) --------------------------------------------------------

REPORT = "收款单位与合同约定的供应商不一致，疑似虚构采购"


def test_art10_4_6_a_bank_reports_a_suspicion_without_refusing_the_payment(as_city_finance, as_bank, as_unit):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    response = as_bank.post("/api/v1/bank-reports", json={"voucher_no": row["voucher_no"], "finding": REPORT})
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert (report["finding"], report["article"], report["payment_status"]) == (REPORT, "第十条（四）6", "accepted")
    assert payment_status(row["voucher_no"]) == "accepted"  # untouched: the bank did not refuse it

    warning = as_city_finance.get(f"/api/v1/warnings/{report['warning_id']}").get_json()
    assert (warning["rule"], warning["level"], warning["article"], warning["status"]) == (
        "bank_report", "warn", "第十条（四）6", "open")
    assert REPORT in warning["message"] and warning["payment"]["voucher_no"] == row["voucher_no"]
    assert as_bank.get(f"/api/v1/warnings/{report['warning_id']}").status_code == 200
    assert outbox("bank_refusal") == []


def test_art10_4_6_finance_in_charge_is_told_with_the_finding_and_the_article(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    warning_id = as_bank.post("/api/v1/bank-reports", json={"voucher_no": row["voucher_no"], "finding": REPORT}
                              ).get_json()["warning_id"]
    [message] = outbox("bank_report")
    assert message.recipient_org_id == as_city_finance.org.id
    for text in (REPORT, row["voucher_no"], "第十条（四）6", "未拦截，照常支付"):
        assert text in message.body
    assert message.link.endswith(f"/api/v1/warnings/{warning_id}")


def test_art10_4_6_the_report_enters_verification_and_a_held_payment_stays_held(as_city_finance, as_bank):
    item, _ = held_payment(as_city_finance)
    report = as_bank.post("/api/v1/bank-reports", json={"voucher_no": item["voucher_no"], "finding": REPORT}).get_json()
    assert report["payment_status"] == "held" and payment_status(item["voucher_no"]) == "held"
    url = f"/api/v1/warnings/{report['warning_id']}"
    assert as_city_finance.post(url + "/steps", json={"kind": "phone", "summary": "电话核实供应商"}).status_code == 201
    assert as_bank.post(url + "/responses", json={"text": "附采购合同复印件"}).status_code == 201
    dismissed = as_city_finance.post(url + "/dismiss", json={"reason": "供应商系合同约定的分包商"})
    assert dismissed.status_code == 200
    # the cash rule's blocking warning is still undecided: the report's dismissal does not release it
    assert payment_status(item["voucher_no"]) == "held"


def test_art10_4_6_the_warning_table_lets_a_bank_raise_a_warning_by_its_report():
    from workflow.machines.warning import LIFECYCLE

    [raise_row] = LIFECYCLE.by_trigger["raise"]
    assert "bank" in raise_row.roles and "第十条（四）6" in raise_row.article.chinese


def test_art10_4_6_a_payment_is_reported_once(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    first = as_bank.post("/api/v1/bank-reports", json={"voucher_no": row["voucher_no"], "finding": REPORT})
    again = as_bank.post("/api/v1/bank-reports", json={"voucher_no": row["voucher_no"], "finding": "又发现问题"})
    assert again.status_code == 409 and str(first.get_json()["warning_id"]) in again.get_json()["message"]
    assert len(outbox("bank_report")) == 1


def test_art10_4_6_only_the_carrying_bank_reports_and_a_finding_is_required(as_city_finance, as_bank, as_other_bank,
                                                                           as_unit):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    body = {"voucher_no": row["voucher_no"], "finding": REPORT}
    assert as_other_bank.post("/api/v1/bank-reports", json=body).status_code == 404
    assert as_unit.post("/api/v1/bank-reports", json=body).status_code == 403
    assert as_city_finance.post("/api/v1/bank-reports", json=body).status_code == 403
    missing = as_bank.post("/api/v1/bank-reports", json={"voucher_no": row["voucher_no"], "finding": "   "})
    assert missing.status_code == 422 and "finding" in missing.get_json()["errors"]


def test_art10_4_6_reports_are_listed_for_the_bank_and_finance_in_charge(as_city_finance, as_county_finance, as_bank,
                                                                         as_other_bank, as_unit):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    report_id = as_bank.post("/api/v1/bank-reports", json={"voucher_no": row["voucher_no"], "finding": REPORT}
                             ).get_json()["id"]
    for party in (as_bank, as_city_finance):
        assert [r["id"] for r in party.get("/api/v1/bank-reports").get_json()["items"]] == [report_id]
    for party in (as_other_bank, as_county_finance):
        assert party.get("/api/v1/bank-reports").get_json()["items"] == []
    assert as_unit.get("/api/v1/bank-reports").status_code == 403


# --- settlements ------------------------------------------------------------------------------------

def test_art28_4_a_settlement_that_matches_its_instruction_is_marked_settled(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    response = as_bank.post("/api/v1/bank-settlements", json=[settlement(row)])
    assert response.status_code == 200, response.get_json()
    [answer] = response.get_json()["items"]
    assert answer["outcome"] == "matched" and answer["case_id"] is None and answer["findings"] == []
    assert count(SettlementLine, SettlementLine.outcome == "matched") == 1
    assert bank_cases() == 0


def test_art10_4_2_amount_differs_opens_exactly_one_bank_case_and_a_repeat_opens_none(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    line = settlement(row, amount="8000.00")
    first = as_bank.post("/api/v1/bank-settlements", json=[line])
    assert first.status_code == 200, first.get_json()
    [answer] = first.get_json()["items"]
    assert answer["outcome"] == "case_opened" and answer["case_id"]
    assert [f["code"] for f in answer["findings"]] == ["amount_differs"]
    assert answer["findings"][0]["article"] == "第十条（四）2"
    assert bank_cases() == 1

    again = as_bank.post("/api/v1/bank-settlements", json=[line]).get_json()["items"]
    assert again[0]["outcome"] == "duplicate" and again[0]["case_id"] == answer["case_id"]
    assert bank_cases() == 1


def test_art22_the_case_is_against_the_bank_on_its_first_rung(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    [answer] = as_bank.post("/api/v1/bank-settlements", json=[settlement(row, payee_name="别的公司")]).get_json()["items"]
    case = as_city_finance.get(f"/api/v1/cases/{answer['case_id']}").get_json()
    assert case["machine"] == "bank_case" and case["state"] == "refund_or_redo"
    assert case["subject"]["code"] == as_bank.org.code
    assert as_bank.get(f"/api/v1/cases/{answer['case_id']}").status_code == 200


def test_art10_4_3_payee_account_differs_is_found(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    [answer] = as_bank.post("/api/v1/bank-settlements",
                            json=[settlement(row, payee_account="6222000000000001")]).get_json()["items"]
    assert answer["outcome"] == "case_opened"
    assert [(f["code"], f["article"]) for f in answer["findings"]] == [("payee_account_differs", "第十条（四）3")]


def test_art10_4_1_money_moved_without_an_instruction_opens_a_case(as_bank):
    line = {"voucher_no": "ZF-NOT-ISSUED", "payer_account": ZERO_BALANCE, "amount": "3000.00",
            "payee_name": "某商贸公司", "payee_account": "6222000077776666", "paid_at": "2021-06-02T09:00:00+08:00"}
    [answer] = as_bank.post("/api/v1/bank-settlements", json=[line]).get_json()["items"]
    assert answer["outcome"] == "case_opened" and answer["payment_id"] is None
    assert [(f["code"], f["article"]) for f in answer["findings"]] == [("no_instruction", "第十条（四）1")]
    assert bank_cases() == 1


def test_art10_4_2_a_held_payment_settled_anyway_opens_a_case(as_city_finance, as_bank):
    item, _ = held_payment(as_city_finance)
    line = {"voucher_no": item["voucher_no"], "payer_account": ZERO_BALANCE, "amount": "1500.00",
            "payee_name": "克州迎宾馆", "payee_account": "6222000011112222", "paid_at": "2021-06-01T10:00:00+08:00"}
    [answer] = as_bank.post("/api/v1/bank-settlements", json=[line]).get_json()["items"]
    assert [f["code"] for f in answer["findings"]] == ["not_payable"]


def test_art10_4_a_line_without_voucher_matches_the_same_accounts_and_amount(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    [answer] = as_bank.post("/api/v1/bank-settlements", json=[settlement(row, voucher_no=None)]).get_json()["items"]
    assert answer["outcome"] == "matched" and answer["voucher_no"] is None and answer["payment_id"]


def test_art10_4_2_one_instruction_paid_twice_is_found(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    lines = [settlement(row), settlement(row, paid_at="2021-06-01T15:00:00+08:00")]
    answers = as_bank.post("/api/v1/bank-settlements", json=lines).get_json()["items"]
    assert [a["outcome"] for a in answers] == ["matched", "case_opened"]
    assert [f["code"] for f in answers[1]["findings"]] == ["paid_twice"]


def test_art10_4_the_same_line_twice_in_one_report_is_one_line(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    answers = as_bank.post("/api/v1/bank-settlements", json=[settlement(row, amount="900.00")] * 2).get_json()["items"]
    assert [a["outcome"] for a in answers] == ["case_opened", "duplicate"]
    assert bank_cases() == 1


def test_art10_4_a_bank_settles_only_what_it_carries(as_city_finance, as_other_bank, as_unit):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    [answer] = as_other_bank.post("/api/v1/bank-settlements",
                                  json=[settlement(row, payer_account=OTHER_ZERO_BALANCE)]).get_json()["items"]
    assert answer["outcome"] == "case_opened"  # no instruction of its own: nothing of the other bank's leaks
    assert answer["payment_id"] is None
    assert as_unit.post("/api/v1/bank-settlements", json=[settlement(row)]).status_code == 403


def test_art10_4_a_bad_line_is_refused_and_nothing_is_written(as_city_finance, as_bank):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    response = as_bank.post("/api/v1/bank-settlements", json=[settlement(row), settlement(row, amount=1.005)])
    assert response.status_code == 422
    assert "row 2.amount" in response.get_json()["errors"]
    assert count(SettlementLine) == 0


# --- the comparison itself (pure) ----------------------------------------------------------------------

def instruction(**over) -> Instruction:
    values = dict(payment_id=1, voucher_no="ZF1", payer_account=ZERO_BALANCE, amount=Decimal("800.00"),
                  payee_name="克州航空票务有限公司", payee_account="6222000099998888", paid_at=PAID, status="accepted")
    values.update(over)
    return Instruction(**values)


def line(**over) -> ReportedLine:
    values = dict(voucher_no="ZF1", payer_account=ZERO_BALANCE, amount=Decimal("800.00"),
                  payee_name="克州航空票务有限公司", payee_account="6222000099998888", paid_at=PAID)
    values.update(over)
    return ReportedLine(**values)


def test_art10_4_3_names_and_accounts_compare_without_spacing_and_width():
    reported = line(payee_name="克州航空票务 有限公司", payee_account="6222 0000 9999 8888",
                    payer_account="３００９０００１０９２０００１２３４５")
    assert compare(reported, instruction()) == []


def test_art10_4_every_difference_is_named_with_its_article():
    found = compare(line(amount=Decimal("80.00"), payee_name="别人", payee_account="1111", payer_account="2222"),
                    instruction())
    assert [(f.code, f.article) for f in found] == [
        ("amount_differs", "第十条（四）2"), ("payee_name_differs", "第十条（四）3"),
        ("payee_account_differs", "第十条（四）3"), ("payer_account_differs", "第十条（四）3")]


def test_art10_4_without_voucher_an_unsettled_accepted_instruction_is_chosen_first():
    settled = instruction(payment_id=1, voucher_no="A", settled=True)
    held = instruction(payment_id=2, voucher_no="B", status="held")
    open_ = instruction(payment_id=3, voucher_no="C", paid_at=PAID + dt.timedelta(days=3))
    assert choose_instruction(line(voucher_no=None), [settled, held, open_]).voucher_no == "C"
    assert choose_instruction(line(voucher_no=None, amount=Decimal("1.00")), [open_]) is None


def test_art10_4_fingerprint_ignores_formatting_but_not_content():
    assert fingerprint(7, line()) == fingerprint(7, line(payee_account="6222-0000-9999-8888",
                                                         paid_at=PAID.astimezone(dt.timezone.utc)))
    assert fingerprint(7, line()) != fingerprint(8, line())
    assert fingerprint(7, line()) != fingerprint(7, line(amount=Decimal("800.01")))


def test_art28_3_refusals_are_listed_for_the_bank_and_finance_only(as_city_finance, as_bank, as_other_bank,
                                                                  as_county_finance):
    row = clean_transfer()
    post_payments(as_city_finance, [row])
    refusal_id = as_bank.post("/api/v1/bank-refusals", json={"voucher_no": row["voucher_no"],
                                                             "reason": "用途不符"}).get_json()["id"]
    for party in (as_bank, as_city_finance):
        assert [(r["id"], r["voucher_no"]) for r in party.get("/api/v1/bank-refusals").get_json()["items"]] == [
            (refusal_id, row["voucher_no"])]
    for party in (as_other_bank, as_county_finance):
        assert party.get("/api/v1/bank-refusals").get_json()["items"] == []

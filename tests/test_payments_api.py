"""POST/GET /api/v1/payments (Art. 9): intake, answers, duplicates, atomic rejection, CSV
in UTF-8 and GBK, who may post and who sees what."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
import sqlalchemy as sa
from payments_helpers import OTHER_UNIT, OTHER_ZERO_BALANCE, payment, rules_of
from sqlalchemy import event

from api.payments import ScreenedListSchema, ScreenedSchema
from workflow.db import db
from workflow.monitoring.models import MonitoringWarning, Payment


def count(model) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def post(client, rows):
    return client.post("/api/v1/payments", json=rows)


def test_art9_finance_posts_payments_and_gets_each_with_status_and_warnings_in_posted_order(as_city_finance):
    rows = [payment(), payment(settlement="cash", economic_code="30211", amount="1500.00", summary="差旅费"),
            payment(economic_code="30215")]
    response = post(as_city_finance, rows)
    assert response.status_code == 201, response.json
    items = response.json["items"]
    assert [i["voucher_no"] for i in items] == [r["voucher_no"] for r in rows]
    assert [i["status"] for i in items] == ["accepted", "held", "held"]
    assert items[0]["warnings"] == []
    assert rules_of(items[1]) == {"official_card_required", "cash_over_limit"}
    assert set(items[1]["warnings"][0]) == {"id", "rule", "level", "article", "message"}
    assert rules_of(items[2]) == {"no_budget"}
    assert count(Payment) == 3 and count(MonitoringWarning) == 3


def test_issue15_the_answer_sent_without_marshmallow_is_exactly_the_documented_schema(as_city_finance):
    # issue 15 item 3: the posted answer is sent as screening built it, not dumped by the
    # schema; it must be what the schema would have sent, field for field and in its order
    rows = [payment(), payment(settlement="cash", economic_code="30211", amount="1500.00", summary="差旅费")]
    post(as_city_finance, rows[1:])
    response = post(as_city_finance, rows)  # one new payment, one answered as stored
    assert response.status_code == 201, response.json
    body = response.json
    assert ScreenedListSchema().dump(body) == body
    for item in body["items"]:
        assert list(item) == list(ScreenedSchema().fields)
    assert [list(w) for w in body["items"][1]["warnings"]] == [["id", "rule", "level", "article", "message"]] * 2


def test_art9_same_voucher_posted_again_is_not_stored_twice_and_raises_nothing_twice(as_city_finance):
    row = payment(settlement="cash", economic_code="30211", amount="1500.00", summary="差旅费")
    first = post(as_city_finance, [row]).json["items"][0]
    again = post(as_city_finance, [row, row]).json["items"]
    assert again == [first, first]
    assert count(Payment) == 1 and count(MonitoringWarning) == 2


def test_art9_same_voucher_twice_in_one_post_is_stored_once(as_city_finance):
    row = payment()
    items = post(as_city_finance, [row, row]).json["items"]
    assert items[0] == items[1]
    assert count(Payment) == 1


def test_art9_issue16_another_units_voucher_with_the_same_number_is_another_payment(as_city_finance):
    # voucher numbers are per unit (issue 16 item 5): no clash, and so nothing to probe
    row = payment()
    first = post(as_city_finance, [row]).json["items"][0]
    response = post(as_city_finance, [payment(voucher_no=row["voucher_no"], unit_code=OTHER_UNIT,
                                              payer_account=OTHER_ZERO_BALANCE, functional_code="2010101")])
    assert response.status_code == 201, response.json
    assert response.json["items"][0]["id"] != first["id"]
    assert count(Payment) == 2


def test_art9_a_bad_row_is_a_422_naming_row_and_field_and_nothing_is_written(as_city_finance):
    rows = [payment(), payment(amount="12.345"), payment(paid_at="2021-03-01T10:00:00"), payment(settlement="cheque"),
            payment(amount="1e20"), payment(amount="-5.00")]
    response = post(as_city_finance, rows)
    assert response.status_code == 422
    errors = response.json["errors"]
    assert set(errors) == {"row 2.amount", "row 3.paid_at", "row 4.settlement", "row 5.amount", "row 6.amount"}
    assert count(Payment) == 0 and count(MonitoringWarning) == 0


def test_art9_missing_and_unknown_fields_are_named(as_city_finance):
    row = payment(status="accepted")
    del row["payee_name"]
    errors = post(as_city_finance, [row]).json["errors"]
    assert errors == {"row 1.payee_name": ["required"], "row 1.status": ["unknown field"]}


def test_art13_3_exception_without_its_document_reference_is_refused(as_city_finance):
    response = post(as_city_finance, [payment(exception="union_tax_payroll")])
    assert response.status_code == 422
    assert "row 1.exception_ref" in response.json["errors"]


def test_art9_unit_outside_the_jurisdiction_is_a_422_and_nothing_is_written(as_county_finance):
    response = post(as_county_finance, [payment()])
    assert response.status_code == 422
    assert "row 1.unit_code" in response.json["errors"]
    assert count(Payment) == 0


def test_art9_more_than_10000_rows_are_refused(as_city_finance):
    response = post(as_city_finance, [payment(voucher_no=f"X{i}") for i in range(10_001)])
    assert response.status_code == 422
    assert count(Payment) == 0


def _csv(rows, encoding):
    fields = list(dict.fromkeys(k for r in rows for k in r))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return io.BytesIO(text.getvalue().encode(encoding))


def test_art9_csv_upload_in_gbk_is_screened(as_city_finance):
    rows = [payment(summary="购买茅台酒", economic_code="30217", settlement="card"), payment()]
    response = as_city_finance.post("/api/v1/payments", data={"file": (_csv(rows, "gbk"), "payments.csv")},
                                    content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    items = response.json["items"]
    assert rules_of(items[0]) == {"luxury_specialties"}
    assert db.session.execute(sa.select(Payment.summary).where(Payment.id == items[0]["id"])).scalar() == "购买茅台酒"


def test_art9_csv_upload_in_utf8_is_screened(as_city_finance):
    rows = [payment(summary="差旅费报销", economic_code="30211", settlement="cash", amount="1500.00")]
    response = as_city_finance.post("/api/v1/payments", data={"file": (_csv(rows, "utf-8-sig"), "p.csv")},
                                    content_type="multipart/form-data")
    assert response.status_code == 201
    assert rules_of(response.json["items"][0]) == {"official_card_required", "cash_over_limit"}


def test_art9_csv_bad_row_is_named_by_its_data_row(as_city_finance):
    rows = [payment(), payment(amount="abc")]
    response = as_city_finance.post("/api/v1/payments", data={"file": (_csv(rows, "utf-8"), "p.csv")},
                                    content_type="multipart/form-data")
    assert response.status_code == 422
    assert "row 2.amount" in response.json["errors"]


# --- who may post (Art. 28: banks report the payments they carry)

def test_art28_bank_posts_payments_it_carries(as_bank):
    response = post(as_bank, [payment()])
    assert response.status_code == 201
    stored = db.session.get(Payment, response.json["items"][0]["id"])
    assert stored.bank_id == as_bank.org.id


def test_art28_bank_may_not_post_payments_from_accounts_it_does_not_serve(as_other_bank):
    response = post(as_other_bank, [payment()])
    assert response.status_code == 422
    assert response.json["errors"] == {"row 1.payer_account": ["not an account your bank serves"]}
    assert count(Payment) == 0


def test_art9_units_and_competent_departments_may_not_post_payments(as_unit, as_competent, as_oversight):
    for party in (as_unit, as_competent, as_oversight):
        assert post(party, [payment()]).status_code == 403
    assert count(Payment) == 0


# --- who sees what (GET /payments)

def _seed(client):
    ours = post(client, [payment(), payment(settlement="cash", economic_code="30211", amount="1500.00")]).json
    theirs = post(client, [payment(unit_code=OTHER_UNIT, payer_account=OTHER_ZERO_BALANCE,
                                   functional_code="2010101")]).json
    return [i["id"] for i in ours["items"]], theirs["items"][0]["id"]


def _ids(client, query=""):
    response = client.get(f"/api/v1/payments{query}")
    assert response.status_code == 200, response.json
    return [i["id"] for i in response.json["items"]]


def test_payments_list_is_scoped_per_party(as_city_finance, as_finance, as_county_finance, as_unit, as_other_unit,
                                           as_competent, as_other_competent, as_bank, as_other_bank, as_oversight):
    ours, theirs = _seed(as_city_finance)
    assert _ids(as_city_finance) == ours + [theirs]
    assert _ids(as_finance) == ours + [theirs]  # the province sees the regions below it
    assert _ids(as_county_finance) == []
    assert _ids(as_unit) == ours
    assert _ids(as_other_unit) == [theirs]
    assert _ids(as_competent) == ours
    assert _ids(as_other_competent) == [theirs]
    assert _ids(as_bank) == ours  # ICBC carries the demo unit's accounts
    assert _ids(as_other_bank) == [theirs]
    assert _ids(as_oversight) == []


def test_another_partys_payment_answers_404(as_city_finance, as_other_unit, as_unit):
    ours, _ = _seed(as_city_finance)
    assert as_other_unit.get(f"/api/v1/payments/{ours[0]}").status_code == 404
    response = as_unit.get(f"/api/v1/payments/{ours[1]}")
    assert response.status_code == 200
    body = response.json
    assert body["amount"] == "1500.00" and body["unit_code"] == "653000-301001"
    assert body["paid_at"] == "2021-03-01T10:00:00+08:00"
    assert {w["rule"] for w in body["warnings"]} == {"official_card_required", "cash_over_limit"}
    assert all(w["status"] == "open" and w["rule_set_version"] == 1 for w in body["warnings"])


def test_payments_list_filters_by_status_and_unit_and_pages_by_keyset(as_city_finance):
    ours, theirs = _seed(as_city_finance)
    assert _ids(as_city_finance, "?status=held") == [ours[1]]
    assert _ids(as_city_finance, "?unit_code=653000-302001") == [theirs]
    first = as_city_finance.get("/api/v1/payments?limit=2").json
    assert [i["id"] for i in first["items"]] == ours
    rest = as_city_finance.get(f"/api/v1/payments?limit=2&cursor={first['next_cursor']}").json
    assert [i["id"] for i in rest["items"]] == [theirs] and rest["next_cursor"] is None


# --- a voucher posted again: the same payment is answered, a changed one is refused

def stored_amount(voucher_no):
    return db.session.execute(sa.select(Payment.amount).where(Payment.voucher_no == voucher_no)).scalar_one()


CHANGES = {
    "amount": "350.00",
    "payee_name": "克州另一家文具有限公司",
    "payee_account": "6222020000007654321",
    "payer_account": OTHER_ZERO_BALANCE,
    "economic_code": "30202",
    "functional_code": "2010299",
    "paid_at": "2021-03-02T10:00:00+08:00",
    "summary": "购买打印机",
    "settlement": "card",
    "approval_ref": "克财库〔2021〕9号",
}


@pytest.mark.parametrize("changed", sorted(CHANGES))
def test_art9_resend_with_a_changed_field_is_a_409_naming_row_and_field(as_city_finance, changed):
    row = payment()
    first = post(as_city_finance, [row]).json["items"][0]
    response = post(as_city_finance, [payment(), {**row, changed: CHANGES[changed]}])
    assert response.status_code == 409, response.json
    errors = response.json["errors"]
    assert set(errors) == {"row 2.voucher_no", f"row 2.{changed}"}
    assert f"already stored as payment {first['id']} with different {changed}" in errors["row 2.voucher_no"][0]
    assert errors[f"row 2.{changed}"][0].startswith(f"stored payment {first['id']} has ")
    # atomic: the clean new row of the same request was not stored either
    assert count(Payment) == 1 and count(MonitoringWarning) == 0


def test_art9_changed_resend_names_every_field_that_differs_with_both_values(as_city_finance):
    row = payment()
    post(as_city_finance, [row])
    response = post(as_city_finance, [{**row, "amount": "3000", "payee_name": "克州某某公司"}])
    assert response.status_code == 409
    errors = response.json["errors"]
    assert "different amount, payee_name" in errors["row 1.voucher_no"][0]
    assert errors["row 1.amount"] == [f"stored payment {first_id()} has 300.00, this row 3000.00"]
    assert "'克州文具有限公司'" in errors["row 1.payee_name"][0] and "'克州某某公司'" in errors["row 1.payee_name"][0]
    assert stored_amount(row["voucher_no"]) == Decimal("300.00")


def first_id():
    return db.session.execute(sa.select(sa.func.min(Payment.id))).scalar_one()


def test_art9_identical_resend_with_its_warnings_is_answered_idempotently(as_city_finance):
    row = payment(settlement="cash", economic_code="30211", amount="1500.00", summary="差旅费")
    first = post(as_city_finance, [row]).json["items"][0]
    # the same payment written differently: another offset for the same instant, amount without
    # its decimals, surrounding spaces
    same = {**row, "paid_at": "2021-03-01T02:00:00+00:00", "amount": "1500", "summary": " 差旅费 "}
    response = post(as_city_finance, [same])
    assert response.status_code == 201, response.json
    assert response.json["items"] == [first]
    assert first["status"] == "held" and rules_of(first) == {"official_card_required", "cash_over_limit"}
    assert count(Payment) == 1 and count(MonitoringWarning) == 2


def test_art9_same_voucher_twice_in_one_request_with_different_content_is_a_422(as_city_finance):
    row = payment()
    response = post(as_city_finance, [row, payment(), {**row, "amount": "301.00", "payee_kind": "unit"}])
    assert response.status_code == 422, response.json
    errors = response.json["errors"]
    assert set(errors) == {"row 3.voucher_no", "row 3.amount", "row 3.payee_kind"}
    assert errors["row 3.voucher_no"] == ["row 1 has this voucher number with different amount, payee_kind"]
    assert errors["row 3.amount"] == ["row 1 has 300.00, this row 301.00"]
    assert count(Payment) == 0 and count(MonitoringWarning) == 0


def test_art9_issue16_same_voucher_number_in_one_request_for_two_units_is_two_payments(as_city_finance):
    row = payment()
    response = post(as_city_finance, [row, {**row, "unit_code": OTHER_UNIT, "payer_account": OTHER_ZERO_BALANCE}])
    assert response.status_code == 201, response.json
    assert len({item["id"] for item in response.json["items"]}) == 2


def test_art28_bank_resending_a_changed_payment_gets_the_409_too(as_bank):
    row = payment()
    post(as_bank, [row])
    response = post(as_bank, [{**row, "payee_account": "6222020000007654321"}])
    assert response.status_code == 409
    assert set(response.json["errors"]) == {"row 1.voucher_no", "row 1.payee_account"}
    assert count(Payment) == 1


def test_art9_resend_check_is_one_batched_lookup_not_a_query_per_row(as_city_finance):
    def statements_for(rows):
        seen = []

        def record(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert post(as_city_finance, rows).status_code in (201, 409)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return [s for s in seen if "FROM payments" in s]

    few = [payment() for _ in range(3)]
    many = [payment() for _ in range(60)]
    post(as_city_finance, few + many)
    assert len(statements_for(few)) == len(statements_for(many)) == 1  # identical resends
    changed = [{**r, "amount": "301.00"} for r in many]
    assert len(statements_for(changed[:3])) == len(statements_for(changed)) == 1

"""Issue 13, "Exports and dossiers": every list answers CSV and XLSX as well as JSON (Art. 11(四):
results put to use outside the system), with the list's filters and reach, every row, and text
that a spreadsheet would run as a formula neutralised.
"""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from verification_support import OTHER_UNIT, UNIT, clean_transfer, held_payment, post_payments

from api import exports, pagination

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def rows_of_csv(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff"), "the BOM lets Excel read the Chinese text"
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_art11_4_a_list_answers_csv_with_its_filters_and_every_row(as_city_finance, monkeypatch):
    monkeypatch.setattr(pagination, "EXPORT_BATCH", 2)  # several batches, streamed one after another
    for _ in range(3):
        held_payment(as_city_finance)
    post_payments(as_city_finance, [clean_transfer()])
    response = as_city_finance.get("/api/v1/payments", query_string={"format": "csv", "limit": 1})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'attachment; filename="payments-' in response.headers["Content-Disposition"]
    rows = rows_of_csv(response)
    assert len(rows) == 4, "every row, not a page of `limit`"
    assert {r["status"] for r in rows} == {"held", "accepted"}
    assert {r["unit_code"] for r in rows} == {UNIT}
    warnings = as_city_finance.get("/api/v1/warnings", query_string={"format": "csv", "level": "block"})
    assert {r["level"] for r in rows_of_csv(warnings)} == {"block"}, "the list's filters apply"


def test_art11_4_xlsx_by_accept_header(as_city_finance):
    held_payment(as_city_finance)
    response = as_city_finance.get("/api/v1/warnings", headers={"Accept": XLSX})
    assert response.status_code == 200 and response.mimetype == XLSX
    header, *rows = list(load_workbook(io.BytesIO(response.data), read_only=True).active.values)
    assert "rule" in header and "level" in header and len(rows) == 2
    assert {rows[i][header.index("rule")] for i in range(2)} == {"cash_over_limit", "official_card_required"}


def test_an_export_holds_only_the_callers_reach(as_city_finance, as_unit):
    held_payment(as_city_finance)
    held_payment(as_city_finance, unit_code=OTHER_UNIT, payer_account="6501000200300045678")
    rows = rows_of_csv(as_unit.get("/api/v1/payments?format=csv"))
    assert len(rows) == 1 and OTHER_UNIT not in str(rows)


def test_formulas_are_neutralised_and_numbers_kept(as_city_finance):
    post_payments(as_city_finance, [clean_transfer(summary="=HYPERLINK(\"http://x\",\"差旅\")",
                                                   payee_name="@SUM(A1)")])
    row = rows_of_csv(as_city_finance.get("/api/v1/payments?format=csv"))[0]
    assert row["summary"].startswith("'=HYPERLINK") and row["payee_name"] == "'@SUM(A1)"
    assert row["amount"] == "800.00"
    assert exports.cell("-12.50") == "-12.50" and exports.cell("-1+2") == "'-1+2"
    assert exports.cell("+86 138") == "'+86 138" and exports.cell(None) == "" and exports.cell(["a", "b"]) == "a; b"


def test_an_unknown_format_is_422_naming_the_field(as_city_finance):
    response = as_city_finance.get("/api/v1/payments?format=pdf")
    assert response.status_code == 422 and "format" in str(response.get_json()["errors"])


def test_json_stays_the_default(as_city_finance):
    response = as_city_finance.get("/api/v1/payments", headers={"Accept": "*/*"})
    assert response.is_json and "items" in response.get_json()


def test_the_openapi_document_says_lists_answer_csv_and_xlsx(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    content = spec["paths"]["/api/v1/warnings"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv", XLSX} <= set(content)
    assert "text/csv" not in spec["paths"]["/api/v1/warnings/{warning_id}"]["get"]["responses"]["200"]["content"]

"""Budget indicators (预算指标): bulk JSON and CSV (UTF-8 or GBK), all rows or none."""
import io

import pytest
import sqlalchemy as sa

from workflow.budget import Indicator
from workflow.db import db

ROW = {"unit_code": "653000-301001", "year": 2022, "functional_code": "2010201", "economic_code": "30211",
       "fund_source": "general_budget", "expenditure_kind": "basic", "amount": "158000.00"}
CSV_HEADER = "unit_code,year,functional_code,economic_code,fund_source,expenditure_kind,project,amount\n"
CSV_ROWS = ("653000-301001,2022,2010299,30299,higher_special,project,为民办实事好事和第一书记工作经费,120000.00\n"
            "653000-301001,2022,2010201,30217,general_budget,basic,,94900.00\n")


def _count():
    return db.session.execute(sa.select(sa.func.count(Indicator.id))).scalar_one()


def _upload(party, text, encoding):
    data = {"file": (io.BytesIO(text.encode(encoding)), "indicators.csv")}
    return party.post("/api/v1/indicators", data=data, content_type="multipart/form-data")


def test_finance_loads_indicators_as_a_json_array(as_city_finance):
    response = as_city_finance.post("/api/v1/indicators", json=[ROW, {**ROW, "economic_code": "30201"}])
    assert response.status_code == 201, response.json
    assert [i["economic_code"] for i in response.json["items"]] == ["30211", "30201"]
    assert response.json["items"][0]["amount"] == "158000.00"


def test_amounts_keep_every_fen(as_city_finance):
    response = as_city_finance.post("/api/v1/indicators", json=[{**ROW, "amount": "12345678901.99"}])
    assert response.json["items"][0]["amount"] == "12345678901.99"
    listed = as_city_finance.get("/api/v1/indicators?year=2022").json["items"]
    assert listed[0]["amount"] == "12345678901.99"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_upload_is_read_in_utf8_or_gbk(as_city_finance, encoding):
    response = _upload(as_city_finance, CSV_HEADER + CSV_ROWS, encoding)
    assert response.status_code == 201, response.json
    assert response.json["items"][0]["project"] == "为民办实事好事和第一书记工作经费"


def test_a_bad_csv_row_is_422_naming_row_and_field_and_nothing_is_written(as_city_finance):
    before = _count()
    bad = CSV_ROWS + "653000-301001,2022,2010201,30201,general_budget,basic,,12.345\n"
    response = _upload(as_city_finance, CSV_HEADER + bad, "gbk")
    assert response.status_code == 422
    assert "row 3.amount" in response.json["errors"]
    assert _count() == before


def test_a_bad_json_row_is_422_naming_row_and_field_and_nothing_is_written(as_city_finance):
    before = _count()
    response = as_city_finance.post("/api/v1/indicators", json=[ROW, {**ROW, "economic_code": "3O2x"}])
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["row 2.economic_code"]
    assert _count() == before


def test_a_unit_outside_the_jurisdiction_rejects_the_whole_upload(as_county_finance):
    before = _count()
    response = as_county_finance.post("/api/v1/indicators", json=[ROW])
    assert response.status_code == 422
    assert "row 1.unit_code" in response.json["errors"]
    assert _count() == before


def test_duplicate_rows_in_one_upload_are_422(as_city_finance):
    response = as_city_finance.post("/api/v1/indicators", json=[ROW, ROW])
    assert response.status_code == 422
    assert response.json["errors"]["row 2"] == ["duplicates row 1"]


def test_an_indicator_that_exists_already_rejects_the_upload_with_409(as_city_finance):
    """A conflict with what is stored is 409, whether it was stored before or by a racing
    upload a moment ago (issue 16 item 3); a duplicate within one upload stays 422."""
    assert as_city_finance.post("/api/v1/indicators", json=[ROW]).status_code == 201
    before = _count()
    response = as_city_finance.post("/api/v1/indicators", json=[{**ROW, "economic_code": "30201"}, ROW])
    assert response.status_code == 409
    assert "row 2" in response.json["errors"]
    assert _count() == before


def test_text_that_is_neither_utf8_nor_gbk_is_422(as_city_finance):
    data = {"file": (io.BytesIO(b"\xff\xfe\x00\x81\x00"), "x.csv")}
    response = as_city_finance.post("/api/v1/indicators", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "file" in response.json["errors"]


def test_only_finance_loads_indicators(as_unit, as_competent, as_bank, as_oversight):
    for party in (as_unit, as_competent, as_bank, as_oversight):
        assert party.post("/api/v1/indicators", json=[ROW]).status_code == 403


def test_indicators_are_filtered_by_unit_and_code(as_finance):
    items = as_finance.get("/api/v1/indicators?unit_code=653000-301001&economic_code=30211").json["items"]
    assert [(i["unit_code"], i["amount"]) for i in items] == [("653000-301001", "158000.00")]

"""A case's notices (Art. 21-23): listed with their numbers for whoever sees the case, and a
notice is visible to whoever can see its case (e.g. the oversight body a case is referred to)."""
import re

import pytest

from workflow import cases
from workflow.db import db
from workflow.parties import Actor, org_by_code

NUMBER = re.compile(r"^\d{4}年第\d+号$")


@pytest.fixture
def decision_case(demo):
    """A unit case opened on the handling-decision rung (Art. 21(二)), which issues a 处理决定."""
    case = cases.open_case(Actor.of(demo.users["city_finance"]), machine="unit_case",
                           subject=org_by_code("653000-301001"), rung="decision",
                           fields={"summary": "超预算支付公务接待费", "measures": ["return_funds", "adjust_accounts"],
                                   "amount": "12500.00"})
    db.session.commit()
    return case.id


def _items(response):
    assert response.status_code == 200, response.json
    return response.json["items"]


@pytest.mark.parametrize("party", ["unit", "competent", "city_finance", "finance"])
def test_art21_2_the_case_lists_its_handling_decision_with_its_number(request, decision_case, party):
    client = request.getfixturevalue(f"as_{party}")
    [document] = _items(client.get(f"/api/v1/cases/{decision_case}/documents"))
    assert document["kind"] == "handling_decision" and document["case_id"] == decision_case
    assert NUMBER.match(document["number"])
    html = client.get(f"/api/v1/documents/{document['id']}/html").get_data(as_text=True)
    assert "超预算支付公务接待费" in html and "退回违规资金" in html and "12,500.00元" in html


@pytest.mark.parametrize("party", ["other_unit", "other_competent", "county_finance", "bank", "oversight"])
def test_parties_who_cannot_see_the_case_get_404_for_its_documents(request, decision_case, party):
    client = request.getfixturevalue(f"as_{party}")
    assert client.get(f"/api/v1/cases/{decision_case}/documents").status_code == 404


def test_art23_a_referred_oversight_body_sees_the_cases_notices(demo, decision_case, as_oversight):
    cases.apply_action(Actor.of(demo.users["city_finance"]), decision_case, "refer",
                       {"oversight": "653000-SJ", "reason": "拒不执行处理决定"})
    db.session.commit()
    documents = _items(as_oversight.get(f"/api/v1/cases/{decision_case}/documents"))
    assert {d["kind"] for d in documents} == {"handling_decision", "referral_letter"}
    decision = next(d for d in documents if d["kind"] == "handling_decision")
    assert as_oversight.get(f"/api/v1/documents/{decision['id']}").status_code == 200
    # It sees the decision because it sees the case; acknowledging it is the unit's.
    assert as_oversight.post(f"/api/v1/documents/{decision['id']}/acknowledge").status_code == 403


def test_art22_bank_case_notice_goes_to_the_bank(demo, as_bank, as_unit):
    case = cases.open_case(Actor.of(demo.users["city_finance"]), machine="bank_case",
                           subject=org_by_code("BANK-ICBC-KZ"), rung="transmission_fix",
                           fields={"summary": "未及时传输支付清算信息"})
    db.session.commit()
    [document] = _items(as_bank.get(f"/api/v1/cases/{case.id}/documents"))
    assert document["kind"] == "bank_rectification_notice"
    assert as_bank.post(f"/api/v1/documents/{document['id']}/acknowledge").status_code == 200
    assert as_unit.get(f"/api/v1/documents/{document['id']}").status_code == 404


def test_case_documents_page_with_a_cursor(demo, decision_case, as_city_finance):
    for scope in ("competent", "region_units"):
        cases.apply_action(Actor.of(demo.users["city_finance"]), decision_case, "publish_notice", {"scope": scope})
    db.session.commit()
    first = as_city_finance.get(f"/api/v1/cases/{decision_case}/documents?limit=2").json
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = _items(as_city_finance.get(f"/api/v1/cases/{decision_case}/documents?limit=2&cursor={first['next_cursor']}"))
    assert [d["kind"] for d in first["items"] + rest] == ["handling_decision", "public_notice", "public_notice"]
    assert [d["number"].split("第")[1] for d in first["items"][1:] + rest] == ["1号", "2号"]

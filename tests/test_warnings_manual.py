"""Issue 10, "Manual warnings": finance raises a warning by hand (人工排查, Art. 12) on a payment
or on a unit, with a level, a screening rule or a finding of its own, the article and a
description. It enters the verification of Art. 11(二) like any warning, is journaled, and is
told as screening tells (the unit and finance; for a block the competent department and the
carrying bank).
"""
from __future__ import annotations

import pytest
from cases_support import BANK, COMPETENT
from test_notifications_warnings import CITY_FINANCE, told
from verification_support import OTHER_UNIT, UNIT, clean_transfer, count, post_payments

from workflow.monitoring.models import MonitoringWarning

URL = "/api/v1/warnings"


def finding(**over) -> dict:
    body = {"unit_code": UNIT, "level": "warn", "finding": "现场检查发现白条抵库",
            "article": {"article": 12}, "description": "单位食堂采购以白条入账，金额约三千元"}
    body.update(over)
    return body


def paid(finance) -> dict:
    return post_payments(finance, [clean_transfer()])[0]


def test_art12_finance_raises_a_warning_on_a_unit_after_a_site_visit(as_city_finance, as_unit):
    response = as_city_finance.post(URL, json=finding())
    assert response.status_code == 201, response.get_json()
    warning = response.get_json()
    assert warning["status"] == "open" and warning["rule"] == "manual" and warning["payment"] is None
    assert warning["article"] == "第十二条"
    assert warning["message"].startswith("现场检查发现白条抵库：")
    assert as_unit.get(f"{URL}/{warning['id']}").status_code == 200, "the unit sees its warning"
    body = told()[UNIT][0].body
    assert "人工排查" in body and "第十二条" in body and "未涉及具体支付" in body


def test_art12_the_warning_enters_the_verification_of_art11_2(as_city_finance):
    warning_id = as_city_finance.post(URL, json=finding()).get_json()["id"]
    step = as_city_finance.post(f"{URL}/{warning_id}/steps", json={"kind": "phone", "summary": "电话核实"})
    assert step.status_code == 201
    assert as_city_finance.get(f"{URL}/{warning_id}").get_json()["status"] == "verifying"
    dismissed = as_city_finance.post(f"{URL}/{warning_id}/dismiss", json={"reason": "已补齐发票"})
    assert dismissed.get_json()["status"] == "dismissed"


def test_art12_a_block_on_a_payment_names_a_screening_rule_and_tells_the_competent_department_and_bank(
        as_city_finance):
    payment = paid(as_city_finance)
    response = as_city_finance.post(URL, json={"unit_code": UNIT, "payment_id": payment["id"], "level": "block",
                                               "rule": "luxury_specialties", "description": "机票实为购买土特产"})
    assert response.status_code == 201, response.get_json()
    warning = response.get_json()
    assert warning["rule"] == "luxury_specialties" and warning["payment"]["id"] == payment["id"]
    assert warning["article"].startswith("第"), "the rule's own article when none is given"
    messages = told()
    for org in (UNIT, CITY_FINANCE, COMPETENT, BANK):
        assert payment["voucher_no"] in messages[org][0].body, org


def test_art12_the_article_is_rendered_as_the_regulation_numbers_it(as_city_finance):
    response = as_city_finance.post(URL, json=finding(article={"article": 13, "item": 2, "point": 1}))
    assert response.get_json()["article"] == "第十三条（二）1"


def test_art12_raising_is_journaled(as_city_finance):
    warning_id = as_city_finance.post(URL, json=finding()).get_json()["id"]
    events = as_city_finance.get(f"{URL}/{warning_id}/events").get_json()["items"]
    assert events[0]["action"] == "opened"
    assert events[0]["payload"]["finding"] == "现场检查发现白条抵库" and events[0]["payload"]["basis"] == "第十二条"


@pytest.mark.parametrize("body, field", [
    (finding(unit_code="NO-SUCH"), "unit_code"),
    (finding(level="severe"), "level"),
    (finding(rule="cash_over_limit"), "rule"),  # both a rule and a finding
    ({k: v for k, v in finding().items() if k != "finding"}, "rule"),  # neither
    (finding(rule="complaint", finding=None), "rule"),  # a hand-raised kind is not a screening rule
    ({k: v for k, v in finding().items() if k != "article"}, "article"),
    (finding(article={"article": 13, "point": 1}), "article.point"),
    (finding(article={"article": 0}), "article.article"),
    (finding(article="第十二条"), "article"),
    (finding(description=""), "description"),
    (finding(bogus=1), "bogus"),
    (finding(payment_id=999999), "payment_id"),
])
def test_art12_bad_input_is_422_naming_the_field_and_writes_nothing(as_city_finance, body, field):
    body = {k: v for k, v in body.items() if v is not None}
    response = as_city_finance.post(URL, json=body)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert any(name == field or name.startswith(field + ".") for name in errors), errors
    assert count(MonitoringWarning, MonitoringWarning.rule == "manual") == 0
    assert told() == {}


def test_art12_a_payment_of_another_unit_is_refused(as_city_finance, as_finance):
    other = post_payments(as_finance, [clean_transfer(unit_code=OTHER_UNIT, payer_account="6501000200300045678")])[0]
    response = as_city_finance.post(URL, json=finding(payment_id=other["id"]))
    assert response.status_code == 422 and "payment_id" in response.get_json()["errors"]


def test_art12_a_unit_outside_the_jurisdiction_is_answered_as_an_unknown_one(as_county_finance):
    outside = as_county_finance.post(URL, json=finding())
    unknown = as_county_finance.post(URL, json=finding(unit_code="NO-SUCH"))
    assert outside.status_code == unknown.status_code == 422
    assert outside.get_json()["errors"] == unknown.get_json()["errors"]


def test_art12_only_finance_raises_warnings(as_unit, as_competent, as_bank):
    for party in (as_unit, as_competent, as_bank):
        assert party.post(URL, json=finding()).status_code == 403


def test_art12_one_finding_per_payment_the_second_is_a_conflict(as_city_finance):
    payment = paid(as_city_finance)
    first = as_city_finance.post(URL, json=finding(payment_id=payment["id"]))
    assert first.status_code == 201
    again = as_city_finance.post(URL, json=finding(payment_id=payment["id"], finding="另一发现"))
    assert again.status_code == 409 and "finding" in again.get_json()["errors"]


def test_art12_a_reminder_tells_nobody(as_city_finance):
    assert as_city_finance.post(URL, json=finding(level="remind")).status_code == 201
    assert told() == {}


def test_art12_a_block_raised_by_hand_holds_the_accepted_payment_until_verification_decides(as_city_finance):
    payment = paid(as_city_finance)
    assert payment["status"] == "accepted"
    warning = as_city_finance.post(URL, json={"unit_code": UNIT, "payment_id": payment["id"], "level": "block",
                                              "rule": "luxury_specialties", "description": "机票实为购买土特产"}).get_json()
    held = as_city_finance.get(f"/api/v1/payments/{payment['id']}").get_json()
    assert held["status"] == "held", "Art. 11(二): held while the hand-raised block is verified"
    dismissed = as_city_finance.post(f"{URL}/{warning['id']}/dismiss", json={"reason": "确为差旅机票"})
    assert dismissed.status_code == 200
    assert as_city_finance.get(f"/api/v1/payments/{payment['id']}").get_json()["status"] == "accepted"


def test_art12_a_warn_or_remind_raised_by_hand_leaves_the_payment_as_it_was(as_city_finance):
    payment = paid(as_city_finance)
    as_city_finance.post(URL, json={"unit_code": UNIT, "payment_id": payment["id"], "level": "warn",
                                    "rule": "luxury_specialties", "description": "疑似购买土特产"})
    assert as_city_finance.get(f"/api/v1/payments/{payment['id']}").get_json()["status"] == "accepted"

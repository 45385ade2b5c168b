"""Shared helpers of the case workflow tests (not a test module).

Cases are opened and moved through the HTTP API as the parties would; where a test
needs time to have passed (a deadline), the case is opened through the domain with
``now`` in the past, which is what a case opened weeks ago looks like.
"""
from __future__ import annotations

import datetime as dt
import io

import sqlalchemy as sa

from workflow import cases
from workflow.case_records import Case
from workflow.db import db, utcnow
from workflow.parties import Actor, User, org_by_code

UNIT = "653000-301001"
OTHER_UNIT = "653000-302001"
COMPETENT = "653000-301"
BANK = "BANK-ICBC-KZ"
OTHER_BANK = "BANK-CCB-KZ"
OVERSIGHT = "653000-SJ"
UNIT_ACCOUNTS = ("3009000109200012345", "3009000109200067890")

# The demo parties by fixture name, and what each is with respect to a case on UNIT.
ALL_PARTIES = ("as_city_finance", "as_finance", "as_county_finance", "as_competent", "as_other_competent",
               "as_unit", "as_other_unit", "as_bank", "as_other_bank", "as_oversight")
FINANCE_IN_CHARGE = ("as_city_finance", "as_finance")  # the city and the province above it
SEES_UNIT_CASE = FINANCE_IN_CHARGE + ("as_competent", "as_unit")

OPENING_FIELDS = {
    "warning": {"summary": "差旅费以现金支付1500元，超过现金结算起点（第十三条（二）1）"},
    "decision": {"summary": "无预算支付公务接待费（第十四条）", "measures": ["return_funds", "adjust_accounts"],
                 "amount": "3200.00"},
    "order": {"summary": "拒不执行处理决定（第二十一条（三））", "grounds": "refused_decision",
              "requirements": ["退回违规资金3200.00元", "调整相关账目"]},
    "refund_or_redo": {"summary": "无支付指令向个人账户支付5000.00元（第十条（四））", "measures": ["refund"],
                       "amount": "5000.00"},
    "transmission_fix": {"summary": "未及时传输动态监控信息（第二十二条（二））"},
}


def actor(demo, key: str) -> Actor:
    return Actor.of(demo.users[key])


def open_case(party, rung: str = "warning", *, machine: str | None = None, subject: str | None = None,
              **fields) -> dict:
    """Open a case through the API as ``party`` and return its JSON (asserting 201)."""
    bank = rung in ("refund_or_redo", "transmission_fix")
    body = {"machine": machine or ("bank_case" if bank else "unit_case"),
            "subject": subject or (BANK if bank else UNIT), "rung": rung,
            "fields": {**OPENING_FIELDS[rung], **fields}}
    response = party.post("/api/v1/cases", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def open_case_at(demo, when: dt.datetime, rung: str = "order", *, subject: str | None = None,
                 finance: str = "city_finance", **fields) -> int:
    """Open a case through the domain as if it had been opened at ``when``; commit; its id."""
    bank = rung in ("refund_or_redo", "transmission_fix")
    case = cases.open_case(actor(demo, finance), machine="bank_case" if bank else "unit_case",
                           subject=org_by_code(subject or (BANK if bank else UNIT)), rung=rung,
                           fields={**OPENING_FIELDS[rung], **fields}, now=when)
    db.session.commit()
    return case.id


def weeks_ago(n: int) -> dt.datetime:
    return utcnow() - dt.timedelta(weeks=n)


def version_of(case_id: int) -> int:
    return db.session.execute(sa.select(Case.version).where(Case.id == case_id)).scalar_one()


def state_of(case_id: int) -> str:
    return db.session.execute(sa.select(Case.state).where(Case.id == case_id)).scalar_one()


def act(party, case_id: int, trigger: str, *, version: int | None = None, **fields):
    """POST an action as ``party`` with the current version (unless given); the response."""
    body = {"version": version_of(case_id) if version is None else version, **fields}
    return party.post(f"/api/v1/cases/{case_id}/actions/{trigger}", json=body)


def act_ok(party, case_id: int, trigger: str, **fields) -> dict:
    response = act(party, case_id, trigger, **fields)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def attach_evidence(party, case_id: int, text: str = "整改报告：已退回违规资金并调整账目。") -> None:
    response = party.post(f"/api/v1/cases/{case_id}/evidence", content_type="multipart/form-data",
                          data={"file": (io.BytesIO(text.encode("utf-8")), "整改结果.txt", "text/plain")})
    assert response.status_code == 201, response.get_json()


def events_of(party, case_id: int) -> list[dict]:
    response = party.get(f"/api/v1/cases/{case_id}/events?limit=1000")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def outbox_to(org_code: str, template: str, case_id: int) -> int:
    """How many inbox messages of ``template`` about the case went to users of the org."""
    from workflow.outbox import OutboxMessage

    org = org_by_code(org_code)
    return db.session.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.template == template, OutboxMessage.case_id == case_id, OutboxMessage.channel == "inbox",
        OutboxMessage.recipient_org_id == org.id)).scalar_one()


def documents_of(case_id: int) -> list:
    from workflow.documents import Document

    return list(db.session.execute(sa.select(Document).where(Document.case_id == case_id)
                                   .order_by(Document.id)).scalars())


def users_of(org_code: str) -> list[User]:
    org = org_by_code(org_code)
    return list(db.session.execute(sa.select(User).where(User.org_id == org.id)).scalars())

"""The authorization matrix (issue 16, item 8): every operation of the OpenAPI document, asked by
every demo party and without a token, on records of the demo unit (653000-301001) and its agent
bank (ICBC), which every party but these and the finance departments above them does not own.

:data:`MATRIX` lists every operation explicitly with the parties that may take it; every other
party must get 403 (a kind that may not) or 404 (a record out of its reach, indistinguishable from
none), and a caller without a token 401, unless the operation is public. A party that may is
answered neither 401, 403, 404 nor 5xx (409 or 422 are fine: it passed authorization and the
record's state or the body decided). A new operation in the OpenAPI document that the matrix does
not list fails :func:`test_issue16_8_the_matrix_lists_every_operation_of_the_openapi_document`.

The records are built once per test; each operation is asked first by the parties that may not,
so that what the others then do cannot hide a leak.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from cases_support import BANK, UNIT, open_case, version_of
from verification_support import clean_transfer, held_payment

from notifications.delivery import deliver_pending
from notifications.inbox import InboxNotification
from workflow.db import db
from workflow.outbox import OutboxMessage
from workflow.parties import org_by_code
from workflow.statistics import local_today

PARTIES = ("finance", "city_finance", "county_finance", "competent", "other_competent", "unit", "other_unit",
           "bank", "other_bank", "oversight", "department")
DEPARTMENT = "653000-SCJG"  # the prefecture's market regulation bureau: receives what is not finance's (Art. 11(三))
ANONYMOUS = "no token"

EVERYONE = frozenset(PARTIES)
FINANCE = frozenset({"finance", "city_finance", "county_finance"})  # function-level: any finance department
CITY_FINANCE = frozenset({"city_finance"})  # the officers of the department whose drafts are asked for
IN_CHARGE = frozenset({"finance", "city_finance"})  # the province and the city above the unit
SEES_UNIT = IN_CHARGE | {"competent", "unit"}  # the unit's records (Art. 26(一): its competent department)
CARRIES = SEES_UNIT | {"bank"}  # records on a payment the bank carries


@dataclass(frozen=True)
class Op:
    may: frozenset
    body: Callable[[dict], dict] = field(default=lambda ids: {})
    public: bool = False  # no token needed
    why: str = ""
    # How a party that may not is answered. A create that names its unit (or payment) in the body
    # answers 422 on that field for a unit out of the caller's reach, worded as for none at all.
    refused: tuple = (403, 404)


NAMED_IN_BODY = (403, 404, 422)
_FUTURE = local_today() + dt.timedelta(days=30)  # a circular's self-check is due after today


def _json(build):
    return lambda ids: {"json": build(ids)}


def _file(ids):
    return {"content_type": "multipart/form-data",
            "data": {"file": (io.BytesIO("整改说明".encode()), "整改.txt", "text/plain")}}


def _record(ids):
    return {"json": {"held_at": "2021-06-10T10:00:00+08:00", "participants": [{"name": "王科长", "side": "finance"}],
                     "minutes": "约谈情况", "kept_by": "张记录"}}


def _action(ids):
    return {"json": {"version": version_of(ids["case"]), "scope": "competent"}}


W = "/api/v1/warnings/{warning}"
HANDED_ON = "/api/v1/warnings/{transferred}"  # a warning of the unit handed on to the department in _build
MATRIX: dict[tuple[str, str], Op] = {
    ("GET", "/api/v1/health"): Op(EVERYONE, public=True),
    ("GET", "/api/v1/orgs"): Op(EVERYONE, why="a list of what is in reach"),
    ("GET", "/api/v1/accounts"): Op(EVERYONE, why="a list of what is in reach"),
    ("POST", "/api/v1/accounts"): Op(IN_CHARGE | {"unit"}, _json(lambda ids: {
        "unit_code": UNIT, "bank_code": BANK, "number": "3009000109200099999", "kind": "special"}), refused=NAMED_IN_BODY),
    ("GET", "/api/v1/accounts/{account}"): Op(CARRIES),
    ("PATCH", "/api/v1/accounts/{account}"): Op(IN_CHARGE, _json(lambda ids: {"registered": True})),
    ("GET", "/api/v1/accounts/{account}/events"): Op(CARRIES),
    ("GET", "/api/v1/indicators"): Op(EVERYONE, why="a list of what is in reach"),
    ("POST", "/api/v1/indicators"): Op(IN_CHARGE, _json(lambda ids: [{
        "unit_code": UNIT, "year": 2022, "functional_code": "2010201", "economic_code": "30211",
        "fund_source": "general_budget", "expenditure_kind": "basic", "amount": "1000.00"}]), refused=NAMED_IN_BODY),
    ("GET", "/api/v1/payment-plans"): Op(EVERYONE, why="a list of what is in reach"),
    ("POST", "/api/v1/payment-plans"): Op(frozenset({"unit"}), _json(lambda ids: [{
        "unit_code": UNIT, "month": "2021-07", "functional_code": "2010201", "economic_code": "30201",
        "amount": "2500.00"}]), refused=NAMED_IN_BODY, why="a unit files its own plans"),
    ("POST", "/api/v1/payment-plans/approve"): Op(IN_CHARGE, _json(lambda ids: {"plan_ids": [ids["plan"]]})),
    ("GET", "/api/v1/payment-plans/quota"): Op(EVERYONE, why="a list of what is in reach"),
    ("GET", "/api/v1/payment-plans/{plan}"): Op(SEES_UNIT),
    ("POST", "/api/v1/payment-plans/{plan}/approve"): Op(IN_CHARGE),
    ("POST", "/api/v1/payment-plans/{plan}/return"): Op(IN_CHARGE, _json(lambda ids: {"reason": "请按均衡原则压减"})),
    ("GET", "/api/v1/payment-plans/{plan}/events"): Op(SEES_UNIT),
    ("GET", "/api/v1/indicators/{indicator}"): Op(SEES_UNIT),
    ("GET", "/api/v1/indicators/{indicator}/adjustments"): Op(SEES_UNIT),
    ("POST", "/api/v1/indicators/{indicator}/adjustments"): Op(IN_CHARGE, _json(lambda ids: {
        "kind": "adjust", "amount": "1.00", "reason": "追加预算", "document_ref": "克财预〔2021〕1号"})),
    ("GET", "/api/v1/indicators/{indicator}/events"): Op(SEES_UNIT),
    ("GET", "/api/v1/notifications"): Op(EVERYONE, why="the caller's own inbox"),
    ("GET", "/api/v1/notifications/unread-count"): Op(EVERYONE, why="the caller's own inbox"),
    ("POST", "/api/v1/notifications/{notification}/read"): Op(frozenset({"unit"})),
    ("GET", "/api/v1/outbox/dead"): Op(FINANCE, why="dead letters of the caller's region"),
    ("POST", "/api/v1/outbox/{dead_letter}/retry"): Op(IN_CHARGE),
    ("GET", "/api/v1/rules"): Op(FINANCE),
    ("GET", "/api/v1/statistics"): Op(FINANCE | {"competent", "other_competent", "unit", "other_unit"},
                                      why="figures of the caller's own reach (Art. 11(四))"),
    ("GET", "/api/v1/reports"): Op(FINANCE, why="each department its own analysis reports and those below (Art. 11(五))"),
    ("POST", "/api/v1/reports"): Op(FINANCE, _json(lambda ids: {"kind": "annual", "period": "2021"}),
                                    why="each finance department its own report"),
    ("GET", "/api/v1/reports/{report}"): Op(IN_CHARGE, why="the city's report: the city and the province above"),
    ("GET", "/api/v1/reports/{report}/annex.xlsx"): Op(IN_CHARGE),
    # each finance department proposes a draft of its own set (a county's loosening is a 422, Art. 5-7)
    ("PUT", "/api/v1/rules"): Op(FINANCE, _json(lambda ids: {"rules": {"luxury_specialties": {"enabled": True}}})),
    ("PATCH", "/api/v1/rules"): Op(FINANCE, _json(lambda ids: {"rules": {"luxury_specialties": {"enabled": False}}})),
    ("GET", "/api/v1/rule-sets/{dept}/drafts"): Op(CITY_FINANCE, why="the department's own officers"),
    ("POST", "/api/v1/rule-sets/{dept}/drafts"): Op(CITY_FINANCE, _json(lambda ids: {
        "rules": {"cash_over_limit": {"limit": "700.00"}}, "reason": "州财库〔2021〕3号"})),
    ("GET", "/api/v1/rule-sets/{dept}/drafts/{rule_draft}"): Op(CITY_FINANCE),
    ("PATCH", "/api/v1/rule-sets/{dept}/drafts/{rule_draft}"): Op(CITY_FINANCE, _json(lambda ids: {
        "reason": "州财库〔2021〕4号"}), why="its author alone"),
    ("POST", "/api/v1/rule-sets/{dept}/drafts/{their_draft}/publish"): Op(
        CITY_FINANCE, why="a second officer of the department: the draft's author (another user) may not"),
    ("GET", "/api/v1/rule-sets/{dept}/versions"): Op(FINANCE, why="the department, those above and its region"),
    ("GET", "/api/v1/payments"): Op(EVERYONE, why="a list of what is in reach"),
    ("POST", "/api/v1/payments"): Op(IN_CHARGE | {"bank"}, _json(lambda ids: [clean_transfer()]),
                                           refused=NAMED_IN_BODY),
    ("GET", "/api/v1/payments/{payment}"): Op(CARRIES),
    ("GET", "/api/v1/payments/{payment}/events"): Op(CARRIES),
    ("GET", "/api/v1/payees"): Op(EVERYONE, why="a list of what is in reach"),
    ("POST", "/api/v1/payees"): Op(IN_CHARGE | {"unit"}, _json(lambda ids: {
        "unit_code": UNIT, "name": "李四", "id_number": "65300119900101123X", "employer": "克州政协机关",
        "title": "科员", "account": "6222000011114444"}), refused=NAMED_IN_BODY),
    ("GET", "/api/v1/payees/{payee}"): Op(IN_CHARGE | {"unit"}),
    ("PATCH", "/api/v1/payees/{payee}"): Op(IN_CHARGE | {"unit"}, _json(lambda ids: {"title": "副科长"})),
    ("GET", "/api/v1/payees/{payee}/events"): Op(IN_CHARGE | {"unit"}),
    ("POST", "/api/v1/payees/{payee}/confirm"): Op(IN_CHARGE, why="核实确认 is finance's, never the filing unit's"),
    ("POST", "/api/v1/payees/{payee}/reject"): Op(IN_CHARGE, _json(lambda ids: {"reason": "账号与身份证姓名不符"})),
    ("GET", "/api/v1/account-changes"): Op(EVERYONE, why="a list of what is in reach"),
    ("POST", "/api/v1/account-changes"): Op(IN_CHARGE | {"unit"}, _json(lambda ids: {
        "unit_code": UNIT, "number": "3009000109200012345", "change": "changed", "changed_on": "2021-03-01",
        "details": "预留印鉴变更"}), refused=NAMED_IN_BODY),
    ("GET", "/api/v1/account-changes/{account_change}"): Op(SEES_UNIT),
    ("GET", "/api/v1/reimbursements"): Op(EVERYONE, why="a list of what is in reach"),
    ("POST", "/api/v1/reimbursements"): Op(IN_CHARGE, _json(lambda ids: {
        "unit_code": UNIT, "indicator_id": ids["indicator"], "amount": "500.00", "reason": "垫付会议费",
        "document_ref": "克财库〔2021〕30号"}), refused=NAMED_IN_BODY),
    ("GET", "/api/v1/reimbursements/{reimbursement}"): Op(SEES_UNIT),
    ("GET", "/api/v1/special-fund-rules"): Op(EVERYONE, why="a list of what is in reach"),
    ("POST", "/api/v1/special-fund-rules"): Op(frozenset({"unit"}), _json(lambda ids: {
        "unit_code": UNIT, "name": "为民办实事好事和第一书记工作经费管理办法", "fund_code": "为民办实事好事和第一书记工作经费",
        "document_ref": "克政协办发〔2021〕4号"}), refused=NAMED_IN_BODY, why="Art. 17: the unit makes its rules"),
    ("GET", "/api/v1/special-fund-rules/{special_fund_rules}"): Op(SEES_UNIT),
    ("GET", "/api/v1/special-fund-rules/{special_fund_rules}/file"): Op(SEES_UNIT),
    ("POST", "/api/v1/special-fund-rules/{special_fund_rules}/file"): Op(frozenset({"unit"}), _file),
    ("POST", "/api/v1/special-fund-rules/{special_fund_rules}/approve"): Op(IN_CHARGE),
    ("POST", "/api/v1/special-fund-rules/{special_fund_rules}/reject"): Op(IN_CHARGE, _json(lambda ids: {
        "reason": "未规定会计核算办法"})),
    ("GET", "/api/v1/warnings"): Op(EVERYONE, why="a list of what is in reach"),
    ("POST", "/api/v1/warnings"): Op(IN_CHARGE, _json(lambda ids: {
        "unit_code": UNIT, "payment_id": ids["payment"], "level": "warn", "finding": "现场检查发现白条抵库",
        "article": {"article": 12}, "description": "人工排查发现该笔支付附件为白条"}), refused=NAMED_IN_BODY),
    ("GET", W): Op(CARRIES),
    ("GET", W + "/events"): Op(CARRIES),
    ("POST", W + "/steps"): Op(IN_CHARGE, _json(lambda ids: {"kind": "phone", "summary": "电话核实"})),
    ("POST", W + "/responses"): Op(frozenset({"competent", "unit", "bank"}), _json(lambda ids: {"text": "情况说明"})),
    ("POST", W + "/responses/{response}/files"): Op(frozenset({"unit"}), _file,
                                                    why="the unit's own answer: the others who see it get 403"),
    ("GET", W + "/files"): Op(CARRIES),
    ("GET", "/api/v1/warning-files/{warning_file}/download"): Op(CARRIES, why="a file of the unit's answer"),
    ("POST", W + "/steps/{step}/record"): Op(IN_CHARGE, _record),
    ("POST", W + "/confirm"): Op(IN_CHARGE, _json(lambda ids: {"rung": "warning"})),
    ("POST", W + "/dismiss"): Op(IN_CHARGE, _json(lambda ids: {"reason": "核实无误"})),
    ("POST", W + "/transfer"): Op(IN_CHARGE, _json(lambda ids: {
        "receiver_code": DEPARTMENT, "matters": ["收款单位无证经营"], "basis": "《无证无照经营查处办法》"}),
                                   why="finance of the unit's jurisdiction (Art. 11(三)); 409 once decided"),
    ("POST", HANDED_ON + "/close-transfer"): Op(IN_CHARGE, _json(lambda ids: {"summary": "有关部门已处理"}),
                                                why="409 until the department answered"),
    ("GET", "/api/v1/focus-list"): Op(FINANCE),
    ("GET", "/api/v1/bank-refusals"): Op(EVERYONE, why="a list of what is in reach"),
    ("POST", "/api/v1/bank-refusals"): Op(frozenset({"bank"}), _json(lambda ids: {
        "voucher_no": ids["voucher"], "reason": "收款账户户名不符"})),
    ("GET", "/api/v1/bank-reports"): Op(FINANCE | {"bank", "other_bank"}, why="each its own, finance its region's"),
    ("POST", "/api/v1/bank-reports"): Op(frozenset({"bank"}), _json(lambda ids: {
        "voucher_no": ids["voucher"], "finding": "收款人与合同约定的供应商不一致"})),
    ("POST", "/api/v1/bank-settlements"): Op(frozenset({"bank", "other_bank"}), _json(lambda ids: [{
        "voucher_no": ids["voucher"], "payer_account": "3009000109200012345", "amount": "800.00",
        "payee_name": "克州航空票务有限公司", "payee_account": "6222000099998888",
        "paid_at": "2021-06-01T10:00:00+08:00"}]), why="each bank reports its own settlements"),
    ("GET", "/api/v1/complaints"): Op(FINANCE),
    ("POST", "/api/v1/complaints"): Op(EVERYONE, _json(lambda ids: {"unit_code": UNIT, "description": "疑似虚列支出差旅费"}),
                                      public=True),
    ("GET", "/api/v1/complaints/form"): Op(EVERYONE, public=True),
    ("POST", "/api/v1/complaints/status"): Op(EVERYONE, _json(lambda ids: {"receipt_code": ids["receipt_code"]}),
                                             public=True, why="whoever holds the receipt code"),
    ("POST", "/api/v1/complaints/phone"): Op(FINANCE, _json(lambda ids: {
        "unit_code": UNIT, "description": "来电反映虚列支出", "received_at": "2026-03-02T09:15:00+08:00"}),
                                            why="any finance department takes calls; the report goes to the one in charge"),
    ("GET", "/api/v1/complaints/{complaint}"): Op(IN_CHARGE),
    ("GET", "/api/v1/complaints/{complaint}/events"): Op(IN_CHARGE),
    ("POST", "/api/v1/complaints/{complaint}/triage"): Op(IN_CHARGE, _json(lambda ids: {"into": "dismissed",
                                                                                          "reason": "查无实据"})),
    ("GET", "/api/v1/cases"): Op(EVERYONE, why="a list of what is in reach"),
    ("POST", "/api/v1/cases"): Op(IN_CHARGE, _json(lambda ids: {
        "machine": "unit_case", "subject": UNIT, "rung": "warning", "fields": {"summary": "现金支付超限"}}),
                                        refused=NAMED_IN_BODY),
    ("GET", "/api/v1/cases/{case}"): Op(SEES_UNIT),
    ("POST", "/api/v1/cases/{case}/actions/{trigger}"): Op(IN_CHARGE, _action),
    ("GET", "/api/v1/cases/{case}/events"): Op(SEES_UNIT),
    ("GET", "/api/v1/cases/{case}/documents"): Op(SEES_UNIT),
    ("GET", "/api/v1/cases/{case}/evidence"): Op(SEES_UNIT),
    ("POST", "/api/v1/cases/{case}/evidence"): Op(IN_CHARGE | {"unit"}, _file),
    ("GET", "/api/v1/evidence/{evidence}/download"): Op(SEES_UNIT),
    ("GET", "/api/v1/documents"): Op(EVERYONE, why="the notices the caller's party issued or received"),
    ("GET", "/api/v1/documents/{document}"): Op(SEES_UNIT),
    ("GET", "/api/v1/documents/{document}/html"): Op(SEES_UNIT),
    ("GET", "/api/v1/documents/{document}/pdf"): Op(SEES_UNIT),
    ("GET", "/api/v1/documents/{document}/signed-copy"): Op(SEES_UNIT, why="the unit returned it in _build"),
    ("GET", "/api/v1/documents/{document}/events"): Op(SEES_UNIT),
    ("POST", "/api/v1/documents/{document}/acknowledge"): Op(frozenset({"unit"})),
    ("GET", "/api/v1/circulars"): Op(EVERYONE, why="a list of what is in reach"),
    ("POST", "/api/v1/circulars"): Op(FINANCE, _json(lambda ids: {
        "from": "2021-01-01", "to": "2021-12-31", "due_on": _FUTURE.isoformat()}),
        why="a finance department with no competent department at its level gets 422"),
    ("GET", "/api/v1/circulars/{circular}"): Op(SEES_UNIT, why="sent to the competent department and its units"),
    ("POST", "/api/v1/circulars/{circular}/close"): Op(frozenset({"city_finance"}), why="its issuer"),
    ("GET", "/api/v1/circulars/{circular}/answers"): Op(SEES_UNIT),
    ("POST", "/api/v1/circulars/{circular}/answers"): Op(frozenset({"competent", "unit"}), _json(lambda ids: {
        "result": "已自查"})),
    ("GET", "/api/v1/circular-files/{circular_file}/download"): Op(IN_CHARGE | {"unit"},
                                                                   why="the unit's answer: not its department's"),
    ("GET", "/api/v1/work-reports"): Op(FINANCE, why="the reports of the caller's region"),
    ("POST", "/api/v1/work-reports"): Op(frozenset({"city_finance", "county_finance"}), _json(lambda ids: {
        "from": "2021-01-01", "to": "2021-12-31"}), why="the province reports to no level above"),
    ("GET", "/api/v1/work-reports/overview"): Op(FINANCE, lambda ids: {"query_string": {
        "from": "2021-01-01", "to": "2021-12-31"}}),
    ("GET", "/api/v1/work-reports/{work_report}"): Op(IN_CHARGE, why="the city's report: itself and the province"),
    ("PATCH", "/api/v1/work-reports/{work_report}"): Op(frozenset({"city_finance"}), _json(lambda ids: {
        "narrative": "工作情况"})),
    ("POST", "/api/v1/work-reports/{work_report}/submit"): Op(frozenset({"city_finance"})),
    ("GET", "/api/v1/major-problems"): Op(FINANCE, why="the problems reported in the caller's region"),
    ("POST", "/api/v1/major-problems"): Op(frozenset({"city_finance", "county_finance"}), _json(lambda ids: {
        "title": "重大问题", "description": "情况"}), why="the province reports to no level above"),
    ("GET", "/api/v1/major-problems/{major_problem}"): Op(IN_CHARGE),
    ("GET", "/api/v1/major-problem-files/{major_problem_file}/download"): Op(IN_CHARGE),
    ("GET", "/api/v1/workflow/{machine}"): Op(EVERYONE),
    ("GET", "/api/v1/workflow/warning/steps"): Op(EVERYONE),
    ("GET", "/api/v1/workflow/{machine}.svg"): Op(EVERYONE),
}


def _shape(path: str) -> str:
    """A path with its parameters unnamed, as the document and the matrix may name them differently."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def _openapi_operations(client) -> set[tuple[str, str]]:
    document = client.get("/api/v1/openapi.json").get_json()
    return {(method.upper(), _shape(path)) for path, item in document["paths"].items()
            for method in item if method in ("get", "post", "put", "patch", "delete")}


def test_issue16_8_the_matrix_lists_every_operation_of_the_openapi_document(client):
    listed = {(method, _shape(path)) for method, path in MATRIX}
    documented = _openapi_operations(client)
    assert documented - listed == set(), "operations without an entry in MATRIX"
    assert listed - documented == set(), "MATRIX entries the API no longer has"


def _build(parties, second) -> dict:
    city, unit = parties["city_finance"], parties["unit"]
    # two drafts of the city's rule set: one by the officer asked, one by the department's second officer
    own_draft = city.post("/api/v1/rule-sets/653000-CZ/drafts", json={
        "rules": {"cash_over_limit": {"limit": "800.00"}}, "reason": "州财库〔2021〕1号"})
    assert own_draft.status_code == 201, own_draft.get_json()
    their_draft = parties[ANONYMOUS].post("/api/v1/rule-sets/653000-CZ/drafts", json={
        "rules": {"frozen_balance": {"level": "block"}}, "reason": "州财库〔2021〕2号"},
        headers=second.headers)
    assert their_draft.status_code == 201, their_draft.get_json()
    payment, warning_id = held_payment(city)
    step = city.post(f"/api/v1/warnings/{warning_id}/steps", json={
        "kind": "interview", "interview_at": "2021-06-10T10:00:00+08:00", "room": "302"}).get_json()["id"]
    response = unit.post(f"/api/v1/warnings/{warning_id}/responses", json={"text": "情况说明见附件"}).get_json()["id"]
    attached = unit.post(f"/api/v1/warnings/{warning_id}/responses/{response}/files", content_type="multipart/form-data",
                         data={"file": (io.BytesIO("情况说明".encode()), "情况说明.txt", "text/plain")})
    assert attached.status_code == 201, attached.get_json()
    case_id = open_case(city, "order")["id"]
    upload = unit.post(f"/api/v1/cases/{case_id}/evidence", content_type="multipart/form-data",
                       data={"file": (io.BytesIO("整改说明".encode()), "整改.txt", "text/plain")})
    assert upload.status_code == 201
    documents = city.get(f"/api/v1/cases/{case_id}/documents").get_json()["items"]
    signed = unit.post(f"/api/v1/documents/{documents[0]['id']}/acknowledge", content_type="multipart/form-data",
                       data={"file": (io.BytesIO("已签收".encode()), "签收回执.txt", "text/plain")})
    assert signed.status_code == 200, signed.get_json()
    filed = unit.post("/api/v1/payees", json={"unit_code": UNIT, "name": "张三", "id_number": "653001199001011234",
                                              "employer": "克州政协机关", "title": "科员",
                                              "account": "6222000011113333"})
    assert filed.status_code == 201
    _, transferred = held_payment(city)
    handed = city.post(f"/api/v1/warnings/{transferred}/transfer", json={
        "receiver_code": DEPARTMENT, "matters": ["收款单位涉嫌虚开发票"], "basis": "《中华人民共和国发票管理办法》"})
    assert handed.status_code == 201, handed.get_json()
    planned = unit.post("/api/v1/payment-plans", json=[{
        "unit_code": UNIT, "month": "2021-06", "functional_code": "2010201", "economic_code": "30201",
        "amount": "2500.00"}])
    assert planned.status_code == 201, planned.get_json()
    account_change = unit.post("/api/v1/account-changes", json={
        "unit_code": UNIT, "number": "3009000109200012345", "change": "changed", "changed_on": "2021-03-01"})
    assert account_change.status_code == 201, account_change.get_json()
    indicator = city.get(f"/api/v1/indicators?unit_code={UNIT}&economic_code=30201").get_json()["items"][0]["id"]
    reimbursement = city.post("/api/v1/reimbursements", json={
        "unit_code": UNIT, "indicator_id": indicator, "amount": "1000.00", "reason": "垫付办公费",
        "document_ref": "克财库〔2021〕12号"})
    assert reimbursement.status_code == 201, reimbursement.get_json()
    special_fund_rules = unit.post("/api/v1/special-fund-rules", json={
        "unit_code": UNIT, "name": "群众联建工作经费管理办法", "fund_code": "群众联建工作经费", "document_ref": "克政协办发〔2021〕3号"})
    assert special_fund_rules.status_code == 201, special_fund_rules.get_json()
    attached = unit.post(f"/api/v1/special-fund-rules/{special_fund_rules.get_json()['id']}/file",
                         content_type="multipart/form-data",
                         data={"file": (io.BytesIO("管理办法".encode()), "管理办法.txt", "text/plain")})
    assert attached.status_code == 200, attached.get_json()
    circular = city.post("/api/v1/circulars", json={
        "from": "2021-01-01", "to": "2021-12-31", "recipients": ["653000-301"], "include_units": True,
        "case_ids": [case_id], "due_on": _FUTURE.isoformat()})
    assert circular.status_code == 201, circular.get_json()
    answer = unit.post(f"/api/v1/circulars/{circular.get_json()['id']}/answers", content_type="multipart/form-data",
                       data={"result": "已自查", "file": (io.BytesIO("自查报告".encode()), "自查报告.txt", "text/plain")})
    assert answer.status_code == 201, answer.get_json()
    work_report = city.post("/api/v1/work-reports", json={"from": "2021-01-01", "to": "2021-06-30"})
    assert work_report.status_code == 201, work_report.get_json()
    problem = city.post("/api/v1/major-problems", content_type="multipart/form-data", data={
        "problem": '{"title": "重大问题", "description": "情况"}',
        "file": (io.BytesIO("情况报告".encode()), "情况报告.txt", "text/plain")})
    assert problem.status_code == 201, problem.get_json()
    receipt = parties[ANONYMOUS].post("/api/v1/complaints", environ_base={"REMOTE_ADDR": "203.0.113.10"}, json={
        "unit_code": UNIT, "description": "现金报销大额差旅费", "reporter_phone": "13800001111"})
    assert receipt.status_code == 201
    report = city.post("/api/v1/reports", json={"kind": "quarterly", "period": "2021-Q2"})
    assert report.status_code == 201, report.get_json()
    deliver_pending()
    unit_id = org_by_code(UNIT).id
    dead = db.session.execute(sa.select(OutboxMessage).where(OutboxMessage.recipient_org_id == unit_id)
                              .order_by(OutboxMessage.id)).scalars().first()
    dead.status = "dead"
    db.session.commit()
    notification = db.session.execute(sa.select(InboxNotification.id).where(
        InboxNotification.user_id == unit.user.id).order_by(InboxNotification.id)).scalars().first()
    return {
        "account": next(a["id"] for a in unit.get("/api/v1/accounts").get_json()["items"]),
        "notification": notification, "dead_letter": dead.id, "payment": payment["id"],
        "voucher": payment["voucher_no"], "payee": filed.get_json()["id"], "warning": warning_id, "transferred": transferred,
        "complaint": city.get("/api/v1/complaints").get_json()["items"][0]["id"], "case": case_id,
        "trigger": "publish_notice", "evidence": upload.get_json()["id"], "document": documents[0]["id"],
        "machine": "unit-case", "receipt_code": receipt.get_json()["receipt_code"],
        "plan": planned.get_json()["items"][0]["id"],
        "account_change": account_change.get_json()["id"], "indicator": indicator,
        "reimbursement": reimbursement.get_json()["id"], "special_fund_rules": special_fund_rules.get_json()["id"],
        "step": step, "response": response, "warning_file": attached.get_json()["id"],
        "report": report.get_json()["id"],
        "dept": "653000-CZ", "rule_draft": own_draft.get_json()["id"], "their_draft": their_draft.get_json()["id"],
        "circular": circular.get_json()["id"], "circular_file": answer.get_json()["files"][0]["id"],
        "work_report": work_report.get_json()["id"], "major_problem": problem.get_json()["id"],
        "major_problem_file": problem.get_json()["files"][0]["id"],
    }


def _ask(client, method: str, path: str, op: Op, ids: dict, headers: dict | None):
    url = path.format(**ids)
    kwargs = op.body(ids)
    response = getattr(client, method.lower())(url, headers=headers or {}, **kwargs)
    status = response.status_code
    response.close()
    return status


def test_issue16_8_every_party_may_exactly_what_the_matrix_says(request, client, demo, as_city_finance_second):
    parties = {key: request.getfixturevalue(f"as_{key}") for key in PARTIES}
    parties[ANONYMOUS] = client
    ids = _build(parties, as_city_finance_second)
    wrong = []
    asked = 0
    for (method, path), op in MATRIX.items():
        order = [ANONYMOUS] + [p for p in PARTIES if p not in op.may] + [p for p in PARTIES if p in op.may]
        for party in order:
            caller = client if party == ANONYMOUS else parties[party]
            status = _ask(caller, method, path, op, ids, None)
            asked += 1
            if party == ANONYMOUS and not op.public:
                expected = "401"
                ok = status == 401
            elif party in op.may or party == ANONYMOUS:
                expected = "allowed"
                ok = status not in (401, 403, 404) and status < 500
            else:
                expected = "/".join(map(str, op.refused))
                ok = status in op.refused
            if not ok:
                wrong.append(f"{method} {path} as {party}: expected {expected}, got {status}")
    assert asked == len(MATRIX) * (len(PARTIES) + 1)
    assert not wrong, "\n".join(wrong)

"""Shared helpers of the verification, bank intake and complaints tests (not a test module).

Payments are posted through the payments API as finance would post them, so that the
warnings under test are the ones the monitoring rules really raise.
"""
from __future__ import annotations

import itertools

import sqlalchemy as sa

from workflow.db import db

UNIT = "653000-301001"
OTHER_UNIT = "653000-302001"
ZERO_BALANCE = "3009000109200012345"
OTHER_ZERO_BALANCE = "6501000200300045678"
OVERSIGHT = "653000-SJ"

_numbers = itertools.count(1)


def voucher() -> str:
    return f"ZF2021-{next(_numbers):06d}"


def cash_travel(voucher_no: str | None = None, **over) -> dict:
    """1,500 yuan of 差旅费 (30211) in cash to one person: the rules hold it (cash over the
    1,000-yuan limit, Art. 13(二)1⑦, level block) and ask for the official card (13(二)2)."""
    row = {"voucher_no": voucher_no or voucher(), "unit_code": UNIT, "payer_account": ZERO_BALANCE,
           "amount": "1500.00", "paid_at": "2021-06-01T10:00:00+08:00", "settlement": "cash",
           "method": "authorized", "functional_code": "2010201", "economic_code": "30211",
           "summary": "差旅费报销", "payee_name": "克州迎宾馆", "payee_kind": "company",
           "payee_account": "6222000011112222"}
    row.update(over)
    return row


def clean_transfer(voucher_no: str | None = None, **over) -> dict:
    """A transfer of 800 yuan of 差旅费 to a company: nothing to warn about."""
    row = cash_travel(voucher_no, settlement="transfer", amount="800.00", summary="差旅费（机票）",
                      payee_name="克州航空票务有限公司", payee_account="6222000099998888")
    row.update(over)
    return row


def post_payments(party, rows: list[dict]) -> list[dict]:
    response = party.post("/api/v1/payments", json=rows)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["items"]


def held_payment(finance, **over) -> tuple[dict, int]:
    """A held payment and the id of its blocking warning (cash over limit)."""
    item = post_payments(finance, [cash_travel(**over)])[0]
    assert item["status"] == "held", item
    blocking = [w for w in item["warnings"] if w["level"] == "block"]
    assert blocking, item
    return item, blocking[0]["id"]


def warning_row(warning_id: int):
    from workflow.monitoring.models import MonitoringWarning

    db.session.expire_all()
    return db.session.get(MonitoringWarning, warning_id)


def payment_status(voucher_no: str) -> str:
    from workflow.monitoring.models import Payment

    db.session.expire_all()
    return db.session.execute(sa.select(Payment.status).where(Payment.voucher_no == voucher_no)).scalar_one()


def outbox(template: str) -> list:
    from workflow.outbox import OutboxMessage

    db.session.expire_all()
    return list(db.session.execute(sa.select(OutboxMessage).where(
        OutboxMessage.template == template, OutboxMessage.channel == "inbox").order_by(OutboxMessage.id)).scalars())


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()

"""Shared builders for the monitoring tests: a demo payment that raises nothing, and
screening through the domain."""
from __future__ import annotations

import itertools

from workflow.db import db
from workflow.monitoring.screening import screen_payments
from workflow.parties import Actor

UNIT = "653000-301001"
OTHER_UNIT = "653000-302001"
ZERO_BALANCE = "3009000109200012345"
REAL_FUND = "3009000109200067890"
OTHER_ZERO_BALANCE = "6501000200300045678"
COMPANY_ACCOUNT = "6222020000001234567"
PERSON_ID = "65300119800101123X"
PERSON_ACCOUNT = "6217000000000000001"

_numbers = itertools.count(1)


def payment(**overrides) -> dict:
    """A clean payment of the demo unit: 300.00 yuan for office supplies (30201, budgeted
    30,000.00) by transfer from its registered zero-balance account to a company."""
    row = {
        "voucher_no": f"PZ2021{next(_numbers):06d}",
        "unit_code": UNIT,
        "payer_account": ZERO_BALANCE,
        "amount": "300.00",
        "paid_at": "2021-03-01T10:00:00+08:00",
        "settlement": "transfer",
        "method": "authorized",
        "functional_code": "2010201",
        "economic_code": "30201",
        "summary": "购买打印纸",
        "payee_name": "克州文具有限公司",
        "payee_account": COMPANY_ACCOUNT,
        "payee_kind": "company",
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not None}


def screen(*rows, actor: Actor | None = None, commit: bool = True) -> list[dict]:
    result = screen_payments(actor or Actor.system(), list(rows))
    if commit:
        db.session.commit()
    return result.items


def rules_of(item: dict) -> set[str]:
    return {w["rule"] for w in item["warnings"]}


def screen_one(actor: Actor | None = None, **overrides) -> dict:
    return screen(payment(**overrides), actor=actor)[0]

"""Load the demo data set: the 2021 budget of 克州政协机关 and the parties around it, and the
units' monthly payment plans for 2021 (用款计划, Art. 10(二)1, 10(三)15)."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from workflow import budget
from workflow.db import db
from workflow.monitoring import plans
from workflow.parties import Actor, Organisation, User, create_org, org_by_code
from workflow.sign_in import new_password, set_password
from workflow.tokens import issue_token

DEMO_FILE = Path(__file__).resolve().parent.parent / "data" / "demo_kizilsu_2021.json"
INDICATOR_FIELDS = ("unit_code", "year", "functional_code", "economic_code", "fund_source",
                    "expenditure_kind", "project", "amount")


def read_demo(path: Path = DEMO_FILE) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def database_is_empty() -> bool:
    return db.session.execute(sa.select(Organisation.id).limit(1)).first() is None


def load_demo(path: Path = DEMO_FILE, *, second_officers: bool = True,
              payment_plans: bool = False) -> dict[str, User]:
    """Create the demo parties, accounts and indicators; returns users by their key.
    ``second_officers``: also a second officer of each finance department (see
    :func:`add_second_officers`). ``payment_plans``: the units' plans (:func:`load_demo_plans`, as
    ``flask demo load`` does). The test suite's shared demo state leaves the plans out, so that a
    rule test of another article sees that article's warning alone; tests of the plans load them."""
    data = read_demo(path)
    for spec in data["organisations"]:
        create_org(code=spec["code"], name=spec["name"], kind=spec["kind"],
                   parent=org_by_code(spec["parent"]) if spec.get("parent") else None,
                   finance=org_by_code(spec["finance"]) if spec.get("finance") else None,
                   level=spec.get("level"), region=spec.get("region"))
        db.session.flush()
    users = {}
    for spec in data["users"]:
        users[spec["key"]] = User(org=org_by_code(spec["org"]), name=spec["name"], email=spec["email"])
        db.session.add(users[spec["key"]])
    system = Actor.system()
    for spec in data["accounts"]:
        budget.register_account(system, spec)
    budget.import_indicators(system, [{k: row[k] for k in INDICATOR_FIELDS} for row in data["indicators"]])
    db.session.flush()
    if second_officers:
        users.update(add_second_officers(path))
    if payment_plans:
        load_demo_plans(path)
    return users


def add_second_officers(path: Path = DEMO_FILE) -> dict[str, User]:
    """A second officer of each finance department (``finance_second``, ``city_finance_second``,
    ``county_finance_second``): rule-set changes are published by an officer other than their
    author (four eyes, Art. 12), so the demo can show it at once. Each is another recipient of
    the department's messages. Adds those not there yet; returns all three by key."""
    officers = {}
    for spec in read_demo(path)["second_officers"]:
        user = db.session.execute(sa.select(User).where(User.email == spec["email"])).scalar_one_or_none()
        if user is None:
            user = User(org=org_by_code(spec["org"]), name=spec["name"], email=spec["email"])
            db.session.add(user)
        officers[spec["key"]] = user
    db.session.flush()
    return officers


# The plan the demo leaves for finance to decide: December's 公务接待费 of 克州政协机关, filed at
# more than the rule set's default 30% of the year's budget (flagged uneven, Art. 10(三)15).
PENDING_PLAN = {"unit_code": "653000-301001", "economic_code": "30217", "month": 12, "amount": Decimal("30000.00")}


def load_demo_plans(path: Path = DEMO_FILE) -> list[plans.PaymentPlan]:
    """Each demo unit's basic-expenditure indicators spread evenly over 2021 (a twelfth a month,
    the last month taking the rounding), filed and approved, so that a payment beyond its
    month's plan is warned at once (rule ``over_payment_plan``); but for :data:`PENDING_PLAN`,
    filed and left for finance. Filed and approved as the system, journaled like any other."""
    data = read_demo(path)
    rows = []
    for indicator in data["indicators"]:
        if indicator["expenditure_kind"] != "basic":
            continue
        annual = Decimal(indicator["amount"])
        share = (annual / 12).quantize(Decimal("0.01"))
        for month in range(1, 13):
            amount = annual - 11 * share if month == 12 else share
            pending = (indicator["unit_code"], indicator["economic_code"], month) == (
                PENDING_PLAN["unit_code"], PENDING_PLAN["economic_code"], PENDING_PLAN["month"])
            rows.append({"unit_code": indicator["unit_code"], "year": indicator["year"], "month": month,
                         "functional_code": indicator["functional_code"], "economic_code": indicator["economic_code"],
                         "project": indicator["project"], "fund_source": indicator["fund_source"],
                         "amount": PENDING_PLAN["amount"] if pending else amount, "pending": pending})
    system = Actor.system()
    filings = plans.file_plans(system, rows)
    plans.decide_plans(system, [f.plan.id for f, row in zip(filings, rows) if not row["pending"]], "approve")
    db.session.flush()
    return [f.plan for f in filings]


def issue_demo_tokens(days: int = 365, *, second_officers: bool = True) -> dict[str, str]:
    """A fresh token for every demo user, keyed like the fixture (finance, unit, ...), and for
    the second officers of the finance departments (``finance_second``, ...)."""
    data = read_demo()
    tokens = {}
    for spec in data["users"] + (data["second_officers"] if second_officers else []):
        user = db.session.execute(sa.select(User).where(User.email == spec["email"])).scalar_one()
        _, plain = issue_token(user, days=days, label="demo")
        tokens[spec["key"]] = plain
    return tokens


def set_demo_passwords(*, second_officers: bool = True) -> dict[str, dict[str, str]]:
    """A fresh random password for every demo user, for the console: ``{key: {"email",
    "password"}}``, keyed like the tokens. Only the hashes are stored; the passwords are in
    the answer alone (``demo load`` writes them to ``instance/demo-logins.json``)."""
    logins = {}
    data = read_demo()
    for spec in data["users"] + (data["second_officers"] if second_officers else []):
        user = db.session.execute(sa.select(User).where(User.email == spec["email"])).scalar_one()
        password = new_password()
        set_password(user, password)
        logins[spec["key"]] = {"email": user.email, "password": password}
    return logins

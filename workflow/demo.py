"""Load the demo data set: the 2021 budget of 克州政协机关 and the parties around it."""
from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from workflow import budget
from workflow.db import db
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


def load_demo(path: Path = DEMO_FILE) -> dict[str, User]:
    """Create the demo parties, accounts and indicators; returns users by their key."""
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
    return users


def issue_demo_tokens(days: int = 365) -> dict[str, str]:
    """A fresh token for every demo user, keyed like the fixture (finance, unit, ...)."""
    data = read_demo()
    tokens = {}
    for spec in data["users"]:
        user = db.session.execute(sa.select(User).where(User.email == spec["email"])).scalar_one()
        _, plain = issue_token(user, days=days, label="demo")
        tokens[spec["key"]] = plain
    return tokens


def set_demo_passwords() -> dict[str, dict[str, str]]:
    """A fresh random password for every demo user, for the console: ``{key: {"email",
    "password"}}``, keyed like the tokens. Only the hashes are stored; the passwords are in
    the answer alone (``demo load`` writes them to ``instance/demo-logins.json``)."""
    logins = {}
    for spec in read_demo()["users"]:
        user = db.session.execute(sa.select(User).where(User.email == spec["email"])).scalar_one()
        password = new_password()
        set_password(user, password)
        logins[spec["key"]] = {"email": user.email, "password": password}
    return logins

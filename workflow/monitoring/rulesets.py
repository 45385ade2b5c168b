"""Versioned rule sets (Art. 12: finance sets the warning rules; they change by notice).

A rule set is a JSON document ``{"rules": {rule_name: {"enabled", "level", <parameters>}}}``.
Versions are never edited: :func:`change_rule_set` writes a new row with the next version
and the active rule set is the one with the highest version.

Where the defaults live: each rule class in :mod:`workflow.monitoring.rules` declares its
parameters with their default values (the regulation's figures and catalogues). The first
time a rule set is needed and none is stored, :func:`active_rule_set` stores those defaults
as version 1 ("seeded on first use"), so a fresh database and the tests' truncated one
behave alike. A stored version that predates a rule added later gets that rule's defaults
when read.

Who may change it: there is one rule set for every unit, so only the province-level finance
department (the top of the finance hierarchy, :func:`workflow.parties.is_top_finance`) may
publish a version; city and county finance departments read it (403 on a change).

Each version finance publishes is journaled (:mod:`workflow.journal`) in the stream
``ruleset:<finance department id>``: the version, the changes asked for, whether they
replaced the document, the note and a SHA-256 of the complete parameters. The defaults
seeded on first use are no one's action and are not journaled.
"""
from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass

import marshmallow as ma
import sqlalchemy as sa

from workflow.db import db, insert_if_absent, utcnow
from workflow.errors import Conflict, Invalid, NotFound
from workflow.journal import digest, record, stream_of
from workflow.monitoring.models import RuleSet
from workflow.monitoring.rules import RULES, RULES_BY_NAME
from workflow.parties import Actor, require, require_top_finance
from workflow.schemas import errors_of


@dataclass(frozen=True)
class ActiveRuleSet:
    version: int
    parameters: dict  # complete: every known rule, every parameter
    created_at: dt.datetime
    created_by_id: int | None
    note: str


def default_parameters() -> dict:
    return {"rules": {rule.name: {"enabled": True, "level": rule.default_level,
                                  **{name: copy.deepcopy(spec.default) for name, spec in rule.parameters.items()}}
                      for rule in RULES}}


def _complete(parameters: dict) -> dict:
    """Fill in rules and parameters the stored document lacks with their defaults."""
    full = default_parameters()
    for name, values in (parameters or {}).get("rules", {}).items():
        if name in full["rules"]:
            full["rules"][name].update(values)
    return full


def active_rule_set() -> ActiveRuleSet:
    """The latest version; stores the defaults as version 1 when there is none yet."""
    row = db.session.execute(sa.select(RuleSet).order_by(RuleSet.version.desc()).limit(1)).scalar_one_or_none()
    if row is None:
        _seed_defaults()
        row = db.session.execute(sa.select(RuleSet).order_by(RuleSet.version.desc()).limit(1)).scalar_one()
    return ActiveRuleSet(version=row.version, parameters=_complete(row.parameters), created_at=row.created_at,
                         created_by_id=row.created_by_id, note=row.note)


def _seed_defaults() -> None:
    # Two first uses may race: the unique version lets one insert win and the other do nothing.
    insert_if_absent(RuleSet, dict(version=1, parameters=default_parameters(), note="defaults (seeded on first use)",
                                   created_at=utcnow()), ["version"])


def change_rule_set(actor: Actor, changes: dict, *, replace: bool = False, note: str = "") -> ActiveRuleSet:
    """Finance writes a new version. ``replace``: ``changes`` is the whole document (rules
    left out return to their defaults); otherwise it is merged into the active version.

    Each rule's changes are loaded by the rule's ``change_schema``, generated from its declared
    parameters. Validation names every bad field (``rules.cash_over_limit.limit``); nothing is
    written unless the whole document is valid.
    """
    # One rule set screens every unit of the province (until rule sets are per region), so
    # only the department at the top of the finance hierarchy may change it (issue 16 item 1).
    require_top_finance(actor, action="change the warning rules")
    if not isinstance(changes, dict) or not isinstance(changes.get("rules", {}), dict):
        raise Invalid("expected {\"rules\": {rule name: {parameters}}}", {"rules": ["must be an object"]})
    current = active_rule_set()
    base = default_parameters() if replace else copy.deepcopy(current.parameters)
    errors = {}

    for name, values in changes.get("rules", {}).items():
        rule = RULES_BY_NAME.get(name)
        if rule is None:
            errors[f"rules.{name}"] = ["no such rule"]
            continue
        if not isinstance(values, dict):
            errors[f"rules.{name}"] = ["must be an object of parameters"]
            continue
        schema = rule.change_schema()
        try:
            base["rules"][name].update(schema.dump(schema.load(values)))
        except ma.ValidationError as exc:
            errors.update(errors_of(exc, f"rules.{name}."))
    if errors:
        raise Invalid("the rule set was not changed", errors)
    if base == current.parameters and not replace:
        raise Invalid("nothing to change", {"rules": ["the changes equal the active version"]})
    row = RuleSet(version=current.version + 1, parameters=base, note=note[:500],
                  created_by_id=actor.user_id, created_at=utcnow())
    db.session.add(row)
    try:
        db.session.flush()
    except sa.exc.IntegrityError as exc:
        # another change took this version number first: refuse rather than overwrite it
        raise Conflict("the rule set was changed meanwhile; read it again",
                       {"version": [f"version {row.version} exists"]}) from exc
    record(actor, stream_of("ruleset", actor.org_id if actor.org_id is not None else actor.kind), "published",
           {"version": row.version, "replace": replace, "changes": changes.get("rules", {}), "note": row.note,
            "parameters_sha256": digest(base)},
           row.created_at)
    return ActiveRuleSet(version=row.version, parameters=base, created_at=row.created_at,
                         created_by_id=row.created_by_id, note=row.note)


def read_rule_set(actor: Actor, version: int | None = None) -> dict:
    """Finance reads a rule set (the active one unless ``version`` is given): every rule
    with its name, article, level, enabled flag, description and parameters."""
    require(actor, "finance", action="read the warning rules")

    if version is None:
        active = active_rule_set()
    else:
        row = db.session.execute(sa.select(RuleSet).where(RuleSet.version == version)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no rule set version {version}")
        active = ActiveRuleSet(version=row.version, parameters=_complete(row.parameters), created_at=row.created_at,
                               created_by_id=row.created_by_id, note=row.note)
    rules = []
    for rule in RULES:
        values = active.parameters["rules"][rule.name]
        rules.append({
            "name": rule.name, "title": rule.title, "article": rule.article, "level": values["level"],
            "enabled": values["enabled"], "description": rule.describe(),
            "parameters": {key: values[key] for key in rule.parameters},
            "parameter_docs": {key: spec.description for key, spec in rule.parameters.items()},
        })
    return {"version": active.version, "created_at": active.created_at, "note": active.note, "rules": rules}

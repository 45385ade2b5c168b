"""Rule sets per finance department, inherited downward, published by four eyes (Art. 5-7, 12).

Each level of finance monitors its own jurisdiction (Art. 5-7) and sets the warning rules for it
(Art. 12). The province-level department (the top of the finance hierarchy) publishes the base
set: every rule's ``enabled`` flag, ``level`` and parameters. A city or county department may
publish its own set for its region, holding only what it sets; everything else is inherited from
the level above, as that level has it at the time (a province change reaches a county that did
not set the parameter). A lower level may only make a setting stricter — each parameter declares
which way that is, next to its definition (``stricter`` in :mod:`workflow.monitoring.rules`;
disabling a rule or lowering its level loosens it) — unless a level above listed the setting
(``rule.parameter``) in its ``open``: then the lower level's value stands as it is. A department
may open to the levels below only what is open to itself (the province: anything). Publishing a
looser value is refused (422) naming the setting and the bound, with the department and version
that set it; should the level above later become stricter than a lower level's value, the
stricter one applies (:func:`workflow.monitoring.rules.tightest`), so a setting never ends up
looser than the level above allows.

Which set screens a payment: the one in force for the payment's unit at the time of receipt —
the unit's own finance department (the one whose ``finance_path`` the unit carries), composed
over every department above it, each at its version in force then. Warnings record the nearest
department with a set of its own and that set's version (``warnings.rule_set_department_id``,
``rule_set_version``); with the versions' ``effective_from`` that determines the whole chain.
:func:`effective_sets` composes the sets of a batch's departments in two queries (the finance
departments, the versions in force), once per batch, never per payment.

Drafts and four eyes: a change is a draft of a department (:func:`create_draft`, editable by its
author, :func:`edit_draft`) with a reason; a second officer of the same department — another
user, not another token of the author — publishes it (:func:`publish_draft`), optionally from a
future ``effective_from`` (until then the previous version serves). Publication turns the draft
into the department's next version (rows are never updated) and removes it. Publications of one
department are serialised on the department's row (``FOR UPDATE``; SQLite's single writer), so
two drafts published at once become two consecutive versions, never one number twice.
``PUT/PATCH /api/v1/rules`` propose such a draft for the caller's department.

Where the defaults live: each rule class declares its parameters with their defaults (the
regulation's figures). The first time a set is needed and the top department has none, the
defaults are stored as its version 1, in force from the start ("seeded on first use"). A stored
version that predates a rule added later gets that rule's defaults when read.

Journal (:mod:`workflow.journal`), stream ``ruleset:<department id>``: ``drafted``, ``edited``,
``published`` (version, author, approver, reason, changes, diff, ``effective_from`` and a SHA-256
of the department's own settings). The defaults seeded on first use are no one's action and are
not journaled. :func:`change_rule_set` publishes directly, for the operator (system) alone.
"""
from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field

import marshmallow as ma
import sqlalchemy as sa

from workflow.db import db, insert_if_absent, locked, take_write_lock, utcnow
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.journal import digest, record, stream_of
from workflow.monitoring.models import RuleSet, RuleSetDraft
from workflow.monitoring.rules import RULES, RULES_BY_NAME, same_value, setting_stricter, tightest
from workflow.parties import Actor, Organisation, User, require
from workflow.schemas import errors_of

# The seeded defaults are in force from the start: any payment, whenever received, has a set.
START = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
SETTINGS = ("enabled", "level")  # every rule's two settings besides its parameters


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


def setting_keys() -> list[str]:
    """Every setting a rule set holds, as ``rule.setting``."""
    return [f"{rule.name}.{key}" for rule in RULES for key in (*SETTINGS, *rule.parameters)]


# --------------------------------------------------------------------------- departments

@dataclass(frozen=True)
class Department:
    id: int
    code: str
    path: str
    name: str

    @property
    def is_top(self) -> bool:
        return self.path.strip("/").count("/") == 0


class Departments:
    """The finance departments, read once (a few rows): each one's chain from the top."""

    def __init__(self):
        self.by_path: dict[str, Department] = {}
        self.by_id: dict[int, Department] = {}
        for id_, code, path, name in db.session.execute(sa.select(
                Organisation.id, Organisation.code, Organisation.finance_path, Organisation.name).where(
                Organisation.kind == "finance")):
            department = Department(id_, code, path, name)
            self.by_path[path] = department
            self.by_id[id_] = department

    def chain(self, path: str) -> list[Department]:
        """The departments whose jurisdiction holds ``path``, from the top down: the last is the
        nearest (a unit's own finance department)."""
        found = [d for p, d in self.by_path.items() if path.startswith(p)]
        return sorted(found, key=lambda d: len(d.path))

    def by_code(self, code: str) -> Department | None:
        return next((d for d in self.by_id.values() if d.code == code), None)


# --------------------------------------------------------------------------- effective sets

@dataclass(frozen=True)
class Source:
    department: str  # code; "" for a rule's declared default
    version: int | None


@dataclass
class EffectiveSet:
    """The settings in force for one department: complete, with where each value comes from."""

    department: Department
    set_department: Department  # the nearest department with a set of its own (what warnings record)
    version: int                # that set's version
    parameters: dict            # {"rules": {rule: {setting: value}}}, complete
    sources: dict[tuple[str, str], Source] = field(default_factory=dict)
    open: set[str] = field(default_factory=set)  # settings open to this department's own changes
    chain: list[tuple[Department, RuleSet]] = field(default_factory=list)  # the sets composed, top first
    open_below: set[str] = field(default_factory=set)  # open to the departments below this one

    @property
    def row(self) -> RuleSet:
        return self.chain[-1][1]


def _in_force(department_ids: set[int], at: dt.datetime, pinned: dict[int, int] | None = None) -> dict[int, RuleSet]:
    """Each department's version in force at ``at`` (the highest published with ``effective_from``
    not after it: a later version never takes effect before an earlier one), in one query;
    ``pinned`` names a version to take instead for some departments."""
    if not department_ids:
        return {}
    latest = (sa.select(RuleSet.department_id, sa.func.max(RuleSet.version).label("version"))
              .where(RuleSet.department_id.in_(department_ids), RuleSet.effective_from <= at)
              .group_by(RuleSet.department_id).subquery())
    rows = {row.department_id: row for row in db.session.execute(sa.select(RuleSet).join(latest, sa.and_(
        RuleSet.department_id == latest.c.department_id, RuleSet.version == latest.c.version))).scalars()}
    for department_id, version in (pinned or {}).items():
        row = db.session.execute(sa.select(RuleSet).where(RuleSet.department_id == department_id,
                                                          RuleSet.version == version)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no rule set version {version}")
        rows[department_id] = row
    return rows


def _seed_defaults(top: Department) -> None:
    # Two first uses may race: the unique (department, version) lets one insert win, the other do nothing.
    insert_if_absent(RuleSet, dict(department_id=top.id, version=1, parameters=default_parameters(), open=[],
                                   note="defaults (seeded on first use)", created_at=utcnow(), effective_from=START),
                     ["department_id", "version"])


def _compose(chain: list[Department], rows: dict[int, RuleSet]) -> EffectiveSet:
    """The top department's set over the defaults, then each lower one's own settings, each
    bounded by what the level above left it (unless open to it)."""
    parameters = default_parameters()
    sources = {(rule.name, key): Source("", None) for rule in RULES for key in (*SETTINGS, *rule.parameters)}
    open_to: set[str] = set()  # open to the department being composed (the union of those above)
    composed: list[tuple[Department, RuleSet]] = []
    for department in chain:
        row = rows.get(department.id)
        if row is None:
            continue
        composed.append((department, row))
        for name, values in (row.parameters or {}).get("rules", {}).items():
            rule = RULES_BY_NAME.get(name)
            if rule is None:
                continue
            for key, value in values.items():
                if key not in SETTINGS and key not in rule.parameters:
                    continue
                inherited = parameters["rules"][name][key]
                if department.is_top or f"{name}.{key}" in open_to:
                    result = value
                else:
                    stricter, order = setting_stricter(rule, key)
                    result = tightest(stricter, inherited, value, order)
                parameters["rules"][name][key] = result
                if not same_value(result, inherited) or same_value(result, value):
                    sources[(name, key)] = Source(department.code, row.version)
        open_to |= set(row.open or ())
    if not composed:
        raise LookupError("no rule set in force")  # the top's defaults are seeded before composing
    own_department = chain[-1]
    last_department, last_row = composed[-1]
    above = [row for department, row in composed if department.id != own_department.id]
    open_to_own = {key for row in above for key in (row.open or ())}
    return EffectiveSet(department=own_department, set_department=last_department, version=last_row.version,
                        parameters=parameters, sources=sources, open=open_to_own, chain=composed,
                        open_below=open_to)


def effective_sets(paths: set[str], at: dt.datetime, departments: Departments | None = None) -> dict[str, EffectiveSet]:
    """The set in force at ``at`` for each finance path (a unit's ``finance_path`` names its
    department): the departments read once, the versions in force in one query."""
    departments = departments or Departments()
    chains = {path: departments.chain(path) for path in paths}
    ids = {d.id for chain in chains.values() for d in chain}
    rows = _in_force(ids, at)
    tops = {chain[0] for chain in chains.values() if chain}
    missing = [top for top in tops if top.id not in rows]
    if missing:
        for top in missing:
            _seed_defaults(top)
        rows = _in_force(ids, at)
    result = {}
    for path, chain in chains.items():
        if not chain:
            raise LookupError(f"no finance department in charge of {path}")
        result[path] = _compose(chain, rows)
    return result


def effective_set(department: Department, at: dt.datetime | None = None, *, version: int | None = None,
                  departments: Departments | None = None) -> EffectiveSet:
    """The set in force for ``department`` at ``at`` (now); with ``version``, the nearest set's
    version ``version`` over the levels above as they were when it took effect."""
    departments = departments or Departments()
    at = at or utcnow()
    current = effective_sets({department.path}, at, departments)[department.path]
    if version is None:
        return current
    nearest = current.set_department
    pinned_row = db.session.execute(sa.select(RuleSet).where(
        RuleSet.department_id == nearest.id, RuleSet.version == version)).scalar_one_or_none()
    if pinned_row is None:
        raise NotFound(f"no rule set version {version}")
    chain = departments.chain(department.path)
    rows = _in_force({d.id for d in chain}, pinned_row.effective_from, {nearest.id: version})
    return _compose(chain, rows)


# --------------------------------------------------------------------------- one department's own settings

def _own(row: RuleSet | None, department: Department) -> dict:
    """A department's own settings as stored ({"rules": {rule: {setting: value}}})."""
    if row is None:
        return {"rules": {}}
    own = copy.deepcopy(row.parameters or {"rules": {}})
    if department.is_top:
        own = _complete(own)
    own.setdefault("rules", {})
    return own


def _apply(department: Department, base: dict, changes: dict) -> dict:
    """``changes`` (a draft's) applied to the department's own settings ``base``: validated by
    each rule's change schema; a bad field is a 422 naming ``rules.<rule>.<setting>``."""
    own = ({"rules": {}} if not department.is_top else default_parameters()) if changes.get("replace") \
        else copy.deepcopy(base)
    errors: dict[str, list[str]] = {}
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
            own["rules"].setdefault(name, {}).update(schema.dump(schema.load(values)))
        except ma.ValidationError as exc:
            errors.update(errors_of(exc, f"rules.{name}."))
    for key in changes.get("inherit", []):
        name, _, setting = key.partition(".")
        if key not in setting_keys():
            errors.setdefault("inherit", []).append(f"{key}: no such rule setting")
        elif department.is_top:
            own["rules"][name][setting] = copy.deepcopy(default_parameters()["rules"][name][setting])
        else:
            own["rules"].get(name, {}).pop(setting, None)
    own["rules"] = {name: values for name, values in own["rules"].items() if values}
    if errors:
        raise Invalid("the rule set was not changed", errors)
    return own


def _check_bounds(department: Department, own: dict, open_list: list[str], above: EffectiveSet | None) -> None:
    """A lower level may only tighten what is not open to it (Art. 5-7); it may open to the
    levels below only what is open to itself. A refusal names the setting and the bound."""
    errors: dict[str, list[str]] = {}
    unknown = [key for key in open_list if key not in setting_keys()]
    if unknown:
        errors["open"] = [f"{key}: no such rule setting" for key in unknown]
    if above is None:  # the top department: its values are the base, anything may be opened
        if errors:
            raise Invalid("the rule set was not changed", errors)
        return
    open_to_me = above.open_below
    for key in open_list:
        if key in setting_keys() and key not in open_to_me:
            errors.setdefault("open", []).append(
                f"{key}: not open to local change here, so it cannot be opened to the levels below")
    for name, values in own["rules"].items():
        rule = RULES_BY_NAME[name]
        for key, value in values.items():
            if f"{name}.{key}" in open_to_me:
                continue
            inherited = above.parameters["rules"][name][key]
            stricter, order = setting_stricter(rule, key)
            if not same_value(tightest(stricter, inherited, value, order), value):
                source = above.sources[(name, key)]
                where = (f"set by {source.department} version {source.version}" if source.department
                         else "the rule's default")
                errors[f"rules.{name}.{key}"] = [
                    f"may not be looser than {_shown(inherited)} ({where}; stricter is {_direction(stricter)}) "
                    f"unless the level above opens {name}.{key} to local change"]
    if errors:
        raise Invalid("a lower level may only make a rule stricter (Art. 5-7)", errors)


def _direction(stricter: str) -> str:
    return {"lower": "a lower value", "higher": "a higher value (enabled; block over warn over remind)",
            "more": "more items (the inherited ones kept)", "fewer": "fewer items (none added)",
            "fixed": "none: only the level above sets it"}[stricter]


def _shown(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _above(department: Department, departments: Departments, at: dt.datetime) -> EffectiveSet | None:
    """The set the level above has in force at ``at`` (what ``department`` inherits), or None at the top."""
    chain = departments.chain(department.path)
    if len(chain) < 2:
        return None
    parent = chain[-2]
    return effective_sets({parent.path}, at, departments)[parent.path]


def diff(before: dict, after: dict, open_before: list, open_after: list) -> list[dict]:
    """What changed between two versions of a department's own settings: one item per setting
    (``rule``, ``setting``, ``before``, ``after``; absent: inherited), and the open list."""
    changes = []
    names = sorted(set(before.get("rules", {})) | set(after.get("rules", {})))
    for name in names:
        old, new = before.get("rules", {}).get(name, {}), after.get("rules", {}).get(name, {})
        for key in sorted(set(old) | set(new)):
            if key not in old or key not in new or not same_value(old[key], new[key]):
                changes.append({"rule": name, "setting": key, "before": old.get(key), "after": new.get(key)})
    if sorted(open_before or []) != sorted(open_after or []):
        changes.append({"rule": "", "setting": "open", "before": sorted(open_before or []),
                        "after": sorted(open_after or [])})
    return changes


# --------------------------------------------------------------------------- who acts for a department

def _department_for(actor: Actor, code: str, departments: Departments, *, action: str) -> Department:
    """The department ``code`` if ``actor`` is one of its officers; another party's department is
    the same 404 as none."""
    require(actor, "finance", action=action)
    department = departments.by_code(code)
    if department is None or department.id != actor.org_id:
        raise NotFound(f"no finance department {code!r} of yours")
    return department


def _visible_department(actor: Actor, code: str, departments: Departments) -> Department:
    """A department whose versions ``actor`` may read: its own, those above it (it inherits
    their sets) and those of its region."""
    require(actor, "finance", action="read rule set versions")
    department = departments.by_code(code)
    if department is None or not (actor.finance_path.startswith(department.path)
                                  or department.path.startswith(actor.finance_path)):
        raise NotFound(f"no finance department {code!r}")
    return department


def _actor_department(actor: Actor, departments: Departments) -> Department:
    department = departments.by_path.get(actor.finance_path)
    if department is None:
        chain = departments.chain(actor.finance_path)
        if not chain:
            raise NotFound("no finance department in charge")
        department = chain[-1]
    return department


# --------------------------------------------------------------------------- drafts and publishing

def _checked_changes(changes: dict) -> dict:
    if not isinstance(changes, dict) or not isinstance(changes.get("rules", {}), dict):
        raise Invalid("expected {\"rules\": {rule name: {parameters}}}", {"rules": ["must be an object"]})
    inherit = changes.get("inherit") or []
    open_list = changes.get("open")
    return {"rules": changes.get("rules", {}), "inherit": sorted(set(inherit)),
            "open": None if open_list is None else sorted(set(open_list)), "replace": bool(changes.get("replace"))}


def _normalised(changes: dict) -> dict:
    """``changes`` (already validated) with each value in its stored form ("1200" -> "1200.00")."""
    rules = {}
    for name, values in changes["rules"].items():
        schema = RULES_BY_NAME[name].change_schema()
        rules[name] = schema.dump(schema.load(values))
    return {**changes, "rules": rules}


def _latest(department: Department) -> RuleSet | None:
    return db.session.execute(sa.select(RuleSet).where(RuleSet.department_id == department.id)
                              .order_by(RuleSet.version.desc()).limit(1)).scalar_one_or_none()


def _proposal(department: Department, departments: Departments, changes: dict, at: dt.datetime
              ) -> tuple[RuleSet | None, dict, list[str]]:
    """The department's own settings and open list once ``changes`` apply to its latest version,
    checked against the level above as in force at ``at``."""
    if department.is_top:
        effective_sets({department.path}, at, departments)  # seeds the defaults on first use
    latest = _latest(department)
    own = _apply(department, _own(latest, department), changes)
    open_list = changes["open"] if changes["open"] is not None else list(latest.open if latest else [])
    _check_bounds(department, own, open_list, _above(department, departments, at))
    if not diff(_own(latest, department), own, latest.open if latest else [], open_list) \
            and not (changes.get("replace") and latest is not None):
        raise Invalid("nothing to change", {"rules": ["the changes equal the latest version"]})
    return latest, own, open_list


def _draft_view(draft: RuleSetDraft, department: Department) -> dict:
    author = db.session.get(User, draft.author_id)
    return {"id": draft.id, "department": department.code, "changes": draft.changes, "reason": draft.reason,
            "author": author.name if author else None, "author_id": draft.author_id,
            "created_at": draft.created_at, "updated_at": draft.updated_at}


def create_draft(actor: Actor, code: str, changes: dict, reason: str, now: dt.datetime | None = None) -> dict:
    """An officer of department ``code`` proposes ``changes`` with a ``reason`` (Art. 12). Checked
    now as publication would check it (a looser value is refused naming the bound)."""
    now = now or utcnow()
    departments = Departments()
    department = _department_for(actor, code, departments, action="draft rule set changes")
    changes = _checked_changes(changes)
    _proposal(department, departments, changes, now)
    changes = _normalised(changes)
    draft = RuleSetDraft(department_id=department.id, changes=changes, reason=reason[:500], author_id=actor.user_id,
                         created_at=now, updated_at=now)
    db.session.add(draft)
    db.session.flush()
    record(actor, stream_of("ruleset", department.id), "drafted",
           {"draft_id": draft.id, "changes": changes, "reason": draft.reason}, now)
    return _draft_view(draft, department)


def _load_draft(department: Department, draft_id: int, *, lock: bool = False) -> RuleSetDraft:
    stmt = sa.select(RuleSetDraft).where(RuleSetDraft.id == draft_id, RuleSetDraft.department_id == department.id)
    draft = db.session.execute(locked(stmt) if lock else stmt).scalar_one_or_none()
    if draft is None:
        raise NotFound(f"no draft {draft_id} (a published draft became a version)")
    return draft


def read_drafts(actor: Actor, code: str) -> list[dict]:
    departments = Departments()
    department = _department_for(actor, code, departments, action="read rule set drafts")
    drafts = db.session.execute(sa.select(RuleSetDraft).where(RuleSetDraft.department_id == department.id)
                                .order_by(RuleSetDraft.id)).scalars()
    return [_draft_view(draft, department) for draft in drafts]


def read_draft(actor: Actor, code: str, draft_id: int) -> dict:
    departments = Departments()
    department = _department_for(actor, code, departments, action="read rule set drafts")
    draft = _load_draft(department, draft_id)
    view = _draft_view(draft, department)
    latest = _latest(department)
    try:
        _, own, open_list = _proposal(department, departments, draft.changes, utcnow())
        view["diff"] = diff(_own(latest, department), own, latest.open if latest else [], open_list)
    except Invalid as exc:  # the levels above moved since: the approver sees why it would be refused
        view["diff"] = []
        view["refused"] = exc.errors
    return view


def edit_draft(actor: Actor, code: str, draft_id: int, changes: dict | None, reason: str | None,
               now: dt.datetime | None = None) -> dict:
    """The author edits the draft (its changes, its reason); a reviewer does not edit what they approve."""
    now = now or utcnow()
    departments = Departments()
    department = _department_for(actor, code, departments, action="edit rule set drafts")
    draft = _load_draft(department, draft_id, lock=True)
    if draft.author_id != actor.user_id:
        raise Forbidden("only the draft's author edits it: the second officer approves it as written (four eyes)")
    if changes is not None:
        checked = _checked_changes(changes)
        _proposal(department, departments, checked, now)
        draft.changes = _normalised(checked)
    if reason is not None:
        draft.reason = reason[:500]
    draft.updated_at = now
    db.session.flush()
    record(actor, stream_of("ruleset", department.id), "edited",
           {"draft_id": draft.id, "changes": draft.changes, "reason": draft.reason}, now)
    return _draft_view(draft, department)


def publish_draft(actor: Actor, code: str, draft_id: int, effective_from: dt.datetime | None = None,
                  now: dt.datetime | None = None) -> dict:
    """A second officer of the department publishes the draft as its next version (four eyes).

    403 for the draft's author (whatever token they use: users, not tokens, are compared);
    404 for another department's officer; ``effective_from`` must lie in the future (422) and
    not before the latest version's (409); the draft is checked again against the levels above.
    """
    now = now or utcnow()
    take_write_lock()  # SQLite: before the first read, so what is read below cannot change under us
    departments = Departments()
    department = _department_for(actor, code, departments, action="publish rule set drafts")
    if effective_from is not None and effective_from <= now:
        raise Invalid("effective_from must lie in the future", {"effective_from": ["must lie in the future; "
                                                                                   "leave it out to publish now"]})
    # Serialise the department's publications: the next version is read and written under this lock.
    db.session.execute(locked(sa.select(Organisation.id).where(Organisation.id == department.id))).first()
    draft = _load_draft(department, draft_id, lock=True)
    if draft.author_id == actor.user_id:
        raise Forbidden("the author of a draft may not approve it: a second officer of the department must "
                        "publish it (four eyes, Art. 12)")
    starts = effective_from or now
    latest, own, open_list = _proposal(department, departments, draft.changes, starts)
    if latest is not None and latest.effective_from > starts:
        raise Conflict(f"version {latest.version} takes effect at {latest.effective_from.isoformat()}; a later "
                       f"version cannot take effect before it", {"effective_from": [
                           f"not before {latest.effective_from.isoformat()}"]})
    version = (latest.version if latest else 0) + 1
    changes = diff(_own(latest, department), own, latest.open if latest else [], open_list)
    row = RuleSet(department_id=department.id, version=version, parameters=own, open=open_list, note=draft.reason,
                  created_by_id=draft.author_id, approved_by_id=actor.user_id, created_at=now, effective_from=starts)
    db.session.add(row)
    db.session.delete(draft)
    try:
        db.session.flush()
    except sa.exc.IntegrityError as exc:  # only without the lock above, which every publisher takes
        raise Conflict("the rule set was published meanwhile; read it again",
                       {"version": [f"version {version} exists"]}) from exc
    record(actor, stream_of("ruleset", department.id), "published",
           {"version": version, "draft_id": draft_id, "author_id": draft.author_id, "approver_id": actor.user_id,
            "reason": row.note, "note": row.note, "changes": draft.changes.get("rules", {}), "diff": changes,
            "effective_from": starts, "parameters_sha256": digest({"rules": own["rules"], "open": open_list})},
           now)
    return _version_view(row, department, latest)


def active_rule_set() -> EffectiveSet:
    """The top department's set in force now (its defaults seeded on first use)."""
    departments = Departments()
    tops = sorted((d for d in departments.by_id.values() if d.is_top), key=lambda d: d.id)
    if not tops:
        raise LookupError("no finance department yet")
    return effective_set(tops[0], departments=departments)


def propose_change(actor: Actor, changes: dict, *, replace: bool = False, note: str = "") -> dict:
    """``PUT/PATCH /api/v1/rules``: a draft of the caller's own department (four eyes apply)."""
    departments = Departments()
    require(actor, "finance", action="change the warning rules")
    department = _actor_department(actor, departments)
    return create_draft(actor, department.code, {**changes, "replace": replace}, note or "")


def change_rule_set(actor: Actor, changes: dict, *, replace: bool = False, note: str = "",
                    department_code: str | None = None, effective_from: dt.datetime | None = None) -> EffectiveSet:
    """The operator (system) publishes directly to a department's set (the top's by default),
    e.g. a rule set prescribed by notice; finance officers go through drafts and four eyes."""
    if not actor.is_system:
        raise Forbidden("finance changes the warning rules through a draft a second officer publishes "
                        "(POST /api/v1/rule-sets/{dept}/drafts)")
    now = utcnow()
    take_write_lock()  # SQLite: before the first read (see publish_draft)
    departments = Departments()
    tops = sorted((d for d in departments.by_id.values() if d.is_top), key=lambda d: d.id)
    department = departments.by_code(department_code) if department_code else (tops[0] if tops else None)
    if department is None:
        raise NotFound("no such finance department")
    starts = effective_from or now
    db.session.execute(locked(sa.select(Organisation.id).where(Organisation.id == department.id))).first()
    latest, own, open_list = _proposal(department, departments, _checked_changes({**changes, "replace": replace}),
                                       starts)
    row = RuleSet(department_id=department.id, version=(latest.version if latest else 0) + 1, parameters=own,
                  open=open_list, note=note[:500], created_at=now, effective_from=starts)
    db.session.add(row)
    db.session.flush()
    record(actor, stream_of("ruleset", department.id), "published",
           {"version": row.version, "replace": replace, "changes": changes.get("rules", {}), "note": row.note,
            "diff": diff(_own(latest, department), own, latest.open if latest else [], open_list),
            "effective_from": starts, "parameters_sha256": digest({"rules": own["rules"], "open": open_list})}, now)
    return effective_set(department, max(starts, now), departments=departments)


# --------------------------------------------------------------------------- reading

def _user_name(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    return user.name if user else None


def _version_view(row: RuleSet, department: Department, previous: RuleSet | None) -> dict:
    return {"department": department.code, "version": row.version, "reason": row.note,
            "author": _user_name(row.created_by_id), "author_id": row.created_by_id,
            "approver": _user_name(row.approved_by_id), "approver_id": row.approved_by_id,
            "published_at": row.created_at, "effective_from": row.effective_from,
            "settings": _own(row, department)["rules"], "open": list(row.open or []),
            "diff": diff(_own(previous, department), _own(row, department), previous.open if previous else [],
                         row.open or [])}


def read_versions(actor: Actor, code: str) -> list[dict]:
    """Every version of a department's set, newest first, with author, approver, reason and the
    difference from the version before."""
    departments = Departments()
    department = _visible_department(actor, code, departments)
    if department.is_top:
        effective_sets({department.path}, utcnow(), departments)  # the seeded defaults are version 1
    rows = list(db.session.execute(sa.select(RuleSet).where(RuleSet.department_id == department.id)
                                   .order_by(RuleSet.version)).scalars())
    views = [_version_view(row, department, rows[i - 1] if i else None) for i, row in enumerate(rows)]
    return list(reversed(views))


def read_rule_set(actor: Actor, version: int | None = None) -> dict:
    """Finance reads the set in force for its own department (or, with ``version``, that version
    of the nearest set): every rule with its article, level, enabled flag and parameters, and
    where each value comes from (department and version; ``""`` for the rule's default)."""
    require(actor, "finance", action="read the warning rules")
    departments = Departments()
    department = _actor_department(actor, departments)
    current = effective_set(department, version=version, departments=departments)
    rules = []
    for rule in RULES:
        values = current.parameters["rules"][rule.name]
        rules.append({
            "name": rule.name, "title": rule.title, "article": rule.article, "level": values["level"],
            "enabled": values["enabled"], "description": rule.describe(),
            "parameters": {key: values[key] for key in rule.parameters},
            "parameter_docs": {key: spec.description for key, spec in rule.parameters.items()},
            "stricter": {key: spec.stricter for key, spec in rule.parameters.items()},
            "sources": {key: {"department": current.sources[(rule.name, key)].department,
                              "version": current.sources[(rule.name, key)].version}
                        for key in (*SETTINGS, *rule.parameters)},
        })
    row = current.row
    return {"version": current.version, "department": current.set_department.code,
            "for_department": department.code, "created_at": row.created_at,
            "effective_from": row.effective_from, "note": row.note,
            "chain": [{"department": d.code, "version": r.version} for d, r in current.chain],
            "open": sorted(current.open), "rules": rules}

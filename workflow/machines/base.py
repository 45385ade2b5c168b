"""The vocabulary the case machines are declared in, and the one engine that runs them.

A machine is data: :class:`State` rows and :class:`Transition` rows. Each transition
row names its trigger, source states, destination (``None``: the case does not move),
the party kinds allowed, its guards (named predicates that read like the regulation),
the fields the action takes, the article it rests on, the document it issues, who is
told, and its effects. Everything else is derived from the rows: the ``transitions``
machine, each case's allowed actions, field checking, the JSON table and the diagram.

One ``transitions.Machine`` serves every case of a kind (transitions#146, #434): a
throw-away proxy holding the case's state is added for the duration of one trigger
and removed in ``finally``; the case's ``state`` column is then written in one place
by :mod:`workflow.cases`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from transitions import Machine

from workflow import case_records
from workflow.articles import Article, Citation, art, cite  # noqa: F401 - the tables cite through base
from workflow.case_records import Case
from workflow.db import DATE_RANGE_TEXT, MONEY_PATTERN, in_date_range, to_money
from workflow.parties import Actor

NEW = "new"  # the pseudo-state a case is opened from (立案); no case rests in it

PARTY_KINDS = ("finance", "competent", "unit", "bank", "oversight", "system")


# --- states --------------------------------------------------------------------------

@dataclass(frozen=True)
class State:
    """A state of a case. ``rung`` states are steps of the handling ladder; ``period``
    names the default deadline period of :func:`workflow.deadlines.default_period`
    (``None``: no deadline runs there)."""

    name: str
    label: str
    kind: str
    article: Article | None = None
    period: str | None = None

    @property
    def is_open(self) -> bool:
        return self.kind not in ("start", "closed")


# --- fields --------------------------------------------------------------------------

FIELD_TYPES = ("text", "lines", "choice", "choices", "money", "days", "date", "org", "accounts",
               "datetime", "count")  # the last two: verification steps (workflow.verification_steps)


@dataclass(frozen=True)
class Field:
    """One input of an action. ``type`` says how it is checked:

    text: non-empty string (at most ``max_length``); lines: list of strings, or one string
    with one item a line; choice: one of ``choices``; choices: a non-empty list of them;
    money: yuan as a decimal string (never a float); days: working days 1..366; date: ISO
    date; org: the code of an organisation of kind ``org_kind`` the caller can reach;
    accounts: a list of the subject's bank account numbers.
    """

    name: str
    type: str = "text"
    required: bool = False
    label: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (value, Chinese label)
    max_length: int = 2000
    org_kind: str | None = None

    def __post_init__(self):
        assert self.type in FIELD_TYPES, self.type
        assert not (self.type in ("choice", "choices") and not self.choices), self.name

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)

    def choice_label(self, value: str) -> str:
        return dict(self.choices).get(value, value)

    def json_schema(self) -> dict:
        """The field as JSON Schema, for the API's documentation of each action."""
        by_type: dict[str, dict] = {
            "text": {"type": "string", "minLength": 1, "maxLength": self.max_length},
            "lines": {"oneOf": [{"type": "string", "minLength": 1},
                                {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
            "choice": {"type": "string", "enum": list(self.choice_values)},
            "choices": {"type": "array", "items": {"type": "string", "enum": list(self.choice_values)},
                        "minItems": 1, "uniqueItems": True},
            "money": {"type": "string", "pattern": MONEY_PATTERN, "example": "1500.00"},
            "days": {"type": "integer", "minimum": 1, "maximum": 366},
            "date": {"type": "string", "format": "date", "description": DATE_RANGE_TEXT},
            "org": {"type": "string", "description": f"code of a {self.org_kind} organisation"},
            "accounts": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "datetime": {"type": "string", "format": "date-time"},
            "count": {"type": "integer", "minimum": 1},
        }
        schema = dict(by_type[self.type])
        schema["description"] = " — ".join(x for x in (self.label, schema.get("description")) if x)
        return schema

    def describe(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required,
                               "label": self.label}
        if self.choices:
            out["choices"] = [{"value": v, "label": lbl} for v, lbl in self.choices]
        if self.type == "org":
            out["org_kind"] = self.org_kind
        return out


def req(name: str, type_: str = "text", label: str = "", **kw) -> Field:
    return Field(name, type_, True, label, **kw)


def opt(name: str, type_: str = "text", label: str = "", **kw) -> Field:
    return Field(name, type_, False, label, **kw)


class FieldError(ValueError):
    pass


def parse_value(spec: Field, value: Any, ctx: Context) -> tuple[Any, Any]:
    """``(python value, JSON form)`` of one input, or :class:`FieldError` saying why not."""
    if spec.type == "text":
        if not isinstance(value, str) or not value.strip():
            raise FieldError("a non-empty string")
        text = value.strip()
        if len(text) > spec.max_length:
            raise FieldError(f"at most {spec.max_length} characters")
        return text, text
    if spec.type == "lines":
        items = value.splitlines() if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise FieldError("a list of strings, or one string with one item a line")
        cleaned = [i.strip() for i in items if i.strip()]
        if not cleaned:
            raise FieldError("must not be empty")
        if sum(len(i) for i in cleaned) > spec.max_length:
            raise FieldError(f"at most {spec.max_length} characters in all")
        return cleaned, cleaned
    if spec.type == "choice":
        if value not in spec.choice_values:
            raise FieldError(f"one of {', '.join(spec.choice_values)}")
        return value, value
    if spec.type == "choices":
        if not isinstance(value, list) or not value:
            raise FieldError(f"a non-empty list of {', '.join(spec.choice_values)}")
        bad = [v for v in value if v not in spec.choice_values]
        if bad:
            raise FieldError(f"unknown {', '.join(map(str, bad))}; one of {', '.join(spec.choice_values)}")
        ordered = [v for v in spec.choice_values if v in value]
        return ordered, ordered
    if spec.type == "money":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise FieldError('a decimal amount in yuan as a string, e.g. "1500.00"')
        try:
            amount = to_money(value)  # the one written form (workflow.db), at most MONEY_MAX
        except (ValueError, TypeError) as exc:
            raise FieldError(str(exc)) from exc
        if amount < 0:
            raise FieldError("must not be negative")
        return amount, f"{amount:.2f}"
    if spec.type == "days":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 366:
            raise FieldError("a whole number of working days, 1 to 366")
        return value, value
    if spec.type == "date":
        try:
            day = dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            day = None
        if day is None:
            raise FieldError("a date, e.g. 2026-03-02")
        if not in_date_range(day):
            raise FieldError(f"must be {DATE_RANGE_TEXT}")
        return day, day.isoformat()
    if spec.type == "org":
        if not isinstance(value, str) or not value.strip():
            raise FieldError("an organisation code")
        org = case_records.reachable_org(ctx.actor, value.strip(), spec.org_kind)
        if org is None:
            raise FieldError(f"no {spec.org_kind} organisation {value!r} you may address")
        return org, org.code
    if spec.type == "accounts":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise FieldError("a non-empty list of account numbers")
        accounts = case_records.accounts_of_subject(ctx.case, value)
        missing = sorted(set(value) - {a.number for a in accounts})
        if missing:
            raise FieldError(f"not accounts of the case's unit: {', '.join(missing)}")
        return accounts, sorted(a.number for a in accounts)
    raise AssertionError(spec.type)  # pragma: no cover - table error


# --- guards --------------------------------------------------------------------------

@dataclass(frozen=True)
class Guard:
    """A named predicate over the action's context. ``pure`` guards read only the case
    row and the clock, so listing a case's allowed actions may evaluate them; the
    others (that query the database) are left to the moment the action is taken."""

    fn: Callable[[Context], bool]
    refusal: str
    pure: bool = True
    name: str = ""

    def __post_init__(self):
        if not self.name:
            object.__setattr__(self, "name", self.fn.__name__)

    def __call__(self, ctx: Context) -> bool:
        return bool(self.fn(ctx))


def guard(refusal: str, *, pure: bool = True) -> Callable[[Callable[[Context], bool]], Guard]:
    """Declare a guard: ``@guard("the deadline has not passed")``."""
    def wrap(fn: Callable[[Context], bool]) -> Guard:
        return Guard(fn, refusal, pure)
    return wrap


# --- what an action issues and whom it tells -------------------------------------------

@dataclass(frozen=True)
class Issue:
    """A numbered notice (see :data:`workflow.documents.KINDS`) issued by the action, to
    ``addressee`` ("subject", or "referred": the oversight body the action names), with
    the notice's context built by ``context`` from the action."""

    kind: str
    context: Callable[[Context], dict]
    addressee: str = "subject"


RECIPIENTS = ("subject", "competent", "finance", "referred", "unit_banks", "closing_banks")


@dataclass(frozen=True)
class Tell:
    """A message (``workflow.messages.TEMPLATES``) to one group of the case's parties:
    subject, competent (the unit's department), finance (in charge of the case), referred
    (the oversight body named), unit_banks (banks of the unit's open accounts),
    closing_banks (banks asked to close accounts, each told of its own)."""

    template: str
    to: str

    def __post_init__(self):
        assert self.to in RECIPIENTS, self.to


# --- transitions ---------------------------------------------------------------------

@dataclass(frozen=True)
class Transition:
    """One row of a machine's table."""

    trigger: str
    source: tuple[str, ...]
    dest: str | None  # None: an internal transition, the case stays where it is
    roles: tuple[str, ...]
    article: Article
    label: str
    guards: tuple[Guard, ...] = ()
    fields: tuple[Field, ...] = ()
    effects: tuple[Callable[[Context], None], ...] = ()
    issues: tuple[Issue, ...] = ()
    tells: tuple[Tell, ...] = ()
    # What happens when a deadline passes (read by workflow.scheduling): an ``escalate`` row
    # with ``auto`` is fired by the scheduler unless FUNDWATCH_AUTO_ESCALATION turns it off; in
    # ``proposed_on_overdue`` states finance is proposed this row's action instead.
    auto: bool = False
    proposed_on_overdue: tuple[str, ...] = ()

    @property
    def internal(self) -> bool:
        return self.dest is None

    @cached_property
    def pure_guards(self) -> tuple[Guard, ...]:
        return tuple(g for g in self.guards if g.pure)

    def describe(self) -> dict:
        return {
            "trigger": self.trigger,
            "label": self.label,
            "source": list(self.source),
            "dest": self.dest,
            "internal": self.internal,
            "roles": list(self.roles),
            "guards": [{"name": g.name, "refusal": g.refusal} for g in self.guards],
            "fields": [f.describe() for f in self.fields],
            "article": self.article.chinese,
            "article_en": self.article.english,
            "documents": [i.kind for i in self.issues],
            "notifies": [{"template": t.template, "to": t.to} for t in self.tells],
            "effects": [e.__name__ for e in self.effects],
            "auto": self.auto,
            "proposed_on_overdue": list(self.proposed_on_overdue),
        }


ESCALATE = "escalate"  # the scheduler's trigger once a deadline has passed


def row(trigger: str, source: str | tuple[str, ...], dest: str | None, *, roles: tuple[str, ...] | str,
        article: Article | Citation, label: str, guards=(), fields=(), effects=(), issues=(), tells=(),
        auto: bool = False, proposed_on_overdue: bool | str | tuple[str, ...] = ()) -> Transition:
    """One row. ``auto`` (``escalate`` rows only): the scheduler fires it once the deadline has
    passed. ``proposed_on_overdue``: the states (True: every source) in which the scheduler,
    not escalating, proposes this action to finance."""
    sources = (source,) if isinstance(source, str) else tuple(source)
    if proposed_on_overdue is True:
        proposed = sources
    elif isinstance(proposed_on_overdue, str):
        proposed = (proposed_on_overdue,)
    else:
        proposed = tuple(proposed_on_overdue or ())
    return Transition(trigger, sources, dest, (roles,) if isinstance(roles, str) else tuple(roles), article, label,
                      tuple(guards), tuple(fields), tuple(effects), tuple(issues), tuple(tells), auto, proposed)


# --- the action's context --------------------------------------------------------------

@dataclass
class Context:
    """What guards and effects see: who acts, on which case, with what, when."""

    actor: Actor
    case: Case
    machine: CaseMachine
    trigger: str
    now: dt.datetime
    data: dict = field(default_factory=dict)  # parsed values
    payload: dict = field(default_factory=dict)  # their JSON form, and what effects record
    from_state: str = ""
    row: Transition | None = None
    cache: dict = field(default_factory=dict)

    @property
    def dest(self) -> str:
        """Where the case ends up: the row's destination, or where it is (internal)."""
        assert self.row is not None
        return self.row.dest or self.from_state


class _Proxy:
    """Carries one case's state through the shared machine for one trigger."""

    def __init__(self, state: str):
        self.state = state


# --- the machine ---------------------------------------------------------------------

class CaseMachine:
    """A machine declared as data, with the indexes and the one ``transitions`` machine
    derived from it. Built once per kind, at import time."""

    def __init__(self, name: str, label: str, states: tuple[State, ...], transitions: tuple[Transition, ...],
                 *, article: Article):
        self.name = name
        self.label = label
        self.article = article
        self.states: dict[str, State] = {s.name: s for s in states}
        self.transitions = transitions
        self._check()
        self.by_trigger: dict[str, tuple[Transition, ...]] = {}
        for t in transitions:
            self.by_trigger[t.trigger] = self.by_trigger.get(t.trigger, ()) + (t,)
        # (state, party kind) → the rows that party may fire there: allowed_actions is a lookup.
        self._index: dict[tuple[str, str], tuple[Transition, ...]] = {}
        for t in transitions:
            for source in t.source:
                for role in t.roles:
                    key = (source, role)
                    self._index[key] = self._index.get(key, ()) + (t,)
        # On overdue, read from the rows: the next rung of each state with an escalate row,
        # whether the scheduler takes it by default, and the action proposed to finance otherwise.
        self.escalation: dict[str, str] = {s: t.dest for t in self.by_trigger.get(ESCALATE, ())
                                           for s in t.source if t.dest}
        self.auto_escalation: dict[str, bool] = {s: t.auto for t in self.by_trigger.get(ESCALATE, ())
                                                 for s in t.source if t.dest}
        self.proposals: dict[str, str] = {s: t.trigger for t in transitions for s in t.proposed_on_overdue}
        self.openings: dict[str, Transition] = {t.dest: t for t in transitions if t.source == (NEW,) and t.dest}
        self._machine = self._build()

    # The table must be coherent: unknown names are errors at import, not at run time.
    def _check(self) -> None:
        names = set(self.states)
        for t in self.transitions:
            where = f"{self.name}.{t.trigger}"
            assert set(t.source) <= names, f"{where}: unknown source {set(t.source) - names}"
            assert t.dest is None or t.dest in names, f"{where}: unknown dest {t.dest}"
            assert t.roles and set(t.roles) <= set(PARTY_KINDS), f"{where}: roles {t.roles}"
            assert all(self.states[s].kind != "closed" or t.internal for s in t.source), \
                f"{where}: a closed case does not move"
            assert len({f.name for f in t.fields}) == len(t.fields), f"{where}: duplicate field"
            assert "version" not in {f.name for f in t.fields}, f"{where}: 'version' is reserved"
            assert not t.auto or t.trigger == ESCALATE, f"{where}: only escalate rows are automatic"
            assert set(t.proposed_on_overdue) <= set(t.source), f"{where}: proposed where it does not apply"
            assert t.trigger != ESCALATE or not t.proposed_on_overdue, f"{where}: escalation proposes an action"
        proposed = [s for t in self.transitions for s in t.proposed_on_overdue]
        assert len(proposed) == len(set(proposed)), f"{self.name}: two proposals for one state on overdue"
        escalating = {s for t in self.transitions if t.trigger == ESCALATE for s in t.source}
        assert escalating <= set(proposed), f"{self.name}: nothing proposed in {escalating - set(proposed)}"
        for trigger in {t.trigger for t in self.transitions}:
            rows = [t for t in self.transitions if t.trigger == trigger]
            # One trigger, one form: the API's schema for an action is per trigger.
            assert len({t.fields for t in rows}) == 1, f"{self.name}.{trigger}: rows differ in fields"
            assert len({t.roles for t in rows}) == 1, f"{self.name}.{trigger}: rows differ in roles"
            edges = [(s, t.dest) for t in rows for s in t.source]
            assert len(edges) == len(set(edges)), f"{self.name}.{trigger}: a duplicated edge"

    def _build(self) -> Machine:
        machine = Machine(model=None, states=list(self.states), initial=None, auto_transitions=False,
                          send_event=True, name=self.name)
        for t in self.transitions:
            machine.add_transition(
                t.trigger, list(t.source), t.dest,
                conditions=[_condition(g) for g in t.guards],
                after=[_chosen(t)] + [_effect(e) for e in t.effects],
            )
        return machine

    # --- queries over the table ---------------------------------------------------------

    def state(self, name: str) -> State:
        return self.states[name]

    def roles_of(self, trigger: str) -> tuple[str, ...]:
        rows = self.by_trigger.get(trigger, ())
        return rows[0].roles if rows else ()

    def fields_of(self, trigger: str) -> tuple[Field, ...]:
        rows = self.by_trigger.get(trigger, ())
        return rows[0].fields if rows else ()

    def sources_of(self, trigger: str) -> set[str]:
        return {s for t in self.by_trigger.get(trigger, ()) for s in t.source}

    def allowed(self, kind: str, case: Case, now: dt.datetime) -> list[str]:
        """Triggers a party of ``kind`` may fire on ``case`` now, by the table and the pure
        guards. A pure lookup and a few comparisons: no machine, no query."""
        rows = self._index.get((case.state, kind), ())
        if not rows:
            return []
        ctx = Context(actor=None, case=case, machine=self, trigger="", now=now,  # type: ignore[arg-type]
                      from_state=case.state)
        out: list[str] = []
        for t in rows:
            if t.trigger not in out and all(g(ctx) for g in t.pure_guards):
                out.append(t.trigger)
        return out

    def explain_refusal(self, ctx: Context) -> str:
        """Why no row of the trigger fired: the first failing guard of the rows whose
        source matches (called only after the machine refused)."""
        for t in self.by_trigger.get(ctx.trigger, ()):
            if ctx.from_state not in t.source:
                continue
            for g in t.guards:
                if not g(ctx):
                    return g.refusal
        return "the action's conditions are not met"

    # --- firing ----------------------------------------------------------------------------

    def fire(self, ctx: Context) -> str | None:
        """Fire ``ctx.trigger`` from ``ctx.from_state`` through the shared machine: its
        conditions are the rows' guards, its callbacks record the row and run the effects.
        Returns the new state, or None when every row's guards refused."""
        proxy = _Proxy(ctx.from_state)
        self._machine.add_model(proxy, initial=ctx.from_state)
        try:
            fired = proxy.trigger(ctx.trigger, ctx=ctx)
        finally:
            self._machine.remove_model(proxy)
        return proxy.state if fired else None

    # --- documentation ---------------------------------------------------------------------

    def action_schema(self, trigger: str, *, with_version: bool = True) -> dict:
        """JSON Schema of the body an action takes: ``version`` and the row's fields, nothing else."""
        fields = self.fields_of(trigger)
        rows = self.by_trigger[trigger]
        schema = {
            "title": f"{self.name}.{trigger}",
            "description": f"{rows[0].label} ({rows[0].article.chinese}; {'/'.join(rows[0].roles)})",
            "type": "object",
            "properties": {f.name: f.json_schema() for f in fields},
            "required": [f.name for f in fields if f.required],
            "additionalProperties": False,
        }
        if with_version:
            schema["properties"] = {"version": {"type": "integer", "description": "the version you saw"},
                                    **schema["properties"]}
            schema["required"] = ["version", *schema["required"]]
        return schema

    def describe(self) -> dict:
        return {
            "machine": self.name,
            "label": self.label,
            "article": self.article.chinese,
            "states": [{"name": s.name, "label": s.label, "kind": s.kind,
                        "article": s.article.chinese if s.article else None,
                        "period": s.period} for s in self.states.values()],
            "transitions": [t.describe() for t in self.transitions],
            "escalation": self.escalation,
            "auto_escalation": self.auto_escalation,
            "proposals_on_overdue": self.proposals,
        }


def _condition(g: Guard):
    def condition(event) -> bool:
        return g(event.kwargs["ctx"])
    condition.__name__ = g.name
    return condition


def _chosen(t: Transition):
    def chosen(event) -> None:
        event.kwargs["ctx"].row = t
    return chosen


def _effect(effect: Callable[[Context], None]):
    def run(event) -> None:
        effect(event.kwargs["ctx"])
    run.__name__ = effect.__name__
    return run

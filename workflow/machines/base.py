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

import marshmallow as ma
from marshmallow.experimental.context import Context as SchemaContext
from transitions import Machine

from workflow import case_records
from workflow.articles import Article, Citation, art, cite  # noqa: F401 - the tables cite through base
from workflow.case_records import Case
from workflow.parties import Actor
from workflow.schemas import (Choices, Day, Lines, Moment, Money, People, Text, Whole, choice, days,
                              non_negative, schema_for)

NEW = "new"  # the pseudo-state a case is opened from (立案); no case rests in it

PARTY_KINDS = ("finance", "competent", "unit", "bank", "oversight", "department", "system")


# --- states --------------------------------------------------------------------------

@dataclass(frozen=True)
class State:
    """A state of a case. ``rung`` states are steps of the handling ladder (``handed_on``: a
    lifecycle's record its owner handed on to another party, waiting for its answer); ``period``
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
               "datetime", "count", "people")  # the last three: verification steps and their records
                                               # (workflow.verification_steps)


@dataclass(frozen=True)
class Field:
    """One input of an action. ``type`` says how it is checked:

    text: non-empty string (at most ``max_length``); lines: list of strings, or one string
    with one item a line; choice: one of ``choices``; choices: a non-empty list of them;
    money: yuan as a decimal string (never a float); days: working days 1..366; date: ISO
    date; org: the code of an organisation of kind ``org_kind`` the caller can reach;
    accounts: a list of the subject's bank account numbers; datetime: ISO 8601 with an offset;
    count: a whole number from 1; people: a non-empty list of ``{"name", "side"}``, ``side`` one
    of ``choices``.

    Bounds: ``max_length`` (text: characters; lines: characters in all), ``max_items`` and
    ``item_max_length`` (lines; people: people and characters a name), ``maximum`` (count);
    ``None``: no bound.
    """

    name: str
    type: str = "text"
    required: bool = False
    label: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (value, Chinese label)
    max_length: int = 2000
    org_kind: str | None = None
    max_items: int | None = None
    item_max_length: int | None = None
    maximum: int | None = None

    def __post_init__(self):
        assert self.type in FIELD_TYPES, self.type
        assert not (self.type in ("choice", "choices", "people") and not self.choices), self.name

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)

    def choice_label(self, value: str) -> str:
        return dict(self.choices).get(value, value)

    def schema_field(self) -> ma.fields.Field:
        """The field as marshmallow reads it (and apispec documents it)."""
        kw = {"required": self.required, "metadata": {"description": self.label} if self.label else {}}
        if self.type == "text":
            return Text(max_length=self.max_length, **kw)
        if self.type == "lines":
            return Lines(max_length=self.max_length, max_items=self.max_items,
                         item_max_length=self.item_max_length, **kw)
        if self.type == "choice":
            return choice(self.choice_values, **kw)
        if self.type == "choices":
            return Choices(self.choice_values, **kw)
        if self.type == "money":
            return Money(validate=non_negative, **kw)
        if self.type == "days":
            return days(**kw)
        if self.type == "date":
            return Day(**kw)
        if self.type == "org":
            return OrgField(self.org_kind, **kw)
        if self.type == "datetime":
            return Moment(**kw)
        if self.type == "count":
            return Whole(minimum=1, maximum=self.maximum, **kw)
        if self.type == "people":
            return People(self.choice_values, max_items=self.max_items, name_max_length=self.item_max_length or 50,
                          **kw)
        return AccountsField(**kw)

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


class OrgField(ma.fields.String):
    """The code of an organisation of ``org_kind`` the actor may address; loads the organisation."""

    def __init__(self, org_kind: str | None, **kwargs):
        self.org_kind = org_kind
        metadata = kwargs.setdefault("metadata", {})
        described = metadata.get("description")
        metadata["description"] = " — ".join(x for x in (described, f"code of a {org_kind} organisation") if x)
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.code

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not value.strip():
            raise ma.ValidationError("an organisation code")
        org = case_records.reachable_org(SchemaContext.get()["ctx"].actor, value.strip(), self.org_kind)
        if org is None:
            raise ma.ValidationError(f"no {self.org_kind} organisation {value!r} you may address")
        return org


class AccountsField(ma.fields.List):
    """A non-empty list of account numbers of the case's unit; loads the accounts."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("minItems", 1)
        super().__init__(ma.fields.String(), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else sorted(a.number for a in value)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ma.ValidationError("a non-empty list of account numbers")
        accounts = case_records.accounts_of_subject(SchemaContext.get()["ctx"].case, value)
        missing = sorted(set(value) - {a.number for a in accounts})
        if missing:
            raise ma.ValidationError(f"not accounts of the case's unit: {', '.join(missing)}")
        return accounts


def fields_schema(name: str, fields: tuple[Field, ...], description: str = "", *, extra: dict | None = None,
                  unknown_message: str = "unknown field for this action",
                  checks: tuple[Callable[[dict], None], ...] = ()) -> type[ma.Schema]:
    """One row's schema, generated from its fields (after ``extra``, marshmallow fields the
    row's kind adds, e.g. a step's ``kind``): unknown fields are named and refused; ``checks``
    run across the loaded values."""
    return schema_for({**(extra or {}), **{f.name: f.schema_field() for f in fields}}, name=name,
                      description=description, unknown_message=unknown_message, checks=checks)


def load_fields(schema: type[ma.Schema], data: dict, ctx) -> tuple[dict, dict]:
    """``(python values, their JSON form)`` of an action's input, or ``ma.ValidationError``.
    The org and accounts fields read the action's context ``ctx`` (who acts, ``ctx.actor``;
    on which case, ``ctx.case``): a :class:`Context`, or a step's context."""
    instance = schema()
    with SchemaContext({"ctx": ctx}):
        values = instance.load(data)
    return values, instance.dump(values)


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
    the notice's context built by ``context`` from the action; ``circulate``, if given, names
    the parties it is circulated to besides (a 通报's scope, Art. 21(五))."""

    kind: str
    context: Callable[[Context], dict]
    addressee: str = "subject"
    circulate: Callable[[Context], list] | None = None


RECIPIENTS = ("subject", "competent", "finance", "referred", "unit_banks", "closing_banks", "circulation")


@dataclass(frozen=True)
class Tell:
    """A message (``workflow.messages.TEMPLATES``) to one group of the case's parties:
    subject, competent (the unit's department), finance (in charge of the case), referred
    (the oversight body named), unit_banks (banks of the unit's open accounts),
    closing_banks (banks asked to close accounts, each told of its own), circulation (each
    party the action's notices were circulated to, :attr:`Issue.circulate`)."""

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
        # One schema per trigger, from its rows' fields: what the engine loads input with, and
        # what the API document shows as the action's body.
        self.schemas: dict[str, type[ma.Schema]] = {
            trigger: fields_schema(f"{name}.{trigger}", rows[0].fields,
                                   f"{rows[0].label} ({rows[0].article.chinese}; {'/'.join(rows[0].roles)})")
            for trigger, rows in self.by_trigger.items()}
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

"""A record's status as a table, in the case machines' vocabulary (:mod:`.base`).

A :class:`Lifecycle` is the lighter sibling of :class:`~workflow.machines.base.CaseMachine`
for a record whose status moves by a few rows and runs no guards of its own: the warning
(:mod:`.warning`) and the payment (:mod:`.payment`). Its rows are :func:`~.base.row` rows
(trigger, sources, destination, roles, article, label, and where an action takes input, its
fields and guards); the rows from :data:`~.base.NEW` declare the states a record is created in
(:attr:`Lifecycle.initial`), the others every later change. A row's fields make its trigger's
schema (:attr:`Lifecycle.schemas`: what the domain loads the action's body with and the API
documents); its guards are predicates over the locked record, run by :meth:`Lifecycle.move`. :meth:`Lifecycle.move` is the only writer of the status column
(:mod:`workflow.status_writes`); a trigger with no row from the record's status is a
:class:`~workflow.errors.Conflict` saying why.
"""
from __future__ import annotations

from workflow.articles import Cited
from workflow.errors import Conflict, Forbidden
from workflow.machines.base import NEW, PARTY_KINDS, State, Transition, fields_schema
from workflow.parties import Actor
from workflow.status_writes import status_writer


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


class Lifecycle:
    """A status lifecycle declared as data; ``noun`` names the record in refusals."""

    def __init__(self, name: str, label: str, noun: str, states: tuple[State, ...],
                 transitions: tuple[Transition, ...], *, article: Cited):
        self.name = name
        self.label = label
        self.noun = noun
        self.article = article
        self.states: dict[str, State] = {s.name: s for s in states}
        self.transitions = transitions
        self.by_trigger: dict[str, tuple[Transition, ...]] = {}
        for t in transitions:
            self.by_trigger[t.trigger] = self.by_trigger.get(t.trigger, ()) + (t,)
        self.initial: tuple[str, ...] = tuple(dict.fromkeys(t.dest for t in transitions if t.source == (NEW,)))
        self._check()
        # One schema per trigger that takes input, from its rows' fields (as the case machines do).
        self.schemas = {
            trigger: fields_schema(f"{name}.{trigger}", rows[0].fields,
                                   f"{rows[0].label} ({rows[0].article.chinese}; {'/'.join(rows[0].roles)})")
            for trigger, rows in self.by_trigger.items() if rows[0].fields}

    def _check(self) -> None:
        names = set(self.states)
        assert NEW in names and self.initial, f"{self.name}: the states a record is created in"
        for t in self.transitions:
            where = f"{self.name}.{t.trigger}"
            assert set(t.source) <= names, f"{where}: unknown source {set(t.source) - names}"
            assert t.dest is None or t.dest in names, f"{where}: unknown dest {t.dest}"
            assert t.roles and set(t.roles) <= set(PARTY_KINDS), f"{where}: roles {t.roles}"
            assert t.dest != NEW, f"{where}: nothing returns to {NEW}"
            assert all(self.states[s].kind != "closed" for s in t.source), f"{where}: a closed record does not move"
            assert t.source != (NEW,) or not (t.guards or t.fields), f"{where}: creation takes no guards or fields"
            assert t.source == (NEW,) or NEW not in t.source, f"{where}: creation is a row of its own"
        for trigger, rows in self.by_trigger.items():
            sources = [s for t in rows for s in t.source]
            assert len(sources) == len(set(sources)), f"{self.name}.{trigger}: two rows from one state"
            assert len({t.fields for t in rows}) == 1, f"{self.name}.{trigger}: rows differ in fields"

    # --- queries over the table ---------------------------------------------------------

    @property
    def statuses(self) -> tuple[str, ...]:
        """Every status a record may have (all but the start)."""
        return tuple(name for name in self.states if name != NEW)

    @property
    def undecided(self) -> tuple[str, ...]:
        """The states its owner has still to decide the record in: the ``rung`` states. Not a
        ``handed_on`` state (a warning handed on to another department, Art. 11(三)): decided
        on the owner's side, it waits for the other party before it closes."""
        return tuple(name for name, s in self.states.items() if s.kind == "rung")

    def row_for(self, trigger: str, status: str) -> Transition | None:
        """The row ``trigger`` fires from ``status``, or None (creation rows never fire)."""
        for t in self.by_trigger.get(trigger, ()):
            if status in t.source and t.source != (NEW,):
                return t
        return None

    def allows(self, trigger: str, status: str) -> bool:
        return self.row_for(trigger, status) is not None

    def sources_of(self, trigger: str) -> tuple[str, ...]:
        return tuple(s for t in self.by_trigger.get(trigger, ()) for s in t.source if s != NEW)

    def refusal(self, trigger: str, status: str) -> str:
        """Why ``trigger`` cannot fire from ``status``, as the table says."""
        if trigger not in self.by_trigger:
            return f"{self.noun}s have no {trigger!r}; one of {', '.join(self.by_trigger)}"
        label = self.by_trigger[trigger][0].label
        sources = " or ".join(self.sources_of(trigger))
        return f"{_a(status)} {self.noun} cannot {trigger} ({label}): only {_a(sources)} {self.noun} can"

    # --- the one writer of the status ----------------------------------------------------

    def move(self, record, trigger: str, *, actor: Actor | None = None) -> Transition:
        """Fire ``trigger`` on ``record`` (locked by the caller): write the row's destination
        (an internal row leaves the status as it is) and return the row. Conflict (409) when
        no row leaves the record's status or one of the row's guards refuses (its refusal is
        the message), Forbidden when ``actor`` is not of the row's roles."""
        status = record.status
        row = self.row_for(trigger, status)
        if row is None:
            raise Conflict(self.refusal(trigger, status), {"status": [status]})
        if actor is not None and not actor.is_system and actor.kind not in row.roles:
            raise Forbidden(f"{actor.kind} parties may not {trigger} ({row.article.chinese})")
        for check in row.guards:
            if not check(record):
                raise Conflict(f"{_a(self.noun)} {self.noun} cannot {trigger} ({row.label}): {check.refusal}",
                               {"status": [status]})
        if row.dest is not None and row.dest != status:
            with status_writer(record, row.dest):
                record.status = row.dest
        return row

    # --- documentation ---------------------------------------------------------------------

    def describe(self) -> dict:
        return {
            "machine": self.name,
            "label": self.label,
            "article": self.article.chinese,
            "initial": list(self.initial),
            "states": [{"name": s.name, "label": s.label, "kind": s.kind,
                        "article": s.article.chinese if s.article else None} for s in self.states.values()],
            "transitions": [t.describe() for t in self.transitions],
        }

"""Business invariants that the hash chains cannot see (issue 16 item 2).

A chain proves that nothing was changed or deleted after it was written; it does not prove
that what was written makes sense. Two decisions that raced past each other are both chained
correctly. :func:`check_invariants` looks for what such races (or a hand edit) leave behind;
``flask --app wsgi audit verify`` reports each violation with the records it concerns.

- one decision per warning (核实确认 or 核实排除, Art. 11(三)): at most one ``confirmed`` or
  ``dismissed`` entry in the warning's journal;
- one case per confirmed warning: a confirmed warning names its case, the case opened from
  it is that one and no other; a dismissed or undecided warning has no case;
- one active rung per case: the case's ``rung`` is the last rung its history reached;
- once-only acts, counted in the journal: a complaint triaged once (Art. 20), a notice
  acknowledged once, a payment released once and refused once (Art. 11(三), 28(三));
  and one bank refusal per payment (Art. 28(三)).

Each check is one query (or one pass over the cases' opening events), read-only.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from workflow.bank_intake import BankRefusal
from workflow.case_records import Case, CaseEvent
from workflow.db import among, chunks, db
from workflow.journal import JournalEntry
from workflow.machines import MACHINES
from workflow.machines.warning import CONFIRMED
from workflow.monitoring.models import MonitoringWarning

# (stream kind, journal actions that may occur at most once together, the invariant's name)
ONCE_ONLY = (
    ("warning", ("confirmed", "dismissed", "transferred"), "one decision per warning"),
    ("warning", ("transfer_closed",), "a transfer is closed once"),
    ("complaint", ("triaged",), "one triage per complaint"),
    ("document", ("acknowledged",), "one acknowledgement per notice"),
    ("payment", ("refused",), "a payment is refused once"),
    ("payment", ("released",), "a payment is released once"),
)


@dataclass(frozen=True)
class Violation:
    invariant: str
    record: str  # e.g. "warning 7"
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.record}: {self.detail}"


def check_invariants() -> Iterator[Violation]:
    """Every violation found, invariant by invariant."""
    yield from _once_only()
    yield from _warning_cases()
    yield from _rungs()
    yield from _refusals()


def _once_only() -> Iterator[Violation]:
    for kind, acts, invariant in ONCE_ONLY:
        rows = db.session.execute(
            sa.select(JournalEntry.stream, sa.func.count(), sa.func.min(JournalEntry.seq), sa.func.max(JournalEntry.seq))
            .where(JournalEntry.stream.like(f"{kind}:%"), JournalEntry.action.in_(acts))
            .group_by(JournalEntry.stream).having(sa.func.count() > 1).order_by(JournalEntry.stream))
        for stream, n, first, last in rows:
            yield Violation(invariant, stream.replace(":", " ", 1),
                            f"{n} entries of {' or '.join(acts)} in its journal (seq {first}..{last})")


def _warning_cases() -> Iterator[Violation]:
    invariant = "one case per confirmed warning"
    opened_from: dict[int, list[int]] = {}
    openings = db.session.execute(sa.select(CaseEvent.case_id, CaseEvent.payload).where(CaseEvent.seq == 1)
                                  .order_by(CaseEvent.case_id)).yield_per(1000)
    for case_id, payload in openings:
        source = (payload or {}).get("source") or {}
        if isinstance(source, dict) and isinstance(source.get("warning_id"), int):
            opened_from.setdefault(source["warning_id"], []).append(case_id)
    for warning_id, case_ids in sorted(opened_from.items()):
        if len(case_ids) > 1:
            yield Violation(invariant, f"warning {warning_id}",
                            f"{len(case_ids)} cases opened from it: {', '.join(map(str, case_ids))}")
    rows = db.session.execute(sa.select(MonitoringWarning.id, MonitoringWarning.status, MonitoringWarning.case_id).where(sa.or_(
        sa.and_(MonitoringWarning.status == CONFIRMED, MonitoringWarning.case_id.is_(None)),
        sa.and_(MonitoringWarning.status != CONFIRMED, MonitoringWarning.case_id.is_not(None)))).order_by(MonitoringWarning.id))
    for warning_id, status, case_id in rows:
        if case_id is None:
            yield Violation(invariant, f"warning {warning_id}", "confirmed without a case")
        else:
            yield Violation(invariant, f"warning {warning_id}", f"{status} but names case {case_id}")
    sources = sorted(opened_from)
    for chunk in chunks(sources):
        rows = db.session.execute(sa.select(MonitoringWarning.id, MonitoringWarning.status, MonitoringWarning.case_id)
                                  .where(among(MonitoringWarning.id, chunk)).order_by(MonitoringWarning.id))
        for warning_id, status, case_id in rows:
            cases = opened_from[warning_id]
            if status == CONFIRMED and case_id is not None and case_id not in cases:
                yield Violation(invariant, f"warning {warning_id}",
                                f"names case {case_id}, but case {cases[0]} was opened from it")
            elif status != CONFIRMED and case_id is None:
                yield Violation(invariant, f"warning {warning_id}", f"{status}, yet case {cases[0]} was opened from it")


def _rungs() -> Iterator[Violation]:
    """A case is on one rung at a time: the one its history last reached."""
    rung_states = {name: {s for s, state in spec.states.items() if state.kind == "rung"}
                   for name, spec in MACHINES.items()}
    cases = {case_id: (machine, rung) for case_id, machine, rung in
             db.session.execute(sa.select(Case.id, Case.machine, Case.rung))}
    reached: dict[int, str] = {}
    events = db.session.execute(sa.select(CaseEvent.case_id, CaseEvent.to_state)
                                .order_by(CaseEvent.case_id, CaseEvent.seq)).yield_per(5000)
    for case_id, to_state in events:
        machine = cases.get(case_id, (None, None))[0]
        if to_state in rung_states.get(machine, ()):
            reached[case_id] = to_state
    for case_id, (_machine, rung) in sorted(cases.items()):
        if case_id in reached and reached[case_id] != rung:
            yield Violation("one active rung per case", f"case {case_id}",
                            f"on rung {rung!r}, but its history last reached {reached[case_id]!r}")


def _refusals() -> Iterator[Violation]:
    rows = db.session.execute(sa.select(BankRefusal.payment_id, sa.func.count()).group_by(BankRefusal.payment_id)
                              .having(sa.func.count() > 1).order_by(BankRefusal.payment_id))
    for payment_id, n in rows:
        ids = db.session.execute(sa.select(BankRefusal.id).where(BankRefusal.payment_id == payment_id)
                                 .order_by(BankRefusal.id)).scalars()
        yield Violation("one bank refusal per payment", f"payment {payment_id}",
                        f"{n} refusals: {', '.join(map(str, ids))}")

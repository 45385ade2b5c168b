"""Verifying the tamper-evident histories (防篡改): every case's SHA-256 chain, as
``flask --app wsgi audit verify`` runs it beside the journal's streams
(:func:`workflow.journal.verify_journal`) and the business invariants
(:mod:`workflow.invariants`)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa

from workflow.case_records import Case, CaseEvent, event_content
from workflow.chain import broken_links, located
from workflow.db import db


@dataclass(frozen=True)
class ChainProblem:
    case_id: int
    seq: int | None
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        return located(f"case {self.case_id}", "event", self.seq, self.event_id, self.problem)


def verify_case_chain(case: Case | tuple, events: Iterable) -> list[ChainProblem]:
    """Check one case's history: consecutive sequence numbers from 1 to the case's
    version, each hash over its content and the previous hash, and the last event's
    state and hash equal to the case's (``last_hash``, where the next event chains on).
    ``case`` is a Case or ``(id, version, state, last_hash)``."""
    case_id, version, state, last_hash = (case.id, case.version, case.state, case.last_hash) \
        if isinstance(case, Case) else case
    links, last = broken_links(events, event_content, noun="event")
    problems = [ChainProblem(case_id, link.seq, link.entry_id, link.problem) for link in links]
    if last is None:
        problems.append(ChainProblem(case_id, None, None, "no history at all (events deleted)"))
        return problems
    if last.seq < version:
        problems.append(ChainProblem(case_id, last.seq + 1, None,
                                     f"events {last.seq + 1}..{version} missing at the end (deleted)"))
    elif last.seq > version:
        problems.append(ChainProblem(case_id, None, None, f"case version {version} is behind its history ({last.seq})"))
    if last.to_state != state:
        problems.append(ChainProblem(case_id, None, None,
                                     f"case state {state!r} differs from its history ({last.to_state!r})"))
    if last.seq == version and last.hash != last_hash:
        # An edited last event whose hash was recomputed to match: the case row still holds
        # the hash the chain had (or the case row's hash was changed).
        problems.append(ChainProblem(case_id, last.seq, last.id,
                                     "the last event's hash differs from the case's last hash (edited)"))
    return problems


EVENT_COLUMNS = (CaseEvent.id, CaseEvent.case_id, CaseEvent.seq, CaseEvent.actor_user_id, CaseEvent.party_org_id,
                 CaseEvent.party_kind, CaseEvent.trigger, CaseEvent.from_state, CaseEvent.to_state,
                 CaseEvent.payload, CaseEvent.created_at, CaseEvent.prev_hash, CaseEvent.hash)


def verify_chains(case_ids: Iterable[int] | None = None, batch: int = 1000) -> Iterator[tuple[int, list[ChainProblem]]]:
    """Every case's chain (or those given), in id order: ``(case_id, problems)``. Cases are
    read a batch at a time by keyset, their events as plain rows (nothing enters the
    session), so memory stays flat however long the history grows."""
    wanted = None if case_ids is None else sorted(set(case_ids))
    last = 0
    while True:
        stmt = (sa.select(Case.id, Case.version, Case.state, Case.last_hash).where(Case.id > last)
                .order_by(Case.id).limit(batch))
        if wanted is not None:
            stmt = stmt.where(Case.id.in_(wanted))
        heads = db.session.execute(stmt).all()
        if not heads:
            return
        events: dict[int, list] = {c.id: [] for c in heads}
        rows = db.session.execute(sa.select(*EVENT_COLUMNS).where(CaseEvent.case_id.in_(list(events)))
                                  .order_by(CaseEvent.case_id, CaseEvent.seq))
        for event in rows:
            events[event.case_id].append(event)
        for head in heads:
            yield head.id, verify_case_chain(tuple(head), events[head.id])
        last = heads[-1].id

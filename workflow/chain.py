"""What every hash-chained, append-only history shares: the case history
(:class:`workflow.cases.CaseEvent`) and the journal of every other action
(:class:`workflow.journal.JournalEntry`).

- An entry's ``hash`` is SHA-256 over the previous entry's hash and the canonical JSON of
  its content (:func:`chain_hash`); the first entry's previous hash is :data:`GENESIS`.
- :func:`append_only` makes the ORM refuse updates and deletes of a model, flushed or as
  bulk statements; the migrations add database triggers that refuse them too.
- :func:`broken_links` walks one chain and names each entry that was edited or deleted.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, relationship

from workflow.db import AwareDateTime

GENESIS = "0" * 64


class AppendOnlyViolation(RuntimeError):
    """Someone tried to change or remove an entry of an append-only history."""


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chain_hash(prev_hash: str, content: dict) -> str:
    return hashlib.sha256((prev_hash + canonical_json(content)).encode("utf-8")).hexdigest()


# --- append-only models ----------------------------------------------------------------------

class ChainedEntry:
    """The columns every chained entry has beside its chain's key (a case, a stream): its
    place in the chain, who acted for which party, what, when, and the two hashes."""

    seq: Mapped[int] = mapped_column(sa.Integer)
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    party_org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    party_kind: Mapped[str] = mapped_column(sa.String(16))
    payload: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))

    @declared_attr
    def actor(cls):
        return relationship("User")

    @declared_attr
    def party(cls):
        return relationship("Organisation")


_APPEND_ONLY: dict[type, str] = {}  # model class -> what its rows are called in the refusal


def append_only(model: type, what: str) -> type:
    """Make the ORM refuse to update or delete rows of ``model`` (``what`` names the history
    in the error). Returns the model, so that it may be used as a class decorator."""
    _APPEND_ONLY[model] = what

    def refuse(_mapper, _connection, target) -> None:
        raise AppendOnlyViolation(f"{what} is append-only (entry {target.id})")

    sa.event.listen(model, "before_update", refuse)
    sa.event.listen(model, "before_delete", refuse)
    return model


@sa.event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is not None:
        what = _APPEND_ONLY.get(state.bind_mapper.class_)
        if what is not None:
            raise AppendOnlyViolation(f"{what} is append-only (bulk statement)")


# --- verifying one chain ---------------------------------------------------------------------

def located(chain: str, noun: str, seq: int | None, entry_id: int | None, problem: str) -> str:
    """A problem as ``audit verify`` prints it: ``case 7, event seq 2 (id 31): ...``."""
    where = chain
    if seq is not None:
        where += f", {noun} seq {seq}" + (f" (id {entry_id})" if entry_id is not None else "")
    return f"{where}: {problem}"


@dataclass(frozen=True)
class BrokenLink:
    """Where a chain breaks: the seq expected or found, the entry's id if it exists."""

    seq: int
    entry_id: int | None
    problem: str


def broken_links(entries: Iterable, content: Callable[[object], dict], noun: str = "entry"):
    """Check one chain, read in seq order: consecutive sequence numbers from 1, each
    ``prev_hash`` equal to the previous entry's hash, each hash over its content.
    ``entries`` have ``id``, ``seq``, ``prev_hash`` and ``hash``; ``content(entry)`` is
    what the hash covers. Returns ``(problems, last entry or None)``."""
    problems: list[BrokenLink] = []
    prev_hash, expected, last = GENESIS, 1, None
    for entry in entries:
        if entry.seq != expected:
            missing = f"{expected}" if entry.seq == expected + 1 else f"{expected}..{entry.seq - 1}"
            problems.append(BrokenLink(expected, None, f"{noun} seq {missing} missing (deleted)"))
        if entry.prev_hash != prev_hash:
            problems.append(BrokenLink(entry.seq, entry.id, f"prev_hash does not match the previous {noun} "
                                                            f"(an earlier {noun} was edited or deleted)"))
        if chain_hash(entry.prev_hash, content(entry)) != entry.hash:
            problems.append(BrokenLink(entry.seq, entry.id, "content does not match its hash (edited)"))
        prev_hash, expected, last = entry.hash, entry.seq + 1, entry
    return problems, last

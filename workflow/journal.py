"""The journal (操作日志): a tamper-evident record of every action outside the case workflow.

Case actions have their own chain (:class:`workflow.cases.CaseEvent`). Everything else a
party does on a record is appended here by :func:`record`, in the caller's transaction,
as one :class:`JournalEntry` of the record's *stream*:

=================== ===================================================================
stream              actions
=================== ===================================================================
``warning:<id>``    opened (a manual warning: complaint, bank refusal), step_added,
                    joint_investigation_requested, response_added, file_added (to an
                    answer, with its SHA-256), record_made (a step's record, with each
                    attachment's SHA-256), confirmed, dismissed, transferred (to whom, the
                    letter's number), transfer_closed (Art. 11(三)); step_reminded,
                    step_overdue (the scheduler: a party asked by a step reminded of its
                    due date, finance told it passed unanswered)
``payment:<id>``    released, refused (by verification or by the agent bank)
``complaint:<id>``  received, triaged
``document:<id>``   issued, acknowledged
``evidence:<id>``   uploaded, joined (a warning-stage file that became part of the case file)
``ruleset:<org>``   drafted, edited, published (a rule-set draft of that finance department and
                    the version a second officer published from it, Art. 5-7, 12)
``settlement:<id>`` reported (one entry per settlement report of that bank)
``token:<id>``      issued, revoked
``account:<id>``    recorded, changed (registered, suspended, closed, reactivated; Art. 13(一)),
                    change_reported (the unit's report of a change at the bank, on time or late)
``indicators:<org>`` loaded (one entry per upload by that finance department: ids and a digest)
``payee:<id>``      filed, changed, confirmed, rejected (individual payees, Art. 16)
``reimbursement:<id>`` approved (an approved 归垫 entered by finance, Art. 13(三)5, 13(四))
``special_fund_rules:<id>`` filed, attached, approved, rejected (Art. 17)
``payment_plan:<id>`` filed, amended, refiled, revised (by the unit, Art. 10(三)15), approved,
                    returned (by finance, Art. 10(二)1)
``outbox:<id>``     retried (a dead letter put back in the queue by finance)
``joint_investigation:<warning id>`` joint_investigation_requested, response_added, file_added,
                    step_reminded, step_overdue (kept apart
                    from the warning's stream: only finance and the body asked read it)
``transfer:<warning id>`` transferred (the matters, the basis), response_added (the receiving
                    department's outcome): only finance and the department read it (Art. 11(三))
=================== ===================================================================

Screening (payment intake, up to a million rows) is not journaled row by row: the
payments and the warnings it stores are themselves the record.

Each stream is a chain like a case's history: ``seq`` counts from 1, ``prev_hash`` is the
previous entry's hash (:data:`workflow.chain.GENESIS` for the first) and ``hash`` is
SHA-256 over it and the canonical JSON of the entry's content (:func:`entry_content`).
The ORM refuses to update or delete entries and migration 0009 adds database triggers
that refuse them too. :func:`verify_journal` walks every stream
(``flask --app wsgi audit verify``).

Concurrency: the next ``seq`` is read and written under a lock on the stream itself, so
that two writers never both take seq N, whatever row locks the caller holds (a rule set
or a token has no row of its own the callers lock):

- PostgreSQL: ``pg_advisory_xact_lock`` on a 64-bit key derived from the stream name,
  held until the caller's commit or rollback; a second writer to the stream waits there
  and then reads the first one's entry as the head.
- SQLite: one writer at a time; the head is read only after the write lock is taken.

The unique constraint on ``(stream, seq)`` is the backstop should anything bypass this.

The head of each stream (its last seq and hash) is kept in :class:`JournalHead`, written
with the entry. The database lets a head only advance by one entry and never be deleted
(migration 0009's triggers), so a deleted *last* entry, or a whole deleted stream, no
longer leaves a shorter chain that looks whole: ``audit verify`` compares every stream's
last entry with its head, as it compares a case's last event with the case's version.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from workflow.chain import GENESIS, ChainedEntry, append_only, broken_links, canonical_json, chain_hash, located
from workflow.db import db, dialect_name, insert_now, json_safe, take_write_lock, utcnow
from workflow.parties import Actor

STREAM_MAX = 64
ACTION_MAX = 48

# Every action a stream's entry can name, by the stream's kind (the table above): a closed
# vocabulary, which :func:`record` holds callers to and the API document enumerates.
STREAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "warning": ("opened", "step_added", "joint_investigation_requested", "response_added", "file_added",
                "record_made", "confirmed", "dismissed", "transferred", "transfer_closed", "step_reminded",
                "step_overdue"),
    "joint_investigation": ("joint_investigation_requested", "response_added", "file_added", "step_reminded",
                            "step_overdue"),
    "transfer": ("transferred", "response_added"),
    "payment": ("held", "released", "refused"),
    "complaint": ("received", "triaged"),
    "document": ("issued", "acknowledged"),
    "evidence": ("uploaded", "joined"),
    "ruleset": ("drafted", "edited", "published"),
    "settlement": ("reported",),
    "token": ("issued", "revoked"),
    "user": ("password_set",),
    "account": ("recorded", "changed", "change_reported"),
    "indicators": ("loaded",),
    "payee": ("filed", "changed", "confirmed", "rejected"),
    "reimbursement": ("approved",),
    "special_fund_rules": ("filed", "attached", "approved", "rejected"),
    "payment_plan": ("filed", "amended", "refiled", "revised", "approved", "returned"),
    "outbox": ("retried",),
}
ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(a for actions in STREAM_ACTIONS.values() for a in actions))

# An anonymous report from the public (Art. 20): no user, no organisation.
PUBLIC = Actor(user_id=None, org_id=None, kind="public", finance_path="/", name="public")


class JournalEntry(ChainedEntry, db.Model):
    """One action on one record; ``hash`` = SHA-256(prev_hash + canonical JSON). Besides
    the chained columns (:class:`workflow.chain.ChainedEntry`): the stream and the action."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    stream: Mapped[str] = mapped_column(sa.String(STREAM_MAX))  # indexed by (stream, seq)
    action: Mapped[str] = mapped_column(sa.String(ACTION_MAX))

    __table_args__ = (
        sa.UniqueConstraint("stream", "seq", name="uq_journal_entries_stream_seq"),
        sa.CheckConstraint("seq >= 1", name="seq_positive"),
    )

    @property
    def actor_ref(self) -> dict:
        """Who acted: the user (None for the system or the public)."""
        return {"user_id": self.actor_user_id, "name": self.actor.name if self.actor else None}

    @property
    def party_ref(self) -> dict:
        """For which party: its organisation (None for the system or the public) and kind."""
        return {"org_id": self.party_org_id, "kind": self.party_kind, "code": self.party.code if self.party else None}


append_only(JournalEntry, "the journal")


class JournalHead(db.Model):
    """The last entry of a stream: where the next one chains on, and what ``audit verify``
    expects to find at the end of the stream. Only ever advanced by :func:`record`."""

    __tablename__ = "journal_heads"

    stream: Mapped[str] = mapped_column(sa.String(STREAM_MAX), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer)
    hash: Mapped[str] = mapped_column(sa.String(64))


def entry_content(entry) -> dict:
    """What an entry's hash covers: every column but the id and the hashes themselves.
    ``entry`` is a JournalEntry or a row with the same columns."""
    return {
        "stream": entry.stream, "seq": entry.seq, "actor_user_id": entry.actor_user_id,
        "party_org_id": entry.party_org_id, "party_kind": entry.party_kind, "action": entry.action,
        "payload": entry.payload,
        "created_at": entry.created_at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
    }


def digest(value) -> str:
    """SHA-256 of a value's canonical JSON: what an entry keeps of content too large, or too
    private, to copy (the rows of an upload, a report's text)."""
    return hashlib.sha256(canonical_json(json_safe(value)).encode("utf-8")).hexdigest()


def stream_of(kind: str, record_id: int | str) -> str:
    """The stream name of a record: ``stream_of("warning", 42)`` is ``"warning:42"``."""
    return f"{kind}:{record_id}"


# --- writing -------------------------------------------------------------------------------------

def _lock_stream(stream: str) -> None:
    """Serialise the writers of one stream until the caller's transaction ends."""
    if dialect_name() == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"journal:{stream}".encode()).digest()[:8], "big", signed=True)
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
    else:
        take_write_lock()  # SQLite: before the head is read


def record(actor: Actor, stream: str, action: str, payload: dict, now: dt.datetime | None = None, *,
           new_stream: bool = False) -> JournalEntry:
    """Append ``action`` by ``actor`` to ``stream``, chained to the stream's last entry.
    Written in the caller's transaction (flushed, never committed), so that the action
    and its entry are kept or rolled back together. ``payload`` is stored as JSON
    (Decimal as a two-place string, dates ISO).

    ``new_stream``: the stream's record was inserted in this transaction (a document just
    issued), so nobody else can write to the stream before the commit: the entry is its first,
    written without the stream's lock or reading its head, in two statements and without
    flushing anything else the session holds (issue 15). The head's primary key refuses a
    second first entry, should the stream not be new after all."""
    if now is None:
        now = utcnow()
    elif now.tzinfo is None:
        raise ValueError("naive datetime: a timezone is required")
    if not stream or len(stream) > STREAM_MAX or not action or len(action) > ACTION_MAX:
        raise ValueError(f"a stream is 1..{STREAM_MAX} characters and an action 1..{ACTION_MAX}")
    if action not in STREAM_ACTIONS.get(stream.split(":", 1)[0], ()):
        raise ValueError(f"{action!r} is not an action of {stream} (journal.STREAM_ACTIONS): add it there")
    if new_stream:
        head = None
    else:
        _lock_stream(stream)
        head = db.session.execute(sa.select(JournalHead.seq, JournalHead.hash)
                                  .where(JournalHead.stream == stream)).first()
    seq, prev = (1, GENESIS) if head is None else (head.seq + 1, head.hash)
    entry = JournalEntry(stream=stream, seq=seq, actor_user_id=actor.user_id, party_org_id=actor.org_id,
                         party_kind=actor.kind, action=action, payload=json_safe(payload or {}), created_at=now,
                         prev_hash=prev)
    entry.hash = chain_hash(prev, entry_content(entry))
    if new_stream:
        insert_now(entry)
    else:
        db.session.add(entry)
        db.session.flush()
    # Core statements: the head is a counter under the stream lock, never an ORM object
    # that another session's identity map could hold stale.
    heads = JournalHead.__table__  # the table, not the model: a Core statement flushes nothing
    if head is None:
        db.session.execute(sa.insert(heads).values(stream=stream, seq=seq, hash=entry.hash))
    else:
        db.session.execute(sa.update(heads).where(heads.c.stream == stream).values(seq=seq, hash=entry.hash))
    return entry


# --- reading -------------------------------------------------------------------------------------

def entries_of(*streams: str) -> sa.Select:
    """The entries of ``streams`` (in id order: seq order within a stream, the order written
    across them). The caller has checked that the reader may see the record and chooses the
    streams it may read (a warning's joint investigation has its own)."""
    return sa.select(JournalEntry).where(JournalEntry.stream.in_(streams)).options(
        sa.orm.joinedload(JournalEntry.actor), sa.orm.joinedload(JournalEntry.party))


# --- verifying -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class JournalProblem:
    stream: str
    seq: int | None
    entry_id: int | None
    problem: str

    def __str__(self) -> str:
        return located(f"journal stream {self.stream}", "entry", self.seq, self.entry_id, self.problem)


ENTRY_COLUMNS = (JournalEntry.id, JournalEntry.stream, JournalEntry.seq, JournalEntry.actor_user_id,
                 JournalEntry.party_org_id, JournalEntry.party_kind, JournalEntry.action, JournalEntry.payload,
                 JournalEntry.created_at, JournalEntry.prev_hash, JournalEntry.hash)


def _streams(batch: int) -> Iterator[tuple[str, list]]:
    """Every stream with its entries in seq order, read a batch of entries at a time by
    keyset on (stream, seq) as plain rows, so that memory stays flat."""
    stream, entries, after = None, [], None
    while True:
        stmt = sa.select(*ENTRY_COLUMNS).order_by(JournalEntry.stream, JournalEntry.seq).limit(batch)
        if after is not None:
            stmt = stmt.where(sa.or_(JournalEntry.stream > after[0],
                                     sa.and_(JournalEntry.stream == after[0], JournalEntry.seq > after[1])))
        rows = db.session.execute(stmt).all()
        for row in rows:
            if row.stream != stream:
                if stream is not None:
                    yield stream, entries
                stream, entries = row.stream, []
            entries.append(row)
        if len(rows) < batch:
            break
        after = (rows[-1].stream, rows[-1].seq)
    if stream is not None:
        yield stream, entries


def _heads(batch: int) -> Iterator[tuple[str, int, str]]:
    """Every head as ``(stream, seq, hash)`` in stream order, a batch at a time."""
    after = None
    while True:
        stmt = sa.select(JournalHead.stream, JournalHead.seq, JournalHead.hash).order_by(JournalHead.stream).limit(batch)
        if after is not None:
            stmt = stmt.where(JournalHead.stream > after)
        rows = db.session.execute(stmt).all()
        yield from (tuple(row) for row in rows)
        if len(rows) < batch:
            return
        after = rows[-1].stream


def _head_problems(stream: str, head: tuple[str, int, str] | None, last) -> list[JournalProblem]:
    """The end of a stream against its head: entries missing after the last one found
    (deleted), a whole stream gone, or entries no head accounts for."""
    if head is None:
        return [JournalProblem(stream, None, None, "no head records this stream (its head was removed)")]
    _, seq, hash_ = head
    if last is None:
        return [JournalProblem(stream, None, None, f"the stream is gone: its head records {seq} entries (deleted)")]
    if last.seq < seq:
        missing = f"{seq}" if last.seq + 1 == seq else f"{last.seq + 1}..{seq}"
        return [JournalProblem(stream, last.seq + 1, None, f"entry seq {missing} missing after the last (deleted)")]
    if last.seq > seq or last.hash != hash_:
        return [JournalProblem(stream, last.seq, last.id, "the last entry does not match the stream's head")]
    return []


def verify_journal(batch: int = 1000) -> Iterator[tuple[str, list[JournalProblem]]]:
    """Every stream's chain, in stream order: ``(stream, problems)``. An edited entry, a
    deleted one (the last one too, or the whole stream, by its :class:`JournalHead`) or a
    changed order is named by stream and seq. Entries and heads are both read in stream
    order and merged, so that memory stays flat however many streams there are."""
    heads = _heads(batch)
    head = next(heads, None)
    for stream, entries in _streams(batch):
        while head is not None and head[0] < stream:  # a head whose stream has no entries left
            yield head[0], _head_problems(head[0], head, None)
            head = next(heads, None)
        links, last = broken_links(entries, entry_content)
        problems = [JournalProblem(stream, link.seq, link.entry_id, link.problem) for link in links]
        mine = head if head is not None and head[0] == stream else None
        problems += _head_problems(stream, mine, last)
        if mine is not None:
            head = next(heads, None)
        yield stream, problems
    while head is not None:
        yield head[0], _head_problems(head[0], head, None)
        head = next(heads, None)

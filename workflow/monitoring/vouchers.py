"""Voucher numbers (凭证号): one payment per voucher number of a unit.

A voucher number posted again with the same content is the same payment: it is answered
with its stored record, never stored twice and no warning raised twice. Posted again with
different content (amount, payee, account, codes, time...) it is a changed instruction
hidden under an old number, a *clash*: refused, or with ``refuse=False`` (bulk import) left
out and reported. The stored payments are read in one query per chunk of voucher numbers
(one in all on PostgreSQL, by the unique (unit, voucher) index), none per row.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping

import sqlalchemy as sa

from workflow.db import among, chunks, db, dialect_name, locked
from workflow.errors import Conflict, Invalid
from workflow.monitoring.intake import MAX_REPORTED_ERRORS
from workflow.monitoring.models import Payment
from workflow.monitoring.rules import mask
from workflow.parties import Actor, Organisation
from workflow.settings import local_zone

Voucher = tuple[int, str]  # (unit_id, voucher_no): another unit's voucher is another payment

# What makes two postings of one voucher number of a unit the same payment: every field of the
# row but the voucher number and the unit (the key).
COMPARED = ("payer_account", "amount", "paid_at", "settlement", "method", "functional_code", "economic_code",
            "summary", "payee_name", "payee_account", "payee_kind", "payee_id_number", "project", "approval_ref",
            "exception", "exception_ref")
# A stored payment as the clash checks and the answer read it, by column name.
StoredPayment = namedtuple("StoredPayment", ("id", "status", "unit_id", "bank_id", "voucher_no", *COMPARED))
STORED_COLUMNS = tuple(getattr(Payment, name) for name in StoredPayment._fields)


def serialise_units(unit_ids: set[int]) -> None:
    """Batches for the same unit one at a time, so that a voucher posted twice at once is
    stored once and both posts answer the stored payment (README: a voucher posted again
    answers the stored one) instead of one of them failing on the unique voucher number.
    SQLite: :func:`take_write_lock` has serialised every batch already. PostgreSQL: the
    units' rows, FOR NO KEY UPDATE in id order (inserts that reference a unit take KEY SHARE,
    which this does not block; one order for every batch, so no deadlock)."""
    if unit_ids:
        db.session.execute(locked(sa.select(Organisation.id).where(Organisation.id.in_(sorted(unit_ids)))
                                  .order_by(Organisation.id), key_share=True))


def stored_payments(parsed: list[dict]) -> dict[Voucher, StoredPayment]:
    """Vouchers of the batch's units already stored. Only the posted units' payments are read:
    another unit's number is not a clash.

    PostgreSQL: one query probing the unique (unit_id, voucher_no) index once for each of the
    batch's (unit, voucher) pairs, given as two arrays: a plan that does not change with the
    table's size or its statistics (issue 15 item 3; the former ``voucher_no = ANY AND unit_id =
    ANY``, planned on statistics of a small table, read every payment of the batch's units). SQLite: one
    query per chunk of voucher numbers, one probe of the voucher number's index per number."""
    wanted = {(p["unit_id"], p["voucher_no"]) for p in parsed}
    found: dict[Voucher, StoredPayment] = {}
    if dialect_name() == "postgresql":
        pairs = sorted(wanted)
        given = sa.text("SELECT u, v FROM unnest(CAST(:u AS integer[]), CAST(:v AS text[])) AS g(u, v)"
                        ).columns(u=sa.Integer, v=sa.String).subquery()
        # LATERAL ... LIMIT 1: run once per pair, so it can only be an index probe; as a plain join
        # the planner, reading statistics taken while the table was small, hashed a scan of it all.
        stored = (sa.select(*STORED_COLUMNS).where(Payment.unit_id == given.c.u, Payment.voucher_no == given.c.v)
                  .limit(1).lateral())
        rows = db.session.execute(sa.select(stored).select_from(given).join(stored, sa.true()),
                                  {"u": [unit_id for unit_id, _ in pairs], "v": [voucher for _, voucher in pairs]})
        return {(row.unit_id, row.voucher_no): StoredPayment._make(row) for row in rows}
    # By voucher number alone, the units filtered here: given the units too, SQLite probed the
    # unique (unit, voucher) index for every unit and number combined (units x numbers probes).
    for chunk in chunks({voucher for _, voucher in wanted}):
        for row in db.session.execute(sa.select(*STORED_COLUMNS).where(among(Payment.voucher_no, chunk))):
            key = (row.unit_id, row.voucher_no)
            if key in wanted:
                found[key] = StoredPayment._make(row)
    return found


def new_rows(parsed: list[dict], stored: dict[Voucher, StoredPayment]) -> tuple[list[int], dict[Voucher, int]]:
    """The rows to store: the first row of each voucher not stored yet (refused rows too are
    either stored or after their first row), in payment-time order, posted order breaking
    ties; and the index of that first row by voucher."""
    indices: list[int] = []
    first_of: dict[Voucher, int] = {}
    for index, p in enumerate(parsed):
        voucher = (p["unit_id"], p["voucher_no"])
        if voucher in stored or voucher in first_of:
            continue
        first_of[voucher] = index
        indices.append(index)
    indices.sort(key=lambda i: parsed[i]["paid_at"])  # stable: posted order breaks ties
    return indices, first_of


def voucher_clashes(actor: Actor, parsed: list[dict], stored_of: dict[Voucher, StoredPayment], *,
                    refuse: bool) -> dict[int, dict[str, str]]:
    """Rows whose voucher number is taken by something else: ``row index -> {field: reason}``.

    A voucher number is the unit's: a row is compared with its unit's stored payment of that
    number when there is one, and clashes if it differs in any field of :data:`COMPARED` or, for
    a bank, if another bank carries it. The answer names only what the caller may see: the
    stored payment and its values for finance (whose jurisdiction holds the unit) and for the
    bank that carries it; nothing but "in use" for a bank that does not (it cannot see that
    payment, and its posting of the unit's number must not be stored twice). A voucher number
    not stored yet stands for its first row of the unit in the request, and a later row that
    differs from that one clashes with it. With ``refuse``
    the clashes are raised and nothing is written: a request that contradicts itself is
    invalid input (422, like any bad row); a row that contradicts what is stored is a
    conflict with the stored state (409)."""
    stored_clash: dict[int, dict[str, str]] = {}
    within_clash: dict[int, dict[str, str]] = {}
    first: dict[Voucher, int] = {}
    is_bank = actor.kind == "bank"
    for index, p in enumerate(parsed):
        voucher = (p["unit_id"], p["voucher_no"])
        stored = stored_of.get(voucher)
        if stored is not None:
            if is_bank and stored.bank_id != actor.org_id:
                stored_clash[index] = {"voucher_no": "the unit has used this voucher number; a payment "
                                                     "needs a voucher number of its own"}
                continue
            differs = _differences(p, stored._asdict())
            if differs:
                stored_clash[index] = _reasons(
                    differs, f"already stored as payment {stored.id} with different {{names}}; a changed "
                             f"instruction needs its own voucher number", f"stored payment {stored.id}")
            continue
        earlier = first.setdefault(voucher, index)
        if earlier != index:
            differs = _differences(p, parsed[earlier])
            if differs:
                within_clash[index] = _reasons(
                    differs, f"row {earlier + 1} has this voucher number with different {{names}}", f"row {earlier + 1}")
    if refuse and within_clash:
        raise Invalid("a voucher number is posted twice with different content; nothing was written",
                      _row_errors(within_clash))
    if refuse and stored_clash:
        raise Conflict("voucher numbers already used for other content; nothing was written",
                       _row_errors(stored_clash))
    return {**stored_clash, **within_clash}


def _differences(p: dict, other: Mapping) -> list[tuple[str, object, object]]:
    """(field, other's value, this row's value) for each field of :data:`COMPARED` in which
    they differ; an absent optional text and an empty one are the same, times compare as instants."""
    differs = []
    for name in COMPARED:
        mine, theirs = p[name], other[name]
        if mine != theirs and (mine or theirs):
            differs.append((name, theirs, mine))
    return differs


def _reasons(differs: list[tuple[str, object, object]], summary: str, other: str) -> dict[str, str]:
    """``voucher_no`` says what clashes and in which fields; each field says both values."""
    reasons = {"voucher_no": summary.format(names=", ".join(name for name, _, _ in differs))}
    for name, theirs, mine in differs:
        reasons[name] = f"{other} has {_shown(name, theirs)}, this row {_shown(name, mine)}"
    return reasons


def _shown(name: str, value) -> str:
    if value is None or value == "":
        return "none"
    if name == "paid_at":
        return value.astimezone(local_zone()).isoformat()
    if name == "amount":
        return f"{value:.2f}"
    if name == "payee_id_number":
        return mask(value)
    text = str(value)
    return repr(text if len(text) <= 60 else text[:59] + "…")


def _row_errors(clashes: dict[int, dict[str, str]]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for index, reasons in sorted(clashes.items()):
        for name, reason in reasons.items():
            if len(errors) >= MAX_REPORTED_ERRORS:
                errors["_"] = [f"only the first {MAX_REPORTED_ERRORS} errors are listed"]
                return errors
            errors[f"row {index + 1}.{name}"] = [reason]
    return errors

"""Payment intake and screening (日常监控, Art. 9, 11(一), 12-19).

:func:`screen_payments` takes rows as they arrive (JSON objects or CSV rows of strings)
and, inside the caller's transaction:

1. validates every row first — a bad row is a 422 naming ``row N.field`` and nothing is
   written (the caller's transaction is rolled back by the error handler);
2. checks that the caller may post each row: finance for units in its jurisdiction, a bank
   for payments from accounts it serves (Art. 28);
3. loads once for the batch what the rules need (accounts, indicators, registrations, the
   active rule set, suspended units) — no query per row;
4. locks the running totals the batch touches (``SELECT ... FOR UPDATE`` on PostgreSQL,
   the single writer lock on SQLite), so two racing requests add up in turn;
5. answers vouchers already stored with their existing record (never stored twice, no
   warning raised twice) when the row is the same payment; a voucher number posted again
   with different content (amount, payee, account, codes, time...) is a changed instruction
   hidden under an old number, and is refused: 409 naming ``row N.field`` for each field
   that differs from the stored payment, 422 when two rows of the same request differ, and
   nothing of the request is written. The bulk import instead leaves such rows out and
   reports them (``refused``), storing the rest. The stored payments are read in the same
   batched lookup as before (one query per chunk of voucher numbers, none per row);
6. screens the new payments in payment-time order (``paid_at``, then posted order) and
   writes payments, warnings and totals in bulk.

Block-level warnings make the payment ``held``; others leave it ``accepted``.
"""
from __future__ import annotations

import datetime as dt
import gc
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from workflow.budget import BankAccount, Indicator
from workflow.db import db, dialect_name, locked, take_write_lock, utcnow
from workflow.errors import Conflict, Forbidden, Invalid
from workflow.monitoring import bulk
from workflow.monitoring.intake import MAX_REPORTED_ERRORS, MAX_ROWS, validate_rows
from workflow.monitoring.lookups import CHUNK, among, chunks
from workflow.monitoring.models import Payment, PayeeRegistration, SpendingTotal, Warning
from workflow.monitoring.rules import AccountInfo, BoundRules, IndicatorInfo, mask
from workflow.monitoring.rulesets import active_rule_set
from workflow.parties import Actor, Organisation
from workflow.scoping import units_of

# The budget year is the calendar year in China: Asia/Shanghai, a fixed UTC+8 since 1991
# (no daylight saving), written as a fixed offset because it is converted for every row.
BUDGET_ZONE = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

# ---------------------------------------------------------------- the batch

@dataclass
class Batch:
    """What the rules read, loaded once per batch (see :mod:`workflow.monitoring.rules`)."""

    # by number: the registered account of that number, else the first recorded (a payee's)
    accounts: dict[str, AccountInfo] = field(default_factory=dict)
    # by (unit, number): each unit's own record of a number (a payer's)
    unit_accounts: dict[tuple[int, str], AccountInfo] = field(default_factory=dict)
    indicators: dict[tuple, IndicatorInfo] = field(default_factory=dict)
    projects: set[tuple] = field(default_factory=set)               # (unit_id, year, project)
    sangong_budget: dict[tuple, Decimal] = field(default_factory=dict)  # (unit_id, year, category)
    registrations: dict[tuple, tuple[str, str]] = field(default_factory=dict)  # (unit_id, id_number)
    suspended: set[int] = field(default_factory=set)
    parent_of: dict[int, int | None] = field(default_factory=dict)
    totals: dict[tuple, Decimal] = field(default_factory=dict)       # (unit_id, year, key) -> spent


@dataclass
class ScreeningResult:
    items: list[dict]  # one per posted row, in posted order (empty when not asked for)
    created: int = 0
    duplicates: int = 0
    warnings: int = 0
    held: int = 0
    # rows left out because their voucher number is taken by different content (only with
    # ``changed="skip"``): (row number from 1, voucher_no, {field: reason})
    refused: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)


PAYMENT_COLUMNS = ("id", "voucher_no", "unit_id", "payer_account_id", "payer_account", "amount", "paid_at",
                   "budget_year", "settlement", "method", "functional_code", "economic_code", "summary",
                   "payee_name", "payee_account", "payee_kind", "payee_id_number", "project", "approval_ref",
                   "exception", "exception_ref", "indicator_id", "bank_id", "sangong_category", "counted",
                   "status", "posted_by_id", "created_at")
WARNING_COLUMNS = ("id", "payment_id", "unit_id", "rule", "level", "article", "message", "rule_set_version",
                   "status", "version", "created_at")


def screen_payments(actor: Actor, rows: list, now: dt.datetime | None = None, *,
                    answer: bool = True, max_rows: int | None = MAX_ROWS,
                    changed: str = "refuse") -> ScreeningResult:
    """Validate, screen and store ``rows`` in the caller's transaction (no commit here).

    Raises :class:`Forbidden` for a party that may not post payments, :class:`Invalid`
    (422) naming ``row N.field`` for a bad row, a row the caller may not post, or a row that
    repeats an earlier row's voucher number with different content, and :class:`Conflict`
    (409) for a voucher number of the unit stored with different content (naming each field
    that differs) or, for a bank, carried by another bank. Voucher numbers are per unit.
    ``answer=False`` skips building the per-row answer (bulk import).
    ``changed="skip"`` (bulk import, with ``answer=False``): such voucher clashes do not
    stop the batch; those rows are left out and listed in ``result.refused``, the first
    row of a voucher number (or the stored payment) being the one that stands.
    """
    if changed not in ("refuse", "skip") or (changed == "skip" and answer):
        raise ValueError("changed is 'refuse', or 'skip' without an answer")
    # A batch allocates a few objects per row and frees none of them until it is done; the
    # cyclic collector would walk them again and again for nothing. Pause it for the batch.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _screen(actor, rows, now, answer=answer, max_rows=max_rows, skip_changed=changed == "skip")
    finally:
        if collecting:
            gc.enable()


def _screen(actor: Actor, rows: list, now: dt.datetime | None, *, answer: bool,
            max_rows: int | None, skip_changed: bool) -> ScreeningResult:
    if not actor.is_system and actor.kind not in ("finance", "bank"):
        raise Forbidden(f"a {actor.kind} party may not post payments")
    now = now or utcnow()
    parsed = validate_rows(rows, now=now, max_rows=max_rows)
    rule_set = active_rule_set()
    bound = BoundRules.build(rule_set.version, rule_set.parameters)
    batch = Batch()
    _resolve(actor, parsed, batch, bound)

    keys = _total_keys(parsed)
    take_write_lock()  # SQLite: screenings queue here instead of failing later with a stale snapshot
    _serialise_units({p["unit_id"] for p in parsed})
    total_rows = _lock_totals(keys, now)
    batch.totals = {key: spent for key, (_, spent) in total_rows.items()}
    existing = _existing(parsed)
    refused = _voucher_clashes(actor, parsed, existing, refuse=not skip_changed)

    new_rows: list[int] = []
    first_of: dict[tuple[int, str], int] = {}
    for index, p in enumerate(parsed):
        voucher = (p["unit_id"], p["voucher_no"])
        if voucher in existing or voucher in first_of:  # refused rows too: stored, or after their first row
            continue
        first_of[voucher] = index
        new_rows.append(index)
    new_rows.sort(key=lambda i: parsed[i]["paid_at"])  # stable: posted order breaks ties

    payment_ids = bulk.allocate_ids(Payment.__table__, len(new_rows))
    payments: list[tuple] = []
    fired_all: list[tuple] = []  # (payment row index, rule, message)
    statuses: dict[int, str] = {}
    totals = batch.totals
    rules = bound.rules
    user_id = actor.user_id
    for payment_id, index in zip(payment_ids, new_rows):
        p = parsed[index]
        held = False
        for rule in rules:
            message = rule.check(p, batch)
            if message is not None:
                fired_all.append((index, payment_id, rule, message))
                if rule.level == "block":
                    held = True
        status = "held" if held else "accepted"
        statuses[index] = status
        amount = p["amount"]
        indicator = p["indicator"]
        if indicator is not None:
            key = indicator.total_key
            totals[key] = totals[key] + amount
        key = p["category_key"]
        if key is not None:
            totals[key] = totals[key] + amount
        account = p["account"]
        payments.append((
            payment_id, p["voucher_no"], p["unit_id"], account.id if account else None, p["payer_account"],
            amount, p["paid_at"], p["year"], p["settlement"], p["method"], p["functional_code"],
            p["economic_code"], p["summary"], p["payee_name"], p["payee_account"], p["payee_kind"],
            p["payee_id_number"], p["project"], p["approval_ref"], p["exception"], p["exception_ref"],
            indicator.id if indicator else None, p["bank_id"], p["category"], True, status, user_id, now))

    warning_ids = bulk.allocate_ids(Warning.__table__, len(fired_all))
    warnings = [(warning_id, payment_id, parsed[index]["unit_id"], rule.name, rule.level, rule.article,
                 message, bound.version, "open", 1, now)
                for warning_id, (index, payment_id, rule, message) in zip(warning_ids, fired_all)]
    bulk.insert_rows(Payment.__table__, PAYMENT_COLUMNS, payments)
    bulk.insert_rows(Warning.__table__, WARNING_COLUMNS, warnings)
    _store_totals(total_rows, batch.totals, now)

    result = ScreeningResult(items=[], created=len(payments), warnings=len(warnings),
                             duplicates=len(parsed) - len(payments) - len(refused),
                             held=sum(1 for s in statuses.values() if s == "held"),
                             refused=[(index + 1, parsed[index]["voucher_no"], reasons)
                                      for index, reasons in sorted(refused.items())])
    if answer:
        result.items = _answer(parsed, existing, first_of, payment_ids, new_rows, statuses,
                               zip(warning_ids, fired_all))
    return result


ZERO = Decimal("0.00")


def _resolve(actor: Actor, parsed: list[dict], batch: Batch, bound: BoundRules) -> None:
    """Load the batch's units, accounts, indicators, registrations and suspensions once,
    check the caller may post every row, and give each row what all rules share."""
    codes = {p["unit_code"] for p in parsed}
    units: dict[str, tuple[int, int | None]] = {}
    for chunk in chunks(codes):
        for unit_id, code, parent_id in db.session.execute(
                sa.select(Organisation.id, Organisation.code, Organisation.parent_id).where(
                    among(Organisation.code, chunk), Organisation.kind == "unit",
                    units_of(actor, Organisation.id) if actor.kind != "bank" else sa.true())):
            units[code] = (unit_id, parent_id)
            batch.parent_of[unit_id] = parent_id

    numbers = {p["payer_account"] for p in parsed} | {p["payee_account"] for p in parsed if p["payee_account"]}
    for chunk in chunks(numbers):
        for row in db.session.execute(sa.select(
                BankAccount.number, BankAccount.id, BankAccount.unit_id, BankAccount.bank_id, BankAccount.kind,
                BankAccount.registered, BankAccount.status).where(among(BankAccount.number, chunk))
                .order_by(BankAccount.registered.desc(), BankAccount.id)):
            info = AccountInfo(*row[1:])
            batch.accounts.setdefault(row[0], info)
            batch.unit_accounts[(info.unit_id, row[0])] = info

    errors: dict[str, list[str]] = {}
    years: set[int] = set()
    is_bank = actor.kind == "bank"
    unit_of, category_of = units.get, bound.sangong_codes.get
    unit_account_of, account_of = batch.unit_accounts.get, batch.accounts.get
    default_bank = actor.org_id if is_bank else None
    for number, p in enumerate(parsed, start=1):
        unit = unit_of(p["unit_code"])
        payer = p["payer_account"]
        account = (unit is not None and unit_account_of((unit[0], payer))) or account_of(payer)
        if unit is None or (is_bank and (account is None or account.bank_id != actor.org_id)):
            if unit is None:
                where = "your jurisdiction" if actor.kind == "finance" else "the register"
                errors[f"row {number}.unit_code"] = [f"no budget unit {p['unit_code']!r} in {where}"]
            if is_bank and (account is None or account.bank_id != actor.org_id):
                errors[f"row {number}.payer_account"] = ["not an account your bank serves"]
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
            continue
        p["unit_id"] = unit[0]
        p["year"] = year = p["paid_at"].astimezone(BUDGET_ZONE).year
        p["account"] = account
        p["bank_id"] = account.bank_id if account is not None else default_bank
        p["category"] = category_of(p["economic_code"])
        years.add(year)
    if errors:
        raise Invalid("the payments were rejected; nothing was written", errors)

    unit_ids = {unit_id for unit_id, _ in units.values()}
    for chunk in chunks(unit_ids):
        for row in db.session.execute(sa.select(
                Indicator.unit_id, Indicator.year, Indicator.functional_code, Indicator.economic_code,
                Indicator.project, Indicator.id, Indicator.amount, Indicator.frozen, Indicator.expenditure_kind
        ).where(among(Indicator.unit_id, chunk), Indicator.year.in_(years))):
            unit_id, year, functional, economic, project, ind_id, amount, frozen, kind = row
            batch.indicators[(unit_id, year, functional, economic, project)] = IndicatorInfo(
                ind_id, amount, frozen, kind, project, (unit_id, year, f"indicator:{ind_id}"))
            if project:
                batch.projects.add((unit_id, year, project))
            category = bound.sangong_codes.get(economic)
            if category is not None:
                key = (unit_id, year, category)
                batch.sangong_budget[key] = batch.sangong_budget.get(key, ZERO) + amount
    indicator_of = batch.indicators.get
    category_keys: dict[tuple, tuple] = {}
    for p in parsed:
        unit_id, year = p["unit_id"], p["year"]
        p["indicator"] = indicator_of((unit_id, year, p["functional_code"], p["economic_code"], p["project"]))
        category = p["category"]
        if category is None:
            p["category_key"] = None
        else:
            key = category_keys.get((unit_id, year, category))
            if key is None:
                key = category_keys[(unit_id, year, category)] = (unit_id, year, f"sangong:{category}")
            p["category_key"] = key

    people = {p["payee_id_number"] for p in parsed if p["payee_kind"] == "individual" and p["payee_id_number"]}
    for chunk in chunks(people):
        for unit_id, number, name, account in db.session.execute(sa.select(
                PayeeRegistration.unit_id, PayeeRegistration.id_number, PayeeRegistration.name,
                PayeeRegistration.account).where(among(PayeeRegistration.id_number, chunk),
                                                 PayeeRegistration.unit_id.in_(unit_ids))):
            batch.registrations[(unit_id, number)] = (name, account)

    batch.suspended = suspended_units(unit_ids)


def suspended_units(unit_ids) -> set[int]:
    """The units among ``unit_ids`` whose disbursement is suspended (Art. 21(四)), in one
    query: the case workflow's own predicate (``workflow.cases.suspension_in_force``)
    applied to the whole batch rather than one unit per call."""
    from workflow.cases import Case, suspension_in_force

    found: set[int] = set()
    for chunk in chunks(unit_ids):
        found.update(db.session.execute(sa.select(Case.subject_id).where(
            among(Case.subject_id, chunk), suspension_in_force()).distinct()).scalars())
    return found


def _total_keys(parsed: list[dict]) -> list[tuple]:
    keys = {p["indicator"].total_key for p in parsed if p["indicator"] is not None}
    keys.update(p["category_key"] for p in parsed if p["category_key"] is not None)
    return sorted(keys)  # one order for every transaction: no deadlock between racing batches


def _serialise_units(unit_ids: set[int]) -> None:
    """Batches for the same unit one at a time, so that a voucher posted twice at once is
    stored once and both posts answer the stored payment (README: a voucher posted again
    answers the stored one) instead of one of them failing on the unique voucher number.
    SQLite: :func:`take_write_lock` has serialised every batch already. PostgreSQL: the
    units' rows, FOR NO KEY UPDATE in id order (inserts that reference a unit take KEY SHARE,
    which this does not block; one order for every batch, so no deadlock)."""
    if unit_ids:
        db.session.execute(locked(sa.select(Organisation.id).where(Organisation.id.in_(sorted(unit_ids)))
                                  .order_by(Organisation.id), key_share=True))


def _lock_totals(keys: list[tuple], now: dt.datetime) -> dict[tuple, tuple[int, Decimal]]:
    """Lock and read the batch's running totals (``key -> (row id, spent)``), creating the
    missing ones: a racing batch waits here until this one commits, and then reads totals
    that include this batch's payments. Rows are locked in id order and created in key
    order, one order for every transaction, so racing batches queue instead of deadlocking."""
    if not keys:
        return {}
    found = _select_totals(keys)
    missing = [key for key in keys if key not in found]
    if missing:
        if dialect_name() == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        for chunk in chunks(missing, CHUNK):
            db.session.execute(insert(SpendingTotal.__table__).on_conflict_do_nothing(), [
                {"unit_id": u, "year": y, "key": k, "spent": ZERO, "updated_at": now} for u, y, k in chunk])
        found.update(_select_totals(missing))
    return found


def _select_totals(keys: list[tuple]) -> dict[tuple, tuple[int, Decimal]]:
    table = SpendingTotal.__table__
    wanted = set(keys)
    columns = (table.c.id, table.c.unit_id, table.c.year, table.c.key, table.c.spent)
    if dialect_name() == "postgresql":
        # exactly these keys, locked in id order (one order for every transaction)
        given = sa.text("SELECT u, y, k FROM unnest(CAST(:u AS integer[]), CAST(:y AS integer[]), "
                        "CAST(:k AS text[])) AS g(u, y, k)"
                        ).columns(u=sa.Integer, y=sa.Integer, k=sa.String).subquery()
        stmt = (sa.select(*columns).join(given, sa.and_(table.c.unit_id == given.c.u, table.c.year == given.c.y,
                                                          table.c.key == given.c.k))
                .order_by(table.c.id).with_for_update(of=table))
        rows = db.session.execute(stmt, {"u": [k[0] for k in keys], "y": [k[1] for k in keys],
                                         "k": [k[2] for k in keys]})
        return {(u, y, k): (row_id, spent) for row_id, u, y, k, spent in rows}
    # SQLite: the writer lock taken before serialises batches. All totals of the batch's units
    # and years (a few dozen a unit), filtered here: a key list would multiply the index probes.
    found = {}
    years = sorted({k[1] for k in keys})
    for chunk in chunks(sorted({k[0] for k in keys})):
        for row_id, unit_id, year, key, spent in db.session.execute(
                sa.select(*columns).where(table.c.unit_id.in_(chunk), table.c.year.in_(years))):
            if (unit_id, year, key) in wanted:
                found[(unit_id, year, key)] = (row_id, spent)
    return found


def _store_totals(rows: dict[tuple, tuple[int, Decimal]], totals: dict[tuple, Decimal], now: dt.datetime) -> None:
    """Write back the totals this batch changed (their rows are locked since _lock_totals)."""
    changed = [(row_id, totals[key]) for key, (row_id, before) in rows.items() if totals[key] != before]
    if not changed:
        return
    table = SpendingTotal.__table__
    if dialect_name() == "postgresql":
        # one statement for the whole batch; spent is integer fen in the database
        db.session.execute(sa.text(
            "UPDATE spending_totals AS t SET spent = v.spent, updated_at = :now "
            "FROM (SELECT unnest(CAST(:ids AS integer[])) AS id, unnest(CAST(:spents AS bigint[])) AS spent) AS v "
            "WHERE t.id = v.id"),
            {"ids": [row_id for row_id, _ in changed], "spents": [int(spent * 100) for _, spent in changed],
             "now": now})
        return
    bulk.update_rows(table, ("spent", "updated_at"), [(row_id, spent, now) for row_id, spent in changed])


# What makes two postings of one voucher number of a unit the same payment: every field of the
# row but the voucher number and the unit (the key: another unit's voucher is another payment).
COMPARED = ("payer_account", "amount", "paid_at", "settlement", "method", "functional_code", "economic_code",
            "summary", "payee_name", "payee_account", "payee_kind", "payee_id_number", "project", "approval_ref",
            "exception", "exception_ref")
STORED_COLUMNS = (Payment.voucher_no, Payment.id, Payment.status, Payment.unit_id, Payment.bank_id,
                  *(getattr(Payment, name) for name in COMPARED))


def _existing(parsed: list[dict]) -> dict[tuple[int, str], tuple]:
    """Vouchers of the batch's units already stored: ``(unit_id, voucher) -> (id, status, unit_id,
    bank_id, *COMPARED)``, read in one query per chunk of voucher numbers (one query in all on
    PostgreSQL). Only the posted units' payments are read: another unit's number is not a clash."""
    vouchers = {p["voucher_no"] for p in parsed}
    wanted = {(p["unit_id"], p["voucher_no"]) for p in parsed}
    unit_ids = sorted({p["unit_id"] for p in parsed})
    found: dict[tuple[int, str], tuple] = {}
    for chunk in chunks(vouchers):
        for row in db.session.execute(sa.select(*STORED_COLUMNS).where(
                among(Payment.voucher_no, chunk), among(Payment.unit_id, unit_ids))):
            key = (row[3], row[0])
            if key in wanted:
                found[key] = tuple(row[1:])
    return found


def _voucher_clashes(actor: Actor, parsed: list[dict], existing: dict[tuple[int, str], tuple], *,
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
    first: dict[tuple[int, str], int] = {}
    is_bank = actor.kind == "bank"
    for index, p in enumerate(parsed):
        voucher = (p["unit_id"], p["voucher_no"])
        stored = existing.get(voucher)
        if stored is not None:
            payment_id, _, _, bank_id = stored[:4]
            if is_bank and bank_id != actor.org_id:
                stored_clash[index] = {"voucher_no": "the unit has used this voucher number; a payment "
                                                     "needs a voucher number of its own"}
                continue
            differs = _differences(p, dict(zip(COMPARED, stored[4:])))
            if differs:
                stored_clash[index] = _reasons(
                    differs, f"already stored as payment {payment_id} with different {{names}}; a changed "
                             f"instruction needs its own voucher number", f"stored payment {payment_id}")
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


def _differences(p: dict, other: dict, fields=COMPARED) -> list[tuple[str, object, object]]:
    """(field, other's value, this row's value) for each field in which they differ; an absent
    optional text and an empty one are the same, times compare as instants."""
    differs = []
    for name in fields:
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
        return value.astimezone(BUDGET_ZONE).isoformat()
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


def _answer(parsed, existing, first_of, payment_ids, new_rows, statuses, fired) -> list[dict]:
    warnings_of: dict[int, list[dict]] = {}
    for warning_id, (_, payment_id, rule, message) in fired:
        warnings_of.setdefault(payment_id, []).append(
            {"id": warning_id, "rule": rule.name, "level": rule.level, "article": rule.article, "message": message})
    stored_ids = [v[0] for v in existing.values()]
    for chunk in chunks(stored_ids):
        for row in db.session.execute(sa.select(
                Warning.payment_id, Warning.id, Warning.rule, Warning.level, Warning.article, Warning.message
        ).where(among(Warning.payment_id, chunk)).order_by(Warning.id)):
            warnings_of.setdefault(row[0], []).append(
                {"id": row[1], "rule": row[2], "level": row[3], "article": row[4], "message": row[5]})
    id_of = dict(zip(new_rows, payment_ids))
    items = []
    for p in parsed:
        voucher = (p["unit_id"], p["voucher_no"])
        if voucher in existing:
            payment_id, status = existing[voucher][:2]
        else:
            first = first_of[voucher]
            payment_id, status = id_of[first], statuses[first]
        items.append({"id": payment_id, "voucher_no": p["voucher_no"], "status": status,
                      "warnings": warnings_of.get(payment_id, [])})
    return items

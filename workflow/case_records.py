"""The case record (违规问题处理单, Art. 11(五)): the tables of a case, its history, the parties
brought into it, its account closures and its file of evidence; who may see which case; and
the lookups the machines' guards, effects and field parsing need.

The machines (:mod:`workflow.machines`) depend on this module and the engine
(:mod:`workflow.cases`) on both; nothing here knows a machine's table. A case's ``state`` is
written only inside :class:`state_writer`, which only the engine enters.
"""
from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from workflow.accounts import BankAccount
from workflow.articles import art
from workflow.chain import ChainedEntry, append_only
from workflow.db import AwareDateTime, db, utcnow
from workflow.errors import NotFound
from workflow.parties import Actor, Organisation, User
from workflow.scoping import Reach, organisations_for, reach_of_units, units_of

# The machines (workflow.machines.MACHINES has one of each name; a test holds them equal).
MACHINE_NAMES = ("unit_case", "bank_case")
PARTY_ROLES = ("copied", "referred", "closing_bank")
RESOLUTIONS = ("rectified", "revoked", "agreement_terminated")

_writing_state: contextvars.ContextVar[bool] = contextvars.ContextVar("writing_case_state", default=False)


# --- models ----------------------------------------------------------------------------

class Case(db.Model):
    """One confirmed violation of a budget unit or an agent bank, and where it stands."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    machine: Mapped[str] = mapped_column(sa.String(16))
    subject_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    finance_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    summary: Mapped[str] = mapped_column(sa.String(500))
    state: Mapped[str] = mapped_column(sa.String(32), index=True)
    rung: Mapped[str] = mapped_column(sa.String(32), index=True)
    resume_state: Mapped[str | None] = mapped_column(sa.String(32))
    # NULL while nothing is due. Indexed with the id by workflow.scheduling.CASES_DEADLINE_ID,
    # which serves every query on the deadline (the scheduler's ranges, the overdue filter).
    deadline: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    # Working days that were left when an appeal paused the deadline (Art. 24).
    deadline_paused_remaining: Mapped[int | None] = mapped_column(sa.Integer)
    funds_suspended: Mapped[bool] = mapped_column(default=False)
    measures: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    version: Mapped[int] = mapped_column(sa.Integer)
    # The hash of the case's last event (seq = version): where the next event chains on, read with
    # the case instead of from the history (issue 15), and what ``audit verify`` expects to find
    # at the end of the chain. Written with the version, in the same UPDATE.
    last_hash: Mapped[str] = mapped_column(sa.String(64))
    opened_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    resolution: Mapped[str | None] = mapped_column(sa.String(32))

    subject: Mapped[Organisation] = relationship(foreign_keys=[subject_id], lazy="joined", innerjoin=True)
    finance: Mapped[Organisation] = relationship(foreign_keys=[finance_id], lazy="joined", innerjoin=True)
    parties: Mapped[list[CaseParty]] = relationship(back_populates="case", cascade="all, delete-orphan")

    # The version the caller saw is checked on write: UPDATE ... WHERE version = :seen.
    # It is set explicitly, so that it equals the sequence number of the case's last event.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
    __table_args__ = (
        sa.CheckConstraint(machine.in_(MACHINE_NAMES), name="machine"),
        sa.CheckConstraint(resolution.in_(RESOLUTIONS), name="resolution"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        # the subject's cases in id order: a list page (keyset by id) stops after the page (issue 15)
        sa.Index("ix_cases_subject_id_id", "subject_id", "id"),
    )

    @validates("state")
    def _only_the_machine_writes_state(self, _key, value):
        if not _writing_state.get():
            raise AttributeError("a case's state changes only through workflow.cases.apply_action")
        return value

    @hybrid_property
    def overdue(self) -> bool:
        return self.deadline is not None and utcnow() > self.deadline

    @overdue.inplace.expression
    @classmethod
    def _overdue_expression(cls):
        return sa.and_(cls.deadline.is_not(None), cls.deadline < utcnow())



class CaseEvent(ChainedEntry, db.Model):
    """One entry of a case's history; ``hash`` = SHA-256(prev_hash + canonical JSON).
    Besides the chained columns (:class:`workflow.chain.ChainedEntry`): the case, the
    trigger and the states it moved between."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))  # indexed by (case_id, seq)
    trigger: Mapped[str] = mapped_column(sa.String(48))
    from_state: Mapped[str] = mapped_column(sa.String(32))
    to_state: Mapped[str] = mapped_column(sa.String(32))

    __table_args__ = (sa.UniqueConstraint("case_id", "seq", name="uq_case_events_case_seq"),)

    def content(self) -> dict:
        return event_content(self)


def event_content(event) -> dict:
    """What an event's hash covers: every column but the id and the hashes themselves.
    ``event`` is a CaseEvent or a row with the same columns."""
    return {
        "case_id": event.case_id, "seq": event.seq, "actor_user_id": event.actor_user_id,
        "party_org_id": event.party_org_id, "party_kind": event.party_kind, "trigger": event.trigger,
        "from_state": event.from_state, "to_state": event.to_state, "payload": event.payload,
        "created_at": event.created_at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds"),
    }


class CaseParty(db.Model):
    """A party brought into a case beyond its subject: the competent department copied on
    an order (Art. 21(三)), an oversight body it was referred to (Art. 23), a bank asked
    to close accounts (Art. 21(四)). Each may read the case from then on."""

    __tablename__ = "case_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    added_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="parties")
    org: Mapped[Organisation] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("case_id", "org_id", "role", name="uq_case_parties_case_org_role"),
        sa.CheckConstraint(role.in_(PARTY_ROLES), name="role"),
    )


class AccountClosure(db.Model):
    """An account a case closes (Art. 21(四)); closed when its bank confirms."""

    __tablename__ = "case_account_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))  # indexed by (case_id, account_id)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_accounts.id"), index=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(AwareDateTime)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    confirmed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    account: Mapped[BankAccount] = relationship()

    __table_args__ = (sa.UniqueConstraint("case_id", "account_id", name="uq_case_account_closures_case_account"),)


# --- the case file ---------------------------------------------------------------------

class Evidence(db.Model):
    """One uploaded file on a case; the bytes live in the upload folder under ``stored_name``.

    A file given at the warning stage joins the case file when its warning is confirmed
    (:func:`workflow.warning_files.join_case_file`): a row that names the warning file it comes
    from (``warning_file_id``, ``origin``: the warning, the answer or the step's record) and
    the same stored bytes, not a copy. ``confidential``: it answered a joint investigation
    (Art. 11(二)5), and only finance and the body that gave it read it in the case file."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    uploaded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    uploader_org_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    filename: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    file_type: Mapped[str] = mapped_column(sa.String(8))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    # Where a file joined from the warning stage came from (NULL: uploaded to the case).
    warning_file_id: Mapped[int | None] = mapped_column(sa.ForeignKey("warning_files.id"), unique=True)
    origin: Mapped[dict | None] = mapped_column(sa.JSON)
    confidential: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    uploader: Mapped[User | None] = relationship()
    uploader_org: Mapped[Organisation | None] = relationship()


class state_writer:
    """The one place the state column is written from (entered only by :mod:`workflow.cases`)."""

    def __enter__(self):
        self._token = _writing_state.set(True)

    def __exit__(self, *exc):
        _writing_state.reset(self._token)


# --- the history is append-only --------------------------------------------------------

append_only(CaseEvent, "case history")


# --- who sees which case ---------------------------------------------------------------

def visible(actor: Actor) -> sa.ColumnElement[bool]:
    """Cases the caller may see (ASVS 8.2.2): finance by jurisdiction over the subject,
    a unit its own, a competent department its units' (and those it was copied on), a
    bank the cases against it and the closures it must execute, an oversight body the
    cases referred to it."""
    if actor.is_system:
        return sa.true()
    if actor.kind == "bank":
        return sa.or_(_own_bank_cases(actor), _brought_in(actor))
    return sa.or_(units_of(actor, Case.subject_id), _brought_in(actor))


def _brought_in(actor: Actor) -> sa.ColumnElement[bool]:
    return Case.id.in_(sa.select(CaseParty.case_id).where(CaseParty.org_id == actor.org_id))


def _own_bank_cases(actor: Actor) -> sa.ColumnElement[bool]:
    return sa.and_(Case.subject_id == actor.org_id, Case.machine == "bank_case")


def reach(actor: Actor) -> Reach:
    """:func:`visible` as a list reads it (:class:`workflow.scoping.Reach`, issue 15 item 1)."""
    if actor.is_system:
        return Reach(walk=sa.true())
    if actor.kind == "bank":
        return Reach(seek=(_own_bank_cases(actor), _brought_in(actor)), disjoint=False)
    return reach_of_units(actor, Case.subject_id, also=(_brought_in(actor),))


def cases_for(actor: Actor, *, visibility: bool = True) -> sa.Select:
    """The cases the caller may see; ``visibility=False`` leaves the reach to a list (:func:`reach`)."""
    stmt = sa.select(Case)
    return stmt.where(visible(actor)) if visibility else stmt


def get_case(actor: Actor, case_id: int, *options) -> Case:
    """The case if the caller may see it; NotFound otherwise (absent and hidden look alike).
    ``options`` are loader options for the one query (e.g. what an action will read)."""
    case = db.session.execute(cases_for(actor).where(Case.id == case_id).options(*options)).scalar_one_or_none()
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


# Art. 23 referrals (移送) and what the receiving body answers: the matter goes from finance to
# the same-level people's congress, audit or discipline body, which takes the unit as a focus of
# its own supervision (作为重点监督检查对象). That correspondence stays between finance and the
# body: the subject, its competent department and anyone else who reads the case see that an
# event happened (its trigger, time and the states, so the history they read has no gaps and its
# version numbers add up) but not its content: not the body, the grounds, the materials, the
# letter or the findings. Revealing them would forewarn the unit of the supervision, as a joint
# investigation (Art. 11(二)5) is kept from it for the same reason.
WITHIN_FINANCE_TRIGGERS = ("refer", "record_findings")


def sees_referral(actor: Actor, event: CaseEvent) -> bool:
    """Finance reads every referral event of a case it sees; an oversight body those that
    concern it (referred to it, or its own findings)."""
    if event.trigger not in WITHIN_FINANCE_TRIGGERS or actor.is_system or actor.kind == "finance":
        return True
    if actor.kind != "oversight":
        return False
    if event.party_org_id == actor.org_id:
        return True
    body = db.session.get(Organisation, actor.org_id)
    return (event.payload or {}).get("oversight") == body.code


@dataclass(frozen=True)
class WithheldEvent:
    """A case event as a party that may not read it sees it (:data:`WITHIN_FINANCE_TRIGGERS`):
    where it sits in the chain and what it did to the case, nothing of who or why."""

    id: int
    seq: int
    trigger: str
    from_state: str
    to_state: str
    created_at: dt.datetime
    hash: str
    prev_hash: str
    party_kind: str
    actor_user_id: None = None
    actor: None = None
    party_org_id: None = None
    party: None = None
    payload: dict = field(default_factory=lambda: {"withheld": str(art(23))})


def event_as_seen_by(actor: Actor, event: CaseEvent) -> CaseEvent | WithheldEvent:
    """The event, or its withheld form where the caller may not read it (:func:`sees_referral`)."""
    if sees_referral(actor, event):
        return event
    return WithheldEvent(id=event.id, seq=event.seq, trigger=event.trigger, from_state=event.from_state,
                         to_state=event.to_state, created_at=event.created_at, hash=event.hash,
                         prev_hash=event.prev_hash, party_kind=event.party_kind)


def suspension_in_force() -> sa.ColumnElement[bool]:
    """Cases whose disbursement suspension (Art. 21(四)) is in force: from "funds suspended"
    until the case is closed (rectification accepted or the decision revoked); review,
    appeal and account closure do not lift it. Screening applies it to whole batches."""
    return sa.and_(Case.machine == "unit_case", Case.funds_suspended.is_(True), Case.closed_at.is_(None))


def disbursement_suspended(unit_id: int) -> bool:
    """True while the unit has a case whose disbursement suspension is in force."""
    return db.session.execute(sa.select(Case.id).where(
        Case.subject_id == unit_id, suspension_in_force()).limit(1)).first() is not None


# --- what guards, effects and field parsing look up --------------------------------------

def reaches(actor: Actor, org: Organisation) -> bool:
    return db.session.execute(sa.select(Organisation.id).where(
        Organisation.id == org.id, organisations_for(actor))).first() is not None


def reachable_org(actor: Actor, code: str, kind: str | None) -> Organisation | None:
    stmt = sa.select(Organisation).where(Organisation.code == code, organisations_for(actor))
    if kind:
        stmt = stmt.where(Organisation.kind == kind)
    return db.session.execute(stmt).scalar_one_or_none()


def reachable_orgs(actor: Actor, kind: str, limit: int = 200) -> list[Organisation]:
    """The organisations of ``kind`` an org field of ``actor`` accepts (:func:`reachable_org`),
    by code: what a form offers to choose from."""
    return list(db.session.execute(sa.select(Organisation).where(Organisation.kind == kind, organisations_for(actor))
                                   .order_by(Organisation.code).limit(limit)).scalars())


def subject_accounts(case: Case) -> list[BankAccount]:
    """The subject's bank accounts (what an accounts field accepts, :func:`accounts_of_subject`)."""
    return list(db.session.execute(sa.select(BankAccount).where(BankAccount.unit_id == case.subject_id)
                                   .order_by(BankAccount.number)).scalars())


def competent_of(case: Case) -> Organisation | None:
    parent = case.subject.parent
    return parent if parent is not None and parent.kind == "competent" else None


# The parties a 通报 (Art. 21(五)) reaches, by its scope: budget units and competent departments.
NOTICE_SCOPE_KINDS = ("competent", "unit")


def notice_scope(case: Case, scope: str) -> list[Organisation]:
    """The recipients of a public notice on ``case`` by ``scope`` (the unit case's ``scope``
    field): ``competent``, the unit's competent department; ``department_units``, that
    department and every unit under it; ``region_units``, every department and unit in the
    jurisdiction of the finance department in charge of the case. The subject is left out."""
    competent = competent_of(case)
    if scope == "region_units":
        where = [Organisation.kind.in_(NOTICE_SCOPE_KINDS),
                 Organisation.finance_path.startswith(case.finance.finance_path)]
    elif competent is None:
        return []
    elif scope == "department_units":
        where = [sa.or_(Organisation.id == competent.id,
                        sa.and_(Organisation.parent_id == competent.id, Organisation.kind == "unit"))]
    else:
        assert scope == "competent", scope
        return [competent]
    return list(db.session.execute(sa.select(Organisation).where(*where, Organisation.id != case.subject_id)
                                   .order_by(Organisation.id)).scalars())


def has_party(case: Case, org_id: int, role: str) -> bool:
    return any(p.org_id == org_id and p.role == role for p in case.parties)


def add_party(case: Case, org_id: int, role: str, now: dt.datetime) -> None:
    if not has_party(case, org_id, role):
        case.parties.append(CaseParty(org_id=org_id, role=role, added_at=now))


def accounts_of_subject(case: Case, numbers: Iterable[str]) -> list[BankAccount]:
    return list(db.session.execute(sa.select(BankAccount).where(
        BankAccount.unit_id == case.subject_id, BankAccount.number.in_(list(numbers)))).scalars())


def accounts_to_close(case: Case, named: list[BankAccount] | None) -> list[BankAccount]:
    """The accounts an action closes: those named, else all the unit's; never one that is
    closed already or waiting for its bank in this case."""
    stmt = sa.select(BankAccount).where(BankAccount.unit_id == case.subject_id, BankAccount.status != "closed")
    if named:
        stmt = stmt.where(BankAccount.id.in_([a.id for a in named]))
    if case.id is not None:
        stmt = stmt.where(BankAccount.id.not_in(sa.select(AccountClosure.account_id).where(
            AccountClosure.case_id == case.id)))
    return list(db.session.execute(stmt.order_by(BankAccount.id)).scalars())


def schedule_closures(case: Case, accounts: list[BankAccount], now: dt.datetime) -> list[str]:
    for account in accounts:
        db.session.add(AccountClosure(case_id=case.id, account_id=account.id, bank_id=account.bank_id,
                                      requested_at=now))
        add_party(case, account.bank_id, "closing_bank", now)
    return [a.number for a in accounts]


def pending_closures(case: Case, bank_id: int | None = None) -> list[AccountClosure]:
    stmt = sa.select(AccountClosure).where(AccountClosure.case_id == case.id, AccountClosure.confirmed_at.is_(None))
    if bank_id is not None:
        stmt = stmt.where(AccountClosure.bank_id == bank_id)
    return list(db.session.execute(stmt.order_by(AccountClosure.id)).scalars())


def confirm_closures(case: Case, bank_id: int, user_id: int | None, now: dt.datetime) -> list[str]:
    """The bank's accounts in this closure: confirmed and closed (status ``closed``)."""
    numbers = []
    for closure in pending_closures(case, bank_id=bank_id):
        closure.confirmed_at = now
        closure.confirmed_by = user_id
        closure.account.status = "closed"
        closure.account.changed_at = now
        numbers.append(closure.account.number)
    return numbers


def accounts_by_bank(case: Case, *, pending_only: bool) -> list[tuple[Organisation, list[str]]]:
    """Banks and their accounts of the case's unit: those asked to close (pending), or
    all the unit's open accounts (to hold payments under a suspension)."""
    if pending_only:
        stmt = (sa.select(BankAccount).join(AccountClosure, AccountClosure.account_id == BankAccount.id)
                .where(AccountClosure.case_id == case.id, AccountClosure.confirmed_at.is_(None)))
    else:
        stmt = sa.select(BankAccount).where(BankAccount.unit_id == case.subject_id, BankAccount.status != "closed")
    grouped: dict[int, tuple[Organisation, list[str]]] = {}
    for account in db.session.execute(stmt.order_by(BankAccount.id)).scalars():
        grouped.setdefault(account.bank_id, (account.bank, []))[1].append(account.number)
    return list(grouped.values())

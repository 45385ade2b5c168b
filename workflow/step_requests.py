"""What a verification step asks of whom, and by when (Art. 11(二)2-5): the step's due dates,
stored to be chased.

A documents request asks the unit and the bank carrying the payment for materials by its
``due_date`` (11(二)2); an interview asks the unit to attend at ``interview_at`` (11(二)3); a
focus letter asks the unit and its competent department to explain by ``reply_by`` (11(二)4);
a joint investigation asks the oversight body for its findings by ``reply_by`` (11(二)5). Each
step kind's :class:`workflow.verification_steps.Ask` says so; when the step is recorded, one
:class:`StepRequest` per party asked is written in the same transaction.

When a request is due
---------------------
Due dates are local (``FUNDWATCH_TIMEZONE``) dates: a due date means the end of that working day,
23:59:59 local time, and a due date that falls on a day off means the end of the next working
day (期间届满的最后一日是法定休假日的，以休假日后的第一日为期间届满的日期), as
:func:`workflow.deadlines.add_working_days` with 0 days computes it. An interview is due at the
end of its local working day, and ``appointment_at`` keeps its start: no reminder goes out once
it has begun.

Answered, decided, chased
-------------------------
A request is *answered* when its party answers on the warning after the step
(:func:`workflow.verification.add_response`): an answer that names the step (``step_id``)
answers that step's request of the party, an answer that names none answers each of the
party's open requests on the warning. ``chase_at`` is the due moment while the request is
still to be chased and NULL once it is answered, once finance has been told it is overdue, or
once the warning is decided (confirmed or dismissed): the scheduler reads only the requests
whose ``chase_at`` falls in its range, through the index ``(chase_at, id)``, so a check costs in
proportion to the requests due, never to every step or warning (:mod:`workflow.scheduling`).

Each reminder and the overdue notice to finance is a :class:`StepRequestEffect` row, unique
on (request, kind): claimed before the effect is written, in the same transaction, so that each
happens once across reruns and several schedulers. The warning's detail shows them on the
step (:func:`asked_of`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow import deadlines
from workflow.db import AwareDateTime, db, utcnow
from workflow.parties import Organisation
from workflow.settings import local_zone
from workflow.verification_steps import Ask

REMIND = "remind"  # effect kinds "remind_2", "remind_0", ... (working days before the due day)
OVERDUE = "overdue"


class StepRequest(db.Model):
    """One party asked by one verification step (核实请求): until when (``due_at``, NULL if the
    step set no date), whether and when it answered, and whether it is still chased."""

    __tablename__ = "step_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(sa.ForeignKey("verification_steps.id"))
    warning_id: Mapped[int] = mapped_column(sa.ForeignKey("warnings.id"))
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    # The finance department that issued the step: told when the request goes unanswered.
    finance_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    due_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    appointment_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    chase_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)
    response_id: Mapped[int | None] = mapped_column(sa.ForeignKey("warning_responses.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    org: Mapped[Organisation] = relationship(foreign_keys=[org_id])
    finance: Mapped[Organisation] = relationship(foreign_keys=[finance_id])
    # What the scheduler's messages recite (loaded with the request it locks, not one by one).
    step = relationship("VerificationStep", viewonly=True)
    warning = relationship("MonitoringWarning", viewonly=True)
    effects: Mapped[list[StepRequestEffect]] = relationship(order_by="StepRequestEffect.id", viewonly=True)

    __table_args__ = (
        sa.UniqueConstraint("step_id", "org_id", name="uq_step_requests_step_org"),
        # The scheduler's keyset order over what is still chased (the module doc).
        sa.Index("ix_step_requests_chase_at_id", "chase_at", "id"),
        # An answer marks the party's requests on the warning; a decision stops the warning's.
        sa.Index("ix_step_requests_warning_id_org_id", "warning_id", "org_id"),
    )

    @property
    def org_code(self) -> str:
        return self.org.code

    @property
    def org_kind(self) -> str:
        return self.org.kind

    @property
    def due_date(self) -> dt.date | None:
        return self.due_at.astimezone(local_zone()).date() if self.due_at is not None else None

    @property
    def reminded_at(self) -> dt.datetime | None:
        """When the party was last reminded (None: never)."""
        return max((e.created_at for e in self.effects if e.kind.startswith(REMIND)), default=None)

    @property
    def overdue_at(self) -> dt.datetime | None:
        """When finance was told the request went unanswered (None: not told)."""
        return next((e.created_at for e in self.effects if e.kind == OVERDUE), None)


class StepRequestEffect(db.Model):
    """One thing the scheduler did about one request: a reminder at an offset (``remind_N``)
    or the overdue notice to finance (``overdue``). Its unique key makes each happen once."""

    __tablename__ = "step_request_effects"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("step_requests.id"))
    kind: Mapped[str] = mapped_column(sa.String(24))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("request_id", "kind", name="uq_step_request_effects_key"),)


def due_moment(value: dt.date | dt.datetime) -> dt.datetime:
    """The moment a due date ends (the module doc): the end of that local working day, or of the
    next working day if it is a day off; a datetime counts by its local date."""
    return deadlines.add_working_days(value, 0)


def record_requests(ask: Ask, parties: Iterable[Organisation], *, step, warning, finance_id: int, fields: dict,
                    now: dt.datetime) -> list[StepRequest]:
    """The step's requests, one per party asked (in the caller's transaction, flushed)."""
    given = fields.get(ask.due)
    due_at = due_moment(given) if given is not None else None
    appointment_at = given if isinstance(given, dt.datetime) else None
    requests = []
    for org in dict.fromkeys(parties):  # a party asked twice (it cannot be, but) is asked once
        request = StepRequest(step_id=step.id, warning_id=warning.id, org_id=org.id, finance_id=finance_id,
                              due_at=due_at, appointment_at=appointment_at, chase_at=due_at, created_at=now)
        request.org = org
        db.session.add(request)
        requests.append(request)
    db.session.flush()
    return requests


def asked_in(step_id: int, warning_id: int, org_id: int) -> bool:
    """Whether the step is one of the warning's and asked this organisation."""
    return db.session.execute(sa.select(StepRequest.id).where(
        StepRequest.step_id == step_id, StepRequest.warning_id == warning_id,
        StepRequest.org_id == org_id)).first() is not None


def mark_answered(*, warning_id: int, org_id: int, response_id: int, now: dt.datetime,
                  step_id: int | None = None) -> None:
    """The party's answer (``response_id``) answers its requests on the warning made before it
    (only the named step's, if ``step_id``): each is answered now, and no longer chased."""
    where = [StepRequest.warning_id == warning_id, StepRequest.org_id == org_id, StepRequest.answered_at.is_(None),
             StepRequest.created_at <= now]
    if step_id is not None:
        where.append(StepRequest.step_id == step_id)
    db.session.execute(sa.update(StepRequest).where(*where)
                       .values(answered_at=now, response_id=response_id, chase_at=None)
                       .execution_options(synchronize_session=False))


def stop_chasing(warning_id: int) -> None:
    """A decided warning (confirmed or dismissed) is never chased again."""
    db.session.execute(sa.update(StepRequest).where(StepRequest.warning_id == warning_id,
                                                    StepRequest.chase_at.is_not(None))
                       .values(chase_at=None).execution_options(synchronize_session=False))

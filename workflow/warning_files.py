"""Files and records of the warning stage (Art. 11(二)2-3, 26(二), 27(三)) as tables, and how a
confirmed warning's files become part of its case file (Art. 11(三), 21).

- :class:`WarningFile`: a file given on a warning, checked and stored as case evidence is
  (:mod:`workflow.files`): with an answer (the unit's signed explanation, its competent
  department's or the bank's vouchers, contracts and statements, an oversight body's findings;
  ``response_id``), or with a step's record (the signed record, photos; ``record_id``), never
  both. ``confidential``: it answers a joint investigation (Art. 11(二)5) and is as hidden as
  the answer from the parties under verification.
- :class:`StepRecord`: the record an interview or an on-site check ends with (约谈记录,
  实地核证记录, Art. 11(二)3: "形成书面和电子记录并存档"), one per step; its fields are its
  step kind's :attr:`~workflow.verification_steps.StepKind.record` rows, kept as JSON.

Both are append-only: the ORM refuses to update or delete them, and migration 0018's triggers
refuse it in the database too. The actions that write them, and who sees them, are
:mod:`workflow.verification_files`; this module sits below :mod:`workflow.verification` so that
confirming a warning can join its files to the case (:func:`join_case_file`).
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.case_records import Case, Evidence
from workflow.chain import append_only
from workflow.db import AwareDateTime, db, utcnow
from workflow.journal import record, stream_of
from workflow.parties import Actor, Organisation, User

RECORD_STEP_KINDS = ("interview", "onsite")  # the steps that end with a record (Art. 11(二)3)


class StepRecord(db.Model):
    """The record of an interview or an on-site check: ``details`` holds its fields (when,
    where, participants with their side, the minutes, who kept them) as loaded by the step
    kind's record schema; the finance department and the user who made it; its attachments."""

    __tablename__ = "step_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(sa.ForeignKey("verification_steps.id"), unique=True)  # one per step
    warning_id: Mapped[int] = mapped_column(sa.ForeignKey("warnings.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(24))
    details: Mapped[dict] = mapped_column(sa.JSON)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    org: Mapped[Organisation] = relationship()
    recorded_by: Mapped[User | None] = relationship()
    files: Mapped[list[WarningFile]] = relationship(viewonly=True, order_by="WarningFile.id")

    __table_args__ = (sa.CheckConstraint(kind.in_(RECORD_STEP_KINDS), name="kind"),)

    @property
    def org_code(self) -> str:
        return self.org.code


class WarningFile(db.Model):
    """One file given on a warning; the bytes live in the upload folder under ``stored_name``."""

    __tablename__ = "warning_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(sa.ForeignKey("warnings.id"), index=True)
    response_id: Mapped[int | None] = mapped_column(sa.ForeignKey("warning_responses.id"), index=True)
    record_id: Mapped[int | None] = mapped_column(sa.ForeignKey("step_records.id"), index=True)
    uploaded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    uploader_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    filename: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    file_type: Mapped[str] = mapped_column(sa.String(8))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str | None] = mapped_column(sa.Text)
    confidential: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)

    uploader_org: Mapped[Organisation] = relationship()
    record: Mapped[StepRecord | None] = relationship(viewonly=True)

    __table_args__ = (
        sa.CheckConstraint("(response_id IS NULL) <> (record_id IS NULL)", name="one_owner"),
    )

    @property
    def uploader_org_code(self) -> str:
        return self.uploader_org.code

    @property
    def step_id(self) -> int | None:
        return self.record.step_id if self.record is not None else None

    @property
    def facts(self) -> dict:
        """What the journal keeps of the file (its content by SHA-256)."""
        return {"file_id": self.id, "filename": self.filename, "file_type": self.file_type, "size": self.size,
                "sha256": self.sha256}

    @property
    def origin(self) -> dict:
        """Where in the warning stage the file was given: the answer, or the step whose record it
        came with (and that step's kind)."""
        return {"stage": "warning", "warning_id": self.warning_id, "warning_file_id": self.id,
                "response_id": self.response_id, "step_id": self.step_id,
                "step_kind": self.record.kind if self.record is not None else None,
                "confidential": self.confidential}


append_only(StepRecord, "a verification step's record")
append_only(WarningFile, "a warning's file")


def join_case_file(actor: Actor, warning_id: int, case: Case, now: dt.datetime | None = None) -> list[Evidence]:
    """The warning's files become part of the case file (Art. 11(三): the case is opened on what
    verification found): one evidence row per file, naming its origin, over the same stored
    bytes (nothing is copied). A confidential file stays confidential there
    (:attr:`Evidence.confidential`). Each is journaled in its evidence stream (``joined``). Call
    it with the warning locked, so that no file is added meanwhile. No commit here."""
    now = now or utcnow()
    files = list(db.session.execute(sa.select(WarningFile).where(WarningFile.warning_id == warning_id)
                                    .order_by(WarningFile.id)).scalars())
    rows = [Evidence(case_id=case.id, uploaded_by=f.uploaded_by, uploader_org_id=f.uploader_org_id,
                     filename=f.filename, stored_name=f.stored_name, file_type=f.file_type,
                     content_type=f.content_type, size=f.size, sha256=f.sha256, note=f.note,
                     created_at=f.created_at, warning_file_id=f.id, origin=f.origin, confidential=f.confidential)
            for f in files]
    if not rows:
        return rows
    db.session.add_all(rows)
    db.session.flush()
    for evidence in rows:
        record(actor, stream_of("evidence", evidence.id), "joined",
               {"case_id": case.id, **evidence.origin, "filename": evidence.filename, "sha256": evidence.sha256},
               now)
    return rows

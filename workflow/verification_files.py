"""Files and records at the warning stage: answers with files (Art. 11(二)2, 26(二), 27(三)) and
the records interviews and on-site checks end with (Art. 11(二)3).

Who answers a warning (:func:`workflow.verification.add_response`) attaches files to its own
answer: the unit its signed explanation, its competent department and the bank the vouchers,
contracts and bank statements, the oversight body asked its findings' papers
(:func:`add_response_file`). Finance records an interview or an on-site check once, with its
attachments (:func:`make_record`): the fields are the step kind's record rows
(:attr:`workflow.verification_steps.StepKind.record`).

Files are checked as case evidence is (:mod:`workflow.files`: a size limit, the type by
extension and content, a server-chosen name), every check running before anything is written,
and a file whose transaction does not commit is removed again. Each is journaled with its
SHA-256 in the warning's stream (``file_added``, ``record_made``), or, for an answer to a joint
investigation, in that investigation's own stream, as its answer is.

Who sees a file (:func:`visible`): whoever sees what it belongs to. An answer's files are seen
by whoever sees the answer (an oversight body's findings, and so their files, only by finance
and the body asked: :func:`workflow.verification.sees_joint_investigations`); a record and its
files by whoever sees the warning, as its step (no confidential step takes a record). When the warning is confirmed they join the case file
(:func:`workflow.warning_files.join_case_file`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import marshmallow as ma
import sqlalchemy as sa

from workflow.db import db, utcnow
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
from workflow.files import DEFAULT_MAX_BYTES, NOTE_MAX, Checked, checked_upload, keep, stored_path
from workflow.journal import record
from workflow.machines.base import load_fields
from workflow.monitoring.models import MonitoringWarning
from workflow.parties import Actor, require
from workflow.schemas import errors_of
from workflow.verification import (
    RESPONSE_KINDS,
    UNDECIDED,
    VerificationStep,
    WarningResponse,
    get_warning,
    joint_investigation_stream,
    sees_joint_investigations,
    warning_stream,
)
from workflow.verification import visible as warning_visible
from workflow.verification_steps import STEP_KINDS
from workflow.warning_files import StepRecord, WarningFile


def visible(actor: Actor) -> sa.ColumnElement[bool]:
    """Warning files the caller may see, as a predicate on :class:`WarningFile`: those of
    warnings it sees, without the confidential ones unless it reads joint investigations."""
    seen = WarningFile.warning_id.in_(sa.select(MonitoringWarning.id).where(warning_visible(actor)))
    if sees_joint_investigations(actor):
        return seen
    return sa.and_(seen, WarningFile.confidential.is_(False))


def files_of_warning(actor: Actor, warning_id: int) -> sa.Select:
    """The files of a warning the caller sees (NotFound if it does not see the warning)."""
    warning = get_warning(actor, warning_id)
    stmt = sa.select(WarningFile).where(WarningFile.warning_id == warning.id)
    if not sees_joint_investigations(actor):
        stmt = stmt.where(WarningFile.confidential.is_(False))
    return stmt


def get_warning_file(actor: Actor, file_id: int) -> WarningFile:
    """One file the caller may see; NotFound otherwise (a hidden one as a missing one)."""
    found = db.session.execute(sa.select(WarningFile).where(WarningFile.id == file_id, visible(actor))).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no warning file {file_id}")
    return found


def path_of(found: WarningFile, upload_dir: str) -> str:
    return stored_path(found.stored_name, upload_dir)


def _open_for_files(warning: MonitoringWarning, what: str) -> None:
    """Files and records are part of verification: once the warning is decided, its file is
    closed (a confirmed warning's files are the case's now)."""
    if warning.status not in UNDECIDED:
        raise Conflict(f"warning {warning.id} is {warning.status}; it takes no more {what}",
                       {"status": [warning.status]})


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    note = note.strip() or None
    if note and len(note) > NOTE_MAX:
        raise Invalid("the note is too long", {"note": [f"at most {NOTE_MAX} characters"]})
    return note


def _file_row(actor: Actor, warning: MonitoringWarning, upload: Checked, *, now: dt.datetime,
              note: str | None = None, confidential: bool = False, **owner) -> WarningFile:
    return WarningFile(warning_id=warning.id, uploaded_by=actor.user_id, uploader_org_id=actor.org_id,
                       filename=upload.filename, stored_name=upload.stored_name, file_type=upload.file_type.name,
                       content_type=upload.content_type, size=upload.size, sha256=upload.sha256, note=note,
                       confidential=confidential, created_at=now, **owner)


def add_response_file(actor: Actor, warning_id: int, response_id: int, *, data: bytes, filename: str | None,
                      declared_type: str | None, note: str | None = None, upload_dir: str,
                      max_bytes: int = DEFAULT_MAX_BYTES, now: dt.datetime | None = None) -> WarningFile:
    """Attach a file to the caller's own answer on a warning (Art. 27(三) the unit, 26(二) its
    competent department, 28(二) the bank, 11(二)5 the oversight body asked). No commit here.

    Raises NotFound (the warning or the answer is not one the caller sees), Forbidden (the
    answer is another party's), Conflict (the warning is decided), TooLarge (413) or Invalid
    (type, content, note): all before anything is written.
    """
    require(actor, *RESPONSE_KINDS, action="answer warnings")
    now = now or utcnow()
    warning = get_warning(actor, warning_id, lock=True)  # serialised with a decision on the warning
    response = db.session.execute(sa.select(WarningResponse).where(
        WarningResponse.id == response_id, WarningResponse.warning_id == warning.id)).scalar_one_or_none()
    confidential = response is not None and response.kind == RESPONSE_KINDS["oversight"]
    if response is None or (confidential and not sees_joint_investigations(actor)):
        raise NotFound(f"no answer {response_id} on warning {warning.id}")
    if actor.is_system or response.org_id != actor.org_id:
        raise Forbidden("files are attached to an answer by the party that gave it")
    _open_for_files(warning, "files")
    note = _note(note)
    upload = checked_upload(data, filename, declared_type, max_bytes)
    row = _file_row(actor, warning, upload, now=now, note=note, confidential=confidential, response_id=response.id)
    db.session.add(row)
    if not confidential:
        warning.version = (warning.version or 0) + 1  # as an answer does; a confidential one leaves no trace
    db.session.flush()
    record(actor, joint_investigation_stream(warning.id) if confidential else warning_stream(warning.id),
           "file_added", {"response_id": response.id, **row.facts, "note": note}, now)
    keep(upload, upload_dir)  # last, once everything that can refuse has run; removed again on rollback
    return row


def make_record(actor: Actor, warning_id: int, step_id: int, data: dict, *,
                attachments: Sequence[tuple[bytes, str | None, str | None]] = (), upload_dir: str,
                max_bytes: int = DEFAULT_MAX_BYTES, now: dt.datetime | None = None) -> StepRecord:
    """Finance records what an interview or an on-site check found (约谈记录, 实地核证记录, Art.
    11(二)3: written and electronic records, archived): the step kind's record fields, loaded
    with its schema, and ``attachments`` as ``(bytes, filename, declared type)``. Once per step,
    and never changed; journaled (``record_made``) with the record and each file's SHA-256. No
    commit here.

    Raises Forbidden (not finance), NotFound (the warning or the step is not one the caller
    sees), Conflict (a step that takes no record, a step recorded already, a decided warning),
    Invalid (the fields, a time in the future, too many files, a file's type or content) or
    TooLarge (413): all before anything is written.
    """
    require(actor, "finance", action="record verification steps")
    now = now or utcnow()
    warning = get_warning(actor, warning_id, lock=True)
    step = db.session.execute(sa.select(VerificationStep).where(
        VerificationStep.id == step_id, VerificationStep.warning_id == warning.id)).scalar_one_or_none()
    if step is None:  # a confidential step is finance's to see: nothing to hide from it here
        raise NotFound(f"no step {step_id} on warning {warning.id}")
    spec = STEP_KINDS[step.kind]
    if spec.record is None:
        takers = ", ".join(k.name for k in STEP_KINDS.values() if k.record)
        raise Conflict(f"a {spec.name} step takes no record: only {takers} steps end with one "
                       f"({spec.article.chinese} asks records of interviews and on-site checks)",
                       {"kind": [f"{spec.name} takes no record"]})
    if step.record is not None:
        raise Conflict(f"step {step.id} was recorded already (record {step.record.id}); a record is not changed",
                       {"step_id": [f"recorded already as record {step.record.id}"]})
    _open_for_files(warning, "records")
    if not isinstance(data, dict):
        raise Invalid("the record is a JSON object of its fields", {"record": ["not a JSON object"]})
    try:
        values, stored = load_fields(spec.record_schema, data, None)
    except ma.ValidationError as exc:
        raise Invalid(f"the record of a {spec.name} step is not valid (it needs {', '.join(spec.record.required)})",
                      errors_of(exc)) from None
    if values.get("held_at") is not None and values["held_at"] > now:
        raise Invalid("a record is of what was held: its time is not in the future",
                      {"held_at": ["in the future"]})
    if len(attachments) > spec.record.attachments_max:
        raise Invalid(f"at most {spec.record.attachments_max} files come with a record",
                      {"file": [f"at most {spec.record.attachments_max} files"]})
    uploads = [checked_upload(content, filename, declared, max_bytes) for content, filename, declared in attachments]
    row = StepRecord(step_id=step.id, warning_id=warning.id, kind=step.kind, details=stored, org_id=actor.org_id,
                     recorded_by_id=actor.user_id, created_at=now)
    db.session.add(row)
    db.session.flush()
    files = [_file_row(actor, warning, upload, now=now, record_id=row.id) for upload in uploads]
    db.session.add_all(files)
    warning.version = (warning.version or 0) + 1
    db.session.flush()
    record(actor, warning_stream(warning.id), "record_made", {"record_id": row.id, "step_id": step.id, "kind": step.kind, "title": spec.record.title,
                           "article": spec.article.chinese, "details": stored, "files": [f.facts for f in files]},
           now)
    for upload in uploads:  # last, once everything that can refuse has run; removed again on rollback
        keep(upload, upload_dir)
    return row

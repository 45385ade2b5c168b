"""Evidence (佐证材料) attached to a case: rectification results, explanations, vouchers.

Art. 21(一) asks the unit for "书面纠正结果和相关佐证材料", Art. 27(三)-(四) and 28(二)
for complete and true materials. Uploads are checked as the ASVS asks (5.2.1-5.4.1):

- a size limit (``max_bytes``);
- an allowlist of file types, each checked twice: by extension and by the content's
  magic bytes, which must agree (a ``.pdf`` holding a Windows executable is refused);
- stored under a server-chosen name (a UUID) outside any served folder, never executed,
  and downloaded as an attachment with the type we detected, not the one declared;
- the SHA-256 of the content is recorded.

Nothing is written on refusal: every check runs before the row is added and the file
stored, and a file whose transaction rolls back is removed again.

An upload is recorded twice: in the case's history (``evidence_added``) and in the
journal's ``evidence:<id>`` stream (``uploaded``), each with the content's SHA-256.

The case file also holds what was given at the warning stage, joined when the warning was
confirmed (:func:`workflow.warning_files.join_case_file`, ``origin`` says from where). What
answered a joint investigation (Art. 11(二)5) stays confidential there: only finance and the
body that gave it read it (:func:`readable`); to the others it is not in the list and not found.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from workflow import case_records, cases
from workflow.case_records import Case, Evidence
from workflow.db import db, utcnow
from workflow.errors import Conflict, Forbidden, Invalid, NotFound
# The checks and the storage are shared with the signed copies of notices; the names stay
# importable from here, where the case's evidence is handled.
from workflow.files import (DEFAULT_MAX_BYTES, FILE_TYPES, NOTE_MAX, SERVED_CONTENT_TYPES,  # noqa: F401
                            TooLarge, check_upload, checked_upload, clean_filename, keep, served_type, sniff,
                            stored_path)
from workflow.journal import record, stream_of
from workflow.parties import Actor


def path_of(evidence: Evidence, upload_dir: str) -> str:
    return stored_path(evidence.stored_name, upload_dir)


# --- who may do what -------------------------------------------------------------------

def _case_for(actor: Actor, case_id: int) -> Case:
    """The case if the caller may see it (the case module's scoped loader), else NotFound."""
    return case_records.get_case(actor, case_id)


def may_upload(actor: Actor, case) -> bool:
    """The case's subject (the unit for unit cases, the bank for bank cases) and finance."""
    return actor.is_system or actor.kind == "finance" or actor.org_id == case.subject_id


def add_evidence(actor: Actor, case_id: int, *, data: bytes, filename: str | None,
                 declared_type: str | None, note: str | None = None, upload_dir: str,
                 max_bytes: int = DEFAULT_MAX_BYTES, now: dt.datetime | None = None) -> Evidence:
    """Attach a file to a case in the caller's transaction (no commit here).

    The upload is appended to the case's history as an ``evidence_added`` event (name,
    type, size, SHA-256), which moves the case's version on like any other event.

    Raises NotFound (case not visible), Forbidden (a party that sees the case but is
    neither its subject nor finance), Conflict (the case is closed, or changed
    concurrently), TooLarge (413) or Invalid (type, content, note).
    """
    case = _case_for(actor, case_id)
    if not may_upload(actor, case):
        raise Forbidden("only the case's subject or finance may attach evidence")
    if case.closed_at is not None:
        raise Conflict(f"case {case.id} is closed; evidence can no longer be attached", {"state": [case.state]})
    if note is not None:
        note = note.strip() or None
        if note and len(note) > NOTE_MAX:
            raise Invalid("the note is too long", {"note": [f"at most {NOTE_MAX} characters"]})
    upload = checked_upload(data, filename, declared_type, max_bytes)
    evidence = Evidence(case_id=case.id, uploaded_by=actor.user_id, uploader_org_id=actor.org_id,
                        filename=upload.filename, stored_name=upload.stored_name, file_type=upload.file_type.name,
                        content_type=upload.content_type, size=upload.size, sha256=upload.sha256, note=note,
                        created_at=now or utcnow())
    db.session.add(evidence)
    db.session.flush()
    facts = {"filename": upload.filename, "file_type": upload.file_type.name, "size": evidence.size,
             "sha256": evidence.sha256, "note": note}
    cases.record_event(actor, case, "evidence_added", {"evidence_id": evidence.id, **facts}, now=evidence.created_at)
    record(actor, stream_of("evidence", evidence.id), "uploaded", {"case_id": case.id, **facts}, evidence.created_at)
    keep(upload, upload_dir)  # last, once everything that can refuse has run; removed again on rollback
    return evidence


def readable(actor: Actor) -> sa.ColumnElement[bool]:
    """Of a case's evidence, what the caller reads: all of it, but a confidential file (an answer
    to a joint investigation, joined from the warning) only for finance and the body that gave it
    (as at the warning stage: :func:`workflow.verification.sees_joint_investigations`)."""
    if actor.is_system or actor.kind == "finance":
        return sa.true()
    return sa.or_(Evidence.confidential.is_(False), Evidence.uploader_org_id == actor.org_id)


def evidence_of_case(actor: Actor, case_id: int):
    """The case's evidence, for whoever may see the case (NotFound otherwise)."""
    case = _case_for(actor, case_id)
    return sa.select(Evidence).where(Evidence.case_id == case.id, readable(actor))


def get_evidence(actor: Actor, evidence_id: int) -> Evidence:
    """One evidence row whose case the caller may see, and which it may read; NotFound otherwise."""
    evidence = db.session.execute(sa.select(Evidence).where(Evidence.id == evidence_id, readable(actor))).scalar_one_or_none()
    if evidence is None:
        raise NotFound(f"no evidence {evidence_id}")
    try:
        _case_for(actor, evidence.case_id)
    except NotFound:
        raise NotFound(f"no evidence {evidence_id}") from None
    return evidence

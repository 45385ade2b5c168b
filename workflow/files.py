"""Uploaded files, checked and kept as the ASVS asks (5.2.1-5.4.1): shared by evidence on
cases (:mod:`workflow.evidence`) and the signed and stamped copy returned with a notice
(:mod:`workflow.documents`).

- a size limit (``max_bytes``);
- an allowlist of file types, each checked twice: by extension and by the content's
  magic bytes, which must agree (a ``.pdf`` holding a Windows executable is refused);
- stored under a server-chosen name (a UUID) outside any served folder, never executed,
  and downloaded as an attachment with the type we detected, not the one declared;
- the SHA-256 of the content is recorded by the caller.

A stored file whose transaction rolls back is removed again.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow.db import db
from workflow.errors import Invalid
from workflow.settings import Settings

DEFAULT_MAX_BYTES = Settings.evidence_max_bytes
NOTE_MAX = 1000


class TooLarge(Invalid):
    """The upload exceeds the size limit (HTTP 413, with the field named like any Invalid)."""

    status = 413


@dataclass(frozen=True)
class FileType:
    name: str
    extensions: tuple[str, ...]
    content_type: str  # what we serve it as, whatever the uploader declared
    declared: tuple[str, ...]  # declared types we accept for it (browsers differ)


GENERIC_DECLARED = ("", "application/octet-stream", "binary/octet-stream")
FILE_TYPES = {t.name: t for t in (
    FileType("pdf", (".pdf",), "application/pdf", ("application/pdf", "application/x-pdf")),
    FileType("png", (".png",), "image/png", ("image/png",)),
    FileType("jpeg", (".jpg", ".jpeg"), "image/jpeg", ("image/jpeg", "image/pjpeg", "image/jpg")),
    # OFD (GB/T 33190), the Chinese fixed-layout format of e-invoices: a zip with OFD.xml.
    FileType("ofd", (".ofd",), "application/ofd", ("application/ofd", "application/zip")),
    FileType("docx", (".docx",), "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip")),
    FileType("xlsx", (".xlsx",), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/zip")),
    FileType("txt", (".txt",), "text/plain; charset=utf-8", ("text/plain",)),
    FileType("csv", (".csv",), "text/csv; charset=utf-8",
             ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel", "text/comma-separated-values")),
)}
BY_EXTENSION = {ext: t for t in FILE_TYPES.values() for ext in t.extensions}


# --- content checks ------------------------------------------------------------------

def clean_filename(filename: str | None) -> str:
    """The name the uploader gave, for display and download only: no folders, no
    control characters, at most 200 characters (the extension kept)."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C").strip()
    name = name.lstrip(".")
    if len(name) > 200:
        stem, ext = os.path.splitext(name)
        name = stem[: 200 - len(ext)] + ext
    return name


CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # text keeps tab, newlines, form feed


def _zip_members(data: bytes) -> set[str] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None


TEXT_ENCODINGS = (("utf-8-sig", "utf-8"), ("gb18030", "gb18030"))  # (to decode with, charset served)


def text_charset(data: bytes) -> str | None:
    """The charset a text file is in (UTF-8, or GB18030 which covers GBK and GB2312, as
    Chinese office software still saves), or None if it is not plain text."""
    if b"\x00" in data:
        return None
    for encoding, charset in TEXT_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return charset if CONTROL_CHARS.search(text) is None else None
    return None


def _is_text(data: bytes) -> bool:
    return text_charset(data) is not None


def sniff(data: bytes) -> str | None:
    """The allowed type the content actually is, by its magic bytes; None if none."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"PK\x03\x04"):
        members = _zip_members(data)
        if members is None:
            return None
        if "OFD.xml" in members:
            return "ofd"
        if "[Content_Types].xml" in members:
            # Macro-enabled documents (vbaProject.bin) are not evidence we accept.
            if any(m.endswith("vbaProject.bin") for m in members):
                return None
            if any(m.startswith("word/") for m in members):
                return "docx"
            if any(m.startswith("xl/") for m in members):
                return "xlsx"
        return None
    if _is_text(data):
        return "text"
    return None


def check_upload(data: bytes, filename: str | None, declared_type: str | None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, FileType]:
    """The display name and the file's type, or TooLarge / Invalid naming ``file``."""
    if len(data) > max_bytes:
        raise TooLarge(f"the file is larger than the {max_bytes} byte limit",
                       {"file": [f"larger than {max_bytes} bytes"]})
    if not data:
        raise Invalid("the file is empty", {"file": ["empty"]})
    name = clean_filename(filename)
    ext = os.path.splitext(name)[1].lower()
    expected = BY_EXTENSION.get(ext)
    if not name or expected is None:
        allowed = ", ".join(sorted(BY_EXTENSION))
        raise Invalid("this kind of file is not accepted", {"file": [f"extension must be one of {allowed}"]})
    found = sniff(data)
    if found != expected.name and not (found == "text" and expected.name in ("txt", "csv")):
        raise Invalid("the file's content does not match its extension",
                      {"file": [f"content is not {expected.name}"]})
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared not in GENERIC_DECLARED and declared not in expected.declared:
        raise Invalid("the declared content type does not match the file",
                      {"file": [f"declared type {declared} is not {expected.name}"]})
    return name, expected


# --- storage -------------------------------------------------------------------------

PENDING_KEY = "fundwatch_evidence_files"


def _store(upload_dir: str, stored_name: str, data: bytes) -> str:
    os.makedirs(upload_dir, mode=0o700, exist_ok=True)
    path = os.path.join(upload_dir, stored_name)
    # O_EXCL: a UUID collision, or anything already there, is never overwritten.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        os.unlink(path)
        raise
    return path


@sa.event.listens_for(Session, "after_commit")
def _keep_stored_files(session) -> None:
    session.info.pop(PENDING_KEY, None)


@sa.event.listens_for(Session, "after_transaction_end")
def _remove_files_of_uncommitted_uploads(session, transaction) -> None:
    """Rolled back, or closed without a commit: the files of that transaction go too."""
    if transaction.parent is not None:
        return
    for path in session.info.pop(PENDING_KEY, ()):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def served_type(file_type: FileType, data: bytes) -> str:
    """The Content-Type the file is served with: a text file names the charset it is in, so
    that a GBK file shows as written rather than garbled."""
    charset = text_charset(data) if file_type.content_type.startswith("text/") else None
    if charset is None:
        return file_type.content_type
    return f"{file_type.content_type.split(';')[0]}; charset={charset}"


SERVED_CONTENT_TYPES = tuple(dict.fromkeys(
    f"{t.content_type.split(';')[0]}; charset={charset}" if t.content_type.startswith("text/") else t.content_type
    for t in FILE_TYPES.values() for _, charset in TEXT_ENCODINGS))


@dataclass(frozen=True)
class Checked:
    """An upload that passed :func:`check_upload`, with the name it will be stored under."""

    filename: str
    file_type: FileType
    content_type: str
    size: int
    sha256: str
    stored_name: str
    data: bytes


def checked_upload(data: bytes, filename: str | None, declared_type: str | None,
                   max_bytes: int = DEFAULT_MAX_BYTES) -> Checked:
    """The upload checked (TooLarge / Invalid naming ``file``), its facts, and a UUID name to store it under."""
    name, file_type = check_upload(data, filename, declared_type, max_bytes)
    return Checked(filename=name, file_type=file_type, content_type=served_type(file_type, data), size=len(data),
                   sha256=hashlib.sha256(data).hexdigest(), stored_name=uuid.uuid4().hex + file_type.extensions[0],
                   data=data)


def keep(checked: Checked, upload_dir: str) -> str:
    """Write the file in the caller's transaction: call it last, once everything that can
    refuse has run; it is removed again if the transaction does not commit."""
    path = _store(upload_dir, checked.stored_name, checked.data)
    db.session.info.setdefault(PENDING_KEY, []).append(path)
    return path


def stored_path(stored_name: str, upload_dir: str) -> str:
    return os.path.join(os.path.abspath(upload_dir), stored_name)

"""Signing in to the console (登录) with e-mail and password.

Passwords are kept as scrypt hashes in werkzeug's format (``scrypt:32768:8:1$salt$hash``),
never as written; setting one is journaled (``user:<id>``, ``password_set``) without it or its
hash. Attempts are counted per client address and per e-mail address in the complaints' fixed
windows (:func:`workflow.complaints.count_attempt`, salted apart), so neither guessing many
passwords from one place nor one account from many places goes unchecked
(``FUNDWATCH_SIGN_INS_PER_WINDOW`` per ``FUNDWATCH_SIGN_IN_WINDOW_SECONDS``).

A signed-in session holds the user's id and a stamp of the password hash it was opened with
(:func:`session_stamp`): setting a new password, or deactivating the user, ends every session
opened before.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from workflow.complaints import count_attempt
from workflow.db import db, utcnow
from workflow.errors import Invalid, Unauthenticated
from workflow.journal import record, stream_of
from workflow.parties import Actor, Organisation, User
from workflow.settings import current

METHOD = "scrypt"  # werkzeug's default: memory-hard, maintained in the standard library (hashlib.scrypt)
MIN_LENGTH = 10
MAX_LENGTH = 200  # hashing cost grows with the length; nobody types more
WRONG = "电子邮箱或密码不正确"  # one answer for an unknown address, a wrong password and a deactivated user

# Checked when the e-mail is unknown, so that the answer takes as long as for a known one.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16), method=METHOD)


def check_strength(password: str) -> None:
    """A password the CLI accepts: 10 to 200 characters, not all of one kind (Invalid otherwise)."""
    if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise Invalid("a password has 10 to 200 characters", {"password": [f"{MIN_LENGTH} to {MAX_LENGTH} characters"]})
    if len(set(password)) < 4:
        raise Invalid("a password needs more than three different characters",
                      {"password": ["at least four different characters"]})


def new_password() -> str:
    """A random password (about 96 bits), for demo users and resets."""
    return secrets.token_urlsafe(12)


def set_password(user: User, password: str, actor: Actor | None = None, now: dt.datetime | None = None) -> None:
    """Store the hash of ``password`` for ``user`` (journaled; no commit here). Sessions opened
    with the old one end (their stamp no longer matches)."""
    check_strength(password)
    user.password_hash = generate_password_hash(password, method=METHOD)
    db.session.flush()
    record(actor or Actor.system(), stream_of("user", user.id), "password_set", {"user_id": user.id}, now)


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"sign-in\x1f{kind}\x1f{value}".encode()).hexdigest()


def count_attempt_from(address: str | None, email: str, now: dt.datetime | None = None) -> None:
    """Count one sign-in attempt from ``address`` for ``email``; :class:`RateLimited` (429)
    beyond the window's allowance for either. Commit it before checking the password, so that
    a failed attempt counts."""
    settings = current()
    per_window, seconds = settings.sign_ins_per_window, settings.sign_in_window_seconds
    if per_window < 1 or seconds < 1:
        raise ValueError("sign-in rate limit settings must be positive")
    now = now or utcnow()
    count_attempt(_digest("address", address or "unknown"), per_window, seconds, now, "sign-in attempts")
    count_attempt(_digest("email", (email or "").strip().lower()), per_window, seconds, now,
                  "sign-in attempts for this e-mail address")


def session_stamp(password_hash: str | None) -> str:
    """What a session keeps of the credential it was opened with: 16 hex digits of its hash's SHA-256."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


_USER = (sa.select(User.id, User.active, User.name, User.org_id, User.password_hash,
                   Organisation.kind, Organisation.finance_path)
         .join(Organisation, Organisation.id == User.org_id))


def _actor(row) -> Actor:
    return Actor(user_id=row.id, org_id=row.org_id, kind=row.kind, finance_path=row.finance_path, name=row.name)


def authenticate(email: str, password: str) -> tuple[Actor, str]:
    """The actor whose e-mail and password these are, and the session's stamp; else
    :class:`Unauthenticated` with one message whatever was wrong."""
    email = (email or "").strip()
    row = None
    if email and len(email) <= 255:
        row = db.session.execute(_USER.where(User.email == email)).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    matches = isinstance(password, str) and len(password) <= MAX_LENGTH and check_password_hash(stored, password)
    if row is None or not row.password_hash or not matches or not row.active:
        raise Unauthenticated(WRONG, {"password": [WRONG]})
    return _actor(row), session_stamp(row.password_hash)


def actor_of_session(user_id, stamp) -> Actor | None:
    """The actor of a session opened for ``user_id`` with ``stamp``; None once the user is
    deactivated or the password was changed since (one statement per page)."""
    if not isinstance(user_id, int) or not isinstance(stamp, str):
        return None
    row = db.session.execute(_USER.where(User.id == user_id)).first()
    if row is None or not row.active or not row.password_hash or session_stamp(row.password_hash) != stamp:
        return None
    return _actor(row)

"""API tokens (接口令牌): issued, revoked and resolved to the acting party.

Only a token's SHA-256 is stored; the token itself is shown once. Issue and revocation are
journaled (who, for whom, the label and the expiry), never the token or its hash.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.db import AwareDateTime, db, utcnow
from workflow.errors import Invalid, NotFound, Unauthenticated
from workflow.journal import record, stream_of
from workflow.parties import Actor, Organisation, User

TOKEN_PREFIX = "fw_"


class ApiToken(db.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(AwareDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime)

    user: Mapped[User] = relationship()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


MAX_TOKEN_DAYS = 366  # a bearer token is renewed at least yearly: a leaked one cannot serve for ever


def issue_token(user: User, *, days: int = 90, label: str = "", actor: Actor | None = None) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the plain token (shown once).
    Journaled without the token or its hash: who, for whom, the label and the expiry."""
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise Invalid(f"a token lives 1 to {MAX_TOKEN_DAYS} days", {"days": [f"between 1 and {MAX_TOKEN_DAYS}"]})
    now = utcnow()
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user=user, token_hash=hash_token(plain), label=label, created_at=now,
                   expires_at=now + dt.timedelta(days=days))
    db.session.add(row)
    db.session.flush()
    record(actor or Actor.system(), stream_of("token", row.id), "issued",
           {"user_id": user.id, "label": label, "expires_at": row.expires_at}, now)
    return row, plain


def revoke_token(token_id: int, actor: Actor | None = None) -> ApiToken:
    """Revoke a token (journaled); revoking it again changes nothing and records nothing."""
    row = db.session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(actor or Actor.system(), stream_of("token", row.id), "revoked", {"user_id": row.user_id},
               row.revoked_at)
    return row


# One statement per request, built once (issue 15): the token, its user and the user's
# organisation as plain columns, nothing loaded into the session.
_BEARER = (sa.select(ApiToken.revoked_at, ApiToken.expires_at, User.id, User.active, User.name, User.org_id,
                     Organisation.kind, Organisation.finance_path)
           .join(User, User.id == ApiToken.user_id).join(Organisation, Organisation.id == User.org_id)
           .where(ApiToken.token_hash == sa.bindparam("token_hash")))


def authenticate(plain: str | None) -> Actor:
    """Resolve a bearer token to an actor, or raise :class:`Unauthenticated`."""
    if not plain:
        raise Unauthenticated("missing bearer token")
    row = db.session.execute(_BEARER, {"token_hash": hash_token(plain)}).first()
    if row is None:
        raise Unauthenticated("unknown token")
    if row.revoked_at is not None:
        raise Unauthenticated("token revoked")
    if row.expires_at <= utcnow():
        raise Unauthenticated("token expired")
    if not row.active:
        raise Unauthenticated("user deactivated")
    return Actor(user_id=row.id, org_id=row.org_id, kind=row.kind, finance_path=row.finance_path, name=row.name)

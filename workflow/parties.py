"""Parties (Art. 5-7, 25-28): organisations, their users, and who is asking.

Organisation kinds:
- ``finance``   财政部门 — province, city/prefecture or county level, each with a region;
- ``competent`` 预算主管部门 — the department above a set of budget units;
- ``unit``      预算单位 — the spending unit;
- ``bank``      代理银行 — agent bank for centralized treasury payment;
- ``oversight`` 人大、审计、纪检监察 — bodies that receive referrals (Art. 23);
- ``department`` 有关部门 — a government department that owns a matter outside finance's remit
  (market regulation, tax, human resources and social security...), to which finance hands on a
  confirmed matter (Art. 11(三): 不属于职责范围内的，按照规定移交有关部门处理).

Jurisdiction is a materialised path of finance departments (``/xj/kz/``): a finance
department sees every organisation whose ``finance_path`` starts with its own.

API tokens, which resolve to an :class:`Actor`, are in :mod:`workflow.tokens`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.db import AwareDateTime, db, utcnow
from workflow.errors import Conflict, Forbidden, Invalid

ORG_KINDS = ("finance", "competent", "unit", "bank", "oversight", "department")
FINANCE_LEVELS = ("province", "city", "county")


class Organisation(db.Model):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(16), index=True)
    level: Mapped[str | None] = mapped_column(sa.String(16))
    region: Mapped[str | None] = mapped_column(sa.String(16))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    finance_path: Mapped[str] = mapped_column(sa.String(255), index=True)
    email: Mapped[str | None] = mapped_column(sa.String(255))

    parent: Mapped[Organisation | None] = relationship(remote_side=[id])

    __table_args__ = (sa.CheckConstraint(kind.in_(ORG_KINDS), name="kind"),)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime, default=utcnow)
    # The console's sign-in (workflow.sign_in): a scrypt hash in werkzeug's format, never the
    # password; None: the user signs in with API tokens only.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))

    org: Mapped[Organisation] = relationship()


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user of an organisation, or the scheduler (``system``)."""

    user_id: int | None
    org_id: int | None
    kind: str
    finance_path: str
    name: str = ""

    @property
    def is_system(self) -> bool:
        return self.kind == "system"

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, org_id=None, kind="system", finance_path="/", name="system")

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user_id=user.id, org_id=user.org_id, kind=user.org.kind,
                   finance_path=user.org.finance_path, name=user.name)


def require(actor: Actor, *kinds: str, action: str) -> None:
    """Function-level authorization (ASVS 8.2.1): only these party kinds may ``action``."""
    if not actor.is_system and actor.kind not in kinds:
        raise Forbidden(f"{actor.kind} parties may not {action}")


def is_top_finance(actor: Actor) -> bool:
    """A finance department with none above it (the province, 省级财政): its jurisdiction path
    has one segment. The system actor stands above every department."""
    if actor.is_system:
        return True
    return actor.kind == "finance" and actor.finance_path.strip("/").count("/") == 0


def require_top_finance(actor: Actor, *, action: str) -> None:
    """Function-level authorization for what one department decides for the whole province."""
    require(actor, "finance", action=action)
    if not is_top_finance(actor):
        raise Forbidden(f"only the province-level finance department may {action}: it applies to every "
                        f"region, and a city or county finance department may not {action} for the regions "
                        f"above or beside it")


def org_by_code(code: str) -> Organisation | None:
    return db.session.execute(sa.select(Organisation).where(Organisation.code == code)).scalar_one_or_none()


def create_org(*, code: str, name: str, kind: str, parent: Organisation | None = None,
               level: str | None = None, region: str | None = None,
               finance: Organisation | None = None, email: str | None = None) -> Organisation:
    """Create an organisation and place it in a finance department's jurisdiction.

    A finance department's path extends its parent's; every other party inherits the
    path of the finance department in charge of it (``finance``, or its parent's).
    """
    if kind not in ORG_KINDS:
        raise Invalid(f"unknown organisation kind {kind!r}", {"kind": [f"one of {', '.join(ORG_KINDS)}"]})
    if org_by_code(code) is not None:
        raise Conflict(f"organisation {code} exists", {"code": ["already exists"]})
    if kind == "finance":
        base = parent.finance_path if parent is not None else "/"
        path = f"{base}{code}/"
    else:
        owner = finance or parent
        if owner is None:
            raise Invalid("a non-finance organisation needs a finance department in charge",
                          {"finance": ["required"]})
        path = owner.finance_path
    org = Organisation(code=code, name=name, kind=kind, parent=parent, level=level,
                       region=region, finance_path=path, email=email)
    db.session.add(org)
    return org

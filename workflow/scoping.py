"""Object-level authorization as query predicates (ASVS 8.2.2, API1).

Every list and every lookup filters through these, so a record outside the caller's
reach is simply not found (404), never leaked and never distinguished from absence.
"""
from __future__ import annotations

import sqlalchemy as sa

from workflow.accounts import BankAccount
from workflow.parties import Actor, Organisation


def _unit_ids_in_jurisdiction(actor: Actor):
    return sa.select(Organisation.id).where(Organisation.finance_path.startswith(actor.finance_path))


def units_of(actor: Actor, unit_column) -> sa.ColumnElement[bool]:
    """Records that belong to a budget unit (indicators, payments, unit cases...).

    finance: its region and the regions below; competent: its subordinate units;
    unit: itself. Banks and oversight bodies reach unit records only through the
    narrower rules of the record concerned (accounts they serve, cases referred to them).
    """
    if actor.is_system:
        return sa.true()
    if actor.kind == "finance":
        return unit_column.in_(_unit_ids_in_jurisdiction(actor))
    if actor.kind == "competent":
        return unit_column.in_(sa.select(Organisation.id).where(Organisation.parent_id == actor.org_id))
    if actor.kind == "unit":
        return unit_column == actor.org_id
    return sa.false()


def organisations_for(actor: Actor) -> sa.ColumnElement[bool]:
    """Which organisations the caller may list: its own reach, and always itself."""
    own = Organisation.id == actor.org_id
    if actor.is_system:
        return sa.true()
    if actor.kind == "finance":
        return Organisation.finance_path.startswith(actor.finance_path)
    if actor.kind == "competent":
        return own | (Organisation.parent_id == actor.org_id)
    if actor.kind == "unit":
        return own | (Organisation.id == sa.select(Organisation.parent_id)
                      .where(Organisation.id == actor.org_id).scalar_subquery())
    if actor.kind == "bank":
        return own | Organisation.id.in_(sa.select(BankAccount.unit_id).where(BankAccount.bank_id == actor.org_id))
    return own

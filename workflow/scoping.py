"""Object-level authorization as query predicates (ASVS 8.2.2, API1).

Every list and every lookup filters through these, so a record outside the caller's
reach is simply not found (404), never leaked and never distinguished from absence.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from workflow.accounts import BankAccount
from workflow.db import db
from workflow.parties import Actor, Organisation

# Organisations in reach up to which a list seeks each one's rows by its index; a wider reach
# (a province's or a city's finance) is walked in id order instead (see :class:`Reach`).
SEEK_MAX = 32


def _unit_ids_in_jurisdiction(actor: Actor):
    return sa.select(Organisation.id).where(Organisation.finance_path.startswith(actor.finance_path))


def _owners(actor: Actor):
    """The organisations whose records :func:`units_of` lets ``actor`` see, as a select of ids
    (None for the system, which sees all; an empty list for parties that reach none this way)."""
    if actor.is_system:
        return None
    if actor.kind == "finance":
        return _unit_ids_in_jurisdiction(actor)
    if actor.kind == "competent":
        return sa.select(Organisation.id).where(Organisation.parent_id == actor.org_id)
    if actor.kind == "unit":
        return [actor.org_id]
    return []


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


@dataclass(frozen=True)
class Reach:
    """A caller's reach in one table in the form a list reads a page of it by (issue 15 item 1:
    a page costs the same with 10k and with 1M rows; :func:`api.pagination.paginate`).

    ``seek``: a few predicates, each an index serving it in id order (a unit's rows by
    ``(unit_id, id)``; the cases a party was brought into, by their ids). A page reads at most
    a page from each and merges them, so it costs the number of predicates, not the table.
    ``disjoint`` says no row matches two of them (one merge without removing duplicates).

    ``walk``: one predicate tested on the rows in id order (the primary key), for a reach too
    wide to seek organisation by organisation (a province's finance, a bank's warnings): the
    page stops after its rows, reading about ``limit`` / (the reach's share of the table)
    rows. The predicate keeps the planner off the scope's own index, whose order is not the id
    order: with it, both databases would collect and sort every row in reach to return 51.

    Exactly one of the two is set; ``Reach(seek=())`` reaches nothing."""

    seek: tuple[sa.ColumnElement[bool], ...] | None = None
    walk: sa.ColumnElement[bool] | None = None
    disjoint: bool = True


def unindexed(column):
    """``column`` as an expression no index matches (``column + 0``): a walk in id order tests
    it on each row instead of collecting the rows of the scope's index and sorting them."""
    return column + sa.literal_column("0")


def reach_of_units(actor: Actor, unit_column, *, also: tuple[sa.ColumnElement[bool], ...] = ()) -> Reach:
    """:func:`units_of` as a list reads it: each organisation's rows by ``unit_column``'s
    ``(unit_column, id)`` index while there are at most :data:`SEEK_MAX` of them (one query on
    ``organisations`` finds them), else a walk. ``also``: predicates of rows reached besides
    (e.g. cases the caller was brought into), each served in id order by an index of its own."""
    owners = _owners(actor)
    if owners is None:
        return Reach(walk=sa.true())
    if not isinstance(owners, list):
        owners = db.session.execute(owners.order_by(Organisation.id).limit(SEEK_MAX + 1)).scalars().all()
        if len(owners) > SEEK_MAX:
            walk = units_of(actor, unindexed(unit_column))
            return Reach(walk=sa.or_(walk, *also) if also else walk)
    return Reach(seek=(*(unit_column == owner for owner in owners), *also), disjoint=not also)

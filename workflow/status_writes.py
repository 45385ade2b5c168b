"""Status columns written only through their lifecycle table.

A warning's and a payment's ``status`` (like a case's ``state``, :mod:`workflow.case_records`)
change only through :meth:`workflow.machines.lifecycle.Lifecycle.move`, which enters
:class:`status_writer` for the one record and the one value its table allows. A record may
be created in one of the lifecycle's initial states (screening, a warning raised by hand);
any other write raises. Screening inserts its rows in bulk below the ORM, with the initial
states the tables declare (:attr:`Lifecycle.initial`).

A leaf module: the models guard their columns with it, and the lifecycles write through it.
"""
from __future__ import annotations

import contextvars

import sqlalchemy as sa

_writing: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar("writing_status", default=None)


class status_writer:
    """Allow ``record``'s status to be set to ``value``, once, inside the block."""

    def __init__(self, record: object, value: str):
        self._key = (id(record), value)

    def __enter__(self):
        self._token = _writing.set(self._key)

    def __exit__(self, *exc):
        _writing.reset(self._token)


def checked_status(record: object, value: str, initial: tuple[str, ...], lifecycle: str) -> str:
    """The validator of a guarded status column: ``value`` if the lifecycle is writing it, or
    if ``record`` is being created in one of the ``initial`` states; else AttributeError."""
    if _writing.get() == (id(record), value):
        return value
    state = sa.inspect(record)
    if (state.transient or state.pending) and value in initial:
        return value
    raise AttributeError(f"a {lifecycle}'s status changes only through its lifecycle "
                         f"(workflow.machines.{lifecycle}); {value!r} was written directly")

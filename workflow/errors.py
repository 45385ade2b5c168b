"""Domain errors. The HTTP layer maps each to one status code and one JSON shape."""
from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class Unauthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    """The caller's party may not perform this action (function-level authorization)."""

    status = 403


class NotFound(DomainError):
    """Absent, or not visible to the caller: the two are deliberately indistinguishable."""

    status = 404


class Conflict(DomainError):
    """Wrong state, stale version or a duplicate key."""

    status = 409


class Invalid(DomainError):
    """Input that names a field or row and says what is wrong with it."""

    status = 422

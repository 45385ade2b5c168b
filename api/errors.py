"""One JSON error shape, built in one place: ``{"code", "message", "errors"}``."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Api as SmorestApi
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from workflow.db import db
from workflow.errors import DomainError


def flatten_errors(messages) -> dict:
    """webargs nests errors by location ({"json": {...}}) and many=True by row index;
    callers want ``{"field": [...]}`` or ``{"row 3.field": [...]}`` (rows count from 1)."""
    if not isinstance(messages, dict):
        return {"_": messages if isinstance(messages, list) else [str(messages)]}
    flat: dict = {}
    for key, value in messages.items():
        if key in ("json", "query", "form", "files", "headers", "view_args", "path") and isinstance(value, dict):
            flat.update(flatten_errors(value))
        elif isinstance(key, int) and isinstance(value, dict):
            for field, msgs in flatten_errors(value).items():
                flat[f"row {key + 1}.{field}"] = msgs
        elif isinstance(value, dict):
            for field, msgs in flatten_errors(value).items():
                flat[f"{key}.{field}"] = msgs
        else:
            flat[str(key)] = value if isinstance(value, list) else [value]
    return flat


def error_body(code: int, message: str, errors: dict | None = None) -> dict:
    return {"code": code, "message": message, "errors": errors or {}}


class Api(SmorestApi):
    """flask-smorest's Api with FundWatch's error shape."""

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages") or {}
        message = data.get("message") or error.description or error.name
        if error.code == 422 and not data.get("message"):
            message = "invalid input"
        # Werkzeug's own headers carry the protocol's promises (``Allow`` on a 405, RFC 9110
        # 15.5.6); its Content-Type is for its HTML page, not for this JSON body.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        return error_body(error.code, message, flatten_errors(errors)), error.code, headers


# A 401 names the scheme the client should authenticate with (RFC 9110 11.6.1, RFC 6750 3).
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="fundwatch"'}


def handle_domain_error(error: DomainError):
    db.session.rollback()
    headers = CHALLENGE if error.status == 401 else {}
    return error_body(error.status, error.message, error.errors), error.status, headers


def database_busy(error: OperationalError) -> bool:
    """SQLite's "database is locked": its one write lock stayed taken past ``busy_timeout``
    (or, in WAL mode, a read snapshot went stale before the write: workflow.db.take_write_lock)."""
    return "database is locked" in str(getattr(error, "orig", error))


def handle_operational_error(error: OperationalError):
    db.session.rollback()
    if database_busy(error):
        current_app.logger.warning("database busy: %s", error.orig)
        return (error_body(503, "the database is busy; nothing was written, try again"),
                503, {"Retry-After": "1"})
    return handle_unexpected(error)


def handle_integrity_error(error: IntegrityError):
    """Safety net: a constraint the domain did not check first (a racing request wrote the same
    key a moment ago). Known paths answer their own 409; this one never names the constraint."""
    db.session.rollback()
    current_app.logger.warning("integrity error escaped the domain: %s", error.orig.__class__.__name__)
    return error_body(409, "conflicts with a record stored meanwhile by another request; read it and try again"), 409


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return error
    db.session.rollback()
    current_app.logger.exception("unhandled error")
    return error_body(500, "internal error"), 500


def register(app) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_operational_error)
    app.register_error_handler(Exception, handle_unexpected)

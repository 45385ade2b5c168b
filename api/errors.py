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
        return error_body(error.code, message, flatten_errors(errors)), error.code, data.get("headers", {})


def handle_domain_error(error: DomainError):
    db.session.rollback()
    return error_body(error.status, error.message, error.errors), error.status


def handle_integrity_error(error: IntegrityError):
    """Safety net: a constraint the domain did not check first (a racing request wrote the same
    key a moment ago). Known paths answer their own 409; this one never names the constraint."""
    db.session.rollback()
    current_app.logger.warning("integrity error escaped the domain: %s", error.orig.__class__.__name__)
    return error_body(409, "conflicts with a record stored meanwhile by another request; read it and try again"), 409


RETRY_AFTER_SECONDS = 1


def handle_operational_error(error: OperationalError):
    """SQLite's single writer: a request that waited out the busy timeout is told to come back
    (503 with Retry-After) rather than seeing an internal error. Anything else is unexpected."""
    if "database is locked" not in str(error.orig):
        return handle_unexpected(error)
    db.session.rollback()
    current_app.logger.warning("database is locked: answered 503")
    return (error_body(503, "the database is busy; try again shortly"), 503,
            {"Retry-After": str(RETRY_AFTER_SECONDS)})


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

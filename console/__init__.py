"""The console (工作台): server-rendered pages in Chinese for every party, a thin layer over
``workflow`` (the same calls the API makes). Depends on ``workflow`` only; the app factory
registers it with :func:`register`.

Modules: ``blueprint`` (the blueprint, CSRF), ``session`` (sign-in, sign-out, the signed-in
party), ``pages`` (the pages and their forms), ``forms`` (forms generated from the tables'
field rows), ``presentation`` (money, times, Chinese names).
"""
from __future__ import annotations

import datetime as dt
import os
import secrets

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from console import pages, presentation, session  # noqa: F401  (their routes join the blueprint)
from console.blueprint import bp, csrf
from workflow.db import db
from workflow.errors import DomainError
from workflow.settings import Settings

# The console's pages are framed by nothing, load nothing from elsewhere, and run no script
# but the app's own files.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'")


def _secret_key(app: Flask, settings: Settings) -> str:
    """``FUNDWATCH_SECRET_KEY``, else a random key made once and kept in the instance folder,
    so that every worker of the service signs sessions with the same one."""
    if settings.secret_key:
        return settings.secret_key
    path = os.path.join(app.instance_path, "secret_key")
    try:
        with open(path, encoding="ascii") as handle:
            key = handle.read().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker wrote it first: use theirs
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    return key


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    """What a view did not put on a form: the 404 page for what is missing or not the caller's
    (the same page for both), the reason for anything else."""
    db.session.rollback()
    if error.status == 404:
        return render_template("console/not_found.html"), 404
    return render_template("console/error.html", status=error.status, message=error.message,
                           errors=error.errors), error.status


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError):
    return render_template("console/error.html", status=400, message="表单已失效或缺少安全令牌（CSRF），请刷新页面后重新提交。",
                           errors={}), 400


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    if error.code == 404:
        return render_template("console/not_found.html"), 404
    return render_template("console/error.html", status=error.code, message=error.description, errors={}), error.code


@bp.after_request
def _headers(response):
    if request.endpoint not in ("console.document_notice", "console.evidence_download"):
        response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")  # a signed-in page stays off shared caches
    return response


def register(app: Flask) -> None:
    """Configure the session cookie and CSRF, and add the console's pages to ``app``."""
    settings = Settings.read(app.config)
    app.config.setdefault("SECRET_KEY", None)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(app, settings)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_secure,
        SESSION_COOKIE_NAME="fundwatch_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked by the console's gate; the API takes tokens, not cookies
        WTF_CSRF_TIME_LIMIT=settings.session_hours * 3600,
    )
    presentation.register(bp)
    csrf.init_app(app)
    app.register_blueprint(bp)

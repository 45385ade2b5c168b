"""Sign-in (登录) and sign-out for the console, and the signed-in party of each page.

The session cookie holds the user's id and the stamp of the password it was opened with
(:func:`workflow.sign_in.session_stamp`); every page reads the user again (deactivated, or a
new password: signed out). Every form carries a CSRF token, checked here before any view.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, redirect, render_template, request, session, url_for

from console.blueprint import bp, csrf
from workflow import sign_in
from workflow.complaints import RateLimited
from workflow.db import db
from workflow.errors import Unauthenticated
from workflow.parties import Actor, Organisation
from workflow.settings import current

OPEN_ENDPOINTS = ("console.login", "console.static")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def client_address() -> str | None:
    """The client's address for the sign-in limit: behind ``FUNDWATCH_PROXY_HOPS`` trusted proxies,
    the one the outermost saw (never an address the client writes itself)."""
    hops = current().proxy_hops
    if hops > 0:
        forwarded = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",") if p.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr


def current_actor() -> Actor:
    return g.console_actor


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if not target:
        return url_for("console.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("console.home")
    return target


@bp.before_request
def _gate():
    """CSRF on every form first (the sign-in form too), then the signed-in user."""
    # Flask-WTF keeps the signed token on g; where g outlives a request (an app context pushed
    # around several, as in tests) it would be a token of the session as it was before sign-in.
    g.pop("csrf_token", None)
    if request.method in UNSAFE:
        csrf.protect()
    g.console_actor = None
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    actor = sign_in.actor_of_session(session.get("user_id"), session.get("stamp"))
    if actor is None:
        session.clear()
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    g.console_actor = actor
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("console/login.html", email="", error=None, next=request.args.get("next", ""))
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    try:
        sign_in.count_attempt_from(client_address(), email)
        db.session.commit()  # a failed attempt counts
        actor, stamp = sign_in.authenticate(email, password)
    except RateLimited as error:
        db.session.rollback()
        response = render_template("console/login.html", email=email, next=target,
                                   error=f"登录尝试过于频繁，请 {error.retry_after} 秒后再试")
        return response, 429, {"Retry-After": str(error.retry_after)}
    except Unauthenticated as error:
        return render_template("console/login.html", email=email, next=target, error=error.message), 401
    session.clear()  # a fresh session: nothing from before the sign-in carries over
    session.permanent = True
    session["user_id"] = actor.user_id
    session["stamp"] = stamp
    return redirect(_safe_next(target))


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("console.login"))


@bp.context_processor
def _signed_in_org():
    actor = g.get("console_actor")
    return {"console_org": db.session.get(Organisation, actor.org_id) if actor and actor.org_id else None}

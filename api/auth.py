"""Bearer-token authentication for every API endpoint not marked public."""
from __future__ import annotations

from flask import current_app, g, request

from workflow.parties import Actor
from workflow.tokens import authenticate

PUBLIC_BLUEPRINTS = {"api-docs", "swagger-ui-assets"}
# Blueprints that sign their users in on their own (the console, by session cookie, its forms
# CSRF-protected). The API reads bearer tokens only and never the session, so a cookie a
# browser sends along cannot act on the API (no CSRF there).
SESSION_BLUEPRINTS = {"console"}


HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def public(view):
    """Mark a view function, a MethodView class or one of its methods as reachable without a token,
    and document it so (``security: []`` in the OpenAPI document). Put it under ``@blp.route``:
    the blueprint reads the documentation when the route is declared."""
    view.public = True
    for function in [getattr(view, m) for m in HTTP_METHODS if hasattr(view, m)] if isinstance(view, type) else [view]:
        apidoc = dict(getattr(function, "_apidoc", {}))
        apidoc["manual_doc"] = {**apidoc.get("manual_doc", {}), "security": []}
        function._apidoc = apidoc
    return view


def _is_public(endpoint: str | None) -> bool:
    if endpoint is None:
        return True  # 404/405: let routing answer
    if endpoint.split(".")[0] in PUBLIC_BLUEPRINTS or endpoint == "static":
        return True
    view = current_app.view_functions.get(endpoint)
    view_class = getattr(view, "view_class", None)
    method = getattr(view_class, request.method.lower(), None)  # one public method of a MethodView
    return bool(getattr(view, "public", False) or getattr(view_class, "public", False)
                or getattr(method, "public", False))


def load_actor() -> None:
    """``before_request`` hook: resolve the token once, or refuse with 401."""
    if request.method == "OPTIONS" or request.blueprint in SESSION_BLUEPRINTS or _is_public(request.endpoint):
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    g.actor = authenticate(token.strip() if scheme.lower() == "bearer" else None)


def current_actor() -> Actor:
    return g.actor

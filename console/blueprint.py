"""The console's blueprint and its CSRF protection, shared by its modules."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint
from flask_wtf.csrf import CSRFProtect

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# Pages at the site's root (/, /login, /warnings/<id> mirror the API's paths); templates in the
# project's templates/console/, CSS served by the app itself (no CDN: finance networks are
# often isolated).
bp = Blueprint("console", __name__, template_folder=str(TEMPLATES), static_folder="static",
               static_url_path="/static/console")

# Checked by the console's own before_request on every form it receives (WTF_CSRF_CHECK_DEFAULT
# is off): the API, which takes bearer tokens and never reads the session, needs none.
csrf = CSRFProtect()

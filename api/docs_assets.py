"""Swagger UI's files for the browsable API (``/api/v1/docs``), served from the installed
``swagger-ui-bundle`` package so that the page loads on a network without internet access."""
from __future__ import annotations

from flask import Blueprint, abort, send_from_directory
from swagger_ui_bundle import swagger_ui_path

# A plain Flask blueprint, not a flask-smorest one: the files are not part of the API document.
blp = Blueprint("swagger-ui-assets", __name__, url_prefix="/api/v1/docs/assets")

CACHE_SECONDS = 24 * 3600  # the files change only with the package's version
# What flask-smorest's docs page loads (and their source maps). The package also ships a demo
# page (index.html, swagger-initializer.js) that points at a public petstore: not served.
SERVED = frozenset(name + suffix for name in ("swagger-ui.css", "swagger-ui-bundle.js",
                                              "swagger-ui-standalone-preset.js") for suffix in ("", ".map")) | {
    "favicon-16x16.png", "favicon-32x32.png"}


@blp.route("/<path:filename>")
def asset(filename: str):
    """One file of Swagger UI's distribution that the docs page uses (404 for any other)."""
    if filename not in SERVED:
        abort(404)
    return send_from_directory(swagger_ui_path, filename, max_age=CACHE_SECONDS)

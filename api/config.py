"""The app's configuration: every variable of :class:`workflow.settings.Settings`, read from the
environment, and the Flask and flask-smorest keys derived from them."""
from __future__ import annotations

import os

from workflow.settings import Settings


class Config:
    """Read once when the app is created; tests pass overrides to ``create_app``."""

    def __init__(self) -> None:
        settings = Settings.read(os.environ)
        vars(self).update(settings.as_environment())
        self.SQLALCHEMY_DATABASE_URI = settings.database_url  # None: SQLite under instance/
        self.MAX_CONTENT_LENGTH = settings.max_upload_bytes
        # No pool_pre_ping (issue 15): it costs a round trip on every request. A connection the
        # server dropped fails the one request that meets it, and SQLAlchemy's disconnect handling
        # then discards the whole pool, so the next requests connect afresh.
        self.SQLALCHEMY_ENGINE_OPTIONS = {}
        self.API_TITLE = "FundWatch"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        # OPENAPI_SWAGGER_UI_URL (a setting): Swagger UI's scripts and styles come from the installed
        # swagger-ui-bundle package, served by the app itself (api/docs_assets.py), so the page
        # works on an intranet with no internet.
        self.JSON_SORT_KEYS = False

    def as_dict(self) -> dict:
        return dict(vars(self))

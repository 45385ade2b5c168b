"""Configuration from environment variables, with defaults that are safe to run locally."""
from __future__ import annotations

import os


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


class Config:
    """Read once when the app is created; tests pass overrides to ``create_app``."""

    def __init__(self) -> None:
        env = os.environ
        self.SQLALCHEMY_DATABASE_URI = env.get("DATABASE_URL")  # None: SQLite under instance/
        self.FUNDWATCH_TIMEZONE = env.get("FUNDWATCH_TIMEZONE", "Asia/Shanghai")
        self.FUNDWATCH_BASE_URL = env.get("FUNDWATCH_BASE_URL", "http://127.0.0.1:5000")
        self.FUNDWATCH_UPLOAD_DIR = env.get("FUNDWATCH_UPLOAD_DIR")  # None: instance/uploads
        self.FUNDWATCH_TOKEN_DAYS = int(env.get("FUNDWATCH_TOKEN_DAYS", "90"))
        self.MAX_CONTENT_LENGTH = int(env.get("FUNDWATCH_MAX_UPLOAD_BYTES", str(32 * 1024 * 1024)))
        self.SMTP_URL = env.get("SMTP_URL")  # e.g. smtp://127.0.0.1:1025; None: e-mail off
        self.MAIL_SENDER = env.get("MAIL_SENDER", "fundwatch@localhost")
        self.SQLALCHEMY_ECHO = _bool("SQLALCHEMY_ECHO", False)
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.API_TITLE = "FundWatch"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        # Swagger UI's scripts and styles come from the installed swagger-ui-bundle package, served
        # by the app itself (api/docs_assets.py): the page works on an intranet with no internet.
        self.OPENAPI_SWAGGER_UI_URL = env.get("OPENAPI_SWAGGER_UI_URL", "/api/v1/docs/assets/")
        self.JSON_SORT_KEYS = False

    def as_dict(self) -> dict:
        return dict(vars(self))

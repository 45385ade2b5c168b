"""HTTP layer: the application factory and the blueprints, thin over ``workflow``."""
from __future__ import annotations

import importlib
import os
from collections.abc import Mapping

from flask import Flask

from api import fields, inputs
from api.config import Config
from api.errors import Api
from workflow.db import db, render_item
from flask_migrate import Migrate

api = Api()
migrate = Migrate()

# One module a line: each defines ``blp``, a flask-smorest Blueprint.
BLUEPRINT_MODULES = (
    "health",
    "orgs",
    "accounts",
    "indicators",
    "notifications",
    "documents",
    "evidence",
    "payments",
    "rules",
    "payees",
    "cases",
    "workflow_docs",
    "warnings",
    "bank_intake",
    "complaints",
    "journal",
)

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def create_app(config: Mapping | None = None) -> Flask:
    """Build the app: defaults from the environment, then ``config`` overrides (tests)."""
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["int"] = inputs.IdConverter  # every <int:...> is an id: 1..INTEGER's max
    app.config.from_mapping(Config().as_dict())
    if config:
        app.config.from_mapping(config)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "fundwatch.db")
    if not app.config.get("FUNDWATCH_UPLOAD_DIR"):
        app.config["FUNDWATCH_UPLOAD_DIR"] = os.path.join(app.instance_path, "uploads")
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    import workflow.models  # noqa: F401  (register every table)
    db.init_app(app)
    _sqlite_pragmas(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True,
                     render_item=render_item)
    api.init_app(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    fields.register_openapi_types(api)

    from api import auth, docs_assets, errors, headers
    for name in BLUEPRINT_MODULES:
        api.register_blueprint(importlib.import_module(f"api.{name}").blp)
    app.register_blueprint(docs_assets.blp)
    errors.register(app)
    headers.register(app)
    app.before_request(auth.load_actor)
    app.before_request(inputs.check_request)  # after authentication: a stranger learns nothing from it

    from api import cli
    cli.register(app)
    return app


def _sqlite_pragmas(app: Flask) -> None:
    """SQLite: enforce foreign keys, wait on locks instead of failing, WAL for readers."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    import sqlalchemy as sa

    with app.app_context():
        @sa.event.listens_for(db.engine, "connect")
        def _on_connect(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

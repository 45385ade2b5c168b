"""HTTP layer: the application factory and the blueprints, thin over ``workflow``."""
from __future__ import annotations

import os
from collections.abc import Mapping

import sqlalchemy as sa
from flask import Flask
from flask_migrate import Migrate

import console
import workflow.models  # noqa: F401  (registers every domain table)
from api import (
    accounts,
    auth,
    bank_intake,
    cases,
    circulars,
    cli,
    complaints,
    docs_assets,
    documents,
    errors,
    evidence,
    exports,
    fields,
    headers,
    health,
    indicators,
    inputs,
    journal,
    orgs,
    payees,
    payment_plans,
    payments,
    registers,
    reports,
    rules,
    statistics,
    warning_files,
    warnings,
    work_reports,
    workflow_docs,
)
from api import notifications as notifications_api
from api.config import Config
from api.errors import Api
from notifications.inbox import InboxNotification  # noqa: F401  (registers the inbox table)
from workflow.db import db, render_item

api = Api()
fields.register_openapi_types(api)  # once: the spec each app builds maps these fields
migrate = Migrate()

# The resources, in the order the API document lists them.
BLUEPRINTS = (health.blp, orgs.blp, accounts.blp, indicators.blp, payment_plans.blp, notifications_api.blp,
              documents.blp, evidence.blp, payments.blp, rules.blp, payees.blp, cases.blp, workflow_docs.blp,
              warnings.blp, warning_files.blp, bank_intake.blp, complaints.blp, journal.blp, statistics.blp,
              reports.blp, registers.blp, circulars.blp, work_reports.blp)

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

    db.init_app(app)
    _sqlite_pragmas(app)
    _postgresql_plans(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True,
                     render_item=render_item)
    api.init_app(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    cases.register_schemas(api.spec)
    rules.register_schemas(api.spec)
    payment_plans.register_schemas(api.spec)
    warnings.register_schemas(api.spec)
    indicators.register_schemas(api.spec)
    warning_files.register_schemas(api.spec)

    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    exports.document(api.spec)
    app.register_blueprint(docs_assets.blp)
    console.register(app)  # the web console at /, signed in by session (console/)
    errors.register(app)
    headers.register(app)
    app.before_request(auth.load_actor)
    app.before_request(inputs.check_request)  # after authentication: a stranger learns nothing from it

    cli.register(app)
    return app


def _sqlite_pragmas(app: Flask) -> None:
    """SQLite: enforce foreign keys, wait on locks instead of failing, WAL for readers."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        @sa.event.listens_for(db.engine, "connect")
        def _on_connect(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()


def _postgresql_plans(app: Flask) -> None:
    """PostgreSQL: plan every statement for the values it is run with (issue 15 item 2).

    psycopg prepares a statement on the server from its fifth run, and the server may then keep
    one generic plan for it, costed without the values and with the statistics of that moment:
    a plan chosen while the tables were small (a sort of every warning in scope, a scan of the
    unit's payments for a duplicate voucher) was kept after they had grown, and a list or an
    intake batch got a hundred times slower. ``force_custom_plan`` keeps the prepared statement
    (parsed once per connection) and plans each run for its values. ``FUNDWATCH_PG_PLAN_CACHE_MODE``
    (app config only, for the benchmark comparing the modes) may name another mode, or be empty
    to leave the server's default."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    mode = app.config.get("FUNDWATCH_PG_PLAN_CACHE_MODE", "force_custom_plan")
    if not mode:
        return
    if mode not in ("auto", "force_custom_plan", "force_generic_plan"):
        raise ValueError(f"FUNDWATCH_PG_PLAN_CACHE_MODE: not a plan_cache_mode: {mode!r}")
    with app.app_context():
        @sa.event.listens_for(db.engine, "connect")
        def _on_connect(dbapi_connection, _record):
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET plan_cache_mode = {mode}")
            dbapi_connection.commit()  # SET is transactional: the pool's rollback would undo it

"""The bare endpoints the HTTP benchmark (``bench.http``) measures the API against.

    gunicorn --bind 127.0.0.1:PORT --workers 2 --access-logfile - bench.bare_wsgi:app

A plain Flask app with the product's Flask-SQLAlchemy extension, configuration (the same
``DATABASE_URL``, engine options and SQLite pragmas) and bearer-token authentication, and
nothing else: no blueprints, no schemas, no domain. Served by its own gunicorn with the
settings of ``make run``, on the same scratch database as the API, so that the ratio of the two
is what the product adds to the framework, the driver and the database. It is never part of
the shipped API.

- ``POST /bench/insert``: one row into the scratch table ``bench_bare`` (which the benchmark
  creates) and a commit; 201 ``{"id": ...}``.
- ``GET /bench/json``: a small JSON object, nothing written.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, g, request

import workflow.models  # noqa: F401  (registers every table the token's user relates to)
from api import _sqlite_pragmas
from api.config import Config
from notifications.inbox import InboxNotification  # noqa: F401  (registers the inbox table, as the app does)
from workflow.db import db
from workflow.errors import Unauthenticated
from workflow.tokens import authenticate

INSERT = sa.text("INSERT INTO bench_bare (note) VALUES (:note) RETURNING id")


def create_bare_app() -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(Config().as_dict())  # DATABASE_URL and the engine options, as the API reads them
    db.init_app(app)
    _sqlite_pragmas(app)  # the API's connection settings (WAL, busy timeout, foreign keys)

    @app.before_request
    def load_actor():
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        g.actor = authenticate(token.strip() if scheme.lower() == "bearer" else None)

    @app.errorhandler(Unauthenticated)
    def unauthenticated(exc):
        return {"message": str(exc)}, 401

    @app.post("/bench/insert")
    def insert():
        row_id = db.session.execute(INSERT, {"note": "bench"}).scalar_one()
        db.session.commit()
        return {"id": row_id}, 201

    @app.get("/bench/json")
    def small_json():
        return {"ok": True, "actor": g.actor.org_id, "items": [1, 2, 3]}

    return app


app = create_bare_app()

"""What every benchmark needs: a throwaway database, migrated, dropped afterwards.

``scratch_url`` makes the empty database (a temporary SQLite file, or a PostgreSQL schema of
its own reached through ``search_path``) and yields its URL; ``scratch_database`` also builds
the app on it, pushes an app context and runs the migrations (``flask_migrate.upgrade``).
Both drop what they made on the way out, even when the benchmark fails.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from typing import Iterator

import sqlalchemy as sa

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def pg_url(base: str, schema: str) -> str:
    """``base`` through psycopg 3, with ``schema`` first on the search path."""
    url = sa.engine.make_url(base)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@contextmanager
def scratch_url(backend: str, base_url: str | None = None, prefix: str = "fw-bench-") -> Iterator[tuple[str, str]]:
    """Yield ``(url, folder)`` of an empty scratch database: ``backend`` "sqlite" is a file in the
    temporary ``folder``; otherwise a fresh schema in the PostgreSQL database at ``base_url``.
    The folder (there for either backend, e.g. for uploads) and the schema are dropped after."""
    folder = tempfile.mkdtemp(prefix=prefix)
    admin = schema = None
    try:
        if backend == "sqlite":
            url = f"sqlite:///{folder}/bench.db"
        else:
            schema = f"fwbench_{uuid.uuid4().hex[:10]}"
            admin = sa.create_engine(pg_url(base_url, "public"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            url = pg_url(base_url, schema)
        yield url, folder
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def scratch_database(backend: str, base_url: str | None = None, config: dict | None = None,
                     prefix: str = "fw-bench-", quiet_alembic: bool = True):
    """Yield the app on a migrated scratch database (see ``scratch_url``), its app context pushed.
    ``config`` is added to ``SQLALCHEMY_DATABASE_URI`` and ``TESTING``. On the way out the session
    is removed, the engine disposed, the context popped and the database dropped."""
    from flask_migrate import upgrade

    from api import create_app

    with scratch_url(backend, base_url, prefix) as (url, _folder):
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, **(config or {})})
        context = app.app_context()
        context.push()
        try:
            # migrations/env.py re-reads alembic.ini's logging config inside upgrade(), which
            # resets any level set beforehand: silence INFO for the duration instead.
            if quiet_alembic:
                logging.disable(logging.INFO)
            try:
                upgrade(revision="heads")
            finally:
                logging.disable(logging.NOTSET)
            yield app
        finally:
            from workflow.db import db

            db.session.remove()
            db.engine.dispose()
            context.pop()

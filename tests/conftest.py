"""Test harness: every database test runs on SQLite and, when TEST_DATABASE_URL is set,
on PostgreSQL too. Schemas are built by the migrations, never by ``create_all``.

- SQLite: one migrated template file per session, copied fresh for every test.
- PostgreSQL: one schema created for this session (and dropped after it), migrated once,
  truncated after every test. Nothing outside that schema is touched.
"""
from __future__ import annotations

import os
import shutil
import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from api import create_app
from workflow.db import db

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def _pg_url(base: str, schema: str) -> str:
    url = sa.engine.make_url(base)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def _migrate(url: str, instance_path: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database(request, tmp_path_factory):
    """A migrated database for the session: ``{"backend", "url" or "template"}``."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("sqlite")
        template = str(folder / "template.db")
        _migrate(f"sqlite:///{template}", str(folder))
        yield {"backend": "sqlite", "template": template, "folder": folder}
        return
    base = os.environ["TEST_DATABASE_URL"]
    schema = f"fwtest_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_pg_url(base, "public"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = _pg_url(base, schema)
    try:
        _migrate(url, "")
        yield {"backend": "postgresql", "url": url, "schema": schema}
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database_url(database, tmp_path):
    if database["backend"] == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(database["template"], path)
        return f"sqlite:///{path}"
    return database["url"]


@pytest.fixture
def app(database, database_url, tmp_path):
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "FUNDWATCH_UPLOAD_DIR": str(tmp_path / "uploads"),
        "SMTP_URL": None,
    })
    app.instance_path = str(tmp_path / "instance")
    os.makedirs(app.instance_path, exist_ok=True)
    with app.app_context():
        yield app
        db.session.remove()
        if database["backend"] == "postgresql":
            tables = [t.name for t in reversed(db.metadata.sorted_tables)]
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def backend(database) -> str:
    return database["backend"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class PartyClient:
    """A test client that acts as one party, with its bearer token on every request."""

    def __init__(self, client, token: str, user, org):
        self._client = client
        self.token = token
        self.user = user
        self.org = org
        self.headers = {"Authorization": f"Bearer {token}"}

    def _call(self, method, url, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return getattr(self._client, method)(url, headers=headers, **kwargs)

    def get(self, url, **kw):
        return self._call("get", url, **kw)

    def post(self, url, **kw):
        return self._call("post", url, **kw)

    def patch(self, url, **kw):
        return self._call("patch", url, **kw)

    def put(self, url, **kw):
        return self._call("put", url, **kw)

    def delete(self, url, **kw):
        return self._call("delete", url, **kw)


@pytest.fixture
def demo(app):
    """The demo data set loaded, with a token for every demo user: ``demo.tokens['unit']``."""
    from workflow import demo as demo_data

    users = demo_data.load_demo()
    tokens = demo_data.issue_demo_tokens()
    db.session.commit()

    class Demo:
        pass

    d = Demo()
    d.users = users
    d.tokens = tokens
    d.data = demo_data.read_demo()
    return d


def _party(key):
    @pytest.fixture(name=f"as_{key}")
    def fixture(client, demo):
        user = demo.users[key]
        return PartyClient(client, demo.tokens[key], user, user.org)
    return fixture


as_finance = _party("finance")
as_city_finance = _party("city_finance")
as_county_finance = _party("county_finance")
as_competent = _party("competent")
as_other_competent = _party("other_competent")
as_unit = _party("unit")
as_other_unit = _party("other_unit")
as_bank = _party("bank")
as_other_bank = _party("other_bank")
as_oversight = _party("oversight")

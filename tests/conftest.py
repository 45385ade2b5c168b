"""Test harness: every database test runs on SQLite and, when TEST_DATABASE_URL is set,
on PostgreSQL too. Schemas are built by the migrations, never by ``create_all``.

Built once per session and backend: the app (``create_app`` costs as much as a test), the
migrated schema, and the demo data set with a token for every demo user. Every test then starts
from one of two states, never seeing another test's writes:

- SQLite: the migrated template file, or the template with the demo loaded, copied fresh to the
  session's database file before every test (processes the test starts open that file too).
- PostgreSQL: one schema created for this session (and dropped after it), migrated once,
  emptied after every test. The demo's rows are kept in a second schema and copied back in
  (with the sequences' positions) before each test that asks for ``demo``.

A test gets the demo state when ``demo`` is among its fixtures (directly or through ``as_unit``
and the like). A test that changes the app itself (adds a route) is marked ``own_app`` and
gets an app of its own on the same database.
"""
from __future__ import annotations

import copy
import datetime as dt
import os
import shutil
import sqlite3
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from flask_migrate import upgrade

from api import create_app
from workflow import demo as demo_data
from workflow.db import db
from workflow.parties import User
from workflow.tokens import issue_token

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])

# Where ``frozen_clock`` sets the clock: a working Tuesday, mid-morning in Shanghai (far from
# midnight), in a year the holiday calendar knows.
FROZEN_AT = dt.datetime(2026, 11, 10, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _pg_url(base: str, schema: str) -> str:
    url = sa.engine.make_url(base)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def _app_config(url: str, folder: Path) -> dict:
    return {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "FUNDWATCH_UPLOAD_DIR": str(folder / "uploads"),
            "SMTP_URL": None, "FUNDWATCH_SECRET_KEY": "test-" + uuid.uuid4().hex}


class DemoState:
    """What the demo load left that is not in the database: the users' ids and plain tokens."""

    def __init__(self, user_ids: dict[str, int], tokens: dict[str, str], logins: dict[str, dict]):
        self.user_ids = user_ids
        self.tokens = tokens
        self.logins = logins  # the console's: {key: {"email", "password"}}
        self.data = demo_data.read_demo()


def _load_demo() -> DemoState:
    # Without the finance departments' second officers (issue 12): each is another recipient of
    # its department's messages, which the tests count per department. The tests of four eyes
    # add them (``as_finance_second``, ...).
    users = demo_data.load_demo(second_officers=False)
    tokens = demo_data.issue_demo_tokens(second_officers=False)
    logins = demo_data.set_demo_passwords(second_officers=False)
    db.session.commit()
    return DemoState({key: user.id for key, user in users.items()}, tokens, logins)


class SessionDatabase:
    """One backend's database for the session: ``reset(demo=...)`` before a test."""

    backend: str
    url: str

    def __init__(self, app):
        self.app = app
        self.demo: DemoState | None = None
        self.has_demo = False  # whether this test's database was reset with the demo

    def build(self) -> None:
        with self.app.app_context():
            upgrade()
            db.engine.dispose()
        self.keep_empty()
        with self.app.app_context():
            self.demo = _load_demo()
            db.session.remove()
            db.engine.dispose()
        self.keep_demo()

    def reset(self, *, demo: bool) -> None:
        """Before a test: the database empty, or holding the demo."""
        raise NotImplementedError

    def after_test(self) -> None:
        """After a test (on PostgreSQL: empty the tables)."""

    def close(self) -> None:
        pass


class SqliteDatabase(SessionDatabase):
    backend = "sqlite"

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "test.db"
        self.url = f"sqlite:///{self.path}"
        self.templates = {"empty": folder / "empty.db", "demo": folder / "demo.db"}
        super().__init__(create_app(_app_config(self.url, folder)))

    def _keep(self, name: str) -> None:
        # The backup API copies what the WAL holds too.
        with sqlite3.connect(self.path) as source, sqlite3.connect(self.templates[name]) as target:
            source.backup(target)
        source.close()
        target.close()

    def keep_empty(self) -> None:
        self._keep("empty")

    def keep_demo(self) -> None:
        self._keep("demo")

    def reset(self, *, demo: bool) -> None:
        # A new file each time (unlink, then copy): a handle left open by a test sees its old
        # file, never this one; the WAL and its index go with the file they belong to.
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.templates["demo" if demo else "empty"], self.path)
        self.has_demo = demo


class PostgresDatabase(SessionDatabase):
    backend = "postgresql"

    def __init__(self, base: str, folder: Path):
        self.schema = f"fwtest_{uuid.uuid4().hex[:12]}"
        self.kept = f"{self.schema}_demo"
        self.admin = sa.create_engine(_pg_url(base, "public"), isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            conn.execute(sa.text(f'CREATE SCHEMA "{self.kept}"'))
            # A superuser may switch off triggers and foreign keys for the clean-up (below).
            self.superuser = conn.execute(sa.text("SELECT current_setting('is_superuser')")).scalar() == "on"
        self.url = _pg_url(base, self.schema)
        self.engine = sa.create_engine(self.url)
        self.tables = [t.name for t in db.metadata.sorted_tables]  # parents before children
        self.clean_sql = self.restore_sql = ""
        super().__init__(create_app(_app_config(self.url, folder)))

    def _sequences(self, conn) -> list[tuple[str, int | None]]:
        return conn.execute(sa.text("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = :schema"),
                            {"schema": self.schema}).all()

    def keep_empty(self) -> None:
        """Prepare the clean-up: empty every table, and start every sequence at 1 again.
        DELETE with triggers and foreign keys off (``session_replication_role``) takes
        milliseconds where TRUNCATE of every table takes most of a second; without superuser
        rights (needed for that switch) the clean-up is TRUNCATE."""
        with self.engine.connect() as conn:
            sequences = [name for name, _ in self._sequences(conn)]
        if self.superuser:
            self.clean_sql = ";\n".join(
                ["SET LOCAL session_replication_role = replica"]
                + [f'DELETE FROM "{table}"' for table in reversed(self.tables)]
                + [f"SELECT setval('\"{name}\"', 1, false)" for name in sequences])
        else:
            self.clean_sql = f"TRUNCATE {', '.join(self.tables)} RESTART IDENTITY CASCADE"
        self.clean = True

    def keep_demo(self) -> None:
        """Copy the demo's rows to the second schema and note where each sequence stands."""
        statements = []
        with self.engine.begin() as conn:
            for table in self.tables:
                conn.execute(sa.text(f'CREATE TABLE "{self.kept}"."{table}" AS TABLE "{table}"'))
                if conn.execute(sa.text(f'SELECT EXISTS (SELECT FROM "{self.kept}"."{table}")')).scalar():
                    statements.append(f'INSERT INTO "{table}" SELECT * FROM "{self.kept}"."{table}"')
            statements += [f"SELECT setval('\"{name}\"', {value})"
                           for name, value in self._sequences(conn) if value is not None]
        self.restore_sql = ";\n".join(statements)
        self.after_test()

    def reset(self, *, demo: bool) -> None:
        if not self.clean:
            self.after_test()
        if demo:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(self.restore_sql)
        self.clean = False
        self.has_demo = demo

    def after_test(self) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self.clean_sql)
        self.clean = True

    def close(self) -> None:
        self.engine.dispose()
        with self.admin.connect() as conn:
            for schema in (self.kept, self.schema):
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        self.admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database(request, tmp_path_factory):
    """The session's database on one backend, migrated, with its app and the demo kept aside."""
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        session_db = SqliteDatabase(folder)
    else:
        session_db = PostgresDatabase(os.environ["TEST_DATABASE_URL"], folder)
    try:
        session_db.build()
        yield session_db
    finally:
        session_db.close()


@pytest.fixture
def database_url(request, database):
    """The database this test runs on, fresh: empty, or with the demo if the test uses ``demo``.
    On PostgreSQL whatever the test wrote is deleted after it."""
    with_demo = "demo" in request.fixturenames
    database.reset(demo=with_demo)
    yield database.url
    database.after_test()


@pytest.fixture
def app(request, database, database_url, tmp_path):
    if request.node.get_closest_marker("own_app"):
        app = create_app(_app_config(database_url, tmp_path))
    else:
        app = database.app
    saved = dict(app.config)  # what a test sets in app.config is undone after it
    app.config["FUNDWATCH_UPLOAD_DIR"] = str(tmp_path / "uploads")
    app.instance_path = str(tmp_path / "instance")
    os.makedirs(app.instance_path, exist_ok=True)
    try:
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        app.config.clear()
        app.config.update(saved)


@pytest.fixture
def backend(database) -> str:
    return database.backend


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def frozen_clock():
    """The clock set to ``FROZEN_AT`` and running on from there, for a test that reads the
    clock after an action to compute what the action should have computed (a deadline in
    working days): both readings fall on the same day, whenever the suite runs."""
    with time_machine.travel(FROZEN_AT, tick=True) as traveller:
        yield traveller


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
def demo(app, database):
    """The demo data set loaded, with a token for every demo user: ``demo.tokens['unit']``.
    The database was copied from the session's demo state (see ``database_url``)."""
    assert database.has_demo, ("the demo was asked for while the test ran (getfixturevalue): "
                               "name demo, or a party fixture, among the test's arguments")
    state = database.demo
    users = db.session.execute(sa.select(User).where(User.id.in_(state.user_ids.values()))).scalars()
    by_id = {user.id: user for user in users}

    class Demo:
        pass

    d = Demo()
    d.users = {key: by_id[user_id] for key, user_id in state.user_ids.items()}
    d.tokens = dict(state.tokens)
    d.logins = copy.deepcopy(state.logins)
    d.data = copy.deepcopy(state.data)
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


def _second_officer(key):
    """The demo's second officer of a finance department (four eyes, issue 12), added to this
    test's database as ``flask demo load`` adds it, with a token of its own."""
    @pytest.fixture(name=f"as_{key}")
    def fixture(client, demo):
        user = demo_data.add_second_officers()[key]
        _, token = issue_token(user, days=30, label="demo")
        db.session.commit()
        return PartyClient(client, token, user, user.org)
    return fixture


as_finance_second = _second_officer("finance_second")
as_city_finance_second = _second_officer("city_finance_second")
as_county_finance_second = _second_officer("county_finance_second")
as_competent = _party("competent")
as_other_competent = _party("other_competent")
as_unit = _party("unit")
as_other_unit = _party("other_unit")
as_bank = _party("bank")
as_other_bank = _party("other_bank")
as_oversight = _party("oversight")
as_department = _party("department")
as_province_department = _party("province_department")

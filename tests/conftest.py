"""The test harness: a real PostgreSQL, the Sqitch plan deployed once into a
template database, and a fresh copy of it for every test.

The server is the one the usual libpq variables name (``PGHOST``, ``PGPORT``,
``PGUSER``, ``PGPASSWORD``; ``make test`` starts a private throw-away cluster
and sets them when none is given). ``PGUSER`` must be a superuser: it deploys,
seeds data under forced RLS and corrupts it on purpose. Security tests never
run as it: they log in as ``chat_test_app`` (granted ``chat_app``) or
``chat_test_auditor`` (granted ``chat_auditor``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import httpx
import jwt
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pytest_postgresql import factories

import pooler
import standby as standbys
from app.chat import EchoResponder
from app.main import create_app
from app.settings import Settings
from as_user import call
from serving import client_of
from tokens import JWT_SECRET, bearer, claims

ROOT = Path(__file__).resolve().parent.parent

# Fixtures kept in modules of their own, named for what they serve.
pytest_plugins = ["agent_sessions"]

# The tables that hold user data, parents first, with their keys.
TABLE_KEYS = {"users": "id", "tasks": "user_id, id", "conversations": "user_id, id", "messages": "user_id, id",
              "turns": "user_id, conversation_id, seq", "deleted_users": "user_id"}
TABLES = tuple(TABLE_KEYS)

# Login roles of the suite, cluster-wide like the group roles they are granted.
TEST_LOGINS = {"chat_test_app": "chat_app", "chat_test_auditor": "chat_auditor"}


def sqitch_env(password: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password
    # never pick up a developer's ~/.sqitch or ~/.psqlrc
    env["SQITCH_USER_CONFIG"] = os.devnull
    env["PSQLRC"] = os.devnull
    return env


def run_sqitch(*args: str, host, port, user, dbname, password=None, check=True) -> subprocess.CompletedProcess:
    """Run ``sqitch`` from the repository root against one database."""
    executable = shutil.which("sqitch")
    assert executable, "sqitch is needed: make test installs it"
    target = f"db:pg://{user}@{host}:{port}/{dbname}"
    command = [executable, *args, target]
    result = subprocess.run(command, cwd=ROOT, env=sqitch_env(password), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def deploy_plan(host, port, user, dbname, password=None, **_) -> None:
    """pytest-postgresql loader: the whole plan into the template database."""
    run_sqitch("deploy", host=host, port=port, user=user, dbname=dbname, password=password)


postgresql_server = factories.postgresql_noproc(
    host=os.environ.get("PGHOST", "127.0.0.1"),
    port=os.environ.get("PGPORT", "5432"),
    user=os.environ.get("PGUSER", "postgres"),
    password=os.environ.get("PGPASSWORD"),
    dbname="chat_test",
    load=[deploy_plan],
)
chat_database = factories.postgresql("postgresql_server")


@dataclass
class Server:
    """Where the test server is, and how to reach it as any role."""

    host: str
    port: int
    user: str
    password: str | None
    test_password: str = field(default_factory=lambda: secrets.token_hex(16))

    def conninfo(self, dbname: str, **kwargs) -> str:
        params = {"host": self.host, "port": self.port, "user": self.user, "password": self.password}
        return make_conninfo(dbname=dbname, **{k: v for k, v in {**params, **kwargs}.items() if v is not None})

    def connect(self, dbname: str, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(dbname, **kwargs), autocommit=True)


def xdist_run(config) -> str | None:
    """The id of this run when it is one of pytest-xdist's workers (the same for all of them), else None."""
    return getattr(config, "workerinput", {}).get("testrunuid")


@pytest.fixture(scope="session")
def pg_server(request, postgresql_server) -> Server:
    """The server, with the template deployed and the suite's login roles ready.

    The logins are cluster-wide, so pytest-xdist's workers share them: each makes them (or finds them made by
    another) with one password derived from the run's id, and none drops them, since the others may still use
    them; the controller does, at the end of the run (pytest_sessionfinish)."""
    run = xdist_run(request.config)
    server = Server(postgresql_server.host, postgresql_server.port, postgresql_server.user,
                    postgresql_server.password)
    if run is not None:
        server.test_password = hashlib.sha256(f"chat-test-{run}".encode()).hexdigest()[:32]
    with server.connect(postgresql_server.maintenance_dbname) as conn:
        conn.execute("select pg_advisory_lock(hashtext('chat test logins'))")  # workers take turns
        for login, group in TEST_LOGINS.items():
            exists = conn.execute("select 1 from pg_roles where rolname = %s", [login]).fetchone()
            verb = "alter" if exists else "create"
            conn.execute(sql.SQL("{} role {} login password {}").format(
                sql.SQL(verb), sql.Identifier(login), sql.Literal(server.test_password)))
            conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(group), sql.Identifier(login)))
        conn.execute("select pg_advisory_unlock(hashtext('chat test logins'))")
    yield server
    if run is None:
        drop_test_logins(server.connect(postgresql_server.maintenance_dbname))


def drop_test_logins(conn: psycopg.Connection) -> None:
    with conn:
        for login in TEST_LOGINS:
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(login)))


def pytest_sessionfinish(session):
    """pytest-xdist's controller, once every worker is done, drops the logins the workers shared."""
    config = session.config
    if xdist_run(config) is None and getattr(config.option, "numprocesses", None):
        drop_test_logins(psycopg.connect(
            host=os.environ.get("PGHOST", "127.0.0.1"), port=os.environ.get("PGPORT", "5432"),
            user=os.environ.get("PGUSER", "postgres"), password=os.environ.get("PGPASSWORD"),
            dbname="postgres", autocommit=True))


@pytest.fixture(scope="module")
def standby(pg_server) -> standbys.Standby:
    """A streaming standby of the test server (a read replica), for the module that asks for one: it replays
    every write of the whole cluster (each test's copy of the database, made and dropped) while it runs, so it
    runs only while a module needs it."""
    replica = standbys.start(pg_server.host, pg_server.port, pg_server.user, pg_server.password)
    yield replica
    replica.remove()


@pytest.fixture
def sqitch(pg_server):
    """``sqitch(command, *args, dbname=…, user=…, password=…, check=True)``."""

    def run(*args, dbname, user=None, password=None, check=True):
        return run_sqitch(*args, host=pg_server.host, port=pg_server.port, user=user or pg_server.user,
                          dbname=dbname, password=password or pg_server.password, check=check)

    return run


@pytest.fixture
def db(pg_server, chat_database) -> psycopg.Connection:
    """The superuser on this test's own copy of the deployed database (autocommit)."""
    chat_database.autocommit = True
    return chat_database


@pytest.fixture
def chat_db(db) -> str:
    """The name of this test's own copy of the deployed database."""
    return db.info.dbname


@contextmanager
def scratch_database(pg_server: Server, prefix: str, template: str | None = None) -> Iterator[str]:
    """The name of a database of its own, ``prefix`` and a random part, empty or a copy of ``template``; dropped
    afterwards, whoever is still connected to it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    create = sql.SQL("create database {}").format(sql.Identifier(name))
    if template is not None:
        create = sql.SQL("{} template {}").format(create, sql.Identifier(template))
    with pg_server.connect("postgres") as conn:
        conn.execute(create)
    try:
        yield name
    finally:
        with pg_server.connect("postgres") as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def empty_db(pg_server):
    """A database with nothing deployed in it, dropped afterwards."""
    with scratch_database(pg_server, "chat_test_empty") as name:
        yield name


@pytest.fixture
def plain_owner(db):
    """``(name, password)`` of a login shaped like a self-hosted owner: CREATEROLE, neither superuser nor BYPASSRLS
    (so FORCE row security applies to it), owning an empty database of the same name; dropped afterwards."""
    name, password = f"chat_test_plain_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    db.execute(f"create role {name} login password '{password}' createrole")
    db.execute(f"create database {name} owner {name}")
    yield name, password
    db.execute(f"drop database {name} with (force)")
    db.execute(f"drop owned by {name}")
    db.execute(f"drop role {name}")


@pytest.fixture
def connect_as(pg_server, chat_db):
    """``connect_as(login)``: an autocommit connection to the test database as that login role."""
    opened: list[psycopg.Connection] = []

    def connect(login: str) -> psycopg.Connection:
        conn = pg_server.connect(chat_db, user=login, password=pg_server.test_password)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


@pytest.fixture
def app_conn(connect_as) -> psycopg.Connection:
    """The runtime role, as the backend logs in: a login granted chat_app."""
    return connect_as("chat_test_app")


@pytest.fixture
def auditor_conn(connect_as) -> psycopg.Connection:
    """An auditor, as one logs in with psql: a login granted chat_auditor."""
    return connect_as("chat_test_auditor")


@pytest.fixture
def make_user(db):
    """``make_user(email=None)``: provisions a user (as the superuser) and returns their id."""

    def make(email: str | None = None) -> uuid.UUID:
        return db.execute("insert into chat.users (id, email) values (%s, %s) returning id",
                          [uuid.uuid4(), email]).fetchone()[0]

    return make


@pytest.fixture
def snapshot(db):
    """``snapshot()``: every row of every table of chat, as the superuser sees them."""

    def take() -> dict[str, list[tuple]]:
        return {table: db.execute(sql.SQL("select * from chat.{} order by {}").format(
            sql.Identifier(table), sql.SQL(TABLE_KEYS[table]))).fetchall() for table in TABLES}

    return take


@pytest.fixture
def user_a(make_user) -> uuid.UUID:
    return make_user("a@example.com")


@pytest.fixture
def user_b(make_user) -> uuid.UUID:
    return make_user("b@example.com")


@pytest.fixture
def conversation(app_conn, user_a) -> uuid.UUID:
    """An untitled conversation of user_a, made as the backend makes one: by the runtime role, as user_a."""
    return call(app_conn, user_a, "select id from chat.create_conversation()")[0][0]


# Two users' data, for the tests that set one against the other.

@dataclass
class World:
    a: uuid.UUID
    b: uuid.UUID
    task: uuid.UUID
    conversation: uuid.UUID
    message: uuid.UUID
    b_conversation: uuid.UUID


@pytest.fixture
def world(app_conn, user_a, user_b) -> World:
    """A with a task and a conversation of two messages, a turn and its reply; B with a conversation of their
    own."""
    task = call(app_conn, user_a, "insert into chat.tasks (title) values ('A''s task') returning id")[0][0]
    conversation = call(app_conn, user_a, "select id from chat.create_conversation('A''s secret')")[0][0]
    message = call(app_conn, user_a, "select id from chat.append_message(%s, 'user', 'A''s first words', "
                                     "'{\"k\": 1}', 'a-1')", [conversation])[0][0]
    call(app_conn, user_a, "select chat.append_message(%s, 'assistant', 'reply to A')", [conversation])
    # the first message was a chat turn, answered by the second
    call(app_conn, user_a, "insert into chat.turns (conversation_id, seq, reply_seq, finished_at)"
                           " values (%s, 1, 2, now())", [conversation])
    b_conversation = call(app_conn, user_b, "select id from chat.create_conversation('B''s own')")[0][0]
    return World(user_a, user_b, task, conversation, message, b_conversation)


@pytest.fixture
def unchanged(snapshot, world):
    """Asserts, after the test, that not one row of anyone changed."""
    before = snapshot()
    yield
    assert snapshot() == before


# Operators: a login granted chat_operator, for the purges.

@pytest.fixture
def operator_url(pg_server, db, chat_db):
    """How a login granted chat_operator reaches the test database."""
    login = f"chat_test_operator_{uuid.uuid4().hex[:8]}"
    db.execute(sql.SQL("create role {} login password {} in role chat_operator").format(
        sql.Identifier(login), sql.Literal(pg_server.test_password)))
    yield pg_server.conninfo(chat_db, user=login, password=pg_server.test_password)
    db.execute(sql.SQL("drop owned by {}").format(sql.Identifier(login)))
    db.execute(sql.SQL("drop role {}").format(sql.Identifier(login)))


@pytest.fixture
def operator(operator_url):
    with psycopg.connect(operator_url, autocommit=True) as conn:
        yield conn


# The HTTP service, over ASGI (no network), logged in as the runtime role.

@pytest.fixture
def settings(pg_server, chat_db) -> Settings:
    return Settings(
        database_url=pg_server.conninfo(chat_db, user="chat_test_app", password=pg_server.test_password),
        jwt_secret=JWT_SECRET, pool_min_size=1, pool_max_size=5, pool_timeout=10,
    )


@pytest.fixture(scope="session")
def pgbouncer(pg_server) -> pooler.PgBouncer:
    """PgBouncer in transaction mode in front of the test server (as Neon's pooled endpoint), for the
    runtime login, with fewer server connections than the service's pool has clients."""
    bouncer = pooler.start(pg_server.host, pg_server.port, {"chat_test_app": pg_server.test_password},
                           pool_size=POOLED_SERVER_CONNECTIONS)
    yield bouncer
    bouncer.stop()


POOLED_SERVER_CONNECTIONS = 4


@pytest.fixture
def pooled_settings(settings, pgbouncer, pg_server, chat_db) -> Settings:
    """The service's settings through PgBouncer: no prepared statements, a pool of 10."""
    return settings.model_copy(update={
        "database_url": pgbouncer.conninfo(chat_db, "chat_test_app", pg_server.test_password),
        "prepare_threshold": None, "pool_max_size": 10,
    })


@pytest.fixture
def responder():
    """The responder the service is built with; a test may override this fixture."""
    return EchoResponder()


@pytest.fixture
async def api(request, settings, responder):
    """An httpx client of the service, its lifespan (the pool) running. Where the app raises, the test raises
    with it; in a module marked ``errors_as_500`` (the HTTP API's files), the client gets a 500 answer instead, as
    from uvicorn (serving.client_of)."""
    service = create_app(settings, responder)
    async with service.router.lifespan_context(service):
        if request.node.get_closest_marker("errors_as_500"):
            client = client_of(service)
        else:
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=service), base_url="http://service")
        async with client:
            client.app = service
            yield client


@pytest.fixture
def token(settings):
    """``token(user_id, **claims)``: a valid bearer token for that user (claims override or add)."""

    def make(user_id, **changes) -> str:
        return jwt.encode(claims(user_id, **changes), JWT_SECRET, algorithm="HS256")

    return make


@pytest.fixture
def auth(token):
    """``auth(user_id, **claims)``: the Authorization header of a valid token for that user."""

    def make(user_id, **changes) -> dict[str, str]:
        return bearer(token(user_id, **changes))

    return make


# Figures: what the reliability tests measured (operations, users, faults,
# inputs), recorded with pytest's ``record_property`` and printed at the end
# of the run; RELIABILITY.md quotes them.

# What make test-fast leaves out besides the tests marked slow one by one: the files (names or patterns) that
# deploy the plan change by change, run the scripts or start servers of their own (PostgreSQL, a standby,
# PgBouncer, uvicorn, TLS, the service for the chat page's Chromium), or load the service. make test runs them
# all.
SLOW_FILES = {"test_lifecycle.py", "test_verify_scripts.py", "test_bench.py", "test_make_run.py", "test_adopt.py",
              "test_tls.py", "test_faults.py", "test_pooler.py", "test_replica.py", "test_schema_file.py",
              "test_concurrency.py", "test_browser_*.py"}


# What make test runs alone, after the rest, which it runs on two pytest-xdist workers (scripts/test): the files
# that act on the whole test cluster or need it quiet while they run: restarting it, freezing or terminating its
# backends (faults); counting its server connections (pooler); a standby replaying everything the cluster writes,
# whose lag a parallel worker's writes would stretch (replica, bench); the benchmark's load. And the HTTP API's
# schema tests, which schemathesis generates under one node id: pytest-xdist's file-by-file scheduling would run
# one of the thirteen. (A test that alters a shared role is marked serial by itself.)
SERIAL_FILES = {"test_faults.py", "test_pooler.py", "test_replica.py", "test_bench.py", "test_schema.py"}


def pytest_collection_modifyitems(items):
    for item in items:
        if any(fnmatch(item.path.name, pattern) for pattern in SLOW_FILES):
            item.add_marker(pytest.mark.slow)
        if item.path.name in SERIAL_FILES:
            item.add_marker(pytest.mark.serial)


def pytest_terminal_summary(terminalreporter):
    figures: dict[tuple[str, str], object] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", ()):
                figures[report.nodeid, name] = value  # the teardown's report repeats the call's, and adds to it
    if figures:
        terminalreporter.section("figures")
        for (nodeid, name), value in figures.items():
            terminalreporter.write_line(f"{nodeid}: {name} = {value}")

"""Adopting a Phase II database: the todo app's users and tasks, made in
schema chat by SQLModel's create_all and full of rows, adopt the Sqitch plan
through scripts/adopt without losing a row; the result is the schema a fresh
deploy makes, under the same row security; a row the plan's constraints would
refuse stops the adoption before anything changes.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from datetime import datetime, timedelta

import psycopg
import pytest
from sqlalchemy import MetaData, create_engine
from sqlmodel import Field, SQLModel

from as_user import call
from conftest import ROOT, sqitch_env
from sqitch_plan import schema_dump

PHASE2 = MetaData(schema="chat")


class User(SQLModel, table=True):
    """The Phase II user model, as the todo app declared it."""

    __tablename__ = "users"
    metadata = PHASE2
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str | None = Field(default=None, unique=True)
    display_name: str | None = None
    created_at: datetime = Field(default_factory=datetime.utcnow)


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    metadata = PHASE2
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="chat.users.id", index=True)
    title: str
    description: str | None = None
    completed: bool = False
    created_at: datetime = Field(default_factory=datetime.utcnow)
    updated_at: datetime = Field(default_factory=datetime.utcnow)


USERS, TASKS_EACH = 40, 12
AWKWARD = ["", "emoji 🎉 and ZWJ 👩‍👩‍👧", "e\u0301 combining", "עברית right-to-left", "quote ' and \\ backslash",
           "x" * 10_000]


@pytest.fixture
def phase2(pg_server, empty_db):
    """The Phase II database: created by create_all as its owner (Neon-shaped), filled with rows."""
    owner, password = f"chat_test_phase2_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with pg_server.connect(empty_db) as conn:
        conn.execute(f"create role {owner} login password '{password}' createrole bypassrls")
        conn.execute(f"alter database {empty_db} owner to {owner}")
        conn.execute(f"grant create on database {empty_db} to {owner}")
    url = f"postgresql://{owner}:{password}@{pg_server.host}:{pg_server.port}/{empty_db}"
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.exec_driver_sql("create schema chat")
    SQLModel.metadata.create_all(engine, tables=[User.__table__, Task.__table__])
    engine.dispose()
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        started = datetime(2025, 1, 1)
        for n in range(USERS):
            user = uuid.uuid4()
            conn.execute("insert into chat.users (id, email, display_name, created_at) values (%s, %s, %s, %s)",
                         [user, f"user{n}@example.com" if n % 3 else None, f"User {n}" if n % 2 else None,
                          started + timedelta(days=n)])
            for t in range(TASKS_EACH):
                conn.execute("insert into chat.tasks (id, user_id, title, description, completed, created_at,"
                             " updated_at) values (%s, %s, %s, %s, %s, %s, %s)",
                             [uuid.uuid4(), user, f"task {t} of {n}", AWKWARD[t % len(AWKWARD)] if t % 4 else None,
                              t % 2 == 0, started + timedelta(days=n, hours=t), started + timedelta(days=n + 1)])
    yield url
    with pg_server.connect(empty_db) as conn:
        conn.execute(f"alter database {empty_db} owner to postgres")
        conn.execute(f"drop owned by {owner}")
        conn.execute(f"drop role {owner}")


ROWS = {
    "users": "select id, email, display_name, created_at::timestamp from {}.users order by id",
    "tasks": "select id, user_id, title, description, completed, created_at::timestamp, updated_at::timestamp"
             " from {}.tasks order by id",
}


def rows(url, schema):
    with psycopg.connect(url) as conn:
        conn.execute("set timezone = 'UTC'")
        return {table: conn.execute(sql.format(schema)).fetchall() for table, sql in ROWS.items()}


def adopt(url) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts" / "adopt")], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "ADOPT_DATABASE_URL": url})


def test_a_phase2_database_adopts_the_plan_without_losing_a_row(pg_server, sqitch, empty_db, phase2):
    before = rows(phase2, "chat")
    assert (len(before["users"]), len(before["tasks"])) == (USERS, USERS * TASKS_EACH)

    result = adopt(phase2)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"copied: {USERS} users and {USERS * TASKS_EACH} tasks" in result.stdout

    assert rows(phase2, "chat") == before  # every row, every value
    assert rows(phase2, "chat_phase2") == before  # and the Phase II tables kept until dropped
    sqitch("verify", dbname=empty_db)
    status = sqitch("status", dbname=empty_db)
    assert "Nothing to deploy (up-to-date)" in status.stdout

    # the schema a fresh deploy makes, to the last grant and comment
    fresh = f"chat_test_fresh_{uuid.uuid4().hex[:8]}"
    with pg_server.connect("postgres") as conn:
        conn.execute(f"create database {fresh}")
    try:
        sqitch("deploy", dbname=fresh)
        assert schema_dump(pg_server, empty_db) == schema_dump(pg_server, fresh)
    finally:
        with pg_server.connect("postgres") as conn:
            conn.execute(f"drop database {fresh} with (force)")


def test_the_adopted_rows_are_under_row_security(pg_server, empty_db, phase2):
    assert adopt(phase2).returncode == 0
    a, b = (row[0] for row in rows(phase2, "chat")["users"][:2])
    with pg_server.connect(empty_db) as conn:
        conn.execute("create role chat_test_adopt_app login password 'x' in role chat_app")
    try:
        with psycopg.connect(pg_server.conninfo(empty_db, user="chat_test_adopt_app", password="x")) as conn:
            assert call(conn, a, "select count(*) from chat.tasks") == [(TASKS_EACH,)]
            assert call(conn, a, "select count(*) from chat.tasks where user_id = %s", [b]) == [(0,)]
            assert call(conn, None, "select count(*) from chat.users") == [(0,)]
            conversation = call(conn, a, "select id from chat.create_conversation('after adoption')")[0][0]
            assert call(conn, a, "select seq from chat.append_message(%s, 'user', 'hello')", [conversation]) == [(1,)]
    finally:
        with pg_server.connect(empty_db) as conn:
            conn.execute("drop owned by chat_test_adopt_app")
            conn.execute("drop role chat_test_adopt_app")


def test_a_row_the_plan_would_refuse_stops_the_adoption_before_anything_changes(pg_server, empty_db, phase2):
    with psycopg.connect(phase2, autocommit=True) as conn:
        conn.execute("update chat.tasks set title = repeat('t', 201) where id = (select id from chat.tasks order by id limit 1)")
        conn.execute("update chat.users set email = 'not an address' where email = 'user1@example.com'")
    before = rows(phase2, "chat")
    result = adopt(phase2)
    assert result.returncode != 0
    assert "title must have 1 to 200 characters, not 201" in result.stderr
    assert "email 'not an address' is not an address" in result.stderr
    assert rows(phase2, "chat") == before
    with psycopg.connect(phase2) as conn:
        assert conn.execute("select to_regnamespace('chat_phase2'), to_regclass('sqitch.changes')").fetchone() == (
            None, None)


def test_an_interrupted_adoption_goes_on_where_it_stopped(phase2):
    before = rows(phase2, "chat")
    # stopped after step 1 and part of step 2: chat set aside, the plan deployed up to users only
    set_aside = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "db/adopt/set_aside.sql", phase2],
                               cwd=ROOT, capture_output=True, text=True)
    assert set_aside.returncode == 0, set_aside.stderr
    partial = subprocess.run(["sqitch", "deploy", "--to", "users", "db:pg:" + phase2.split(":", 1)[1]], cwd=ROOT,
                             capture_output=True, text=True, env=sqitch_env(None))
    assert partial.returncode == 0, partial.stderr
    result = adopt(phase2)
    assert result.returncode == 0, result.stdout + result.stderr
    assert rows(phase2, "chat") == before
    # and once more, with nothing left to do
    again = adopt(phase2)
    assert again.returncode == 0, again.stderr
    assert "copying" not in again.stderr and rows(phase2, "chat") == before

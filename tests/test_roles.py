"""The product's group roles, as logins granted them: each can do what it is
for and nothing more, and no combination of them widens what a login sees.

- ``chat_operator`` runs the purge and nothing else: no read or write of any
  table, whatever the statement.
- A login granted several of ``chat_app``, ``chat_auditor`` and
  ``chat_operator`` sees no row that one of its roles alone would not show
  it, and changes no row that ``chat_app`` alone would not let it change.
"""

from __future__ import annotations

import itertools
import uuid

import psycopg
import pytest
from psycopg import errors, sql

from as_user import acting_as
from conftest import TABLE_KEYS, TABLES
from query_plans import function_plans, nodes

GROUPS = ("chat_app", "chat_auditor", "chat_operator")
COMBINATIONS = [combo for n in range(1, len(GROUPS) + 1) for combo in itertools.combinations(GROUPS, n)]


@pytest.fixture
def login_with(pg_server, db, chat_db):
    """``login_with(*groups)``: a connection as a new login granted exactly those group roles."""
    made: list[tuple[str, psycopg.Connection]] = []

    def make(*groups: str) -> psycopg.Connection:
        name = f"chat_test_roles_{uuid.uuid4().hex[:8]}"
        db.execute(sql.SQL("create role {} login password {} in role {}").format(
            sql.Identifier(name), sql.Literal(pg_server.test_password),
            sql.SQL(", ").join(map(sql.Identifier, groups))))
        conn = pg_server.connect(chat_db, user=name, password=pg_server.test_password)
        made.append((name, conn))
        return conn

    yield make
    for name, conn in made:
        conn.close()
        db.execute(sql.SQL("drop owned by {}").format(sql.Identifier(name)))
        db.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


# the operator: the purge and nothing else

DIRECT = {
    "select": "select * from chat.{} limit 1",
    "insert": "insert into chat.{} default values",
    "update": "update chat.{0} set {1} = {1}",
    "delete": "delete from chat.{}",
    "truncate": "truncate chat.{} cascade",
    "lock": "lock table chat.{} in access share mode",
}


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("statement", DIRECT)
def test_the_operator_can_neither_read_nor_write_any_table(login_with, world, unchanged, table, statement):
    operator = login_with("chat_operator")
    with pytest.raises(errors.InsufficientPrivilege):
        with operator.transaction():
            column = "deleted_at" if table == "deleted_users" else "created_at"
            operator.execute(DIRECT[statement].format(table, column))


def test_the_operator_calls_no_function_but_the_purges(db, login_with, world):
    operator = login_with("chat_operator")
    callable_ = operator.execute("""
        select p.oid::regprocedure::text from pg_proc p
         where p.pronamespace = 'chat'::regnamespace and has_function_privilege(p.oid, 'execute')""").fetchall()
    assert sorted(callable_) == [("chat.purge_deleted_users(interval)",), ("chat.purge_inactive(interval,integer)",)]
    db.execute("update chat.conversations set updated_at = now() - interval '2 years' where id = %s",
               [world.b_conversation])
    assert operator.execute("select chat.purge_inactive('1 year')").fetchone() == (1,)
    gone = db.execute("select count(*) from chat.conversations where id = %s", [world.b_conversation]).fetchone()
    assert gone == (0,)


@pytest.fixture
def backlog(db, make_user):
    """2,000 conversations of 20 users, 1,800 of them inactive for a year or more."""
    users = [make_user() for _ in range(20)]
    for user in users:
        db.execute("insert into chat.conversations (user_id, updated_at)"
                   " select %s, now() - make_interval(days => case when g <= 90 then 400 + g else g end)"
                   "   from generate_series(1, 100) g", [user])
    db.execute("vacuum analyze chat.conversations")
    return users


def test_a_purge_batch_reads_the_index_not_the_table(db, login_with, backlog):
    """As the operator calls it (auto_explain shows the statement inside the function): the batch of 100 is
    100 entries of conversations_activity_idx and those 100 rows by address, not 2,000 rows scanned."""
    name = login_with("chat_operator").info.user
    plans = function_plans(db, None, "select chat.purge_inactive('1 year', 100)", [], role=name)
    (delete,) = [p for p in plans if p["Node Type"] == "ModifyTable" and p["Relation Name"] == "conversations"]
    scans = [n for n in nodes(delete) if "Relation Name" in n]
    assert not any(n["Node Type"] == "Seq Scan" for n in scans), scans
    (lookup,) = [n for n in scans if n.get("Index Name") == "conversations_activity_idx"]
    assert lookup["Node Type"] in ("Index Scan", "Index Only Scan") and lookup["Actual Rows"] == 100
    (rows,) = [n for n in scans if n["Node Type"] == "Tid Scan"]
    assert rows["Actual Rows"] == 100 and rows.get("Rows Removed by Filter", 0) == 0
    assert db.execute("select count(*) from chat.conversations").fetchone() == (1900,)


# combinations of roles

def visible(conn, user) -> dict[str, set]:
    """The rows of every table the login sees, acting as ``user``: (table, key) pairs; a refused read is empty."""
    seen = {}
    for table in TABLES:
        key = TABLE_KEYS[table]
        try:
            with acting_as(conn, user):
                seen[table] = set(conn.execute(sql.SQL("select {} from chat.{}").format(
                    sql.SQL(key), sql.Identifier(table))).fetchall())
        except errors.InsufficientPrivilege:
            seen[table] = set()
    return seen


def test_no_combination_of_roles_widens_what_a_login_sees(login_with, world):
    alone = {group: visible(login_with(group), world.a) for group in GROUPS}
    # what each is for: the runtime role its user's rows, the auditor all, the operator none
    assert alone["chat_app"]["conversations"] == {(world.a, world.conversation)}
    assert len(alone["chat_auditor"]["conversations"]) == 2
    assert all(rows == set() for rows in alone["chat_operator"].values())

    for combo in COMBINATIONS:
        seen = visible(login_with(*combo), world.a)
        for table in TABLES:
            union = set().union(*(alone[group][table] for group in combo))
            assert seen[table] == union, (combo, table)


@pytest.mark.parametrize("combo", [c for c in COMBINATIONS if "chat_app" in c and len(c) > 1],
                         ids=lambda c: "+".join(g.removeprefix("chat_") for g in c))
def test_no_combination_of_roles_widens_what_a_login_changes(login_with, snapshot, world, combo):
    """With the runtime role and others, writes reach the current user's rows only, as with chat_app alone."""
    conn = login_with(*combo)
    before = snapshot()
    for statement in ("update chat.conversations set title = 'x'", "delete from chat.conversations",
                      "update chat.tasks set title = 'x'", "delete from chat.tasks",
                      "update chat.users set display_name = 'x'"):
        with acting_as(conn, world.b):
            touched = conn.execute(statement + " where user_id <> chat_private.current_user_id()"
                                   if "users" not in statement else statement + " where id <> chat_private.current_user_id()")
            assert touched.rowcount == 0, (combo, statement)
    with pytest.raises(errors.InsufficientPrivilege):
        with acting_as(conn, world.b):
            conn.execute("delete from chat.messages")
    assert snapshot() == before

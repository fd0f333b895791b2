"""Account deletion that holds: after ``DELETE /api/me`` (``chat.delete_user``), the
tokens issued before the deletion are refused (401, SQLSTATE 28000 from
``chat.check_token``) and bring nothing back, whichever instance they reach; a
token issued after it (the identity provider made the account again) gets a new,
empty user. What is kept to know it is a tombstone, the user's id and the time,
nothing personal; operators forget it once no such token can be valid
(``chat.purge_deleted_users``, ``make purge``). Run as the runtime role, the
auditor and an operator, as they log in.
"""

from __future__ import annotations

import os
import subprocess
import time

import httpx
import pytest
from psycopg import errors

from app.chat import EchoResponder
from app.main import create_app
from as_user import call
from audit_scripts import AUDIT, run_audit_script
from conftest import ROOT
from stored_data import stored_user

ACCOUNT_DELETED = "this account was deleted after the token was issued; sign in again"


def tombstones(db) -> list[tuple]:
    return db.execute("select user_id from chat.deleted_users order by user_id").fetchall()


def backdate_deletion(db, user, minutes: int) -> None:
    """The deletion as if it happened ``minutes`` ago, so that a token of now is issued after it."""
    db.execute("update chat.deleted_users set deleted_at = now() - make_interval(mins => %s) where user_id = %s",
               [minutes, user])


# the tombstone (SQL, as the runtime role)

def test_the_tombstone_holds_the_user_id_and_the_time_only(db, app_conn, user_a):
    assert call(app_conn, user_a, "select chat.delete_user()") == [(True,)]
    assert db.execute("select attname from pg_attribute where attrelid = 'chat.deleted_users'::regclass"
                      " and attnum > 0 and not attisdropped order by attnum").fetchall() == [
        ("user_id",), ("deleted_at",)]
    (row,) = db.execute("select user_id, deleted_at > now() - interval '1 minute' from chat.deleted_users"
                        ).fetchall()
    assert row == (user_a, True)
    assert stored_user(db, user_a) is None
    assert "a@example.com" not in str(db.execute("select * from chat.deleted_users").fetchall())


@pytest.mark.parametrize("issued", ["now() - interval '1 hour'", "(select deleted_at from chat.deleted_users)", "null"])
def test_a_token_issued_before_the_deletion_or_of_unknown_age_is_refused(db, app_conn, user_a, issued):
    call(app_conn, user_a, "select chat.delete_user()")
    with pytest.raises(errors.InvalidAuthorizationSpecification) as raised:
        call(app_conn, user_a, f"select chat.check_token({issued})")
    assert raised.value.diag.message_primary == ACCOUNT_DELETED
    with pytest.raises(errors.InvalidAuthorizationSpecification):
        call(app_conn, user_a, f"select chat.provision_user('a@example.com', {issued})")
    assert stored_user(db, user_a) is None


def test_a_token_issued_after_the_deletion_provisions_a_new_empty_user(db, app_conn, world):
    call(app_conn, world.a, "select chat.delete_user()")
    backdate_deletion(db, world.a, 10)
    assert call(app_conn, world.a, "select chat.check_token(now() - interval '5 minutes')") == [("",)]
    assert call(app_conn, world.a, "select chat.provision_user('a@example.com', now() - interval '5 minutes')"
                ) == [(True,)]
    assert stored_user(db, world.a) == ("a@example.com",)
    (exported,) = call(app_conn, world.a, "select chat.export_user_data()")[0]
    assert (exported["conversations"], exported["tasks"]) == ([], [])
    # the tombstone stays: the older tokens are still refused
    with pytest.raises(errors.InvalidAuthorizationSpecification):
        call(app_conn, world.a, "select chat.check_token(now() - interval '20 minutes')")


def test_a_user_never_deleted_passes_with_or_without_a_time(app_conn, user_a):
    for issued in ("now() - interval '1 year'", "null"):
        assert call(app_conn, user_a, f"select chat.check_token({issued})") == [("",)]


def test_deleting_again_moves_the_time(db, app_conn, user_a):
    call(app_conn, user_a, "select chat.delete_user()")
    backdate_deletion(db, user_a, 60)
    assert call(app_conn, user_a, "select chat.provision_user(null, now() - interval '5 minutes')") == [(True,)]
    assert call(app_conn, user_a, "select chat.delete_user()") == [(True,)]
    assert db.execute("select count(*), bool_and(deleted_at > now() - interval '1 minute') from chat.deleted_users"
                      ).fetchone() == (1, True)


def test_a_tombstone_is_its_users_own(db, app_conn, auditor_conn, user_a, user_b):
    call(app_conn, user_a, "select chat.delete_user()")
    assert call(app_conn, user_b, "select count(*) from chat.deleted_users") == [(0,)]
    assert call(app_conn, user_b, "select chat.check_token(null)") == [("",)]
    with pytest.raises(errors.InsufficientPrivilege):  # a tombstone for someone else: RLS refuses it
        call(app_conn, user_b, "insert into chat.deleted_users (user_id) values (%s)", [user_a])
    with pytest.raises(errors.InsufficientPrivilege):  # and no one forgets their own: only the operators' purge
        call(app_conn, user_a, "delete from chat.deleted_users")
    assert call(auditor_conn, None, "select user_id from chat.deleted_users") == [(user_a,)]
    assert tombstones(db) == [(user_a,)]


# the purge, for operators

def test_the_operators_purge_forgets_only_the_tombstones_older_than_asked(db, app_conn, operator, make_user):
    old, recent = make_user(), make_user()
    for user in (old, recent):
        call(app_conn, user, "select chat.delete_user()")
    backdate_deletion(db, old, 2 * 24 * 60)
    assert operator.execute("select chat.purge_deleted_users('1 day')").fetchone() == (1,)
    assert tombstones(db) == [(recent,)]
    with pytest.raises(errors.InvalidParameterValue) as raised:
        operator.execute("select chat.purge_deleted_users('0 seconds')")
    assert raised.value.diag.column_name == "older_than"
    with pytest.raises(errors.InsufficientPrivilege):
        call(app_conn, recent, "select chat.purge_deleted_users('1 second')")


def test_make_purge_forgets_the_tombstones_no_valid_token_can_predate(operator_url, db, app_conn, make_user):
    old, recent = make_user(), make_user()
    for user in (old, recent):
        call(app_conn, user, "select chat.delete_user()")
    backdate_deletion(db, old, 60)
    env = {**os.environ, "PURGE_DATABASE_URL": operator_url, "OLDER_THAN": "30 days", "JWT_MAX_AGE": "600"}
    result = subprocess.run([str(ROOT / "scripts" / "purge")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "purge: 1 tombstones of accounts deleted more than 600 s ago forgotten" in result.stdout
    assert tombstones(db) == [(recent,)]


# the HTTP API

async def test_after_delete_me_the_old_token_is_refused_and_brings_nothing_back(api, db, token, user_a, user_b,
                                                                               snapshot):
    old = {"Authorization": f"Bearer {token(user_a, email='a@example.com')}"}
    assert (await api.post("/api/chat", json={"message": "remember me"}, headers=old)).status_code == 200
    assert (await api.delete("/api/me", headers=old)).status_code == 204
    after_deletion = snapshot()

    for method, path, body in [("get", "/api/conversations", None), ("post", "/api/conversations", {}),
                               ("post", "/api/chat", {"message": "I am back"}), ("get", "/api/me/export", None),
                               ("delete", "/api/me", None)]:
        response = await api.request(method, path, json=body, headers=old)
        assert response.status_code == 401, (path, response.text)
        assert response.json() == {"detail": ACCOUNT_DELETED}
        assert response.headers["www-authenticate"] == "Bearer"
    streamed = await api.post("/api/chat", json={"message": "streamed"},
                              headers={**old, "Accept": "text/event-stream"})
    assert streamed.status_code == 401
    assert stored_user(db, user_a) is None
    assert snapshot() == after_deletion


async def test_a_token_issued_after_the_deletion_gets_a_new_empty_user(api, db, token, user_a, pg_server, chat_db):
    old = {"Authorization": f"Bearer {token(user_a, iat=int(time.time()) - 1200)}"}
    assert (await api.post("/api/conversations", json={"title": "before"}, headers=old)).status_code == 201
    assert (await api.delete("/api/me", headers=old)).status_code == 204
    backdate_deletion(db, user_a, 10)

    new = {"Authorization": f"Bearer {token(user_a, email='a@example.com')}"}
    listed = await api.get("/api/conversations", headers=new)
    assert listed.status_code == 200 and listed.json() == {"items": [], "next_cursor": None}
    assert stored_user(db, user_a) == ("a@example.com",)
    exported = (await api.get("/api/me/export", headers=new)).json()
    assert (exported["conversations"], exported["tasks"]) == ([], [])
    assert (await api.get("/api/conversations", headers=old)).status_code == 401

    # the auditor sees the same: the user, empty, and one tombstone
    volume = run_audit_script(pg_server, chat_db, AUDIT / "volume.sql")
    assert volume.returncode == 0, volume.stderr
    (line,) = [line for line in volume.stdout.splitlines() if str(user_a) in line]
    assert [cell.strip() for cell in line.split("|")][1:3] == ["0", "0"]
    totals = volume.stdout.split("totals", 1)[1].splitlines()
    header, values = totals[1], totals[3]
    assert dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in values.split("|")]))[
        "deleted_accounts"] == "1"


async def test_the_deletion_holds_on_every_instance(settings, db, token, user_a):
    """An instance that has seen the user (and remembers them as provisioned) refuses the old token too: the
    database decides, in every request, not the instance's memory."""
    old = {"Authorization": f"Bearer {token(user_a)}"}
    instances = [create_app(settings, EchoResponder()) for _ in range(2)]
    async with instances[0].router.lifespan_context(instances[0]), \
            instances[1].router.lifespan_context(instances[1]):
        first, second = (httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")
                         for app in instances)
        async with first, second:
            assert (await second.post("/api/conversations", json={}, headers=old)).status_code == 201
            assert (await first.delete("/api/me", headers=old)).status_code == 204
            for path in ("/api/conversations", "/api/me/export"):
                assert (await second.get(path, headers=old)).status_code == 401
            assert (await second.post("/api/conversations", json={}, headers=old)).status_code == 401
    assert stored_user(db, user_a) is None


@pytest.mark.parametrize("claims, reason", [
    ({"iat": int(time.time()), "exp": int(time.time()) + 2 * 86_400}, "lives longer than JWT_MAX_AGE"),
    ({"iat": None, "exp": int(time.time()) + 2 * 86_400}, "lives longer than JWT_MAX_AGE"),
])
async def test_a_token_that_outlives_the_tombstones_is_refused(api, db, token, user_a, claims, reason):
    """The tombstone is kept JWT_MAX_AGE (a day by default): a token living longer could outlive it."""
    response = await api.get("/api/conversations", headers={"Authorization": f"Bearer {token(user_a, **claims)}"})
    assert response.status_code == 401 and reason in response.json()["detail"]


async def test_a_token_without_iat_counts_from_the_earliest_its_exp_allows(api, db, token, user_a):
    """Without iat, the token may have been issued as early as exp - JWT_MAX_AGE: after a deletion, it is
    refused until that is after the deletion."""
    headers = {"Authorization": f"Bearer {token(user_a, iat=None, exp=int(time.time()) + 600)}"}
    assert (await api.delete("/api/me", headers=headers)).status_code == 204
    assert (await api.get("/api/conversations", headers=headers)).status_code == 401
    assert stored_user(db, user_a) is None

"""Neon, as far as it can be simulated: a server that takes TLS connections
only, with password (SCRAM) authentication; the plan deployed over TLS by a
Neon-shaped owner (no superuser; CREATEROLE and BYPASSRLS) through a Sqitch
target; the service logged in as a role made in SQL, granted chat_app,
connecting with sslmode=verify-full against the server's CA.

docs/neon.md is the procedure this follows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from conftest import ROOT, sqitch_env
from serving import serve

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="openssl makes the certificates")


def openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def certificate_authority(directory: Path, name: str) -> None:
    """A CA of its own: ``name``.crt and ``name``.key in ``directory``."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=directory)


def server_certificate(directory: Path, ca: str) -> None:
    """server.crt and server.key for localhost and 127.0.0.1, signed by ``ca``."""
    (directory / "san.cnf").write_text("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "server.key", "-out", "server.csr", cwd=directory)
    openssl("x509", "-req", "-in", "server.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.cnf", "-out", "server.crt", cwd=directory)


class TlsServer:
    """A private cluster that accepts TLS connections only, with SCRAM passwords."""

    def __init__(self):
        self.scratch = Path(tempfile.mkdtemp(prefix="chat-tls."))
        os.chmod(self.scratch, 0o755)  # as root, the server runs as postgres and must reach it
        self.certs = self.scratch / "certs"
        self.certs.mkdir()
        certificate_authority(self.certs, "ca")
        certificate_authority(self.certs, "stranger")  # a CA the server's certificate is not from
        server_certificate(self.certs, "ca")
        os.chmod(self.certs / "server.key", 0o600)
        if os.geteuid() == 0:
            for path in (self.certs, self.certs / "server.key", self.certs / "server.crt"):
                shutil.chown(path, "postgres")
        self.cluster = self.scratch / "pg"
        exports = self.run_cluster("start", str(self.cluster), "--throwaway",
                                   "--set", "ssl=on",
                                   "--set", f"ssl_cert_file={self.certs / 'server.crt'}",
                                   "--set", f"ssl_key_file={self.certs / 'server.key'}")
        env = dict(item.split("=", 1) for item in exports.split() if "=" in item)
        self.port, self.superuser_password = int(env["PGPORT"]), env["PGPASSWORD"]
        # TLS or nothing: no entry matches a connection without encryption
        hba = self.cluster / "data" / "pg_hba.conf"
        hba.write_text("hostssl all all 127.0.0.1/32 scram-sha-256\n")
        with self.superuser("postgres") as conn:
            conn.execute("select pg_reload_conf()")

    def run_cluster(self, *args: str) -> str:
        result = subprocess.run([str(ROOT / "scripts" / "pg-cluster"), *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def conninfo(self, dbname: str, user: str, password: str, **params: str) -> str:
        return psycopg.conninfo.make_conninfo(host="localhost", port=self.port, dbname=dbname, user=user,
                                              password=password, connect_timeout=5, **params)

    def superuser(self, dbname: str) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(dbname, "postgres", self.superuser_password, sslmode="require"),
                               autocommit=True)

    def remove(self) -> None:
        self.run_cluster("stop", str(self.cluster))
        shutil.rmtree(self.scratch, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_server():
    server = TlsServer()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def neon(tls_server):
    """As on Neon: the owner made in the console (here by the superuser), its database, the plan deployed
    by the owner over TLS through a Sqitch target, and the service's login made by the owner in SQL."""
    owner, owner_password = "neondb_owner", uuid.uuid4().hex
    with tls_server.superuser("postgres") as conn:
        conn.execute(sql.SQL("create role {} login password {} createrole createdb bypassrls").format(
            sql.Identifier(owner), sql.Literal(owner_password)))
        conn.execute(sql.SQL("create database neondb owner {}").format(sql.Identifier(owner)))

    # a target of its own, in a copy of the project: the repository's sqitch.conf stays as it is
    project = Path(tempfile.mkdtemp(prefix="chat-tls-project."))
    for name in ("sqitch.conf", "sqitch.plan"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "db", project / "db")
    target = (f"db:pg://{owner}@localhost:{tls_server.port}/neondb"
              f"?sslmode=verify-full&sslrootcert={tls_server.certs / 'ca.crt'}")
    env = sqitch_env(owner_password)

    def sqitch(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(["sqitch", *args], cwd=project, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    sqitch("target", "add", "neon", target)
    sqitch("deploy", "neon")
    sqitch("verify", "neon")

    service_password = uuid.uuid4().hex
    with psycopg.connect(tls_server.conninfo("neondb", owner, owner_password, sslmode="require"),
                         autocommit=True) as conn:
        conn.execute(sql.SQL("create role chat_service login password {} in role chat_app").format(
            sql.Literal(service_password)))
    yield {"owner": (owner, owner_password), "service_password": service_password, "sqitch": sqitch}
    shutil.rmtree(project, ignore_errors=True)


def test_a_connection_without_tls_is_refused(tls_server, neon):
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(tls_server.conninfo("neondb", "chat_service", neon["service_password"], sslmode="disable"))


def test_verify_full_refuses_a_server_whose_certificate_is_from_another_ca(tls_server, neon):
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(tls_server.conninfo("neondb", "chat_service", neon["service_password"],
                                            sslmode="verify-full", sslrootcert=str(tls_server.certs / "stranger.crt")))


def test_the_deploy_went_over_tls_as_the_owner(tls_server, neon):
    owner, _ = neon["owner"]
    with tls_server.superuser("neondb") as conn:
        owners = conn.execute("select distinct pg_get_userbyid(relowner) from pg_class"
                              " where relnamespace = 'chat'::regnamespace").fetchall()
        deployed = conn.execute("select count(*) from sqitch.changes").fetchone()[0]
    plan = [line for line in (ROOT / "sqitch.plan").read_text().splitlines()
            if line.strip() and not line.startswith(("%", "#", "@"))]
    assert owners == [(owner,)]
    assert deployed == len(plan)


async def test_the_service_runs_over_verify_full_as_a_login_granted_chat_app(tls_server, neon, settings, auth, user_a,
                                                                              user_b):
    url = tls_server.conninfo("neondb", "chat_service", neon["service_password"], sslmode="verify-full",
                              sslrootcert=str(tls_server.certs / "ca.crt"))
    async with serve(settings, database_url=url) as client:
        assert (await client.get("/healthz")).status_code == 200
        created = await client.post("/api/conversations", json={"title": "over TLS"}, headers=auth(user_a))
        assert created.status_code == 201, created.text
        url_messages = f"/api/conversations/{created.json()['id']}/messages"
        appended = await client.post(url_messages, json={"role": "user", "content": "encrypted all the way"},
                                     headers=auth(user_a))
        assert appended.status_code == 201, appended.text
        assert [m["content"] for m in (await client.get(url_messages, headers=auth(user_a))).json()["items"]] == [
            "encrypted all the way"]
        assert (await client.get(url_messages, headers=auth(user_b))).status_code == 404

        with tls_server.superuser("neondb") as conn:
            sessions = conn.execute("""
                select a.usename, s.ssl, r.rolsuper, r.rolbypassrls, pg_has_role(a.usename, 'chat_app', 'member')
                  from pg_stat_activity a join pg_stat_ssl s using (pid) join pg_roles r on r.rolname = a.usename
                 where a.datname = 'neondb' and a.usename = 'chat_service'""").fetchall()
    assert sessions and set(sessions) == {("chat_service", True, False, False, True)}


def test_a_rollback_with_sqitch_revert_to_a_change(tls_server, neon):
    sqitch = neon["sqitch"]
    # a change the plan reworks later is named with a tag: its first instance here
    sqitch("revert", "-y", "--to", "export_user_data@v0.5.0", "neon")
    with tls_server.superuser("neondb") as conn:
        assert conn.execute("select to_regprocedure('chat.purge_inactive(interval, integer)')").fetchone() == (None,)
        assert conn.execute("select to_regprocedure('chat.export_user_data()')").fetchone() != (None,)
    sqitch("deploy", "neon")
    sqitch("verify", "neon")

"""A streaming standby of the test server, as a read replica is: ``scripts/pg-cluster standby``
(``pg_basebackup -R`` of the whole cluster), on a port of its own in hot standby, replaying what
the primary writes.

Every database of the primary is on it, the test's copy included, and so are the roles: the
runtime login reads there as on the primary, under the same policies.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parent.parent


def pg_cluster(*args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run([str(ROOT / "scripts" / "pg-cluster"), *args], check=True, capture_output=True,
                          text=True, env=env).stdout


@dataclass
class Standby:
    port: int
    directory: Path
    superuser: str
    password: str | None
    host: str = "127.0.0.1"

    def conninfo(self, dbname: str, user: str | None = None, password: str | None = None) -> str:
        return make_conninfo(host=self.host, port=self.port, dbname=dbname, user=user or self.superuser,
                             password=password or self.password or "")

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(dbname, **kwargs), autocommit=True)

    def start(self) -> None:
        pg_cluster("start", str(self.directory))

    def stop(self) -> None:
        pg_cluster("stop", str(self.directory))

    def caught_up(self, primary: psycopg.Connection, timeout: float = 30.0) -> None:
        """Waits until the standby has replayed everything the primary had written when this was called.

        A throw-away server commits without waiting for its WAL (synchronous_commit off), and a standby
        receives only WAL that is flushed: one commit that waits flushes all that came before it."""
        with primary.transaction():
            primary.execute("set local synchronous_commit = on")
            primary.execute("select pg_current_xact_id()")  # a transaction id, so that it commits a record
        (target,) = primary.execute("select pg_current_wal_flush_lsn()").fetchone()
        deadline = time.monotonic() + timeout
        with self.connect() as conn:
            while not conn.execute("select pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0]:
                assert time.monotonic() < deadline, f"the standby did not replay up to {target} in {timeout:g} s"
                time.sleep(0.02)

    def pause_replay(self) -> None:
        with self.connect() as conn:
            conn.execute("select pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with self.connect() as conn:
            conn.execute("select pg_wal_replay_resume()")

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory.parent, ignore_errors=True)  # the temporary directory it was made in


def start(host: str, port: int, superuser: str, password: str | None) -> Standby:
    """A standby of the server at ``host:port``, streaming from it as ``superuser``, started and in recovery."""
    directory = Path(tempfile.mkdtemp(prefix="chat-standby-"))
    directory.chmod(0o755)  # as root, the server runs as postgres and must reach it
    printed = pg_cluster("standby", str(directory / "pg"), env={
        **os.environ, "PGHOST": host, "PGPORT": str(port), "PGUSER": superuser, "PGPASSWORD": password or ""})
    standby = Standby(int(re.search(r"PGPORT=(\d+)", printed).group(1)), directory / "pg", superuser, password)
    with standby.connect() as conn:
        assert conn.execute("select pg_is_in_recovery()").fetchone()[0], "the standby is not in recovery"
    return standby

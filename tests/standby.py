"""A streaming standby of the test server, as a read replica is: ``pg_basebackup -R`` of the
whole cluster, started on a port of its own in hot standby, replaying what the primary writes.

Every database of the primary is on it, the test's copy included, and so are the roles: the
runtime login reads there as on the primary, under the same policies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from pooler import free_port


def bindir() -> Path:
    """The server's binaries (Debian's /usr/bin holds wrappers of them that want a cluster of its own)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_basebackup"), key=lambda p: int(p.parts[-3]))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_basebackup")
    assert found, "the PostgreSQL server binaries are needed (make test installs them)"
    return Path(found).parent


def as_owner(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Runs ``command`` as the owner of the standby's files: postgres when the suite runs as root."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)


@dataclass
class Standby:
    port: int
    directory: Path
    superuser: str
    password: str | None
    host: str = "127.0.0.1"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def conninfo(self, dbname: str, user: str | None = None, password: str | None = None) -> str:
        return make_conninfo(host=self.host, port=self.port, dbname=dbname, user=user or self.superuser,
                             password=password or self.password or "")

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(dbname, **kwargs), autocommit=True)

    def start(self) -> None:
        as_owner([str(bindir() / "pg_ctl"), "--pgdata", str(self.data), "--log", str(self.directory / "server.log"),
                  "--wait", "--silent", "start"])

    def stop(self) -> None:
        as_owner([str(bindir() / "pg_ctl"), "--pgdata", str(self.data), "--mode=fast", "--wait", "--silent", "stop"])

    def caught_up(self, primary: psycopg.Connection, timeout: float = 30.0) -> None:
        """Waits until the standby has replayed everything the primary had written when this was called."""
        (target,) = primary.execute("select pg_current_wal_lsn()").fetchone()
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
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)


def start(host: str, port: int, superuser: str, password: str | None) -> Standby:
    """A standby of the server at ``host:port``, streaming from it as ``superuser``, started and in recovery."""
    directory = Path(tempfile.mkdtemp(prefix="chat-standby-"))
    directory.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    standby = Standby(free_port(), directory, superuser, password)
    as_owner([str(bindir() / "pg_basebackup"), "--host", host, "--port", str(port), "--username", superuser,
              "--pgdata", str(standby.data), "--write-recovery-conf", "--wal-method=stream", "--checkpoint=fast",
              "--no-password"], env={**os.environ, "PGPASSWORD": password or ""})
    # its own port; the rest of the primary's configuration (a throw-away server's included) it keeps
    as_owner(["sh", "-c", f"echo 'port = {standby.port}' >> '{standby.data}/postgresql.auto.conf'"])
    standby.start()
    with standby.connect() as conn:
        assert conn.execute("select pg_is_in_recovery()").fetchone()[0], "the standby is not in recovery"
    return standby

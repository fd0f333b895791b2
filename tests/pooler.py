"""PgBouncer in transaction mode in front of the test server, as Neon's pooled
endpoint is: every transaction of a client may run on a different server
connection, and a server connection serves many clients in turn.

Protocol-level prepared statements do not survive that (PgBouncer 1.18), so
clients through it run with ``prepare_threshold=None``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import make_conninfo

from ports import free_port


def executable() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")
    assert found, "pgbouncer is needed: make test installs it"
    return found


@dataclass
class PgBouncer:
    """A running PgBouncer; ``conninfo`` reaches a database of the server through it."""

    port: int
    directory: Path
    process: subprocess.Popen
    host: str = "127.0.0.1"

    def conninfo(self, dbname: str, user: str, password: str) -> str:
        return make_conninfo(host=self.host, port=self.port, dbname=dbname, user=user, password=password)

    def log(self) -> str:
        return (self.directory / "pgbouncer.log").read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def start(server_host: str, server_port: int, logins: dict[str, str], pool_size: int) -> PgBouncer:
    """PgBouncer on a free loopback port, in transaction mode, with at most ``pool_size`` server
    connections per database and user; ``logins`` maps each login it accepts to its password."""
    directory = Path(tempfile.mkdtemp(prefix="chat-pgbouncer."))
    port = free_port()
    users = "".join(f'"{login}" "{password}"\n' for login, password in logins.items())
    (directory / "userlist.txt").write_text(users)
    (directory / "pgbouncer.ini").write_text(f"""\
[databases]
; every database of the test server, each test its own
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {directory}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 1000
logfile = {directory}/pgbouncer.log
pidfile = {directory}/pgbouncer.pid
""")
    command = [executable(), str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        shutil.chown(directory, "postgres")
        for path in directory.iterdir():
            shutil.chown(path, "postgres")
        os.chmod(directory / "userlist.txt", 0o600)
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    bouncer = PgBouncer(port, directory, process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {process.stderr.read().decode(errors='replace')}\n{bouncer.log()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return bouncer
        except OSError:
            time.sleep(0.05)
    bouncer.stop()
    raise RuntimeError("pgbouncer did not start listening")

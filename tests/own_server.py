"""A PostgreSQL of a test's own, with the plan deployed and the runtime login, that the test may stop and start
(a database restart under a running service)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

from conftest import ROOT, run_sqitch


class OwnServer:
    """A private cluster with the plan deployed and the runtime login, that a test may stop and start."""

    def __init__(self, password: str):
        self.scratch = Path(tempfile.mkdtemp(prefix="chat-restart."))
        os.chmod(self.scratch, 0o755)  # as root, the server runs as postgres and must reach it
        self.directory = self.scratch / "pg"
        self.password = password
        self.env = self.start()
        self.host, self.port = self.env["PGHOST"], int(self.env["PGPORT"])
        superuser = dict(host=self.host, port=self.port, user="postgres", password=self.env["PGPASSWORD"])
        with psycopg.connect(dbname="postgres", autocommit=True, **superuser) as conn:
            conn.execute("create database chat")
        run_sqitch("deploy", dbname="chat", **superuser)
        with psycopg.connect(dbname="chat", autocommit=True, **superuser) as conn:
            conn.execute(sql.SQL("create role chat_test_app login password {}").format(sql.Literal(password)))
            conn.execute("grant chat_app to chat_test_app")
        self.superuser = superuser

    def cluster(self, *args: str) -> str:
        result = subprocess.run([str(ROOT / "scripts" / "pg-cluster"), *args], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self) -> dict[str, str]:
        exports = self.cluster("start", str(self.directory), "--throwaway").split()
        return dict(item.split("=", 1) for item in exports if "=" in item)

    def stop(self) -> None:
        self.cluster("stop", str(self.directory))

    def runtime_url(self) -> str:
        return f"postgresql://chat_test_app:{self.password}@{self.host}:{self.port}/chat?connect_timeout=2"

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)

"""The Sqitch plan as the tests read it: its changes in order (a reworked
change's earlier instances too, named by their tag), each change's scripts and
id, how deploy --to and revert --to name a change, and its scripts run by psql
as Sqitch runs them, where a test needs the scripts and not the registry."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from conftest import ROOT, sqitch_env
from stored_data import query


@dataclass(frozen=True)
class Change:
    """One change of the plan as Sqitch names it: a reworked change's earlier instance by the last tag before its next
    instance (``purge_inactive@v0.1.0``, whose scripts are ``purge_inactive@v0.1.0.sql``), the latest by its name."""

    name: str
    tag: str | None = None

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.tag}" if self.tag else self.name

    def script(self, kind: str) -> Path:
        return ROOT / "db" / kind / f"{self.spec}.sql"

    def __str__(self) -> str:
        return self.spec


def read_plan() -> list[Change]:
    entries = [line.split()[0] for line in (ROOT / "sqitch.plan").read_text().splitlines()
               if line.strip() and not line.startswith(("%", "#"))]
    changes = []
    for n, entry in enumerate(entries):
        if entry.startswith("@"):
            continue
        # Sqitch names a reworked instance's scripts by the last tag before the next instance
        later = entries[n + 1:]
        tag = [e for e in later[:later.index(entry)] if e.startswith("@")][-1][1:] if entry in later else None
        changes.append(Change(entry, tag))
    return changes


PLAN = read_plan()


@functools.cache
def change_ids() -> dict[Change, str]:
    """Each change's id, as Sqitch computes it from the plan."""
    listed = subprocess.run([shutil.which("sqitch"), "plan", "--no-headers", "--format", "format:%H %n"], cwd=ROOT,
                            env=sqitch_env(None), capture_output=True, text=True, check=True).stdout.split()
    ids = listed[0::2]
    assert listed[1::2] == [c.name for c in PLAN]
    return dict(zip(PLAN, ids, strict=True))


def sqitch_spec(change: Change) -> str:
    """How deploy --to and revert --to name the change: the latest instance of a reworked one as @HEAD, an
    earlier one by its id (its name@tag resolves only once the tag is deployed, and the tag may come later)."""
    if change.tag:
        return change_ids()[change]
    return change.spec if [c.name for c in PLAN].count(change.name) == 1 else f"{change.name}@HEAD"


SABOTAGED = "(sabotaged)"


def run_scripts(conninfo: str, *scripts: Path, first: str | None = None) -> subprocess.CompletedProcess:
    """The scripts run by psql as Sqitch runs them (no psqlrc, ON_ERROR_STOP, each its own transaction as it
    says), without touching Sqitch's registry and without Sqitch's start-up, a second or so per call. With
    ``first``, that statement runs before them in a transaction the first script joins (its rollback, or the
    failure that ends the session, undoes both), and once it succeeded stdout holds SABOTAGED, so that a caller
    tells a script failing after it from the statement itself failing."""
    command = [shutil.which("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    if first is not None:
        command += ["-c", "begin", "-c", first, "-c", f"\\echo {SABOTAGED}"]
    for script in scripts:
        command += ["-f", str(script)]
    return subprocess.run([*command, conninfo], capture_output=True, text=True,
                          env={**os.environ, "PGOPTIONS": "-c client_min_messages=error"})


def schema_dump(pg_server, dbname) -> str:
    """The chat schemas (the API and its helpers) as pg_dump sees them: tables, functions, policies, grants,
    comments."""
    if query(pg_server, dbname, "select count(*) from pg_namespace where nspname = 'chat'") == [(0,)]:
        return ""
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to compare schemas"
    result = subprocess.run(
        [pg_dump, "--schema-only", "--schema=chat", "--schema=chat_private", "--no-owner",
         pg_server.conninfo(dbname)],
        capture_output=True, text=True, check=True,
    )
    # pg_dump brackets its output with \restrict/\unrestrict and a random key
    return "\n".join(line for line in result.stdout.splitlines()
                     if not line.startswith(("\\restrict", "\\unrestrict")))

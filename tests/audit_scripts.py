"""The audit scripts of db/audit, run with psql as the suite's auditor login
(``chat_test_auditor``, granted chat_auditor), as an auditor runs them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from conftest import ROOT

AUDIT = ROOT / "db" / "audit"
INTEGRITY = AUDIT / "integrity.sql"


def auditor_url(pg_server, dbname) -> str:
    return pg_server.conninfo(dbname, user="chat_test_auditor", password=pg_server.test_password)


def run_audit_script(pg_server, dbname, script: Path, *variables: str) -> subprocess.CompletedProcess:
    """``psql -f script`` as the auditor, each of ``variables`` (``name=value``) set with ``-v``."""
    psql = shutil.which("psql")
    assert psql, "psql is needed for the audit scripts"
    options = [option for variable in variables for option in ("-v", variable)]
    return subprocess.run([psql, "-X", "-v", "ON_ERROR_STOP=1", *options, "-f", str(script),
                           auditor_url(pg_server, dbname)], capture_output=True, text=True)


def run_integrity(pg_server, dbname) -> subprocess.CompletedProcess:
    """The integrity check: exits 0 on sound data, non-zero naming each problem."""
    return run_audit_script(pg_server, dbname, INTEGRITY)

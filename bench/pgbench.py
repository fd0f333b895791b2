"""PostgreSQL's own limit: the same transactions as the Python layer sends,
driven by pgbench (C, prepared statements, one pipeline per transaction, so
one implicit transaction per operation exactly like ``app.store``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from app.transport import ACT_AS
from bench.workloads import CLIENTS, CONTENT, Result

# prepared statements: the server's best case (the service prepares none by default; bench.prepared
# measures what they would be worth to it)
MODE = "prepared"


def pgbench_binary() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    if not candidates:
        raise RuntimeError("pgbench not found (Debian: postgresql server package)")
    return str(candidates[-1])


def _pipeline(call: str) -> str:
    """One operation as app.store sends it for a user it has provisioned: act as the user, call; one Sync."""
    act_as = ACT_AS.replace("%s", "bench.user_uuid(:u)::text", 1).replace("%s", "'5000'", 1)
    return "\n".join([r"\startpipeline", act_as + ";", call + ";", r"\endpipeline"]) + "\n"


def append_script(users: int, *, first_user: int = 3, conversations: int = 100) -> str:
    """One append to a random conversation (1 to ``conversations``) of a random user (``first_user`` to
    ``users``)."""
    content = CONTENT.replace("'", "''")
    return (f"\\set u random({first_user}, {max(first_user, users)})\n\\set c random(1, {conversations})\n"
            + _pipeline(f"select * from chat.append_message(bench.conversation_uuid(:u, :c), 'user', "
                        f"'{content}', '{{}}', null)"))


def recent_script() -> str:
    return "\\set u 1\n" + _pipeline("select * from chat.fetch_recent(bench.conversation_uuid(1, 0), 50)")


def run(script: str, *, name: str, workload: str, size: int, conninfo: dict, seconds: float,
        clients: int = CLIENTS) -> Result:
    """Runs the script for ``seconds`` with ``clients`` connections; every transaction's latency kept."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "script.sql"
        path.write_text(script)
        env = {**os.environ, "PGPASSWORD": conninfo["password"]}
        command = [pgbench_binary(), "-n", "-M", MODE, "-c", str(clients), "-j", str(min(clients, 2)),
                   "-T", str(max(1, round(seconds))), "-f", str(path), "-l", "--log-prefix", f"{scratch}/log",
                   "-h", conninfo["host"], "-p", str(conninfo["port"]), "-U", conninfo["user"], conninfo["dbname"]]
        result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=scratch)
        if result.returncode != 0:
            raise RuntimeError(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
        latencies = []
        for log in Path(scratch).glob("log.*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                latencies.append(int(fields[2]) / 1000)  # microseconds
        # pgbench's own throughput, without connection set-up: "tps = 1234.5 (without initial connection time)"
        tps = float(next(line.split("=")[1].split()[0] for line in result.stdout.splitlines()
                         if line.startswith("tps =")))
    return Result(name, workload, size, len(latencies) / tps, latencies)

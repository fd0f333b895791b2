"""`make run`, as a developer uses it: it starts a local database and the
service, prints a token that works, stops everything on Ctrl-C, and keeps the
data for the next run. Beside it, the commands a new user meets in the first
hour: a second `make run`, `make token`, `make psql`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from conftest import ROOT
from ports import free_port
from tokens import bearer

STARTUP_SECONDS = 180


def local_env(local_dir: Path, pg_port: int, **extra: str) -> dict[str, str]:
    """The environment of a developer's shell with nothing of ours set (no database, key or responder), and not
    inside a make (under `make test`, a nested make would announce its directory around the output)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PG", "JWT_", "OPENAI_", "AGENT_"))
           and k not in ("DATABASE_URL", "RESPONDER", "TOKEN", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    env.update(LOCAL_DIR=str(local_dir), LOCAL_PG_PORT=str(pg_port), **extra)
    return env


def database_running(local_dir: Path) -> bool:
    return (local_dir / "pg" / "data" / "postmaster.pid").exists()


class MakeRun:
    """``make run`` in its own process group, its output written to a file as it comes (stdout and stderr
    together, as ``make run > run.log 2>&1`` writes them)."""

    def __init__(self, local_dir: Path, pg_port: int, api_port: int, **extra_env: str):
        env = local_env(local_dir, pg_port, API_PORT=str(api_port), **extra_env)
        self.base = f"http://127.0.0.1:{api_port}"
        self.log = Path(tempfile.mkstemp(prefix="make-run-", suffix=".log", dir=local_dir)[1])
        with self.log.open("w") as log:
            self.process = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, text=True,
                                            start_new_session=True)

    @property
    def text(self) -> str:
        return self.log.read_text()

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def wait_until_serving(self) -> str:
        """The printed token, once /healthz answers 200."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.text
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("make run did not serve in time:\n" + self.text)
        match = re.search(r"export TOKEN=(\S+)", self.text)
        assert match, self.text
        return match.group(1)

    def finish(self) -> int:
        """The exit status of a run that ends by itself."""
        return self.process.wait(timeout=STARTUP_SECONDS)

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal sends it: SIGINT to the whole process group; then waits for the script
        behind make (make may die first), which has said its last line when its process group is empty."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        status = self.process.wait(timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        return status


@pytest.fixture
def local_dir():
    # as root, the database runs as postgres and must reach it: not under pytest's private tmp
    path = Path(tempfile.mkdtemp(prefix="chat-make-run-"))
    path.chmod(0o755)
    yield path
    subprocess.run([ROOT / "scripts" / "pg-cluster", "stop", path / "pg"], check=False)
    shutil.rmtree(path, ignore_errors=True)


def readme_token_commands() -> list[str]:
    """The lines of README.md's shell examples that make a token, as a reader would copy them."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^ *```sh\n(.*?)^ *```", readme, re.MULTILINE | re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines()
            if re.search(r"\bmake token\b|-m app\.devtoken\b", line)]


def test_make_run_serves_stops_on_ctrl_c_and_keeps_the_data(local_dir):
    pg_port, api_port = free_port(), free_port()

    first = MakeRun(local_dir, pg_port, api_port)
    try:
        token = first.wait_until_serving()
        headers = bearer(token)
        turn = httpx.post(f"{first.base}/api/chat", json={"message": "What is due on Friday?"},
                          headers=headers, timeout=10)
        assert turn.status_code == 200, turn.text
        assert httpx.get(f"{first.base}/api/conversations", timeout=10).status_code == 401
        # the streamed turn, as the printed curl -N line asks for it
        line = next(line for line in first.lines if "curl -N" in line)
        assert "text/event-stream" in line
        streamed = subprocess.run(
            ["curl", "-sN", "--max-time", "20", "-H", f"Authorization: Bearer {token}",
             "-H", "content-type: application/json", "-H", "Accept: text/event-stream",
             "-d", '{"message": "Stream the answer"}', f"{first.base}/api/chat"],
            capture_output=True, text=True, timeout=30, check=True).stdout
        events = [line.removeprefix("event: ").strip() for line in streamed.splitlines()
                  if line.startswith("event: ")]
        assert events[0] == "user_message" and events[-1] == "assistant_message", streamed
        assert events.count("delta") == 5, streamed  # "You ", "said: ", "Stream ", …: the echo, word by word
        streamed_conversation = json.loads(next(line for line in streamed.splitlines()
                                                if line.startswith("data: ")).removeprefix("data: "))["conversation_id"]
    finally:
        status = first.interrupt()
    # interrupted: make dies of the SIGINT (or reports it as 2), the script exits 130
    assert status in (0, 2, 130, -signal.SIGINT), first.text
    assert not database_running(local_dir), "the database was left running"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{first.base}/healthz", timeout=2)

    # written to a file, the output comes in order: the set-up, the banner, the service's log, the stop
    lines = [line for line in first.lines if not line.startswith("make: ")]  # make's own Interrupt line
    setup = [i for i, line in enumerate(lines) if line.startswith("run: ") and "stopping" not in line]
    banner = lines.index(next(line for line in lines if line.startswith("The service: ")))
    assert setup and max(setup) < banner, first.text
    assert any("PostgreSQL" in lines[i] for i in setup) and any("sqitch deploy" in lines[i] for i in setup)
    assert lines[-1].startswith("run: stopping the local database"), first.text

    # what it printed holds no password (nor the token key): they stay in their files under LOCAL_DIR
    secrets = {path.name: path.read_text() for path in local_dir.iterdir()
               if path.is_file() and path.suffix in (".password", ".secret")}
    assert {"chat_owner.password", "chat_api.password", "jwt.secret"} <= secrets.keys()
    printed = first.text
    assert [name for name, value in secrets.items() if value in printed] == []
    assert "sqitch deploy db:pg://chat_owner@" in printed

    second = MakeRun(local_dir, pg_port, api_port)
    try:
        token_again = second.wait_until_serving()
        listed = httpx.get(f"{second.base}/api/conversations", headers=bearer(token_again), timeout=10)
        assert listed.status_code == 200
        assert [c["id"] for c in listed.json()["items"]] == [streamed_conversation, turn.json()["conversation_id"]]

        # the README's token commands, run as written: each prints a token the running service accepts
        commands = readme_token_commands()
        assert any("make token" in command for command in commands), commands
        assert any(command.startswith(".venv/bin/python -m app.devtoken") for command in commands), commands
        for command in commands:
            made = subprocess.run(["bash", "-c", f'{command}\n[[ -z ${{TOKEN:-}} ]] || echo "$TOKEN"'], cwd=ROOT,
                                  env=local_env(local_dir, pg_port), capture_output=True, text=True, timeout=60)
            assert made.returncode == 0, (command, made.stdout, made.stderr)
            (printed_token,) = made.stdout.split()
            mine = httpx.get(f"{second.base}/api/conversations", headers=bearer(printed_token), timeout=10)
            assert mine.status_code == 200, (command, mine.text)
            if "USER_ID=" not in command and "app.devtoken " not in command:
                # the development user's own token: the conversations above are theirs
                assert len(mine.json()["items"]) == 2, command
    finally:
        second.interrupt()


def test_the_service_runs_on_uvloop_and_httptools():
    """uvicorn takes its event loop and HTTP parser from them when they are installed (``--loop auto``, ``--http
    auto``, as ``make run`` and the docs start it): they are the service's dependencies."""
    from uvicorn.loops.auto import auto_loop_factory
    from uvicorn.protocols.http.auto import AutoHTTPProtocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    import uvloop

    loop = auto_loop_factory()()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    assert AutoHTTPProtocol is HttpToolsProtocol


def test_devtoken_refuses_what_is_not_a_uuid_in_one_line(local_dir):
    made = subprocess.run([".venv/bin/python", "-m", "app.devtoken", "not-a-uuid"], cwd=ROOT,
                          env=local_env(local_dir, free_port()), capture_output=True, text=True, timeout=60)
    assert made.returncode == 2
    assert made.stdout == ""
    assert len(made.stderr.splitlines()) == 1 and "not-a-uuid" in made.stderr, made.stderr


@pytest.mark.parametrize(("responder", "why"), [
    ("app.agent:AgentResponder", "OPENAI_API_KEY is not set"),
    ("app.nowhere:Responder", "cannot find it"),
])
def test_a_responder_that_cannot_start_is_one_line_and_nothing_started(local_dir, responder, why):
    run = MakeRun(local_dir, free_port(), free_port(), RESPONDER=responder)
    assert run.finish() != 0
    # make's own lines aside (the commands it runs, its Error trailer), one line: what is wrong
    lines = [line for line in run.lines if not line.startswith(("make: ", "make[", "scripts/"))]
    assert len(lines) == 1, run.text
    assert lines[0].startswith(f"run: cannot start: RESPONDER={responder}") and why in lines[0], run.text
    assert "Traceback" not in run.text and "TOKEN" not in run.text and "curl" not in run.text
    assert not (local_dir / "pg").exists(), "it started the database"


def test_make_runs_side_by_side_stop_only_the_database_they_started(local_dir):
    pg_port = free_port()
    # two starts racing on a new LOCAL_DIR: neither fails because the other started the server first
    runs = [MakeRun(local_dir, pg_port, free_port()), MakeRun(local_dir, pg_port, free_port())]
    late = None
    try:
        tokens = {run: run.wait_until_serving() for run in runs}
        started = [run for run in runs if "run: PostgreSQL started" in run.text]
        assert len(started) == 1, [run.text for run in runs]
        starter, joiner = started[0], next(run for run in runs if run is not started[0])

        turn = httpx.post(f"{starter.base}/api/chat", json={"message": "Remember this"},
                          headers=bearer(tokens[starter]), timeout=10)
        assert turn.status_code == 200, turn.text
        conversation = turn.json()["conversation_id"]

        def serving(run: MakeRun, token: str) -> None:
            assert httpx.get(f"{run.base}/healthz", timeout=5).status_code == 200, run.text
            messages = httpx.get(f"{run.base}/api/conversations/{conversation}/messages", headers=bearer(token),
                                 timeout=10)
            assert messages.status_code == 200, messages.text
            assert [m["content"] for m in messages.json()["items"]] == ["Remember this", "You said: Remember this"]

        # a second make run that cannot start: it fails before it touches the database
        failed = MakeRun(local_dir, pg_port, free_port(), RESPONDER="app.agent:AgentResponder")
        assert failed.finish() != 0
        serving(starter, tokens[starter])
        # one that fails after it has joined the database: the API port is the starter's
        clash = MakeRun(local_dir, pg_port, int(starter.base.rsplit(":", 1)[1]))
        assert clash.finish() != 0
        assert "address already in use" in clash.text, clash.text
        assert "stopping" not in clash.text
        serving(starter, tokens[starter])
        serving(joiner, tokens[joiner])

        # Ctrl-C on a run that joined: the starter serves on
        joiner.interrupt()
        assert "stopping" not in joiner.text, joiner.text
        serving(starter, tokens[starter])

        # the starter's Ctrl-C while another run's pool is connected: the database stays, and it says so
        late = MakeRun(local_dir, pg_port, free_port())
        late_token = late.wait_until_serving()
        starter.interrupt()
        last = [line for line in starter.lines if not line.startswith("make: ")][-1]
        assert "stopping" not in starter.text and re.match(r"run: leaving the local database running", last), \
            starter.text
        serving(late, late_token)
    finally:
        for run in [*runs, late]:
            if run is not None:
                run.interrupt()


def connect_superuser(local_dir: Path, deadline: float) -> psycopg.Connection:
    """A connection as the local database's superuser, once the server (maybe starting) accepts one."""
    while True:
        found = subprocess.run([ROOT / "scripts" / "pg-cluster", "env", local_dir / "pg"], capture_output=True,
                               text=True)
        if found.returncode == 0:
            env = dict(item.split("=", 1) for item in found.stdout.split() if "=" in item)
            try:
                return psycopg.connect(make_conninfo(host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"],
                                                     password=env["PGPASSWORD"], dbname="postgres"),
                                       autocommit=True)
            except psycopg.OperationalError:
                pass
        assert time.monotonic() < deadline, "the database did not start"
        time.sleep(0.1)


def make_psql(local_dir: Path, pg_port: int, *args: str, sql: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(["make", "psql", *args], cwd=ROOT, env=local_env(local_dir, pg_port), input=sql,
                          capture_output=True, text=True, timeout=STARTUP_SECONDS)


def test_make_psql_starts_the_database_when_needed_and_stops_only_what_it_started(local_dir):
    pg_port = free_port()
    # stopped (here: not made yet): started, deployed, and stopped again after
    result = make_psql(local_dir, pg_port, sql="select count(*) from chat.messages;\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["0", "(1", "row)"], result.stdout
    assert not database_running(local_dir)
    # a query as an argument
    result = make_psql(local_dir, pg_port, "ARGS=-A -t -c 'select current_user'")
    assert (result.returncode, result.stdout) == (0, "postgres\n"), result.stderr
    assert not database_running(local_dir)

    # started by make psql, with another client connected when it ends: left running, and it says so
    psql = subprocess.Popen(["make", "psql"], cwd=ROOT, env=local_env(local_dir, pg_port), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with connect_superuser(local_dir, time.monotonic() + STARTUP_SECONDS):
        out, err = psql.communicate("select 1;\n", timeout=60)
        assert psql.returncode == 0, err
        assert err.splitlines()[-1] == ("psql: leaving the local database running: 1 other client connected "
                                        "(make db-stop stops it)"), err
        assert database_running(local_dir)
    subprocess.run([ROOT / "scripts" / "pg-cluster", "stop", local_dir / "pg"], check=True)

    # running already: left running
    subprocess.run([ROOT / "scripts" / "pg-cluster", "start", local_dir / "pg"], check=True, capture_output=True)
    result = make_psql(local_dir, pg_port, sql="select 1;\n")
    assert result.returncode == 0, result.stderr
    assert database_running(local_dir)

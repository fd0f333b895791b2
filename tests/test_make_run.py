"""`make run`, as a developer uses it: it starts a local database and the
service, prints a token that works, stops everything on Ctrl-C, and keeps the
data for the next run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT

STARTUP_SECONDS = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MakeRun:
    """``make run`` in its own process group, its output collected as it comes."""

    def __init__(self, local_dir: Path, pg_port: int, api_port: int):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PG", "JWT_")) and k != "DATABASE_URL"}
        env.update(LOCAL_DIR=str(local_dir), LOCAL_PG_PORT=str(pg_port), API_PORT=str(api_port))
        self.base = f"http://127.0.0.1:{api_port}"
        self.output: list[str] = []
        self.process = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        threading.Thread(target=lambda: self.output.extend(self.process.stdout), daemon=True).start()

    def wait_until_serving(self) -> str:
        """The printed token, once /healthz answers 200."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "".join(self.output)
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("make run did not serve in time:\n" + "".join(self.output))
        match = re.search(r"export TOKEN=(\S+)", "".join(self.output))
        assert match, "".join(self.output)
        return match.group(1)

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal sends it: SIGINT to the whole process group."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)


@pytest.fixture
def local_dir():
    # as root, the database runs as postgres and must reach it: not under pytest's private tmp
    path = Path(tempfile.mkdtemp(prefix="chat-make-run-"))
    path.chmod(0o755)
    yield path
    subprocess.run([ROOT / "scripts" / "pg-cluster", "stop", path / "pg"], check=False)
    shutil.rmtree(path, ignore_errors=True)


def test_make_run_serves_stops_on_ctrl_c_and_keeps_the_data(local_dir):
    pg_port, api_port = free_port(), free_port()

    first = MakeRun(local_dir, pg_port, api_port)
    try:
        token = first.wait_until_serving()
        headers = {"Authorization": f"Bearer {token}"}
        turn = httpx.post(f"{first.base}/api/chat", json={"message": "What is due on Friday?"},
                          headers=headers, timeout=10)
        assert turn.status_code == 200, turn.text
        assert httpx.get(f"{first.base}/api/conversations", timeout=10).status_code == 401
        # the streamed turn, as the printed curl -N line asks for it
        line = next(line for line in first.output if "curl -N" in line)
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
    assert status in (0, 2, 130, -signal.SIGINT), "".join(first.output)
    # make may die first; the script behind it still stops the database
    postmaster = local_dir / "pg" / "data" / "postmaster.pid"
    deadline = time.monotonic() + 60
    while postmaster.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not postmaster.exists(), "the database was left running"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{first.base}/healthz", timeout=2)

    # what it printed holds no password (nor the token key): they stay in their files under LOCAL_DIR
    secrets = {path.name: path.read_text() for path in local_dir.iterdir()
               if path.is_file() and path.suffix in (".password", ".secret")}
    assert {"chat_owner.password", "chat_api.password", "jwt.secret"} <= secrets.keys()
    printed = "".join(first.output)
    assert [name for name, value in secrets.items() if value in printed] == []
    assert "sqitch deploy db:pg://chat_owner@" in printed

    second = MakeRun(local_dir, pg_port, api_port)
    try:
        token_again = second.wait_until_serving()
        listed = httpx.get(f"{second.base}/api/conversations",
                           headers={"Authorization": f"Bearer {token_again}"}, timeout=10)
        assert listed.status_code == 200
        assert [c["id"] for c in listed.json()["items"]] == [streamed_conversation, turn.json()["conversation_id"]]
    finally:
        second.interrupt()

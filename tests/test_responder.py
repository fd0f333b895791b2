"""RESPONDER=module:attribute names the chat turn's responder, as uvicorn names an app: a class or a factory
called with no argument, whose product has ``async def reply(history)``. The echo by default; anything else
that cannot be made stops the startup with one line that names RESPONDER."""

from __future__ import annotations

import subprocess

import pytest

from app.main import create_app
from app.settings import Settings
from conftest import ROOT
from ports import free_port
from serving import UNREACHABLE_DATABASE, client_of, service_env, uvicorn_command


async def reply_through(settings, auth, user, **changes) -> str:
    """The assistant's reply to one chat turn of a service started with ``changes``."""
    service = create_app(settings.model_copy(update=changes))
    async with service.router.lifespan_context(service), client_of(service) as client:
        response = await client.post("/api/chat", json={"message": "add milk"}, headers=auth(user))
    assert response.status_code == 200, response.text
    return response.json()["assistant_message"]["content"]


@pytest.mark.parametrize(("spec", "reply"), [
    ("app.chat:EchoResponder", "You said: add milk"),
    ("responders:Shouting", "ADD MILK"),
    ("responders:make_shouting", "ADD MILK"),
])
async def test_the_responder_is_the_one_responder_names(settings, auth, user_a, spec, reply):
    assert await reply_through(settings, auth, user_a, responder=spec) == reply


def test_the_echo_is_the_default(monkeypatch):
    monkeypatch.delenv("RESPONDER", raising=False)
    assert Settings(jwt_secret="q" * 32).responder == "app.chat:EchoResponder"


REFUSED = {
    "no colon": ("app.chat", "module:attribute"),
    "no such module": ("responders_missing:Shouting", "cannot find it"),
    "no such attribute": ("responders:Whispering", "cannot find it"),
    "not callable": ("app.chat:HISTORY", "not a class or a factory"),
    "reply not async": ("responders:Blocking", "no async def reply"),
    "cannot be made": ("responders:Broken", "no model configured"),
}


@pytest.mark.parametrize(("spec", "said"), REFUSED.values(), ids=REFUSED.keys())
def test_a_responder_that_cannot_be_made_stops_the_startup_naming_responder(spec, said):
    env = service_env(DATABASE_URL=UNREACHABLE_DATABASE.format(port=free_port()), JWT_SECRET="q" * 32,
                      RESPONDER=spec, PYTHONPATH=str(ROOT / "tests"))
    result = subprocess.run(uvicorn_command(free_port()), cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    reason = next((line for line in output.splitlines() if line.startswith("cannot start: ")), None)
    assert reason is not None and "RESPONDER" in reason and said in reason, output

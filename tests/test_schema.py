"""The service against its own OpenAPI schema, with schemathesis: requests
generated from the schema (valid ones and invalid ones) reach a running
service over HTTP, logged in as a provisioned user who owns a conversation,
and every answer must be one the schema documents, shaped as it says, and
never a server error.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from schemathesis import checks
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from app.chat import EchoResponder
from app.main import create_app
from as_user import call
from serving import over_http

# Left out, and why: Starlette answers a method no route of a path takes with 405 and an Allow header naming the
# methods of one route of that path only (a framework limit); and a schema-valid request may still be refused
# for what no schema can say (a well-formed cursor that no page issued is a 422).
NOT_CHECKED = [checks.allow_header_conformance, checks.positive_data_acceptance]

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "40"))


@pytest.fixture
def live(settings):
    """The service on a free loopback port, served by uvicorn in a thread of this process."""
    with over_http(create_app(settings, EchoResponder())) as base:
        yield base


# The schema as the service publishes it at /openapi.json (it depends on no setting: none is read before startup).
schema = schemathesis.openapi.from_dict(create_app().openapi())

# The bearer token of the test's user: schemathesis sends it where the schema asks for one, and leaves it out
# or spoils it on purpose where it checks that the service refuses that.
BEARER: dict[str, str] = {}


@schema.auth(refresh_interval=None)
class UserToken:
    def get(self, case, context):
        return BEARER.get("token")

    def set(self, case, token, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@pytest.fixture
def user_a_token_sent(token, user_a):
    """user_a's token is the one schemathesis sends (UserToken), for the test."""
    BEARER["token"] = token(user_a)
    yield
    BEARER.clear()


@pytest.fixture
def owned(app_conn, user_a):
    """A conversation of the calling user, with a message, so that generated ids can be real ones."""
    conversation = call(app_conn, user_a, "select id from chat.create_conversation('mine')")[0][0]
    call(app_conn, user_a, "select chat.append_message(%s, 'user', 'hello')", [conversation])
    return str(conversation)


@pytest.fixture
def answers():
    """The status codes of one operation's examples."""
    return Counter()


@schema.parametrize()
@hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_one_the_schema_documents(case, live, user_a_token_sent, owned, answers, record_property):
    if case.path_parameters and "conversation_id" in case.path_parameters and sum(answers.values()) % 2 == 0:
        case.path_parameters["conversation_id"] = owned  # half of them about a conversation that exists
    response = case.call_and_validate(base_url=live, excluded_checks=NOT_CHECKED)
    answers[response.status_code] += 1
    record_property(f"answers to {case.operation.label}", dict(sorted(answers.items())))

"""Schema-driven fuzz of the API (schemathesis): generated and mutated requests against every operation in the
OpenAPI schema, with and without the reviewer token, must never get a 5xx and must match the documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from schemathesis import checks
from hypothesis import HealthCheck, settings

from so8t.audit import AuditStore
from so8t.server import create_app
from so8t.server.app import LOOPBACK_HOSTS
from tests.server.conftest import TOKEN, KeywordAgent, auth


@pytest.fixture
def keyword_agent_schema(tmp_path):
    store = AuditStore(tmp_path / "audit.sqlite3")
    yield schemathesis.openapi.from_asgi("/openapi.json", fuzz_app(KeywordAgent(store)))
    store.close()


# Every check runs (no 5xx, documented status codes and content types, response schemas, schema-violating
# requests refused, auth not ignored, Allow headers) except "schema-valid requests are accepted": some refusals
# rest on rules a JSON schema cannot state (a conversation without a user turn, a policy the agent refuses).
SEMANTIC_REFUSALS = [checks.positive_data_acceptance]


def fuzz_app(agent):
    """schemathesis's ASGI client says Host: testserver; the Host check itself is tested in test_api.py."""
    return create_app(agent, reviewer_token=TOKEN, allowed_hosts=[*LOOPBACK_HOSTS, "testserver"])


keyword_agent_api = schemathesis.pytest.from_fixture("keyword_agent_schema")


@keyword_agent_api.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_fuzz_finds_no_server_errors(case):
    case.call_and_validate(headers=auth(), excluded_checks=SEMANTIC_REFUSALS)

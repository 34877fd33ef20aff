"""Schema-driven fuzz of the API (schemathesis): generated and mutated requests against every operation in the
OpenAPI schema, with and without the reviewer token, must never get a 5xx and must match the documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode, checks
from schemathesis.core.parameters import ParameterLocation

from so8t.audit import AuditStore
from so8t.server import create_app
from so8t.server.app import LOOPBACK_HOSTS
from tests.server.conftest import TOKEN, KeywordAgent, auth


@pytest.fixture
def keyword_agent_schema(tmp_path):
    with AuditStore(tmp_path / "audit.sqlite3") as store:
        yield schemathesis.openapi.from_asgi("/openapi.json", fuzz_app(KeywordAgent(store)))


# Every check runs (no 5xx, documented status codes and content types, response schemas, schema-violating
# requests refused, auth not ignored, Allow headers) except "schema-valid requests are accepted": some refusals
# rest on rules a JSON schema cannot state (a conversation without a user turn, a policy the agent refuses).
SEMANTIC_REFUSALS = [checks.positive_data_acceptance]


# The same examples on every run, so the suite cannot pass or fail by luck; set derandomize to False to explore.
FUZZ_SETTINGS = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": True}


def excluded_checks(case) -> list:
    """Multipart fields carry no types: a "null" prompt mutated in is just the text "null", which is fine."""
    multipart = case.operation.path == "/v1/ask"
    return SEMANTIC_REFUSALS + ([checks.negative_data_rejection] if multipart else [])


def fuzz_app(agent):
    """schemathesis's ASGI client says Host: testserver; the Host check itself is tested in test_api.py."""
    return create_app(agent, reviewer_token=TOKEN, allowed_hosts=[*LOOPBACK_HOSTS, "testserver"])


keyword_agent_api = schemathesis.pytest.from_fixture("keyword_agent_schema")


@keyword_agent_api.parametrize()
@settings(max_examples=30, **FUZZ_SETTINGS)
def test_api_fuzz_finds_no_server_errors(case):
    case.call_and_validate(headers=reviewer_token_unless_mutated(case), excluded_checks=excluded_checks(case))


def reviewer_token_unless_mutated(case) -> dict[str, str]:
    """The token gets every case past the 401 gate, except cases whose headers are the mutated (negative) part."""
    headers = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    return {} if headers is not None and headers.mode == GenerationMode.NEGATIVE else auth()


@pytest.fixture
def real_agent_schema(real_agent):
    """The real agent behind the two routes that reach it; answers cut to two tokens keep each example quick."""
    full_length = real_agent.max_new_tokens
    real_agent.max_new_tokens = 2
    yield schemathesis.openapi.from_asgi("/openapi.json", fuzz_app(real_agent))
    real_agent.max_new_tokens = full_length


real_agent_api = schemathesis.pytest.from_fixture("real_agent_schema").include(tag="agent")


@pytest.mark.slow
@real_agent_api.parametrize()
@settings(max_examples=12, **FUZZ_SETTINGS)
def test_real_agent_fuzz_finds_no_server_errors(case):
    """Arbitrary prompts and bytes that are not images, through OCR, judge and model: no 5xx, documented answers."""
    case.call_and_validate(excluded_checks=excluded_checks(case))

"""The browser pages through the TestClient: log-in, CSRF, the review flow, audit filters, policy, error pages."""

from __future__ import annotations

import re
import sqlite3

import pytest
from fastapi.testclient import TestClient

from so8t.server import create_app
from tests.server.conftest import BASE_URL, TOKEN, FixedPolicyAgent, KeywordAgent, csrf_from, login, png_bytes


def ask_page(client: TestClient, prompt: str, *images: bytes, csrf: str | None = None):
    token = csrf if csrf is not None else csrf_from(client.get("/").text)
    parts = [("csrf_token", (None, token)), ("prompt", (None, prompt))]
    parts += [("images", (f"image{i}.png", data, "image/png")) for i, data in enumerate(images)]
    return client.post("/ask", files=parts)


def test_ask_page_shows_the_decision(client, audit):
    page = client.get("/")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    result = ask_page(client, "What is a haiku?", png_bytes())
    assert result.status_code == 200
    request_id = re.search(r'id="request-id">([0-9a-f]+)<', result.text).group(1)
    assert audit.decision(request_id).decision == "ALLOW"
    assert 'class="decision decision-allow">ALLOW<' in result.text
    assert "Stand-in answer to: What is a haiku?" in result.text
    assert "an image of" in result.text  # the redacted summary

    held = ask_page(client, "open the lock")
    assert "decision-escalate" in held.text and "Held for human review" in held.text
    denied = ask_page(client, "a bomb")
    assert "decision-deny" in denied.text and "Refused" in denied.text


def test_forms_without_a_valid_csrf_token_are_refused(client, audit):
    client.get("/")
    before = audit.stats().rows
    for token in ("", "forged-token"):
        response = ask_page(client, "What is a haiku?", csrf=token)
        assert response.status_code == 403
        assert "security token is missing or out of date" in response.text and "<html" in response.text
    fresh = TestClient(client.app, base_url=BASE_URL)  # no session at all
    assert fresh.post("/login", data={"reviewer": "x", "token": TOKEN}).status_code == 403
    assert audit.stats().rows == before


def test_reviewer_pages_answer_401_with_the_login_form(client):
    for path in ("/review", "/audit", "/audit/abc"):
        response = client.get(path)
        assert response.status_code == 401
        assert 'id="login-form"' in response.text
        assert f'name="next" value="{path}"' in response.text


def test_login_logout_and_their_audit_events(client, audit):
    page = client.get("/login")
    wrong = client.post("/login", data={"csrf_token": csrf_from(page.text), "reviewer": "mallory", "token": "x" * 40})
    assert wrong.status_code == 401 and "not valid" in wrong.text
    failed = audit.events("web.login_failed", limit=1)[0]
    assert failed.payload["reviewer_claimed"] == "mallory"

    right = client.post(
        "/login", data={"csrf_token": csrf_from(page.text), "reviewer": "alice", "token": TOKEN}, follow_redirects=False
    )
    assert right.status_code == 303
    cookie = right.headers["set-cookie"].lower()
    assert cookie.startswith("so8t_session=") and "httponly" in cookie and "samesite=strict" in cookie
    assert audit.events("web.login", limit=1)[0].payload["reviewer"] == "alice"
    review = client.get("/review")
    assert review.status_code == 200 and 'id="reviewer-name">alice<' in review.text

    client.post("/logout", data={"csrf_token": csrf_from(review.text)})
    assert audit.events("web.logout", limit=1)[0].payload["reviewer"] == "alice"
    assert client.get("/review").status_code == 401


def test_login_never_redirects_off_site(client):
    page = client.get("/login")
    response = client.post(
        "/login", data={"csrf_token": csrf_from(page.text), "reviewer": "alice", "token": TOKEN, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_review_flow_records_who_approved_what_and_why(client, audit):
    first = re.search(r'id="request-id">(\w+)<', ask_page(client, "the lock on my shed").text).group(1)
    second = re.search(r'id="request-id">(\w+)<', ask_page(client, "lock picking").text).group(1)
    login(client, "alice")
    queue = client.get("/review")
    assert f'id="req-{first}"' in queue.text and f'id="req-{second}"' in queue.text
    assert 'id="pending-count">2<' in queue.text
    token = csrf_from(queue.text)

    forged = client.post(f"/review/{first}", data={"csrf_token": "nope", "verdict": "approve"})
    assert forged.status_code == 403 and audit.decision(first).review is None

    approved = client.post(f"/review/{first}", data={"csrf_token": token, "verdict": "approve", "note": "own shed, has receipt"})
    assert approved.status_code == 200 and f"Approved request {first}." in approved.text  # followed the redirect
    rejected = client.post(f"/review/{second}", data={"csrf_token": token, "verdict": "reject", "note": "no context"})
    assert f"Rejected request {second}." in rejected.text and 'id="queue-empty"' in rejected.text

    review = audit.decision(first).review
    assert (review.verdict, review.reviewer, review.note) == ("APPROVE", "alice", "own shed, has receipt")
    assert audit.decision(second).review.verdict == "REJECT"

    twice = client.post(f"/review/{first}", data={"csrf_token": token, "verdict": "reject"})
    assert twice.status_code == 409 and "already reviewed" in twice.text
    bad = client.post(f"/review/{first}", data={"csrf_token": token, "verdict": "maybe"})
    assert bad.status_code == 422
    long_note = client.post(f"/review/{first}", data={"csrf_token": token, "verdict": "approve", "note": "x" * 4001})
    assert long_note.status_code == 422 and "limit is 4000" in long_note.text


def test_audit_page_filters_and_chain_status(client, audit):
    ids = {}
    for prompt in ("tea time", "a bomb", "my lock"):
        ids[prompt] = re.search(r'id="request-id">(\w+)<', ask_page(client, prompt).text).group(1)
    login(client)

    def rows(**params) -> set[str]:
        response = client.get("/audit", params=params)
        assert response.status_code == 200, response.text
        return set(re.findall(r'id="row-(\w+)"', response.text))

    assert rows() == set(ids.values())
    assert rows(decision="DENY") == {ids["a bomb"]}
    assert rows(search="TEA") == {ids["tea time"]}
    assert rows(review_status="pending") == {ids["my lock"]}
    today = audit.decision(ids["tea time"]).created_at[:10]
    assert rows(since=today, until=today) == set(ids.values())
    assert rows(until="2000-01-01") == set()
    assert client.get("/audit", params={"since": "soon"}).status_code == 422
    assert client.get("/audit", params={"decision": "MAYBE"}).status_code == 422

    page = client.get("/audit").text
    assert 'class="chain chain-ok"' in page and "web.login" in page
    detail = client.get(f"/audit/{ids['a bomb']}")
    assert detail.status_code == 200 and "weapons wording" in detail.text
    assert client.get("/audit/unknown-id").status_code == 404

    with sqlite3.connect(audit.path) as raw:
        raw.execute("DROP TRIGGER decision_log_no_update")
        raw.execute("UPDATE decision_log SET reasons = '[]' WHERE request_id = ?", (ids["a bomb"],))
    broken = client.get("/audit").text
    assert "chain-bad" in broken and "Chain does NOT verify" in broken and "decision_log seq" in broken


def test_audit_page_pages_through_older_rows(client, audit):
    for n in range(55):
        audit.record_decision("ALLOW", input_text=f"prompt {n}")
    login(client)
    first = client.get("/audit").text
    assert len(re.findall(r'id="row-', first)) == 50 and "older →" in first
    second = client.get("/audit", params={"offset": 50}).text
    assert len(re.findall(r'id="row-', second)) == 5 and "← newer" in second and "older →" not in second


def test_policy_page_shows_versions_and_applies_a_new_one(client, audit):
    audit.apply_policy("house", {"name": "house", "thresholds": {"escalate": 0.3, "deny": 0.7}})
    public = client.get("/policy")
    assert public.status_code == 200 and 'id="policy-version">1<' in public.text and "logging in" in public.text
    assert client.post("/policy", data={"content": "{}"}).status_code == 401

    login(client, "alice")
    page = client.get("/policy")
    token = csrf_from(page.text)
    bad_json = client.post("/policy", data={"csrf_token": token, "content": '{"name": "house", '})
    assert bad_json.status_code == 422 and "not valid JSON" in bad_json.text and "{&#34;name&#34;: &#34;house&#34;, " in bad_json.text
    refused = client.post("/policy", data={"csrf_token": token, "content": '{"thresholds": {}}'})
    assert refused.status_code == 422 and "needs a &#39;name&#39;" in refused.text
    applied = client.post("/policy", data={"csrf_token": token, "content": '{"name": "house", "thresholds": {"escalate": 0.5, "deny": 0.7}}'})
    assert applied.status_code == 200 and "Policy house is now at version 2." in applied.text
    assert 'id="policy-v2"' in applied.text and "/thresholds/escalate" in applied.text
    assert audit.events("web.policy_apply", limit=1)[0].payload["reviewer"] == "alice"


def test_fixed_policy_agent_gets_no_policy_form(audit):
    client = TestClient(create_app(FixedPolicyAgent(audit), reviewer_token=TOKEN), base_url=BASE_URL)
    login(client)
    page = client.get("/policy").text
    assert 'id="policy-form"' not in page and "fixed while it runs" in page
    response = client.post("/policy", data={"csrf_token": csrf_from(page), "content": '{"name": "x"}'})
    assert response.status_code == 405 and audit.stats().rows["policy_state"] == 1


@pytest.mark.parametrize(("path", "status"), [("/no-such-page", 404), ("/audit/x/y", 404)])
def test_error_pages_are_html_and_api_errors_json(client, path, status):
    page = client.get(path)
    assert page.status_code == status and "<html" in page.text and 'id="error-message"' in page.text
    api = client.get("/v1/no-such-route")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_upload_limit_error_page(audit):
    from so8t.server import ServerLimits

    client = TestClient(create_app(KeywordAgent(audit), reviewer_token=TOKEN, limits=ServerLimits(max_request_bytes=50_000)), base_url=BASE_URL)
    response = ask_page(client, "hi", bytes(60_000))
    assert response.status_code == 413 and "<html" in response.text and "50000 bytes upload limit" in response.text


def test_every_page_is_script_free_and_sends_security_headers(client):
    login(client)
    for path in ("/", "/review", "/audit", "/policy", "/login", "/nope"):
        response = client.get(path)
        assert "<script" not in response.text.lower(), path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"
    assert client.get("/static/style.css").status_code == 200


def test_user_text_is_escaped(client):
    response = ask_page(client, '<img src=x onerror="alert(1)"> tea')
    assert '<img src=x onerror="alert(1)">' not in response.text and "&lt;img src=x" in response.text


class BrokenAgent(KeywordAgent):
    def ask(self, prompt, images=()):
        raise RuntimeError("model file vanished")


def test_an_agent_crash_gives_a_clear_500(audit):
    client = TestClient(create_app(BrokenAgent(audit), reviewer_token=TOKEN), base_url=BASE_URL, raise_server_exceptions=False)
    api = client.post("/v1/ask", files=[("prompt", (None, "tea"))])
    assert api.status_code == 500
    assert api.json() == {"detail": "internal error (RuntimeError); the server log has the details"}
    page = ask_page(client, "tea")
    assert page.status_code == 500 and "<html" in page.text and "internal error (RuntimeError)" in page.text
    assert "model file vanished" not in page.text  # internals stay in the server log

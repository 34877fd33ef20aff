"""End to end in headless Chromium (Debian's chromium driven by Playwright): the real agent behind a real uvicorn
server. Upload an image, see the decision, log in, approve the escalated request, find it in the audit log;
then change a policy through the Policy form (on an agent that can switch policies) and see the diff.
A full-page screenshot of every page goes to build/screenshots/server/ (or $SO8T_SCREENSHOT_DIR)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Page, expect, sync_playwright

from so8t.server import create_app
from tests.server.conftest import TOKEN, KeywordAgent, png_bytes

CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/setup.sh --dev); Playwright's own download is not used
SCREENSHOTS = Path(os.environ.get("SO8T_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "build" / "screenshots" / "server"))


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], str]]:
    """Runs apps under uvicorn on free loopback ports, in threads of this process (so tests can read the stores)."""
    running: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(app: FastAPI) -> str:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        running.append((server, thread, listener))
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    for server, thread, listener in running:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def log_in(page: Page, reviewer: str) -> None:
    page.fill("#reviewer", reviewer)
    page.fill("#token", TOKEN)
    page.click("#login-form button[type=submit]")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


@pytest.mark.slow
def test_upload_decide_approve_and_audit_in_chromium(serve, real_agent, audit):
    assert Path(CHROMIUM).is_file(), "Debian's chromium is missing: run scripts/setup.sh --dev"
    live_server = serve(create_app(real_agent, reviewer_token=TOKEN))
    sign = png_bytes("HOLD FOR REVIEW")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(60_000)  # the agent answers in seconds, slower on a busy machine

            # Ask: a prompt and an image whose text the house rule holds for review.
            page.goto(live_server + "/")
            page.fill("#prompt", "What does this sign say?")
            page.set_input_files("#images", files=[{"name": "sign.png", "mimeType": "image/png", "buffer": sign}])
            page.click("#ask-button")
            expect(page.locator("#result .decision")).to_have_text("ESCALATE")
            expect(page.locator("#result")).to_contain_text("HOLD FOR REVIEW")  # the OCR summary of the upload
            request_id = page.inner_text("#request-id")
            screenshot(page, "1-ask")

            # The review queue needs a reviewer: 401 with the log-in form, then back to the queue.
            response = page.goto(live_server + "/review")
            assert response is not None and response.status == 401
            expect(page.locator("#login-form")).to_be_visible()
            screenshot(page, "2-login")
            log_in(page, "alice")
            card = page.locator(f"#req-{request_id}")
            expect(card).to_contain_text("What does this sign say?")
            expect(card).to_contain_text("house-hold-for-review")
            card.locator("textarea[name=note]").fill("A sign photo, nothing harmful.")
            screenshot(page, "3-review")
            card.locator("button[value=approve]").click()
            expect(page.locator("#flash")).to_have_text(f"Approved request {request_id}.")
            expect(page.locator(f"#req-{request_id}")).to_have_count(0)

            # The audit log shows the row with its review, and the chain verifies.
            page.goto(live_server + "/audit")
            row = page.locator(f"#row-{request_id}")
            expect(row).to_contain_text("approved by alice")
            expect(row).to_contain_text("A sign photo, nothing harmful.")
            expect(page.locator("#chain-status")).to_contain_text("Chain verified")
            screenshot(page, "4-audit")
            row.locator("a").click()
            expect(page.locator("#review-status")).to_contain_text("approved by alice")
            screenshot(page, "5-decision")

            response = page.goto(live_server + "/audit/no-such-request")
            assert response is not None and response.status == 404
            expect(page.locator("#error-message")).to_contain_text("no decision with request_id 'no-such-request'")
            screenshot(page, "6-error")

            # SafetyAgent's policy is fixed while it runs; an agent that can switch policies gets the Policy form.
            page.goto(live_server + "/policy")
            expect(page.locator("h1")).to_contain_text("so8t-web-tests")
            expect(page.locator("main")).to_contain_text("fixed while it runs")
            policy_server = serve(create_app(KeywordAgent(audit), reviewer_token=TOKEN))
            audit.apply_policy("house", {"name": "house", "thresholds": {"escalate": 0.3, "deny": 0.7}, "deny_words": ["bomb"]})
            page.goto(policy_server + "/login?next=/policy")
            log_in(page, "bob")
            page.fill("#content", '{"name": "house", "thresholds": {"escalate": 0.4, "deny": 0.7}, "deny_words": ["bomb", "poison"]}')
            page.click("#policy-form button[type=submit]")
            expect(page.locator("#flash")).to_have_text("Policy house is now at version 2.")
            expect(page.locator("#policy-v2")).to_contain_text("/thresholds/escalate")
            screenshot(page, "7-policy")
        finally:
            browser.close()

    review = real_agent.audit.decision(request_id).review
    assert (review.verdict, review.reviewer, review.note) == ("APPROVE", "alice", "A sign photo, nothing harmful.")
    assert real_agent.audit.events("web.login", limit=1)[0].payload["reviewer"] == "alice"
    assert audit.events("web.policy_apply", limit=1)[0].payload["reviewer"] == "bob"
    for name in ("1-ask", "2-login", "3-review", "4-audit", "5-decision", "6-error", "7-policy"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000, name

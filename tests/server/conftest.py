"""Fixtures for the web app: a real SQLite audit store, a keyword stand-in agent that writes real rows to it,
and a TestClient on the app. Tests about the agent's own behaviour use the real SafetyAgent (see test_api.py)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pytest
from fastapi.testclient import TestClient

from so8t.audit import AuditStore, Policy
from so8t.server import create_app

TOKEN = "reviewer-token-for-tests-0123456789"
BASE_URL = "http://127.0.0.1"


@dataclass
class StandInResult:
    """The AskResult contract's fields."""

    request_id: str
    decision: str
    confidence: float
    reasons: list[str]
    scores: dict[str, float]
    summaries: list[dict[str, str]]
    answer: str | None
    withheld: bool
    latency_ms: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class KeywordAgent:
    """A stand-in agent for server tests that are not about judging: fixed keyword rules, real audit rows.

    "bomb" -> DENY, "lock" -> ESCALATE, anything else -> ALLOW with an echo answer. Records what it was asked.
    """

    audit: AuditStore
    asked: list[tuple[str, list[bytes]]] = field(default_factory=list)

    def ask(self, prompt: str, images: Sequence[bytes] = ()) -> StandInResult:
        started = time.perf_counter()
        self.asked.append((prompt, list(images)))
        digests = [hashlib.sha256(image).hexdigest() for image in images]
        summaries = [{"sha256": d, "lang": "en", "summary": f"an image of {len(i)} bytes"} for d, i in zip(digests, images)]
        if re.search(r"\bbomb\b", prompt, re.I):
            decision, reasons, harm = "DENY", ["weapons wording"], 0.97
        elif re.search(r"\block", prompt, re.I):
            decision, reasons, harm = "ESCALATE", ["break-in wording"], 0.6
        else:
            decision, reasons, harm = "ALLOW", [], 0.02
        answer = f"Stand-in answer to: {prompt}" if decision == "ALLOW" else None
        latency_ms = (time.perf_counter() - started) * 1000
        request_id = self.audit.record_decision(
            decision,
            input_text=prompt,
            ocr_summary="\n".join(s["summary"] for s in summaries) or None,
            image_sha256s=digests,
            scores={"harm": harm},
            reasons=reasons,
            output_text=answer,
            latency_ms=latency_ms,
        )
        return StandInResult(request_id, decision, 1 - harm if decision == "ALLOW" else harm, reasons, {"harm": harm},
                             summaries, answer, False, latency_ms)

    def review(self, request_id: str, approve: bool, reviewer: str, note: str = "") -> Any:
        return self.audit.review(request_id, approve, reviewer, note)

    def apply_policy(self, content: dict[str, Any]) -> Policy:
        if not isinstance(content.get("name"), str):
            raise ValueError("the policy needs a 'name' string")
        return self.audit.policy(content["name"], self.audit.apply_policy(content["name"], content))


class FixedPolicyAgent(KeywordAgent):
    """Like SafetyAgent today: its policy is fixed at start, so the server must not offer policy changes."""

    apply_policy = None  # type: ignore[assignment]


def rule_driven_policy() -> dict[str, Any]:
    """The packaged policy with the classifier's say taken away (both thresholds at 1.0) and one house rule:
    text saying "hold for review", in the prompt or in an image's OCR, is escalated to a human.

    With it the real agent's decisions follow the policy alone, so these server tests do not move whenever
    the judge's classifier is retrained (judging quality is tested in tests/safety and tests/agent).
    """
    from so8t.safety.policy import load_policy

    policy = load_policy().model_dump(mode="json")
    policy["name"] = "so8t-web-tests"
    policy["thresholds"] = {"escalate": 1.0, "deny": 1.0}
    policy["language_thresholds"] = {}
    # A deny pattern sets the score to 1.0 (DENY) and its category caps that at ESCALATE.
    policy["categories"]["house_review"] = {"description": "Held for a human by house rule.", "max_decision": "ESCALATE"}
    policy["patterns"]["deny"].append(
        {"id": "house-hold-for-review", "lang": "any", "regex": r"\bhold\s+for\s+review\b", "category": "house_review"}
    )
    return policy


@pytest.fixture(scope="session")
def real_agent(tmp_path_factory, embedded_model_dir):
    """The real SafetyAgent on the embedded model (OCR, judge, generation), writing to its own audit store.

    One per test session: loading it takes most of a minute on two busy cores. Short answers keep it quick.
    """
    from so8t.agent import SafetyAgent

    folder = tmp_path_factory.mktemp("real-agent")
    policy_path = folder / "policy.json"
    policy_path.write_text(json.dumps(rule_driven_policy()), encoding="utf-8")
    with AuditStore(folder / "audit.sqlite3") as store:
        yield SafetyAgent(audit=store, policy_path=policy_path, max_new_tokens=12)


@pytest.fixture
def audit(tmp_path: Path):
    with AuditStore(tmp_path / "audit.sqlite3") as store:
        yield store


@pytest.fixture
def agent(audit: AuditStore) -> KeywordAgent:
    return KeywordAgent(audit)


@pytest.fixture
def client(agent: KeywordAgent):
    with TestClient(create_app(agent, reviewer_token=TOKEN), base_url=BASE_URL) as test_client:
        yield test_client


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def png_bytes(text: str = "so8t", font_size: int = 40) -> bytes:
    """A real PNG with `text` drawn large and black on white, as a photo of a printed note would read."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=font_size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (right - left + 2 * font_size, bottom - top + 2 * font_size), "white")
    ImageDraw.Draw(image).text((font_size - left, font_size - top), text, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def login(client: TestClient, reviewer: str = "alice") -> None:
    """Log in through the page, as a browser does."""
    page = client.get("/login")
    response = client.post(
        "/login", data={"csrf_token": csrf_from(page.text), "reviewer": reviewer, "token": TOKEN, "next": "/review"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text

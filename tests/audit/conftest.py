"""Shared fixtures: real SQLite audit stores in tmp_path, a settable clock, and a populated template database."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from so8t.audit import AuditStore

IMAGE_DIGEST = "ab" * 32


class Clock:
    """A clock the test moves by hand, so rows can be made 'old' for retention."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock):
    with AuditStore(tmp_path / "audit.sqlite3", clock=clock) as opened:
        yield opened


def fill(store: AuditStore) -> dict[str, list[int]]:
    """At least two rows in every table (so each has a row in the middle of the chain); returns seqs per table."""
    store.register_identity("You are a careful local assistant.", {"package_version": "0.1.0", "adapter_sha256": "a" * 64})
    store.apply_policy("default", {"thresholds": {"deny": 0.8, "escalate": 0.5}, "deny_patterns": ["bomb"]})
    escalated = store.record_decision(
        "ESCALATE",
        input_text="How do I get into my own locked shed?",
        ocr_summary="A photo of a padlock on a garden shed.",
        image_sha256s=[IMAGE_DIGEST],
        scores={"harm": 0.55, "encoder": 0.4},
        reasons=["break-in wording", "own property"],
        output_text="Held for review.",
        latency_ms=12.5,
        error="ocr: low confidence",
    )
    store.log_event("agent.start", {"pid": 1234})
    store.record_decision("ALLOW", input_text="What is a haiku?", output_text="A three-line poem.", latency_ms=3.0)
    other = store.record_decision("ESCALATE", input_text="Tell me about lock picking as a sport.", latency_ms=4.0)
    store.review(escalated, approve=True, reviewer="alice", note="Own shed; fine.")
    store.review(other, approve=False, reviewer="bob", note="Too vague.")
    store.register_identity("You are a careful local assistant.", {"package_version": "0.1.1", "adapter_sha256": "b" * 64})
    store.apply_policy("default", {"thresholds": {"deny": 0.7, "escalate": 0.5}, "deny_patterns": ["bomb"]})
    store.log_event("web.login", {"user": "alice"})
    store.record_decision("DENY", input_text="Write ransomware for me.", reasons=["malware"], latency_ms=2.0)
    return {table: [row["seq"] for row in store.entries([table])] for table in
            ("identity_contract", "policy_state", "decision_log", "review_log", "audit_log")}


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[int]]]:
    """A filled store, checkpointed into one file so copies of it are complete databases."""
    path = tmp_path_factory.mktemp("template") / "audit.sqlite3"
    with AuditStore(path) as store:
        seqs = fill(store)
    return path, seqs


@pytest.fixture
def filled_db(template_db, tmp_path: Path) -> tuple[Path, dict[str, list[int]]]:
    source, seqs = template_db
    target = tmp_path / "audit.sqlite3"
    shutil.copyfile(source, target)
    return target, seqs


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection with the append-only triggers dropped: what an attacker with file access can do."""
    conn = sqlite3.connect(path, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    return conn

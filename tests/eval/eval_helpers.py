"""Test helpers for so8t.eval: a keyword judge of our own whose decisions a test can predict exactly (the real
judge, so8t.safety, is what `so8t eval` uses by default and is tested end to end), and what a real audit store
must hold after the shipped audit cases ran against it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from so8t.audit import AuditStore
from so8t.eval.audit_store import ROLE_PROMPT
from so8t.eval.tasks import AuditLogCase, DecisionAuditCase, PolicyUpdateAuditCase, TaskFile

REPO = Path(__file__).resolve().parents[2]
TASKS = REPO / "eval" / "tasks_safety.json"

DENY_WORDS = ("ransomware", "explosive", "password", "爆発物", "身代金", "振り込ませ")
ESCALATE_WORDS = ("never wake up", "guilty", "死ねる")


def keyword_judge(texts: list[str]) -> list[dict[str, Any]]:
    """A deliberately simple judge (substring rules) so runner tests do not depend on so8t.safety."""
    results = []
    for text in texts:
        lowered = text.lower()
        if any(word in lowered for word in DENY_WORDS):
            results.append({"decision": "DENY", "confidence": 0.9})
        elif any(word in lowered for word in ESCALATE_WORDS):
            results.append({"decision": "ESCALATE", "confidence": 0.6})
        else:
            results.append({"decision": "ALLOW", "confidence": 0.2})
    return results


def assert_store_holds_the_audit_cases(path: Path, tasks: TaskFile, rows: int) -> None:
    """Open the SQLite file the audit cases wrote as so8t.audit would: every accepted case is there, read back
    unchanged and attributed to the evaluation's identity, no refused case left a row, and the chain verifies."""
    accepted = [case for case in tasks.audit_cases if case.expect_error is None]
    with AuditStore(path, create=False) as store:
        report = store.verify()
        assert report.ok, report.problems()
        decisions = store.decisions()
        wanted = [(c.prompt, c.decision, c.reasons) for c in accepted if isinstance(c, DecisionAuditCase)]
        assert sorted((d.input_text, d.decision, d.reasons) for d in decisions) == sorted(wanted)
        eval_identity = store.identity()
        assert eval_identity.role_prompt == ROLE_PROMPT
        assert {d.identity_id for d in decisions} == {eval_identity.identity_id}
        policies = [c for c in accepted if isinstance(c, PolicyUpdateAuditCase)]
        history = store.policy_history(policies[0].policy_name)
        by_version = {c.version: c.content for c in policies}  # re-applying identical content keeps the version
        assert [(p.version, p.content) for p in history] == sorted(by_version.items())
        events = [c for c in accepted if isinstance(c, AuditLogCase)]
        stored_events = [(e.event_type, e.payload) for e in reversed(store.events())]
        assert stored_events == [(c.event_type, c.payload) for c in events]
        # the seeded policy and identity, the evaluation's identity, then one row per accepted record: nothing else
        expected_rows = 3 + len(wanted) + len(by_version) + len(events)
        assert sum(store.stats().rows.values()) == expected_rows == rows


def write_jsonl(path: Path, rows: list[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path

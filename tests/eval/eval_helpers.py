"""Test helpers for so8t.eval: real components where they exist (Tesseract, SQLite), and small stand-ins of our
own for the judge and the audit store until so8t.safety and so8t.audit are merged."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

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


def tesseract_ocr(image: bytes) -> str:
    """Plain Tesseract on the image bytes (stdin to stdout, nothing written to disk)."""
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        pytest.fail("tesseract is not installed (scripts/setup.sh installs tesseract-ocr and its jpn data)")
    done = subprocess.run([tesseract, "stdin", "stdout", "-l", "jpn+eng"], input=image, capture_output=True,
                          check=True, timeout=60)  # fmt: skip
    return done.stdout.decode("utf-8")


class SqliteAuditStore:
    """A minimal hash-chained SQLite store implementing so8t.eval's AuditBackend protocol, for tests only."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, kind TEXT, body TEXT,"
                        " prev_hash TEXT, row_hash TEXT)")  # fmt: skip

    def _append(self, kind: str, body: Mapping[str, Any]) -> int:
        row = self.db.execute("SELECT row_hash FROM log ORDER BY id DESC LIMIT 1").fetchone()
        prev = row[0] if row else ""
        encoded = json.dumps(body, sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(f"{prev}|{kind}|{encoded}".encode()).hexdigest()
        with self.db:
            cursor = self.db.execute("INSERT INTO log (kind, body, prev_hash, row_hash) VALUES (?, ?, ?, ?)",
                                     (kind, encoded, prev, digest))  # fmt: skip
        return int(cursor.lastrowid)

    def _read(self, row_id: int) -> dict[str, Any]:
        return json.loads(self.db.execute("SELECT body FROM log WHERE id = ?", (row_id,)).fetchone()[0])

    def record_decision(self, text: str, decision: str, reasons: list[str]) -> int:
        return self._append("decision", {"input_text": text, "decision": decision, "reasons": reasons})

    def read_decision(self, record_id: int) -> dict[str, Any]:
        return self._read(record_id)

    def apply_policy(self, name: str, version: str, content: Mapping[str, Any]) -> None:
        self._append("policy", {"name": name, "version": version, "content": dict(content)})

    def current_policy(self, name: str) -> dict[str, Any]:
        for (body,) in self.db.execute("SELECT body FROM log WHERE kind = 'policy' ORDER BY id DESC"):
            policy = json.loads(body)
            if policy["name"] == name:
                return policy
        return {}

    def append_event(self, event_type: str, payload: Mapping[str, Any]) -> int:
        return self._append("event", {"event_type": event_type, "payload": dict(payload)})

    def read_event(self, event_id: int) -> dict[str, Any]:
        return self._read(event_id)

    def verify(self) -> bool:
        prev = ""
        for kind, body, prev_hash, row_hash in self.db.execute("SELECT kind, body, prev_hash, row_hash FROM log"
                                                                " ORDER BY id"):  # fmt: skip
            if prev_hash != prev or hashlib.sha256(f"{prev}|{kind}|{body}".encode()).hexdigest() != row_hash:
                return False
            prev = row_hash
        return True


def write_jsonl(path: Path, rows: list[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path

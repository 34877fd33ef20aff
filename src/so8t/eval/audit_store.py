"""audit_cases against the real audit trail: an AuditBackend over so8t.audit.AuditStore in a fresh SQLite file.

Every run gets its own new file, never the user's trail: evaluation writes made-up decisions and policies, and
those must not mix with real ones. The store's own validation decides what is refused, so the refusal cases in
the task file test so8t.audit itself, not a copy of its rules.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import so8t
from so8t.audit import AuditStore, Event, UnknownRecordError, VerifyReport
from so8t.eval.backends import BackendError

STORE_FILE = "audit.sqlite3"
ROLE_PROMPT = "so8t eval: audit_cases exercise this store; no agent answers through it."


class StoreAuditBackend:
    """The AuditBackend protocol on one AuditStore; decisions are attributed to an identity of its own."""

    def __init__(self, store: AuditStore) -> None:
        self.store = store
        # a new store holds only a placeholder identity; name who wrote these rows, as the agent does at start
        self.identity_id = store.register_identity(ROLE_PROMPT, {"so8t_version": so8t.__version__, "purpose": "eval"})

    @property
    def path(self) -> Path:
        return self.store.path

    def record_decision(self, text: str, decision: str, reasons: list[str]) -> str:
        return self.store.record_decision(decision, input_text=text, reasons=reasons, identity_id=self.identity_id)

    def read_decision(self, record_id: str) -> Mapping[str, Any]:
        record = self.store.decision(record_id)
        return {"decision": record.decision, "input_text": record.input_text, "reasons": record.reasons}

    def apply_policy(self, name: str, content: Any) -> int:
        return self.store.apply_policy(name, content)

    def read_policy(self, name: str, version: int | None = None) -> Mapping[str, Any]:
        policy = self.store.policy(name, version)
        return {"version": policy.version, "content": policy.content}

    def append_event(self, event_type: str, payload: Any) -> int:
        return self.store.log_event(event_type, payload)

    def read_event(self, event_id: int) -> Mapping[str, Any]:
        for row in self.store.entries(["audit_log"], newest_first=True):
            if row["seq"] == event_id:
                event = Event.from_row(row)
                return {"event_type": event.event_type, "payload": event.payload}
        raise UnknownRecordError(f"no audit event at seq {event_id}")

    def row_count(self) -> int:
        return sum(self.store.stats().rows.values())

    def verify(self) -> VerifyReport:
        return self.store.verify()

    def close(self) -> None:
        self.store.close()


def fresh_audit_stores(directory: Path | None = None) -> Callable[[], StoreAuditBackend]:
    """A `Backends.audit` factory: each call opens a new store, as `directory/audit.sqlite3` (kept with a run's
    report, so `so8t audit --db FILE verify` can check it later) or, without a directory, in a new temp dir.

    An existing file is refused, here already and again on each call: its rows would make the run's checks
    ambiguous, and replacing it could destroy someone's trail.
    """

    if directory is not None:
        _refuse_existing(Path(directory) / STORE_FILE)

    def make() -> StoreAuditBackend:
        folder = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="so8t-eval-audit-"))
        return StoreAuditBackend(AuditStore(_refuse_existing(folder / STORE_FILE)))

    return make


def _refuse_existing(path: Path) -> Path:
    if path.exists():
        raise BackendError(f"{path} already exists: audit cases need a fresh store (choose another output dir)")
    return path

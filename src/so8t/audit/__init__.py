"""so8t.audit: the tamper-evident, append-only SQLite audit trail (decisions, policies, identity, reviews).

    from so8t.audit import AuditStore
    store = AuditStore()                      # $SO8T_AUDIT_DB or $XDG_DATA_HOME/so8t/audit.sqlite3
    identity = store.register_identity(role_prompt, fingerprint)
    version = store.apply_policy("default", policy)
    request_id = store.record_decision("ESCALATE", input_text=prompt, scores={"harm": 0.6}, reasons=["..."])
    store.review(request_id, approve=False, reviewer="alice", note="...")
    assert store.verify().ok
"""

from so8t.audit.chain import BadRow
from so8t.audit.checkpoint import Checkpoint, load_checkpoints, load_hmac_key
from so8t.audit.errors import (
    AuditError,
    CheckpointError,
    CorruptDatabaseError,
    InvalidRecordError,
    NotAnAuditDatabaseError,
    ReviewError,
    UnknownRecordError,
    VerificationError,
)
from so8t.audit.records import DECISIONS, Decision, Event, Identity, Policy, PurgeReport, Review, Stats, VerifyReport
from so8t.audit.store import AuditStore, default_db_path

__all__ = [
    "DECISIONS",
    "AuditError",
    "AuditStore",
    "BadRow",
    "Checkpoint",
    "CheckpointError",
    "CorruptDatabaseError",
    "Decision",
    "Event",
    "Identity",
    "InvalidRecordError",
    "NotAnAuditDatabaseError",
    "Policy",
    "PurgeReport",
    "Review",
    "ReviewError",
    "Stats",
    "UnknownRecordError",
    "VerificationError",
    "VerifyReport",
    "default_db_path",
    "load_checkpoints",
    "load_hmac_key",
]

"""What the store hands back: plain frozen records, JSON-ready through `dataclasses.asdict`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from so8t.audit.chain import BadRow

DecisionValue = Literal["ALLOW", "ESCALATE", "DENY"]
DECISIONS: tuple[str, ...] = ("ALLOW", "ESCALATE", "DENY")


@dataclass(frozen=True)
class Identity:
    """Who the agent is (its role prompt) and what runs (fingerprint); `diff` is JSON Patch from the previous."""

    identity_id: int
    seq: int
    created_at: str
    role_prompt: str
    fingerprint: dict[str, Any]
    diff: list[dict[str, Any]]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Identity:
        return cls(
            identity_id=row["identity_id"],
            seq=row["seq"],
            created_at=row["created_at"],
            role_prompt=row["role_prompt"],
            fingerprint=json.loads(row["fingerprint"]),
            diff=json.loads(row["diff"]),
        )


@dataclass(frozen=True)
class Policy:
    """One version of a named policy; `diff` is the JSON Patch from the previous version."""

    name: str
    version: int
    seq: int
    content: dict[str, Any]
    checksum: str
    diff: list[dict[str, Any]]
    applied_at: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Policy:
        return cls(
            name=row["name"],
            version=row["version"],
            seq=row["seq"],
            content=json.loads(row["content"]),
            checksum=row["checksum"],
            diff=json.loads(row["diff"]),
            applied_at=row["applied_at"],
        )


@dataclass(frozen=True)
class Review:
    """A human verdict on an ESCALATE decision."""

    request_id: str
    seq: int
    verdict: Literal["APPROVE", "REJECT"]
    reviewer: str
    note: str
    reviewed_at: str


@dataclass(frozen=True)
class Decision:
    """One request's record. Content fields are None once purged; their SHA-256s stay."""

    request_id: str
    seq: int
    created_at: str
    identity_id: int
    policy_name: str
    policy_version: int
    decision: DecisionValue
    input_text: str | None
    input_sha256: str | None
    ocr_summary: str | None
    ocr_summary_sha256: str | None
    image_sha256s: list[str]
    scores: dict[str, Any]
    reasons: list[str]
    output_text: str | None
    output_sha256: str | None
    latency_ms: float | None
    error: str | None
    review: Review | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Decision:
        """From decision_log joined with review_log, whose columns carry an r_ prefix."""
        review = None
        if row["r_seq"] is not None:
            review = Review(
                request_id=row["request_id"],
                seq=row["r_seq"],
                verdict=row["r_verdict"],
                reviewer=row["r_reviewer"],
                note=row["r_note"],
                reviewed_at=row["r_reviewed_at"],
            )
        return cls(
            **{name: row[name] for name in _DECISION_PLAIN_COLUMNS},
            image_sha256s=json.loads(row["image_sha256s"]),
            scores=json.loads(row["scores"]),
            reasons=json.loads(row["reasons"]),
            review=review,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived `purged` and `review_status` included."""
        return {**asdict(self), "purged": self.purged, "review_status": self.review_status}

    @property
    def purged(self) -> bool:
        """True when retention removed at least one content field."""
        return any(
            digest is not None and text is None
            for text, digest in (
                (self.input_text, self.input_sha256),
                (self.ocr_summary, self.ocr_summary_sha256),
                (self.output_text, self.output_sha256),
            )
        )

    @property
    def review_status(self) -> Literal["pending", "approved", "rejected"] | None:
        """Derived from the append-only review log; None for decisions that need no review."""
        if self.decision != "ESCALATE":
            return None
        if self.review is None:
            return "pending"
        return "approved" if self.review.verdict == "APPROVE" else "rejected"


_DECISION_PLAIN_COLUMNS = (
    "request_id", "seq", "created_at", "identity_id", "policy_name", "policy_version", "decision", "input_text",
    "input_sha256", "ocr_summary", "ocr_summary_sha256", "output_text", "output_sha256", "latency_ms", "error",
)


@dataclass(frozen=True)
class Event:
    """A free-form audit event (purges, web actions, agent start-up ...)."""

    seq: int
    created_at: str
    event_type: str
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Event:
        return cls(row["seq"], row["created_at"], row["event_type"], json.loads(row["payload"]))


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of `AuditStore.verify`: SQLite's integrity check, the chain walk, and any checkpoints."""

    integrity: list[str]
    rows_checked: int
    head_seq: int
    head_hash: str
    first_bad: BadRow | None
    read_error: str | None = None
    checkpoints_checked: int = 0
    checkpoint_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.integrity == ["ok"] and self.first_bad is None and self.read_error is None and not self.checkpoint_problems

    def problems(self) -> list[str]:
        """Every problem found, first the most basic (file integrity), in words."""
        found = [] if self.integrity == ["ok"] else [f"SQLite integrity check: {line}" for line in self.integrity]
        if self.read_error is not None:
            found.append(self.read_error)
        if self.first_bad is not None:
            found.append(f"chain broken at {self.first_bad}")
        return found + self.checkpoint_problems


@dataclass(frozen=True)
class PurgeReport:
    """Outcome of a retention purge."""

    cutoff: str
    older_than_days: float
    rows_purged: int
    event_seq: int
    wal_checkpoint_complete: bool


@dataclass(frozen=True)
class Stats:
    """Size and shape of the store, for `so8t audit stats` and the web app's status line."""

    path: str
    schema_version: int
    journal_mode: str
    synchronous: str
    db_bytes: int
    wal_bytes: int
    rows: dict[str, int]
    head_seq: int
    head_hash: str
    decisions: dict[str, int]
    pending_reviews: int
    purged_decisions: int
    oldest_decision_at: str | None
    newest_decision_at: str | None

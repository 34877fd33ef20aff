"""Checkpoints: the chain's head (row count, head hash, time) kept in a file outside the database.

A database that was truncated, rolled back to an old copy, or rewritten with freshly computed hashes still has
a self-consistent chain; only a record held elsewhere shows it. An HMAC-SHA256 signature (key from a file or
the SO8T_AUDIT_HMAC_KEY environment variable) also makes the checkpoint file itself tamper-evident.
"""

from __future__ import annotations

import hmac
import json
import os
from dataclasses import asdict, dataclass
from hashlib import sha256
from pathlib import Path

from so8t.audit.chain import canonical_json
from so8t.audit.errors import CheckpointError

FORMAT = "so8t-audit-checkpoint/1"
KEY_ENV_VAR = "SO8T_AUDIT_HMAC_KEY"


@dataclass(frozen=True)
class Checkpoint:
    row_count: int
    head_hash: str
    created_at: str
    hmac_sha256: str | None = None
    format: str = FORMAT

    def _signed_text(self) -> bytes:
        return canonical_json(
            {"format": self.format, "row_count": self.row_count, "head_hash": self.head_hash,
             "created_at": self.created_at}
        ).encode("utf-8")

    def signed(self, key: bytes) -> Checkpoint:
        digest = hmac.new(key, self._signed_text(), sha256).hexdigest()
        return Checkpoint(self.row_count, self.head_hash, self.created_at, digest, self.format)

    def signature_problem(self, key: bytes | None) -> str | None:
        """Why this checkpoint's signature cannot be trusted, or None when it is fine (or unsigned)."""
        if self.hmac_sha256 is None:
            return None
        if key is None:
            return f"checkpoint of {self.created_at} is signed but no HMAC key was given (--key-file or {KEY_ENV_VAR})"
        if not hmac.compare_digest(self.signed(key).hmac_sha256 or "", self.hmac_sha256):
            return f"checkpoint of {self.created_at} has an invalid HMAC signature (forged, edited or wrong key)"
        return None

    def to_json(self) -> str:
        return canonical_json({k: v for k, v in asdict(self).items() if v is not None})


def append_checkpoint(checkpoint: Checkpoint, path: Path) -> None:
    """Append one JSON line and fsync, so a checkpoint that was reported is on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(checkpoint.to_json() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def load_checkpoints(path: Path) -> list[Checkpoint]:
    """Every checkpoint in a JSON-lines file; a malformed line is an error naming its line number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read checkpoint file {path}: {exc}") from exc
    checkpoints = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if data.get("format") != FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, expected {FORMAT!r}")
            checkpoint = Checkpoint(**data)
            if not isinstance(checkpoint.row_count, int) or not isinstance(checkpoint.head_hash, str):
                raise ValueError("row_count must be an integer and head_hash a string")
        except (ValueError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"{path} line {number} is not a valid checkpoint: {exc}") from exc
        checkpoints.append(checkpoint)
    if not checkpoints:
        raise CheckpointError(f"{path} holds no checkpoints")
    return checkpoints


def load_hmac_key(key_file: Path | None = None) -> bytes | None:
    """The HMAC key from `key_file`, else from $SO8T_AUDIT_HMAC_KEY, else None (unsigned checkpoints)."""
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise CheckpointError(f"cannot read HMAC key file {key_file}: {exc}") from exc
        source = str(key_file)
    elif os.environ.get(KEY_ENV_VAR) is not None:
        key, source = os.environ[KEY_ENV_VAR].encode("utf-8"), f"${KEY_ENV_VAR}"
    else:
        return None
    if not key:
        raise CheckpointError(f"the HMAC key from {source} is empty")
    return key

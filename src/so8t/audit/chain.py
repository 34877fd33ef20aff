"""The hash chain: which columns each table chains, their canonical encoding, and walking the chain.

One chain spans all five tables (a global `seq`), so a single head hash and row count describe the whole
trail, and deleting or reordering rows across tables breaks it just as within one table. SQLite admits one
writer at a time anyway, so per-table chains would not buy any write concurrency.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class ChainedTable:
    """A table on the chain: its hashed columns, and its retention-governed content columns.

    `content` maps each content column to the column holding its SHA-256; only the hash enters the row hash,
    so purging the content (setting it to NULL) keeps the chain valid.
    """

    name: str
    columns: tuple[str, ...]
    content: Mapping[str, str] = field(default_factory=dict)


TABLES: dict[str, ChainedTable] = {
    table.name: table
    for table in (
        ChainedTable("identity_contract", ("identity_id", "created_at", "role_prompt", "fingerprint", "diff")),
        ChainedTable("policy_state", ("name", "version", "content", "checksum", "diff", "applied_at")),
        ChainedTable(
            "decision_log",
            (
                "request_id", "created_at", "identity_id", "policy_name", "policy_version", "input_sha256",
                "ocr_summary_sha256", "image_sha256s", "decision", "scores", "reasons", "output_sha256",
                "latency_ms", "error",
            ),
            {"input_text": "input_sha256", "ocr_summary": "ocr_summary_sha256", "output_text": "output_sha256"},
        ),
        ChainedTable("review_log", ("request_id", "verdict", "reviewer", "note", "reviewed_at")),
        ChainedTable("audit_log", ("created_at", "event_type", "payload")),
    )
}


_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, UTF-8 kept, NaN/Infinity refused (not JSON)."""
    return _CANONICAL_ENCODER.encode(value)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def row_hash(table: str, seq: int, prev_hash: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 over the table name, position, previous hash and the chained columns (content by its hash)."""
    spec = TABLES[table]
    encoded = canonical_json(
        {"table": table, "seq": seq, "prev_hash": prev_hash, "fields": {c: fields[c] for c in spec.columns}}
    )
    return sha256_hex(encoded)


@dataclass(frozen=True)
class BadRow:
    """The first place where the chain breaks."""

    table: str
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"{self.table} seq {self.seq}: {self.reason}"


@dataclass
class ChainWalk:
    """Walks the chain one row at a time, in seq order, and remembers how far it is intact.

    Fed row by row (rather than handed an iterable) so that the progress survives a read error part-way.
    A row is bad when its position skips or repeats (deleted or reordered rows), its prev_hash is not the
    previous row's hash, its row_hash does not match its fields, or present content does not match its hash.
    """

    wanted_seqs: set[int] = field(default_factory=set)
    rows_checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    first_bad: BadRow | None = None
    hashes_at: dict[int, str] = field(default_factory=dict)

    def check(self, table: str, row: Mapping[str, Any]) -> bool:
        """Check the next row; False, with `first_bad` set, at the first break."""
        expected_seq = self.head_seq + 1
        problem = None
        if row["seq"] != expected_seq:
            problem = f"expected position {expected_seq} next, found {row['seq']} (rows deleted or reordered)"
        elif row["prev_hash"] != self.head_hash:
            problem = "prev_hash does not match the previous row's row_hash"
        elif row_hash(table, row["seq"], row["prev_hash"], row) != row["row_hash"]:
            problem = "row_hash does not match the row's fields (a field was changed)"
        else:
            for content_column, hash_column in TABLES[table].content.items():
                text = row[content_column]
                if text is not None and (row[hash_column] is None or sha256_hex(text) != row[hash_column]):
                    problem = f"{content_column} does not match {hash_column} (content was changed)"
                    break
        if problem:
            self.first_bad = BadRow(table, row["seq"], problem)
            return False
        self.rows_checked += 1
        self.head_seq, self.head_hash = row["seq"], row["row_hash"]
        if row["seq"] in self.wanted_seqs:
            self.hashes_at[row["seq"]] = row["row_hash"]
        return True

"""Bad input gets a clear error naming the problem, and never loses or changes what is already stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from so8t.audit import (
    AuditError,
    AuditStore,
    CorruptDatabaseError,
    InvalidRecordError,
    NotAnAuditDatabaseError,
)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"decision": "MAYBE"}, "decision must be one of ALLOW, ESCALATE, DENY; got 'MAYBE'"),
        ({"decision": "allow"}, "decision must be one of ALLOW, ESCALATE, DENY; got 'allow'"),
        ({"decision": None}, "decision must be one of ALLOW, ESCALATE, DENY; got None"),
        ({"scores": '{"harm": 0.4,'}, "scores is not valid JSON: Expecting property name"),
        ({"scores": "[1, 2]"}, "scores must be a JSON object; got list"),
        ({"scores": {"harm": float("nan")}}, "scores cannot be stored as JSON: Out of range float"),
        ({"scores": {"seen": {1, 2}}}, "scores cannot be stored as JSON: Object of type set"),
        ({"reasons": "one reason"}, "reasons must be a list of strings; got str"),
        ({"reasons": ["ok", 3]}, r"reasons\[1\] must be a string; got int"),
        ({"image_sha256s": ["not-a-digest"]}, r"image_sha256s\[0\] is not a lowercase hex SHA-256 digest"),
        ({"latency_ms": -1}, "latency_ms must be a finite number >= 0; got -1"),
        ({"latency_ms": float("inf")}, "latency_ms must be a finite number >= 0"),
        ({"input_text": b"bytes"}, "input_text must be a string; got bytes"),
        ({"input_text": "lone \ud800 surrogate"}, "input_text is not valid Unicode text: surrogates not allowed"),
        ({"identity_id": True}, "identity_id must be an integer >= 1; got True"),
        ({"request_id": ""}, "request_id must not be empty"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_decision_input_is_refused_and_nothing_is_lost(filled_db, kwargs, message) -> None:
    path, _ = filled_db
    arguments = {"decision": "ALLOW", **kwargs}
    with AuditStore(path) as store:
        before = list(store.entries())
        with pytest.raises(InvalidRecordError, match=message):
            store.record_decision(arguments.pop("decision"), **arguments)
        assert list(store.entries()) == before
        assert store.verify().ok
        store.record_decision("DENY", input_text="the store still takes good records")
        assert store.verify().rows_checked == len(before) + 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.log_event("web.action", "{not json"), "payload is not valid JSON"),
        (lambda s: s.log_event("web.action", '"a string"'), "payload must be a JSON object; got str"),
        (lambda s: s.log_event("bad type!", {}), "event_type must be 1-100 characters"),
        (lambda s: s.apply_policy("default", "{'single': 'quotes'}"), "policy content is not valid JSON"),
        (lambda s: s.apply_policy("", {}), "policy name must not be empty"),
        (lambda s: s.register_identity("You are so8t.", '{"model": '), "fingerprint is not valid JSON"),
        (lambda s: s.register_identity("", {}), "role_prompt must not be empty"),
        (lambda s: s.review("x", approve="yes", reviewer="alice"), "approve must be True or False"),
        (lambda s: s.decisions(review_status="done"), "review_status must be pending, approved or rejected"),
        (lambda s: list(s.entries(["decisions"])), "unknown table"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_malformed_payloads_are_refused_and_nothing_is_lost(filled_db, call, message) -> None:
    path, _ = filled_db
    with AuditStore(path) as store:
        before = list(store.entries())
        with pytest.raises(InvalidRecordError, match=message):
            call(store)
        assert list(store.entries()) == before and store.verify().ok


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("These are my notes, not a database.\n" * 200)
    original = path.read_bytes()
    with pytest.raises(NotAnAuditDatabaseError, match="is not an SQLite database"):
        AuditStore(path)
    assert path.read_bytes() == original
    assert not Path(f"{path}-wal").exists()


def test_another_applications_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('Ada')")
    conn.commit()
    conn.close()
    original = path.read_bytes()
    with pytest.raises(NotAnAuditDatabaseError, match="another application .* refusing to add audit tables"):
        AuditStore(path)
    assert path.read_bytes() == original


def test_a_newer_schema_version_is_refused(filled_db) -> None:
    path, _ = filled_db
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(NotAnAuditDatabaseError, match="schema version 99; this so8t reads up to 1"):
        AuditStore(path)


def test_a_destroyed_header_is_refused_untouched(filled_db) -> None:
    path, _ = filled_db
    data = bytearray(path.read_bytes())
    data[:16] = b"garbage garbage!"
    path.write_bytes(bytes(data))
    with pytest.raises(NotAnAuditDatabaseError, match="not an SQLite database"):
        AuditStore(path)
    assert path.read_bytes() == bytes(data)


def test_a_damaged_page_is_reported_and_not_written_over(filled_db) -> None:
    path, seqs = filled_db
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'decision_log'").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    data[(root - 1) * page_size : (root - 1) * page_size + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))

    with AuditStore(path) as store:
        report = store.verify()
        assert not report.ok
        assert report.integrity != ["ok"]
        assert report.read_error == "decision_log cannot be read from its first row: database disk image is malformed"
        assert report.rows_checked == seqs["decision_log"][0] - 1  # everything before the damaged table verified
        with pytest.raises(CorruptDatabaseError, match="is corrupted .*nothing was written"):
            store.record_decision("ALLOW", input_text="must not be written into a damaged table")
    assert path.read_bytes() == bytes(data)


def test_a_truncated_file_gives_a_clear_error(filled_db) -> None:
    path, _ = filled_db
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AuditError, match="corrupted|not an SQLite database"):
        with AuditStore(path) as store:
            store.verify()
            store.record_decision("ALLOW")


def test_a_directory_and_a_missing_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(NotAnAuditDatabaseError, match="is a directory"):
        AuditStore(tmp_path)
    with pytest.raises(AuditError, match="no audit database at"):
        AuditStore(tmp_path / "missing.sqlite3", create=False)
    assert not (tmp_path / "missing.sqlite3").exists()

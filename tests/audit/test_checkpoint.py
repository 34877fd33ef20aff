"""Checkpoints outside the database: signing with HMAC, reading the file, refusing a broken chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from so8t.audit import AuditError, AuditStore, CheckpointError, VerificationError, load_checkpoints, load_hmac_key

from .conftest import raw


def test_signed_checkpoints_verify_only_with_the_right_key(filled_db, tmp_path: Path) -> None:
    path, _ = filled_db
    file = tmp_path / "checkpoints.jsonl"
    with AuditStore(path) as store:
        first = store.checkpoint(file, key=b"reviewer secret")
        store.log_event("after.first.checkpoint", {})
        second = store.checkpoint(file, key=b"reviewer secret")
        saved = load_checkpoints(file)
        assert saved == [first, second] and second.row_count == first.row_count + 1
        assert store.verify(saved, key=b"reviewer secret").ok

        no_key = store.verify(saved)
        assert not no_key.ok and "is signed but no HMAC key was given" in no_key.checkpoint_problems[0]
        wrong_key = store.verify(saved, key=b"guess")
        assert "invalid HMAC signature" in wrong_key.checkpoint_problems[0]


def test_a_forged_checkpoint_line_fails_its_signature(filled_db, tmp_path: Path) -> None:
    path, _ = filled_db
    file = tmp_path / "checkpoints.jsonl"
    with AuditStore(path) as store:
        store.checkpoint(file, key=b"k")
        forged = json.loads(file.read_text())
        forged["row_count"] -= 3  # an attacker hides the last three rows and edits the checkpoint to match
        file.write_text(json.dumps(forged) + "\n")
        report = store.verify(load_checkpoints(file), key=b"k")
    assert not report.ok and "invalid HMAC signature" in report.checkpoint_problems[0]


def test_key_comes_from_a_file_or_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SO8T_AUDIT_HMAC_KEY", raising=False)
    assert load_hmac_key() is None
    monkeypatch.setenv("SO8T_AUDIT_HMAC_KEY", "from-env")
    assert load_hmac_key() == b"from-env"
    key_file = tmp_path / "key"
    key_file.write_bytes(b"from-file\n")
    assert load_hmac_key(key_file) == b"from-file"
    key_file.write_bytes(b"\n")
    with pytest.raises(CheckpointError, match="is empty"):
        load_hmac_key(key_file)
    with pytest.raises(CheckpointError, match="cannot read HMAC key file"):
        load_hmac_key(tmp_path / "missing")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "line 1 is not a valid checkpoint"),
        ('{"format": "other/1", "row_count": 1, "head_hash": "x", "created_at": "t"}\n', "format is 'other/1'"),
        ('{"format": "so8t-audit-checkpoint/1", "row_count": "1", "head_hash": "x", "created_at": "t"}\n', "row_count must be an integer"),
        ('{"format": "so8t-audit-checkpoint/1", "head_hash": "x"}\n', "line 1 is not a valid checkpoint"),
        ("\n", "holds no checkpoints"),
    ],
)
def test_malformed_checkpoint_files_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    file = tmp_path / "checkpoints.jsonl"
    file.write_text(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoints(file)


def test_checkpoint_refuses_a_broken_chain_and_the_database_itself(filled_db, tmp_path: Path) -> None:
    path, seqs = filled_db
    with AuditStore(path) as store:
        with pytest.raises(AuditError, match="must be outside the database"):
            store.checkpoint(path)
    conn = raw(path)
    conn.execute("UPDATE audit_log SET event_type = 'forged' WHERE seq = ?", (seqs["audit_log"][0],))
    conn.close()
    with AuditStore(path) as store, pytest.raises(VerificationError, match="refusing to checkpoint .* chain broken at audit_log"):
        store.checkpoint(tmp_path / "checkpoints.jsonl")
    assert not (tmp_path / "checkpoints.jsonl").exists()

"""Tamper evidence: edits by raw SQL (triggers dropped), deletions, reordering, truncation and rollback."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from so8t.audit import AuditStore, load_checkpoints
from so8t.audit.chain import TABLES, row_hash

from .conftest import raw

# Every column of every table (test_store checks that this list matches the shipped schema).
COLUMNS = [
    (table, column)
    for table in TABLES
    for column in ("seq", "prev_hash", "row_hash", *TABLES[table].columns, *TABLES[table].content)
]


def altered(column: str, value: object) -> object:
    """A different value that still satisfies the schema's CHECK constraints (a plausible forgery)."""
    if value is None:
        return "injected" if column.endswith(("_text", "summary", "error")) else ("c" * 64 if column.endswith("sha256") else 1.0)
    if isinstance(value, bool) or column == "seq":
        raise AssertionError("seq is tampered separately")
    if isinstance(value, int):
        return value + 1000  # clear of the UNIQUE identity_id and (name, version) of later rows
    if isinstance(value, float):
        return value + 0.5
    if column in ("decision", "verdict"):
        return {"ALLOW": "DENY", "DENY": "ALLOW", "ESCALATE": "ALLOW", "APPROVE": "REJECT", "REJECT": "APPROVE"}[value]
    if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    if value.startswith("{"):
        return json.dumps({**json.loads(value), "forged": True})
    if value.startswith("["):
        return json.dumps([*json.loads(value), "forged"])
    if column.endswith("_at"):
        return str(int(value[:4]) - 1) + value[4:]
    return value + " (edited)"


def middle_row(seqs: dict[str, list[int]], table: str) -> int:
    """A row in the middle of the chain; for decision_log the one with every field set (see conftest.fill)."""
    return seqs[table][1] if table in ("identity_contract", "policy_state") else seqs[table][0]


@pytest.mark.parametrize(("table", "column"), [c for c in COLUMNS if c[1] != "seq"], ids=lambda v: str(v))
def test_changing_any_field_is_detected_at_that_row(filled_db, table: str, column: str) -> None:
    path, seqs = filled_db
    target = middle_row(seqs, table)
    conn = raw(path)
    original = conn.execute(f"SELECT {column} FROM {table} WHERE seq = ?", (target,)).fetchone()[0]
    if column in TABLES[table].content and original is None:
        pytest.fail(f"template row {table} {target} should have {column} set")
    conn.execute(f"UPDATE {table} SET {column} = ? WHERE seq = ?", (altered(column, original), target))
    conn.close()
    with AuditStore(path) as store:
        report = store.verify()
    assert not report.ok
    assert (report.first_bad.table, report.first_bad.seq) == (table, target), report.first_bad
    assert report.rows_checked == target - 1


@pytest.mark.parametrize("attack", ["DELETE FROM {table} WHERE seq = ?", "UPDATE {table} SET seq = 10000 WHERE seq = ?"],
                         ids=["delete", "move-to-end"])
@pytest.mark.parametrize("table", list(TABLES))
def test_deleting_or_moving_a_row_is_detected_where_it_was(filled_db, table: str, attack: str) -> None:
    path, seqs = filled_db
    target = middle_row(seqs, table)
    conn = raw(path)
    conn.execute(attack.format(table=table), (target,))
    conn.close()
    with AuditStore(path) as store:
        report = store.verify()
    assert not report.ok and report.rows_checked == target - 1
    assert report.first_bad.seq == target + 1
    assert f"expected position {target} next" in report.first_bad.reason


def test_reordering_rows_is_detected(filled_db) -> None:
    path, seqs = filled_db
    first, second = seqs["decision_log"][:2]
    conn = raw(path)
    conn.execute("UPDATE decision_log SET seq = -1 WHERE seq = ?", (first,))
    conn.execute("UPDATE decision_log SET seq = ? WHERE seq = ?", (first, second))
    conn.execute("UPDATE decision_log SET seq = ? WHERE seq = -1", (second,))
    conn.close()
    with AuditStore(path) as store:
        report = store.verify()
    assert (report.first_bad.table, report.first_bad.seq) == ("decision_log", first)


def test_reordering_across_tables_is_detected(filled_db) -> None:
    path, seqs = filled_db
    event = seqs["audit_log"][0]
    conn = raw(path)
    before = conn.execute("SELECT seq FROM chain WHERE seq < ? ORDER BY seq DESC LIMIT 1", (event,)).fetchone()[0]
    table = conn.execute("SELECT table_name FROM chain WHERE seq = ?", (before,)).fetchone()[0]
    conn.execute(f"UPDATE {table} SET seq = -1 WHERE seq = ?", (before,))
    conn.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", (before, event))
    conn.execute(f"UPDATE {table} SET seq = ? WHERE seq = -1", (event,))
    conn.close()
    with AuditStore(path) as store:
        assert store.verify().first_bad.seq == before


def test_truncation_passes_the_chain_but_fails_against_a_checkpoint(filled_db, tmp_path: Path) -> None:
    path, seqs = filled_db
    checkpoints = tmp_path / "outside" / "checkpoints.jsonl"
    with AuditStore(path) as store:
        store.checkpoint(checkpoints)
        head = store.stats().head_seq
    conn = raw(path)
    for table in TABLES:
        conn.execute(f"DELETE FROM {table} WHERE seq > ?", (head - 3,))
    conn.close()
    with AuditStore(path) as store:
        assert store.verify().ok  # a shorter chain is still self-consistent ...
        report = store.verify(load_checkpoints(checkpoints))
    assert not report.ok  # ... but the checkpoint remembers more rows
    assert report.checkpoint_problems == [
        f"truncated or rolled back: checkpoint of {load_checkpoints(checkpoints)[0].created_at} saw {head} rows, "
        f"the database has {head - 3}"
    ]


def test_rollback_to_an_old_copy_is_detected_by_a_later_checkpoint(filled_db, tmp_path: Path) -> None:
    path, _ = filled_db
    old_copy = tmp_path / "old-copy.sqlite3"
    shutil.copyfile(path, old_copy)
    checkpoints = tmp_path / "checkpoints.jsonl"
    with AuditStore(path) as store:
        store.record_decision("DENY", input_text="something the attacker wants forgotten")
        store.checkpoint(checkpoints)
    shutil.copyfile(old_copy, path)
    with AuditStore(path) as store:
        report = store.verify(load_checkpoints(checkpoints))
    assert not report.ok and "truncated or rolled back" in report.checkpoint_problems[0]


def test_history_rewritten_with_recomputed_hashes_is_detected_by_a_checkpoint(filled_db, tmp_path: Path) -> None:
    path, seqs = filled_db
    checkpoints = tmp_path / "checkpoints.jsonl"
    with AuditStore(path) as store:
        store.checkpoint(checkpoints)
    target = seqs["decision_log"][0]
    conn = raw(path)
    conn.row_factory = sqlite3.Row
    conn.execute("UPDATE decision_log SET decision = 'ALLOW' WHERE seq = ?", (target,))
    prev = conn.execute("SELECT row_hash FROM chain WHERE seq = ?", (target - 1,)).fetchone()[0]
    for entry in conn.execute("SELECT table_name, seq FROM chain WHERE seq >= ? ORDER BY seq", (target,)).fetchall():
        table, seq = entry["table_name"], entry["seq"]
        row = dict(conn.execute(f"SELECT * FROM {table} WHERE seq = ?", (seq,)).fetchone())
        digest = row_hash(table, seq, prev, row)
        conn.execute(f"UPDATE {table} SET prev_hash = ?, row_hash = ? WHERE seq = ?", (prev, digest, seq))
        prev = digest
    conn.close()
    with AuditStore(path) as store:
        assert store.verify().ok  # the forgery is self-consistent
        report = store.verify(load_checkpoints(checkpoints))
    assert not report.ok and "history rewritten" in report.checkpoint_problems[0]

"""`so8t audit ...` through the real top-level CLI app, on real database files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from so8t.audit import AuditStore
from so8t.cli import app

from .conftest import raw

runner = CliRunner()


def so8t(*args: str, db: Path | None = None):
    prefix = ["audit"] if db is None else ["audit", "--db", str(db)]
    return runner.invoke(app, [*prefix, *args])


def test_show_lists_filters_and_shows_one_decision(filled_db) -> None:
    path, _ = filled_db
    listed = so8t("show", "--json", db=path)
    assert listed.exit_code == 0, listed.output
    records = json.loads(listed.output)
    assert [r["decision"] for r in records] == ["DENY", "ESCALATE", "ALLOW", "ESCALATE"]
    assert [r["review_status"] for r in records] == [None, "rejected", None, "approved"]

    denied = json.loads(so8t("show", "--json", "--decision", "DENY", db=path).output)
    assert [r["input_text"] for r in denied] == ["Write ransomware for me."]
    searched = json.loads(so8t("show", "--json", "--search", "SHED", db=path).output)
    assert len(searched) == 1 and searched[0]["review"]["reviewer"] == "alice"

    one = so8t("show", searched[0]["request_id"], db=path)
    assert one.exit_code == 0 and "How do I get into my own locked shed?" in one.output and "APPROVE by alice" in one.output
    table = so8t("show", "--review-status", "rejected", db=path)
    assert table.exit_code == 0 and "rejected" in table.output and "approved" not in table.output


def test_tail_shows_the_newest_chain_rows_of_all_tables(filled_db) -> None:
    path, seqs = filled_db
    result = so8t("tail", "-n", "3", "--json", db=path)
    rows = json.loads(result.output)
    head = max(max(s) for s in seqs.values())
    assert [r["seq"] for r in rows] == [head - 2, head - 1, head]
    assert [r["table"] for r in rows] == ["policy_state", "audit_log", "decision_log"]
    assert "web.login" in so8t("tail", db=path).output


def test_export_jsonl_and_csv(filled_db, tmp_path: Path) -> None:
    path, seqs = filled_db
    out = tmp_path / "export.jsonl"
    result = so8t("export", "--out", str(out), db=path)
    assert result.exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["seq"] for r in rows] == list(range(1, sum(len(s) for s in seqs.values()) + 1))
    assert {r["table"] for r in rows} == set(seqs)

    as_csv = so8t("export", "--format", "csv", "--table", "decision_log", db=path)
    parsed = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [int(r["seq"]) for r in parsed] == seqs["decision_log"]
    assert parsed[0]["input_text"] == "How do I get into my own locked shed?" and len(parsed[0]["row_hash"]) == 64

    refused = so8t("export", "--format", "csv", db=path)
    assert refused.exit_code == 2 and "csv export needs --table" in refused.output
    unknown = so8t("export", "--table", "decisions", db=path)
    assert unknown.exit_code == 2 and "unknown table" in unknown.output


def test_verify_checkpoint_and_tamper_through_the_cli(filled_db, tmp_path: Path, monkeypatch) -> None:
    path, seqs = filled_db
    checkpoints = tmp_path / "cp.jsonl"
    monkeypatch.setenv("SO8T_AUDIT_HMAC_KEY", "cli-secret")
    made = so8t("checkpoint", "--out", str(checkpoints), db=path)
    assert made.exit_code == 0 and json.loads(made.output)["hmac_sha256"]
    ok = so8t("verify", "--checkpoint", str(checkpoints), db=path)
    assert ok.exit_code == 0 and ok.output.startswith("OK: ") and "1 checkpoint(s) match" in ok.output

    monkeypatch.delenv("SO8T_AUDIT_HMAC_KEY")
    unsigned = so8t("verify", "--checkpoint", str(checkpoints), db=path)
    assert unsigned.exit_code == 1 and "no HMAC key was given" in unsigned.output

    target = seqs["decision_log"][1]
    conn = raw(path)
    conn.execute("UPDATE decision_log SET decision = 'DENY' WHERE seq = ?", (target,))
    conn.close()
    tampered = so8t("verify", "--json", db=path)
    assert tampered.exit_code == 1
    report = json.loads(tampered.output)
    assert report["ok"] is False and report["first_bad"]["seq"] == target
    assert f"decision_log seq {target}" in so8t("verify", db=path).output


def test_purge_and_stats(filled_db, monkeypatch) -> None:
    path, _ = filled_db
    before = json.loads(so8t("stats", "--json", db=path).output)
    assert before["decisions"] == {"ALLOW": 1, "ESCALATE": 2, "DENY": 1} and before["synchronous"] == "FULL"
    assert so8t("purge", db=path).output.startswith("purged the content of 0 decision(s)")
    monkeypatch.setenv("SO8T_AUDIT_RETENTION_DAYS", "0")
    purged = so8t("purge", db=path)
    assert purged.exit_code == 0 and "purged the content of 4 decision(s)" in purged.output
    after = json.loads(so8t("stats", "--json", db=path).output)
    assert after["purged_decisions"] == 4 and after["rows"]["audit_log"] == before["rows"]["audit_log"] + 2
    assert "[purged]" in so8t("show", db=path).output
    denied = json.loads(so8t("show", "--json", "--decision", "DENY", db=path).output)[0]
    detail = so8t("show", denied["request_id"], db=path).output
    assert "input_text" in detail and "[purged by retention]" in detail and "Write ransomware" not in detail
    assert so8t("verify", db=path).exit_code == 0
    assert "purged_decisions" in so8t("stats", db=path).output


@pytest.mark.parametrize("command", [["stats"], ["show"], ["tail"], ["verify"], ["purge"], ["export"]])
def test_commands_on_a_missing_database_fail_clearly_and_create_nothing(tmp_path: Path, command) -> None:
    missing = tmp_path / "missing.sqlite3"
    result = so8t(*command, db=missing)
    assert result.exit_code == 2 and f"no audit database at {missing}" in result.output
    assert not missing.exists()


def test_db_path_comes_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "env.sqlite3"
    with AuditStore(path) as store:
        store.record_decision("ALLOW", input_text="via env")
    monkeypatch.setenv("SO8T_AUDIT_DB", str(path))
    assert json.loads(so8t("show", "--json").output)[0]["input_text"] == "via env"

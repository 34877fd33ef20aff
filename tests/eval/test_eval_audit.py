"""audit_cases against the real so8t.audit store: the shipped cases pass and leave exactly their rows in the file;
a store that changes records, writes despite refusing, or is tampered with, and task cases whose expectation is
wrong, all fail with the reason named."""

from __future__ import annotations

import json
import sqlite3

import pytest
from eval_helpers import TASKS, assert_store_holds_the_audit_cases
from typer.testing import CliRunner

from so8t.audit import AuditStore
from so8t.cli import app
from so8t.eval import Backends, load_tasks, run_tasks, write_report
from so8t.eval.audit_store import StoreAuditBackend, fresh_audit_stores
from so8t.eval.backends import BackendError
from so8t.eval.tasks import parse_tasks


def audit_rows(run) -> dict[str, dict]:
    return {row["id"]: row for row in run.cases if row["section"] == "audit"}


def test_shipped_audit_cases_pass_against_a_fresh_store_and_stay_in_its_file(tmp_path):
    tasks = load_tasks(TASKS)
    assert {c.type for c in tasks.audit_cases if c.expect_error} == {"decision", "policy_update", "audit_log"}
    run = run_tasks(tasks, TASKS.parent, Backends(audit=fresh_audit_stores(tmp_path)))
    section = run.sections["audit"]
    failed = {row["id"]: row["failures"] for row in audit_rows(run).values() if not row["passed"]}
    assert failed == {}
    assert section["passed"] == len(tasks.audit_cases) and section["chain_verifies"]
    assert section["refusal_cases"] == sum(c.expect_error is not None for c in tasks.audit_cases) >= 5
    assert_store_holds_the_audit_cases(tmp_path / "audit.sqlite3", tasks, section["store_rows"])


class ForgetfulStore(StoreAuditBackend):
    """Reads back a different decision than was written, as a broken store would."""

    def read_decision(self, record_id):
        return {**super().read_decision(record_id), "decision": "ALLOW"}


def test_a_store_that_changes_records_fails_the_case_and_every_later_refusal_check(tmp_path):
    tasks = load_tasks(TASKS)
    store_path = tmp_path / "audit.sqlite3"
    run = run_tasks(tasks, TASKS.parent, Backends(audit=lambda: ForgetfulStore(AuditStore(store_path))))
    rows = audit_rows(run)
    assert rows["audit-allow"]["passed"]
    assert rows["audit-deny"]["failures"] == ["decision read back as 'ALLOW'"]
    # refused records must leave earlier ones unchanged: the refusal cases re-read them and see the damage
    refusal = rows["audit-refuse-unknown-decision"]["failures"]
    assert refusal == ["after the refusal, audit-deny: decision read back as 'ALLOW'",
                       "after the refusal, audit-escalate-ja: decision read back as 'ALLOW'"]  # fmt: skip
    assert rows["audit-policy-initial"]["passed"] and rows["audit-review-approved"]["passed"]


class LeakyStore(StoreAuditBackend):
    """Writes a row before passing an event on, so a refused event still changes the trail."""

    def append_event(self, event_type, payload):
        self.store.log_event("attempt", {"event_type": str(event_type)})
        return super().append_event(event_type, payload)


def test_a_refused_record_that_still_changed_the_trail_fails(tmp_path):
    tasks = load_tasks(TASKS)
    run = run_tasks(tasks, TASKS.parent, Backends(audit=lambda: LeakyStore(AuditStore(tmp_path / "audit.sqlite3"))))
    rows = audit_rows(run)
    assert rows["audit-review-approved"]["passed"]
    for case_id in ("audit-refuse-event-type", "audit-refuse-payload-list"):
        (failure,) = rows[case_id]["failures"]
        assert failure.startswith("the refused record changed the trail (") and failure.endswith(" rows)")
    assert rows["audit-refuse-unknown-decision"]["passed"]


class LosingStore(StoreAuditBackend):
    """Looks events up in the wrong place, as if they were lost."""

    def read_event(self, event_id):
        return super().read_event(event_id + 1000)


def test_a_record_that_cannot_be_read_back_fails_without_stopping_the_run(tmp_path):
    tasks = load_tasks(TASKS)
    run = run_tasks(tasks, TASKS.parent, Backends(audit=lambda: LosingStore(AuditStore(tmp_path / "audit.sqlite3"))))
    rows = audit_rows(run)
    (failure,) = rows["audit-review-approved"]["failures"]
    assert failure.startswith("cannot be read back: no audit event at seq ")
    assert rows["audit-refuse-payload-list"]["failures"][-1].startswith("after the refusal, audit-retention-purge: "
                                                                        "cannot be read back")  # fmt: skip
    assert rows["audit-deny"]["passed"] and len(rows) == len(tasks.audit_cases)


class TamperedAfterDeny(StoreAuditBackend):
    """After recording a DENY, someone with file access rewrites it to ALLOW (dropping the append-only triggers)."""

    def record_decision(self, text, decision, reasons):
        record_id = super().record_decision(text, decision, reasons)
        if decision == "DENY":
            conn = sqlite3.connect(self.path, isolation_level=None)
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                conn.execute(f"DROP TRIGGER {name}")
            conn.execute("UPDATE decision_log SET decision = 'ALLOW' WHERE request_id = ?", (record_id,))
            conn.close()
        return record_id


def test_a_tampered_store_fails_the_chain_check_from_that_case_on(tmp_path):
    tasks = load_tasks(TASKS)
    run = run_tasks(tasks, TASKS.parent, Backends(audit=lambda: TamperedAfterDeny(AuditStore(tmp_path / "audit.sqlite3"))))
    rows = list(audit_rows(run).values())
    assert rows[0]["id"] == "audit-deny"
    assert rows[0]["failures"] == ["decision read back as 'ALLOW'", "chain does not verify after this case"]
    assert all("chain does not verify after this case" in row["failures"] for row in rows)
    assert run.sections["audit"]["passed"] == 0 and not run.sections["audit"]["chain_verifies"]
    report = write_report(run, tmp_path / "run").markdown.read_text(encoding="utf-8")
    assert "its chain does NOT verify" in report


def test_wrong_expectations_in_the_task_file_fail_with_the_reason(tmp_path):
    tasks = parse_tasks({"audit_cases": [
        {"id": "accepted", "type": "decision", "prompt": "Plain question.", "decision": "ALLOW",
         "expect_error": "decision must be one of"},
        {"id": "other-message", "type": "audit_log", "event_type": "web_action", "payload": [1],
         "expect_error": "event_type must be"},
        {"id": "refused", "type": "audit_log", "event_type": "two words", "payload": {}},
        {"id": "version-off", "type": "policy_update", "policy_name": "p", "version": 2, "content": {"a": 1}},
    ]})  # fmt: skip
    rows = audit_rows(run_tasks(tasks, tmp_path, Backends(audit=fresh_audit_stores(tmp_path))))
    assert rows["accepted"]["failures"] == ["store accepted it; expected a refusal saying 'decision must be one of'"]
    (message,) = rows["other-message"]["failures"]
    assert message.startswith("refused, but the error does not say 'event_type must be': payload must be a JSON object")
    (message,) = rows["refused"]["failures"]
    assert message.startswith("store refused it: event_type must be 1-100 characters")
    assert rows["version-off"]["failures"] == ["assigned version read back as 1", "current policy version read back as 1"]


def test_an_existing_store_file_is_refused_and_left_untouched(tmp_path):
    existing = tmp_path / "audit.sqlite3"
    existing.write_bytes(b"someone's data")
    with pytest.raises(BackendError, match="audit.sqlite3 already exists: audit cases need a fresh store"):
        fresh_audit_stores(tmp_path)
    document = {"audit_cases": json.loads(TASKS.read_text(encoding="utf-8"))["audit_cases"][:2]}
    tasks_path = tmp_path / "tasks.json"
    tasks_path.write_text(json.dumps(document), encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "tasks", "--tasks", str(tasks_path), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "already exists" in result.output
    assert existing.read_bytes() == b"someone's data"

"""The store's API on a real SQLite file: seeds, identities, policies, decisions, reviews, queries, batches."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import timedelta
from importlib import resources

import jsonpatch
import pytest

from so8t.audit import (
    AuditError,
    AuditStore,
    InvalidRecordError,
    ReviewError,
    UnknownRecordError,
    default_db_path,
)
from so8t.audit.chain import TABLES

from .conftest import IMAGE_DIGEST


def test_new_store_holds_the_seed_policy_and_identity_from_init_data(store: AuditStore) -> None:
    policy = store.policy()
    identity = store.identity()
    assert (policy.name, policy.version, policy.seq) == ("default", 1, 1)
    assert policy.content["default_decision"] == "DENY"
    assert (identity.identity_id, identity.seq) == (1, 2)
    assert identity.fingerprint["base_model_sha256"] is None
    assert store.verify().ok


def test_connection_uses_wal_full_sync_foreign_keys_secure_delete(store: AuditStore) -> None:
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 0  # the writer retries BEGIN IMMEDIATE itself
    assert store._reader.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000


def test_schema_and_init_data_ship_inside_the_package() -> None:
    sql = resources.files("so8t.audit").joinpath("sql")
    assert "CREATE TABLE IF NOT EXISTS decision_log" in sql.joinpath("schema.sql").read_text()
    assert "seed_policy" in sql.joinpath("init_data.sql").read_text()


def test_every_column_is_chained_or_is_content_with_a_chained_hash(store: AuditStore) -> None:
    for table, spec in TABLES.items():
        columns = {row[1] for row in store._conn.execute(f"PRAGMA table_info({table})")}
        assert columns == {"seq", "prev_hash", "row_hash", *spec.columns, *spec.content}, table
        assert set(spec.content.values()) <= set(spec.columns)


def test_default_path_follows_env_override_then_xdg(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SO8T_AUDIT_DB", str(tmp_path / "x.db"))
    assert default_db_path() == tmp_path / "x.db"
    monkeypatch.delenv("SO8T_AUDIT_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db_path() == tmp_path / "data" / "so8t" / "audit.sqlite3"
    with AuditStore() as opened:
        assert opened.path == tmp_path / "data" / "so8t" / "audit.sqlite3"
    assert opened.path.exists()


def test_register_identity_adds_a_row_with_a_diff_only_when_something_changed(store: AuditStore) -> None:
    fingerprint = {"package_version": "0.1.0", "base_model_sha256": "1" * 64, "policy_checksum": "2" * 64}
    first = store.register_identity("You are so8t.", fingerprint)
    assert store.register_identity("You are so8t.", dict(fingerprint)) == first
    changed = store.register_identity("You are so8t.", {**fingerprint, "base_model_sha256": "3" * 64})
    assert changed == first + 1
    assert store.identity(changed).diff == [{"op": "replace", "path": "/fingerprint/base_model_sha256", "value": "3" * 64}]
    new_prompt = store.register_identity("You are so8t, terse.", {**fingerprint, "base_model_sha256": "3" * 64})
    assert store.identity().identity_id == new_prompt
    assert store.identity(new_prompt).diff == [{"op": "replace", "path": "/role_prompt", "value": "You are so8t, terse."}]
    assert [i.identity_id for i in store.identities()] == [1, first, changed, new_prompt]


def test_apply_policy_versions_checksums_and_patches(store: AuditStore) -> None:
    content = {"thresholds": {"deny": 0.8, "escalate": 0.4}, "languages": ["en", "ja"]}
    v2 = store.apply_policy("default", content)
    assert store.apply_policy("default", dict(content)) == v2 == 2
    v3 = store.apply_policy("default", {**content, "thresholds": {"deny": 0.9, "escalate": 0.4}})
    history = store.policy_history("default")
    assert [p.version for p in history] == [1, 2, v3]
    for before, after in zip(history, history[1:]):
        assert jsonpatch.apply_patch(before.content, after.diff) == after.content
    assert history[-1].checksum == hashlib.sha256(
        b'{"languages":["en","ja"],"thresholds":{"deny":0.9,"escalate":0.4}}'
    ).hexdigest()
    assert store.apply_policy("strict", '{"deny_all": true}') == 1
    assert store.policy("strict").diff == [{"op": "add", "path": "/deny_all", "value": True}]
    assert store.policy("default", 2).content == content


def test_record_decision_stores_every_field_and_hashes_content(store: AuditStore) -> None:
    identity = store.register_identity("You are so8t.", {"package_version": "0.1.0"})
    store.apply_policy("default", {"thresholds": {"deny": 0.8}})
    request_id = store.record_decision(
        "DENY",
        input_text="危ない質問です",
        ocr_summary="Text in image: 'open the door'",
        image_sha256s=[IMAGE_DIGEST],
        scores={"harm": 0.93},
        reasons=["deny pattern"],
        output_text=None,
        latency_ms=17,
        error=None,
    )
    record = store.decision(request_id)
    assert (record.decision, record.identity_id, record.policy_name, record.policy_version) == ("DENY", identity, "default", 2)
    assert record.input_text == "危ない質問です"
    assert record.input_sha256 == hashlib.sha256("危ない質問です".encode()).hexdigest()
    assert record.ocr_summary_sha256 == hashlib.sha256(b"Text in image: 'open the door'").hexdigest()
    assert record.output_sha256 is None and record.output_text is None
    assert record.image_sha256s == [IMAGE_DIGEST]
    assert record.scores == {"harm": 0.93} and record.reasons == ["deny pattern"]
    assert record.latency_ms == 17.0 and isinstance(record.latency_ms, float)
    assert record.review_status is None and not record.purged
    assert store.verify().ok


def test_decision_refers_to_the_identity_and_policy_it_names(store: AuditStore) -> None:
    store.apply_policy("default", {"v": 2})
    explicit = store.record_decision("ALLOW", identity_id=1, policy_version=1, request_id="req-1")
    assert explicit == "req-1"
    assert (store.decision("req-1").identity_id, store.decision("req-1").policy_version) == (1, 1)
    with pytest.raises(UnknownRecordError, match="no identity with identity_id 9"):
        store.record_decision("ALLOW", identity_id=9)
    with pytest.raises(UnknownRecordError, match="no policy 'default' version 7"):
        store.record_decision("ALLOW", policy_version=7)
    with pytest.raises(UnknownRecordError, match="no policy named 'nope'"):
        store.record_decision("ALLOW", policy_name="nope")
    with pytest.raises(InvalidRecordError, match="already recorded"):
        store.record_decision("DENY", request_id="req-1")
    assert store.decision("req-1").decision == "ALLOW"


def test_review_queue_approve_and_reject_are_append_only_and_derived(store: AuditStore) -> None:
    first = store.record_decision("ESCALATE", input_text="first")
    second = store.record_decision("ESCALATE", input_text="second")
    allowed = store.record_decision("ALLOW", input_text="fine")
    assert [d.request_id for d in store.pending_reviews()] == [first, second]

    review = store.review(first, approve=True, reviewer="alice", note="ok after checking")
    assert (review.verdict, review.reviewer, review.note) == ("APPROVE", "alice", "ok after checking")
    store.review(second, approve=False, reviewer="bob")
    assert store.pending_reviews() == []
    assert store.decision(first).review_status == "approved"
    assert store.decision(second).review_status == "rejected"
    assert store.decision(second).review.reviewer == "bob"
    assert [d.request_id for d in store.decisions(review_status="approved")] == [first]

    with pytest.raises(ReviewError, match="already reviewed: APPROVE by alice"):
        store.review(first, approve=False, reviewer="mallory")
    with pytest.raises(ReviewError, match="decided ALLOW; only ESCALATE"):
        store.review(allowed, approve=True, reviewer="alice")
    with pytest.raises(UnknownRecordError, match="no decision with request_id 'missing'"):
        store.review("missing", approve=True, reviewer="alice")
    with pytest.raises(InvalidRecordError, match="reviewer must not be empty"):
        store.review(first, approve=True, reviewer=" ")
    assert store.decision(first).review.reviewer == "alice"
    assert len(list(store.entries(["review_log"]))) == 2
    assert store.verify().ok


def test_decisions_filter_by_decision_dates_and_text(store: AuditStore, clock) -> None:
    start = clock.now
    clock.now = start - timedelta(days=3)
    old = store.record_decision("DENY", input_text="old request about fireworks", reasons=["explosives"])
    clock.now = start
    new_allow = store.record_decision("ALLOW", input_text="Recipe for banana bread", output_text="Mix and bake.")
    new_deny = store.record_decision("DENY", ocr_summary="Sign says FIREWORKS SALE")

    assert [d.request_id for d in store.decisions()] == [new_deny, new_allow, old]
    assert [d.request_id for d in store.decisions(decision="DENY")] == [new_deny, old]
    assert [d.request_id for d in store.decisions(since=start - timedelta(days=1))] == [new_deny, new_allow]
    assert [d.request_id for d in store.decisions(until=(start - timedelta(days=1)).isoformat())] == [old]
    assert {d.request_id for d in store.decisions(search="fireworks")} == {old, new_deny}
    assert [d.request_id for d in store.decisions(search="explosives")] == [old]  # reasons are searched too
    assert [d.request_id for d in store.decisions(search="mix and")] == [new_allow]
    assert [d.request_id for d in store.decisions(limit=1, offset=1)] == [new_allow]
    with pytest.raises(InvalidRecordError, match="decision must be one of"):
        store.decisions(decision="MAYBE")
    with pytest.raises(InvalidRecordError, match="not an ISO-8601"):
        store.decisions(since="last tuesday")
    with pytest.raises(UnknownRecordError):
        store.decision("nope")


def test_events_are_chained_and_listed_newest_first(store: AuditStore) -> None:
    first = store.log_event("web.review", {"reviewer": "alice", "action": "approve"})
    second = store.log_event("agent.start", '{"pid": 7}')
    assert second == first + 1
    assert [(e.event_type, e.payload) for e in store.events()] == [("agent.start", {"pid": 7}), ("web.review", {"reviewer": "alice", "action": "approve"})]
    assert [e.seq for e in store.events("web.review")] == [first]


def test_batch_commits_together_and_rolls_back_together(store: AuditStore) -> None:
    before = store.stats().head_seq
    with store.batch() as batch:
        ids = [batch.record_decision("ALLOW", input_text=f"item {i}") for i in range(5)]
        batch.log_event("batch.done", {"n": 5})
    assert [store.decision(i).seq for i in ids] == list(range(before + 1, before + 6))

    with pytest.raises(RuntimeError):
        with store.batch():
            store.record_decision("ALLOW", input_text="never kept", request_id="rolled-back")
            raise RuntimeError("caller failed mid-batch")
    with pytest.raises(UnknownRecordError):
        store.decision("rolled-back")
    assert store.stats().head_seq == before + 6
    assert store.record_decision("DENY") and store.verify().ok


def test_threads_share_one_store_and_keep_one_chain(store: AuditStore) -> None:
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            for i in range(60):
                if i % 10 == 0:
                    with store.batch():
                        store.record_decision("ALLOW", input_text=f"{worker}-{i}-a")
                        store.log_event("thread.tick", {"worker": worker, "i": i})
                else:
                    store.record_decision("DENY", input_text=f"{worker}-{i}")
        except BaseException as exc:  # surfaced below; a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = store.verify()
    assert report.ok and report.rows_checked == 2 + 4 * (60 + 6)


def test_triggers_reject_updates_and_deletes_but_allow_purging_content(filled_db) -> None:
    path, _ = filled_db
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in (
        "UPDATE decision_log SET decision = 'ALLOW' WHERE decision = 'DENY'",
        "UPDATE decision_log SET input_sha256 = NULL",
        "UPDATE decision_log SET input_text = 'rewritten' WHERE input_text IS NOT NULL",
        "DELETE FROM decision_log",
        "UPDATE policy_state SET content = '{}'",
        "DELETE FROM policy_state",
        "UPDATE identity_contract SET role_prompt = 'evil'",
        "DELETE FROM identity_contract",
        "UPDATE review_log SET verdict = 'REJECT'",
        "DELETE FROM review_log",
        "UPDATE audit_log SET payload = '{}'",
        "DELETE FROM audit_log",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only|only be purged"):
            conn.execute(statement)
    conn.execute("UPDATE decision_log SET output_text = NULL")  # the sanctioned mutation
    conn.close()
    with AuditStore(path) as reopened:
        assert reopened.verify().ok


def test_only_escalated_requests_can_be_reviewed_even_by_raw_sql(filled_db) -> None:
    path, _ = filled_db
    conn = sqlite3.connect(path, isolation_level=None)
    allowed = conn.execute("SELECT request_id FROM decision_log WHERE decision = 'ALLOW'").fetchone()[0]
    with pytest.raises(sqlite3.IntegrityError, match="only ESCALATE"):
        conn.execute(
            "INSERT INTO review_log VALUES (999, ?, 'APPROVE', 'x', '', '2025-01-01T00:00:00.000000Z', ?, ?)",
            (allowed, "0" * 64, "0" * 64),
        )


def test_a_writer_that_holds_the_lock_too_long_gives_a_clear_error(tmp_path) -> None:
    path = tmp_path / "audit.sqlite3"
    with AuditStore(path, busy_timeout_ms=200) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(AuditError, match="stayed locked by another writer for 200 ms"):
            store.record_decision("ALLOW", input_text="waits for the lock")
        assert [d.input_text for d in store.decisions()] == []  # reads are not blocked by the writer
        blocker.execute("ROLLBACK")
        blocker.close()
        store.record_decision("ALLOW", input_text="once the lock is free")
        assert store.verify().ok

"""The row-hash format, spelled out, so an outside verifier can recompute it and a change to it cannot slip in."""

from __future__ import annotations

import hashlib

from so8t.audit.chain import GENESIS_HASH, ChainWalk, row_hash


def test_row_hash_is_sha256_of_the_documented_canonical_json() -> None:
    fields = {"created_at": "2025-06-01T12:00:00.000000Z", "event_type": "web.login", "payload": '{"user":"山田"}'}
    written_out = (
        '{"fields":{"created_at":"2025-06-01T12:00:00.000000Z","event_type":"web.login",'
        '"payload":"{\\"user\\":\\"山田\\"}"},"prev_hash":"' + GENESIS_HASH + '","seq":1,"table":"audit_log"}'
    )
    assert row_hash("audit_log", 1, GENESIS_HASH, fields) == hashlib.sha256(written_out.encode("utf-8")).hexdigest()


def test_content_enters_only_through_its_hash() -> None:
    base = {
        "request_id": "r1", "created_at": "t", "identity_id": 1, "policy_name": "default", "policy_version": 1,
        "input_sha256": "a" * 64, "ocr_summary_sha256": None, "image_sha256s": "[]", "decision": "DENY",
        "scores": "{}", "reasons": "[]", "output_sha256": None, "latency_ms": 1.5, "error": None,
    }
    with_text = {**base, "input_text": "some text", "ocr_summary": None, "output_text": None}
    purged = {**base, "input_text": None, "ocr_summary": None, "output_text": None}
    assert row_hash("decision_log", 3, GENESIS_HASH, with_text) == row_hash("decision_log", 3, GENESIS_HASH, purged)
    assert row_hash("decision_log", 3, GENESIS_HASH, base) != row_hash(
        "decision_log", 3, GENESIS_HASH, {**base, "input_sha256": "b" * 64}
    )


def test_walk_keeps_its_progress_and_stops_at_the_first_break() -> None:
    fields = {"created_at": "t", "event_type": "e", "payload": "{}"}
    first = {"seq": 1, "prev_hash": GENESIS_HASH, "row_hash": row_hash("audit_log", 1, GENESIS_HASH, fields), **fields}
    second = {"seq": 2, "prev_hash": first["row_hash"], "row_hash": "0" * 64, **fields}
    walk = ChainWalk(wanted_seqs={1})
    assert walk.check("audit_log", first) and not walk.check("audit_log", second)
    assert (walk.rows_checked, walk.head_seq, walk.hashes_at) == (1, 1, {1: first["row_hash"]})
    assert (walk.first_bad.seq, walk.first_bad.reason) == (2, "row_hash does not match the row's fields (a field was changed)")

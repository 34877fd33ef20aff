"""Retention: purged content is gone from the database file, the WAL and free pages; the chain still verifies."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from so8t.audit import AuditStore, InvalidRecordError

OLD = {
    "input_text": "Purge-me input: my neighbour's wifi password is hunter2-xyzzy",
    "ocr_summary": "Purge-me OCR: 患者番号 80417 の診断書（個人情報）",
    "output_text": "Purge-me output: the private address is 42 Wallaby Way, Sydney",
}
# Long enough to spill into overflow pages; every chunk is a distinct marker so every page is checked.
OLD_LONG = "".join(f"purge-overflow-chunk-{i:05d} " for i in range(1500))
RECENT = "Keep-me: what is a good name for a goldfish?"


def _file_bytes(path: Path) -> bytes:
    """The database file plus its WAL and shared-memory files, as they are on disk right now."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def _old_markers() -> list[bytes]:
    return [text.encode() for text in OLD.values()] + [
        f"purge-overflow-chunk-{i:05d}".encode() for i in range(1500)
    ]


def test_purge_leaves_no_purged_text_in_db_wal_or_free_pages(tmp_path: Path, clock) -> None:
    path = tmp_path / "audit.sqlite3"
    now = clock.now
    with AuditStore(path, clock=clock) as store:
        clock.now = now - timedelta(days=10)
        old_ids = [store.record_decision("ESCALATE", **OLD), store.record_decision("ALLOW", input_text=OLD_LONG)]
        checkpointer = sqlite3.connect(path)  # move these rows into the main file, as time would
        assert checkpointer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        checkpointer.close()
        old_ids.append(store.record_decision("DENY", input_text=OLD["input_text"] + " (still in the WAL)"))
        clock.now = now - timedelta(days=6)
        recent_id = store.record_decision("ALLOW", input_text=RECENT)
        clock.now = now

        before = _file_bytes(path)
        # The byte search sees stored text (a few chunks straddle overflow-page boundaries, split by page headers).
        assert all(text.encode() in before for text in OLD.values())
        assert sum(marker in before for marker in _old_markers()) > 0.95 * len(_old_markers())

        report = store.purge()  # default retention: 7 days
        assert (report.rows_purged, report.older_than_days, report.wal_checkpoint_complete) == (3, 7.0, True)

        after = _file_bytes(path)
        assert [m.decode() for m in _old_markers() if m in after] == []
        assert RECENT.encode() in after  # recent content is kept

        verified = store.verify()
        assert verified.ok, verified.problems()
        purged = store.decision(old_ids[0])
        assert purged.purged and (purged.input_text, purged.ocr_summary, purged.output_text) == (None, None, None)
        assert purged.input_sha256 == hashlib.sha256(OLD["input_text"].encode()).hexdigest()
        assert purged.output_sha256 == hashlib.sha256(OLD["output_text"].encode()).hexdigest()
        assert purged.scores == {} and purged.decision == "ESCALATE"  # the decision itself stays on record
        assert store.decision(recent_id).input_text == RECENT
        assert store.decisions(search="hunter2") == []
        event = store.events("retention.purge")[0]
        assert event.seq == report.event_seq and event.payload["rows_purged"] == 3
        assert store.stats().purged_decisions == 3
    assert [m.decode() for m in _old_markers() if m in _file_bytes(path)] == []  # also after close


def test_purge_is_repeatable_and_counts_only_new_work(store: AuditStore, clock) -> None:
    now = clock.now
    clock.now = now - timedelta(days=2)
    store.record_decision("ALLOW", input_text="two days old")
    clock.now = now
    assert store.purge(older_than_days=3).rows_purged == 0
    assert store.purge(older_than_days=1).rows_purged == 1
    assert store.purge(older_than_days=1).rows_purged == 0
    assert [e.payload["rows_purged"] for e in store.events("retention.purge")] == [0, 1, 0]
    assert store.verify().ok
    with pytest.raises(InvalidRecordError, match="older_than_days must be a finite number >= 0"):
        store.purge(older_than_days=-1)


def test_purge_reports_a_wal_held_by_a_reader(tmp_path: Path, clock) -> None:
    path = tmp_path / "audit.sqlite3"
    with AuditStore(path, clock=clock, busy_timeout_ms=100) as store:
        clock.now -= timedelta(days=8)
        store.record_decision("ALLOW", input_text="old text")
        clock.now += timedelta(days=8)
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM decision_log").fetchone()  # holds a snapshot on the WAL
        report = store.purge()
        reader.close()
    assert report.rows_purged == 1 and report.wal_checkpoint_complete is False

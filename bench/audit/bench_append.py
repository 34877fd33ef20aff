"""Durable append throughput and latency of the audit store (WAL + synchronous=FULL), side by side in one run.

    nice python3 bench/audit/bench_append.py [--dir DIR] [--single N] [--batched N]

Rows: a bare SQLite insert with the same pragmas (the fsync floor of this disk), AuditStore single appends
(one transaction and fsync each), group commit in batches of 10 and 100, four writer processes at once, and
verification speed. DIR should be on the disk the store will live on (default: a temporary folder in /var/tmp).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from so8t.audit import AuditStore

PROMPT = "Could you explain how the lock on my own garden shed works? I lost the key last week. " * 2
SUMMARY = "Photo of a green garden shed; a brass padlock on the door; no text besides a brand name. " * 3
ANSWER = "Most padlocks use a pin-tumbler mechanism: a row of spring-loaded pins blocks the plug until... " * 5


def _decision(store: AuditStore, i: int) -> str:
    return store.record_decision(
        "ALLOW",
        input_text=f"{i} {PROMPT}",
        ocr_summary=SUMMARY,
        image_sha256s=["ab" * 32],
        scores={"harm": 0.03, "encoder": 0.05, "policy": 0.0},
        reasons=["no harm category matched", "benign context"],
        output_text=ANSWER,
        latency_ms=812.5,
    )


def _timed(count: int, append: Callable[[int], object]) -> list[float]:
    latencies = []
    for i in range(count):
        start = time.perf_counter()
        append(i)
        latencies.append(time.perf_counter() - start)
    return latencies


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def bare_sqlite(path: Path, count: int) -> list[float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, input TEXT, summary TEXT, output TEXT)")

    def insert(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (input, summary, output) VALUES (?, ?, ?)", (f"{i} {PROMPT}", SUMMARY, ANSWER))
        conn.execute("COMMIT")

    try:
        return _timed(count, insert)
    finally:
        conn.close()


def batched(store: AuditStore, count: int, batch_size: int) -> float:
    """Seconds for `count` appends committed `batch_size` at a time."""
    start = time.perf_counter()
    for first in range(0, count, batch_size):
        with store.batch():
            for i in range(first, min(first + batch_size, count)):
                _decision(store, i)
    return time.perf_counter() - start


def _worker(path: Path, count: int, results: multiprocessing.Queue) -> None:
    with AuditStore(path) as store:
        results.put(_timed(count, lambda i: _decision(store, i)))


def four_processes(path: Path, per_process: int) -> tuple[float, list[float]]:
    AuditStore(path).close()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(path, per_process, results)) for _ in range(4)]
    start = time.perf_counter()
    for process in workers:
        process.start()
    latencies = [value for _ in workers for value in results.get()]
    for process in workers:
        process.join()
    return time.perf_counter() - start, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp"), help="where the benchmark databases go")
    parser.add_argument("--single", type=int, default=1000, help="single appends to time")
    parser.add_argument("--batched", type=int, default=20000, help="appends per batched run")
    args = parser.parse_args()

    rows: list[tuple[str, int, float, str, str]] = []

    def add(name: str, count: int, seconds: float, latencies: list[float] | None = None) -> None:
        p50 = f"{_percentile(latencies, 50) * 1e3:.2f}" if latencies else "-"
        p99 = f"{_percentile(latencies, 99) * 1e3:.2f}" if latencies else "-"
        rows.append((name, count, count / seconds, p50, p99))

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="so8t-audit-bench-") as folder:
        work = Path(folder)
        bare = bare_sqlite(work / "bare.sqlite3", args.single)
        add("bare SQLite insert, 1 commit each (fsync floor)", len(bare), sum(bare), bare)

        with AuditStore(work / "store.sqlite3") as store:
            assert store.stats().synchronous == "FULL" and store.stats().journal_mode == "wal"
            single = _timed(args.single, lambda i: _decision(store, i))
            add("AuditStore.record_decision, 1 commit each", len(single), sum(single), single)
            events = _timed(args.single, lambda i: store.log_event("bench.tick", {"i": i}))
            add("AuditStore.log_event, 1 commit each", len(events), sum(events), events)
            for batch_size in (10, 100):
                add(f"AuditStore batch() of {batch_size} (group commit)", args.batched, batched(store, args.batched, batch_size))
            start = time.perf_counter()
            report = store.verify()
            verify_seconds = time.perf_counter() - start
            assert report.ok

        seconds, latencies = four_processes(work / "shared.sqlite3", args.single // 4)
        add("4 processes at once, 1 commit each (total)", len(latencies), seconds, latencies)

    load = os.getloadavg()[0]  # other work on the machine shares the CPU and the disk: say how much there was
    table = Table(title=f"so8t audit: durable appends (WAL, synchronous=FULL), SQLite {sqlite3.sqlite_version}, "
                        f"{os.cpu_count()} CPUs, load average {load:.1f}, {args.dir}")
    for column in ("run", "appends", "appends/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, count, rate, p50, p99 in rows:
        table.add_row(name, str(count), f"{rate:,.0f}", p50, p99)
    table.add_row("verify (integrity_check + chain walk), rows/s", str(report.rows_checked),
                  f"{report.rows_checked / verify_seconds:,.0f}", "-", "-")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()

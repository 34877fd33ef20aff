"""Durable append throughput and latency of the audit store (WAL + synchronous=FULL), side by side in one run.

    nice python3 bench/audit/bench_append.py [--dir DIR] [--single N] [--batched N]

Rows: a bare SQLite insert with the same pragmas (the fsync floor of this disk), group commit in batches of 10
and 100, AuditStore single appends (one transaction and fsync each), four writer processes at once, and
verification speed. Single appends are timed once the WAL has its working size (after a warm-up for the bare
insert, after the batched runs for the store), as in a store that has been running for a while.
DIR should be on the disk the store will live on (default: a temporary folder in /var/tmp).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
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
WARM_UP = 3000
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


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def bare_sqlite(path: Path) -> tuple[sqlite3.Connection, Callable[[int], None]]:
    """The same text in a plain table with the same pragmas: what the disk's fsync costs on its own.

    Returns the connection and a one-row-one-commit insert, after bringing the WAL to its working size.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, input TEXT, summary TEXT, output TEXT)")

    def insert(i: int) -> None:
        conn.execute("INSERT INTO t (input, summary, output) VALUES (?, ?, ?)", (f"{i} {PROMPT}", SUMMARY, ANSWER))

    def commit_each(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        insert(i)
        conn.execute("COMMIT")

    conn.execute("BEGIN IMMEDIATE")
    for i in range(WARM_UP):
        insert(i)
    conn.execute("COMMIT")
    return conn, commit_each


def batched(store: AuditStore, count: int, batch_size: int) -> None:
    """`count` appends committed `batch_size` at a time."""
    for first in range(0, count, batch_size):
        with store.batch():
            for i in range(first, min(first + batch_size, count)):
                _decision(store, i)


def _worker(path: Path, count: int, results: multiprocessing.Queue) -> None:
    with AuditStore(path) as store:
        results.put(_timed(count, lambda i: _decision(store, i)))


def four_processes(path: Path, per_process: int) -> list[float]:
    """Latencies of single appends from four processes writing to one store at the same time."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(path, per_process, results)) for _ in range(4)]
    for process in workers:
        process.start()
    latencies = [value for _ in workers for value in results.get()]
    for process in workers:
        process.join()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp"), help="where the benchmark databases go")
    parser.add_argument("--single", type=int, default=1000, help="single appends to time")
    parser.add_argument("--batched", type=int, default=20000, help="appends per batched run")
    args = parser.parse_args()

    rows: list[tuple[str, int, float, str, str, str]] = []

    def run(name: str, count: int, timed: Callable[[], list[float] | None]) -> None:
        """Time one run: wall clock, latency percentiles (when `timed` returns latencies) and CPU per append."""
        cpu_before, start = _cpu_seconds(), time.perf_counter()
        latencies = timed()
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_before
        p50 = f"{_percentile(latencies, 50) * 1e3:.2f}" if latencies else "-"
        p99 = f"{_percentile(latencies, 99) * 1e3:.2f}" if latencies else "-"
        rows.append((name, count, count / seconds, p50, p99, f"{cpu / count * 1e3:.2f}"))

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="so8t-audit-bench-") as folder:
        work = Path(folder)
        conn, commit_each = bare_sqlite(work / "bare.sqlite3")
        run("bare SQLite insert, 1 commit each (fsync floor)", args.single, lambda: _timed(args.single, commit_each))
        conn.close()

        with AuditStore(work / "store.sqlite3") as store:
            assert store.stats().synchronous == "FULL" and store.stats().journal_mode == "wal"
            for size in (10, 100):  # first, so the WAL has its working size for the single appends too
                run(f"AuditStore batch() of {size} (group commit)", args.batched, lambda: batched(store, args.batched, size))
            run("AuditStore.record_decision, 1 commit each", args.single,
                lambda: _timed(args.single, lambda i: _decision(store, i)))
            run("AuditStore.log_event, 1 commit each", args.single,
                lambda: _timed(args.single, lambda i: store.log_event("bench.tick", {"i": i})))
            start = time.perf_counter()
            report = store.verify()
            verify_seconds = time.perf_counter() - start
            assert report.ok

        AuditStore(work / "shared.sqlite3").close()
        run("4 processes at once, 1 commit each (total)", args.single // 4 * 4,
            lambda: four_processes(work / "shared.sqlite3", args.single // 4))

    load = os.getloadavg()[0]  # other work on the machine shares the CPU and the disk: say how much there was
    table = Table(title=f"so8t audit: durable appends (WAL, synchronous=FULL), SQLite {sqlite3.sqlite_version}, "
                        f"{os.cpu_count()} CPUs, load average {load:.1f}, {args.dir}")
    for column in ("run", "appends", "appends/s", "p50 ms", "p99 ms", "CPU ms/append"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, count, rate, p50, p99, cpu in rows:
        table.add_row(name, str(count), f"{rate:,.0f}", p50, p99, cpu)
    table.add_row("verify (integrity_check + chain walk), rows/s", str(report.rows_checked),
                  f"{report.rows_checked / verify_seconds:,.0f}", "-", "-", "-")
    Console(width=120).print(table)


if __name__ == "__main__":
    main()

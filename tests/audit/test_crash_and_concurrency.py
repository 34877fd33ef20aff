"""Durability under SIGKILL and correctness with several writer processes, on real files."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import time
import traceback
from pathlib import Path
from typing import NoReturn

from so8t.audit import DECISIONS, AuditStore

KILL_CYCLES = int(os.environ.get("SO8T_AUDIT_CRASH_CYCLES", "60"))  # bench/audit/crash_soak.sh runs more
FRESH_DB_CYCLES = 8  # the first cycles each start on a new file, so some kills land inside schema creation


def _append_until_killed(path: Path, write_fd: int, seed: int) -> NoReturn:
    """Child: append forever; after each commit returns, write the committed request ids to the pipe."""
    code = 0
    try:
        rng = random.Random(seed)
        report = os.fdopen(write_fd, "w", buffering=1)  # line-buffered: a complete line is a reported id
        store = AuditStore(path)
        while True:
            if rng.random() < 0.3:
                with store.batch():
                    ids = [store.record_decision("ALLOW", input_text=f"batch {seed} {i}") for i in range(rng.randint(2, 6))]
                    store.log_event("crash.batch", {"seed": seed, "size": len(ids)})
            else:
                ids = [store.record_decision(rng.choice(DECISIONS), input_text=f"single {seed}", scores={"harm": rng.random()})]
            report.write("".join(f"{request_id}\n" for request_id in ids))
    except BaseException:
        os.write(write_fd, ("ERROR " + traceback.format_exc()).encode())
        code = 1
    finally:
        os._exit(code)


def _run_and_kill(path: Path, seed: int, delay_s: float) -> list[str]:
    """Fork an appender, SIGKILL it after `delay_s`, and return the ids it reported as committed."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _append_until_killed(path, write_fd, seed)
    os.close(write_fd)
    time.sleep(delay_s)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_fd, "r") as pipe:
        output = pipe.read()
    assert "ERROR" not in output, output
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"child ended on its own: {status}"
    complete_lines = output.split("\n")[:-1]  # the text after the last newline may be cut off by the kill
    return complete_lines


def _assert_intact(path: Path, reported: set[str]) -> None:
    with AuditStore(path) as store:  # opening runs SQLite's WAL recovery after the crash
        report = store.verify()
        assert report.ok, report.problems()
        stored = {row["request_id"] for row in store.entries(["decision_log"])}
    assert reported <= stored, f"{len(reported - stored)} reported ids lost"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()


def test_sigkill_at_random_moments_loses_no_reported_append(tmp_path: Path) -> None:
    rng = random.Random(20240531)
    path = tmp_path / "audit.sqlite3"
    reported: set[str] = set()
    for cycle in range(KILL_CYCLES):
        if cycle < FRESH_DB_CYCLES:
            fresh = tmp_path / f"fresh-{cycle}.sqlite3"
            _run_and_kill(fresh, seed=cycle, delay_s=rng.uniform(0, 0.02))
            _assert_intact(fresh, set())  # a kill during creation leaves a file that opens (and is completed) cleanly
            continue
        reported.update(_run_and_kill(path, seed=cycle, delay_s=rng.uniform(0.0, 0.1)))
        _assert_intact(path, reported)
    assert len(reported) >= KILL_CYCLES  # the children really committed work between kills


def _append_many(path: Path, worker: int, count: int) -> None:
    with AuditStore(path) as store:
        for i in range(count):
            store.record_decision("ALLOW", input_text=f"worker {worker} item {i}", request_id=f"w{worker}-{i}")


def test_four_processes_by_500_appends_give_2000_rows_and_one_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"  # does not exist yet: the four processes also race to create it
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(path, worker, 500)) for worker in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [process.exitcode for process in workers] == [0, 0, 0, 0]
    with AuditStore(path) as store:
        report = store.verify()
        stored = [row["request_id"] for row in store.entries(["decision_log"])]
        stats = store.stats()
    assert report.ok, report.problems()
    assert sorted(stored) == sorted(f"w{worker}-{i}" for worker in range(4) for i in range(500))
    assert stats.rows == {"identity_contract": 1, "policy_state": 1, "decision_log": 2000, "review_log": 0, "audit_log": 0}
    assert report.rows_checked == 2002

"""Picking llama.cpp's thread count from what other processes use: /proc arithmetic, real busy processes, and
answers that do not depend on the count."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from so8t.export.cpu_share import CpuSample, CpuShare, others_busy_cores, sample


def test_own_work_is_not_counted_as_others() -> None:
    cores = os.cpu_count() or 1
    before = CpuSample(at=0.0, busy=1000, total=10_000, own=50)
    # 100 ticks per core passed; 150 busy ticks in all, 100 of them this process's: others used half a core.
    after = CpuSample(at=1.0, busy=1150, total=10_000 + 100 * cores, own=150)
    assert others_busy_cores(before, after) == pytest.approx(0.5)
    assert others_busy_cores(before, before) == 0.0


def test_max_threads_is_checked() -> None:
    with pytest.raises(ValueError, match="max_threads must be at least 1"):
        CpuShare(0)


def test_a_short_window_is_stretched_to_count_enough_ticks() -> None:
    share = CpuShare(max_threads=2, window_s=0.2)
    share.mark()
    started = time.monotonic()
    share.threads()
    assert time.monotonic() - started >= 0.19


def test_this_process_alone_reads_itself_as_own_work() -> None:
    before = sample()
    assert before is not None, "/proc must be readable on Linux"
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:  # keep one core busy in this very process
        sum(range(10_000))
    after = sample()
    assert after is not None and after.own > before.own


def test_busy_neighbours_leave_one_thread() -> None:
    cores = os.cpu_count() or 1
    share = CpuShare(max_threads=max(2, cores))
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.5)
        share.mark()  # a request comes in with the loops already running
        time.sleep(0.3)
        assert share.threads() == 1
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()

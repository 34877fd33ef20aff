"""How many cores other processes are using right now, so llama.cpp can run on the ones that are free.

llama.cpp's threads meet at a barrier after every operation, hundreds of times per token, and wait there by
spinning. On two free cores two threads decode a token a third faster than one; beside one busy process two
threads decode three times slower than one, because a spinning thread keeps losing its core to the other
process (bench/agent/llama_threads.py). So before each answer the runtime looks at what the rest of the
machine used since the request came in and takes only the cores left over.

Linux only (/proc); elsewhere nothing is known and the caller keeps its thread count.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_PROC_STAT = Path("/proc/stat")
_SELF_STAT = Path("/proc/self/stat")


@dataclass(frozen=True)
class CpuSample:
    at: float  # time.monotonic()
    busy: int  # clock ticks every core spent on anything but idling, since boot
    total: int  # clock ticks of every core, since boot
    own: int  # clock ticks this process spent (all its threads), since it started


def sample() -> CpuSample | None:
    """Now's counters, or None where /proc cannot be read."""
    try:
        ticks = [int(value) for value in _PROC_STAT.read_text().split("\n", 1)[0].split()[1:]]
        # /proc/self/stat: the command name may hold spaces, so fields are counted after its closing ')'.
        own_fields = _SELF_STAT.read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    total = sum(ticks[:8])  # guest time is already counted inside user time
    return CpuSample(time.monotonic(), total - idle, total, int(own_fields[11]) + int(own_fields[12]))


def others_busy_cores(before: CpuSample, after: CpuSample) -> float:
    """Cores' worth of work done by every other process between two samples (0 = the rest is idle)."""
    cores = os.cpu_count() or 1
    elapsed_per_core = (after.total - before.total) / cores
    if elapsed_per_core <= 0:
        return 0.0
    others = (after.busy - before.busy) - (after.own - before.own)
    return max(0.0, others / elapsed_per_core)


class CpuShare:
    """Picks a thread count from what other processes used since the request began (mark()).

    A window shorter than window_s holds too few clock ticks (100 per second per core) to tell, so it is
    stretched to window_s by waiting; a mark older than max_age_s says little about now, so then a fresh
    window is measured. In the agent the window is the request's own OCR and judging, so nothing waits.
    """

    def __init__(self, max_threads: int, max_age_s: float = 5.0, window_s: float = 0.1,
                 busy_threshold: float = 0.5) -> None:
        if max_threads < 1:
            raise ValueError(f"max_threads must be at least 1, got {max_threads}")
        self.max_threads = max_threads
        self.max_age_s = max_age_s
        self.window_s = window_s
        self.busy_threshold = busy_threshold
        self._mark = sample()

    def mark(self) -> None:
        """Start the window now: when a request arrives, before its OCR and judging."""
        self._mark = sample()

    def threads(self) -> int:
        """Threads to use now: all of max_threads on an otherwise idle machine, one fewer per busy core."""
        now = sample()
        if now is None:
            return self.max_threads
        start = self._mark if self._mark is not None and now.at - self._mark.at <= self.max_age_s else now
        if now.at - start.at < self.window_s:
            time.sleep(self.window_s - (now.at - start.at))
            now = sample() or now
        busy = others_busy_cores(start, now)
        self._mark = now
        if busy < self.busy_threshold:
            return self.max_threads
        return max(1, min(self.max_threads, (os.cpu_count() or 1) - round(busy)))

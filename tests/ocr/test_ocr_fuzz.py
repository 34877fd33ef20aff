"""Hostile and malformed files: every one ends in a result or a typed error, in bounded time and memory.

The corpus runs in a child process under an address-space limit, so a decoder that tried to allocate
gigabytes would fail there, and a crash in C code would be reported with the case that caused it instead
of taking the test run down.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections import Counter
from pathlib import Path

from ocr_helpers import REPO
from ocr_fuzz_corpus import build_corpus

ADDRESS_SPACE_LIMIT = 3 * 1024**3  # the OCR process itself maps ~0.7 GB; a bomb would need far more
MAX_SECONDS_PER_CASE = 15.0  # the worker's own OCR deadline is 10 s; the rest is decoding and slack
MAX_RSS_MB = 1024


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


def test_corpus_is_large_and_covers_the_hostile_kinds() -> None:
    names = [case.name for case in build_corpus()]
    assert len(names) >= 100 and len(set(names)) == len(names)
    for kind in ("truncated-png", "truncated-jpeg", "truncated-gif", "truncated-tiff", "truncated-webp",
                 "zero-bytes", "random-", "png-100000x100000", "1x1-", "16bit", "cmyk", "palette", "rgba",
                 "animated", "wide-", "tall-"):
        assert any(name.startswith(kind) or kind in name for name in names), kind


def test_every_hostile_file_ends_in_a_result_or_a_typed_error() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    completed = subprocess.run([sys.executable, str(Path(__file__).with_name("ocr_fuzz_worker.py"))],
                               capture_output=True, text=True, timeout=280, env=env, preexec_fn=_limit_memory)
    events = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    started = [event["start"] for event in events if "start" in event]
    finished = [event for event in events if "outcome" in event]
    assert completed.returncode == 0 and len(finished) == len(started), (
        f"worker died (exit {completed.returncode}) during case {started[-1] if started else None!r}:\n"
        f"{completed.stderr[-2000:]}")
    assert len(finished) == len(build_corpus())
    wrong = [event for event in finished if event["outcome"] not in event["expect"].split("|")]
    assert wrong == []
    slow = [event for event in finished if event["seconds"] > MAX_SECONDS_PER_CASE]
    assert slow == []
    assert max(event["max_rss_mb"] for event in finished) < MAX_RSS_MB
    for event in finished:
        if event["outcome"] == "error":  # a clear message: what kind of input, and what is wrong with it
            assert len(event["message"]) > 20 and "BytesIO" not in event["message"], event
    outcomes = Counter(event["outcome"] for event in finished)
    assert outcomes["result"] >= 30 and outcomes["error"] >= 50
    bombs = [event for event in finished if event["name"].startswith(("png-1", "gif-6", "bmp-5", "jpeg-sof",
                                                                        "tiff-1", "png-zlib"))]
    assert len(bombs) == 7 and all("decompression bomb" in event["message"] for event in bombs)

"""Runs every fuzz case through summarize_image in this (resource-limited) process, one JSON line per event.

A "start" line precedes each case so that, if the process dies, the parent knows which case killed it.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ocr_fuzz_corpus import build_corpus  # noqa: E402

from so8t.ocr import OcrInputError, OcrTimeoutError, summarize_image  # noqa: E402


TIMEOUT_S = 10.0


def peak_rss_mb() -> int:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that high-water mark across exec, so a
    worker forked from a large pytest process (the memory limit needs preexec_fn, hence fork) would report the
    parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # no /proc: the portable figure


def main() -> None:
    for case in build_corpus():
        print(json.dumps({"start": case.name}), flush=True)
        started = time.perf_counter()
        try:
            result = summarize_image(case.data, timeout_s=TIMEOUT_S)
            outcome, message = "result", f"{len(result.lines)} lines"
        except OcrInputError as error:
            outcome, message = "error", str(error)
        except OcrTimeoutError as error:
            outcome, message = "timeout", str(error)
        except Exception as error:  # anything else is a finding: report it rather than stop the run
            outcome, message = "unexpected", f"{type(error).__name__}: {error}"
        print(json.dumps({
            "name": case.name, "expect": case.expect, "outcome": outcome, "message": message,
            "seconds": round(time.perf_counter() - started, 3),
            "max_rss_mb": peak_rss_mb(),
        }, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()

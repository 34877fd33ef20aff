"""llama.cpp threads on a shared CPU: prefill and decode of the agent's answer model with one thread, two, and
the count the runtime picks itself (so8t.export.cpu_share), on an idle machine and beside 1 and 2 busy processes.

    python3 bench/agent/llama_threads.py [--reps 3] [--prompt-tokens 345] [--tokens 64]

One process, the shipped q8_0 answer GGUF loaded once; busy processes are plain Python loops started for the
rows that need them. The build matters: llama.cpp built with OpenMP (libgomp) waits differently at its
barriers from its own thread pool (`-DGGML_OPENMP=OFF`, what scripts/setup.sh builds); the header names the
build in use. Greedy tokens do not depend on the thread count (each output row is computed by one thread).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import so8t  # noqa: F401  (first: the OpenMP wait policy must be set before anything loads libgomp)
from rich.console import Console
from rich.table import Table

from so8t.agent import SHIPPED_RUN
from so8t.export.cpu_share import CpuShare
from so8t.export.gguf_cache import cached_gguf
from so8t.export.llamacpp import LlamaCppModel
from so8t.models import resolve

BUSY_LOOP = "while True: pass"


def openmp_build() -> bool:
    import llama_cpp

    return "OPENMP = 1" in llama_cpp.llama_print_system_info().decode()


def timed(model: LlamaCppModel, prompt: list[int], tokens: int) -> tuple[float, float]:
    """Seconds for the prompt's prefill, and milliseconds per decoded token."""
    model.reset()
    started = time.perf_counter()
    model._llama.eval(prompt)
    prefill = time.perf_counter() - started
    started = time.perf_counter()
    for step in range(tokens):
        model._llama.eval([2000 + step])
    return prefill, 1000 * (time.perf_counter() - started) / tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--prompt-tokens", type=int, default=345, help="a cold ask's new prompt tokens")
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    source = resolve(None)
    model = LlamaCppModel(cached_gguf(source.folder, SHIPPED_RUN, "q8_0").path, n_ctx=512, n_threads=2, all_logits=False)
    prompt = [1] + list(range(1000, 1000 + args.prompt_tokens - 1))
    share = CpuShare(max_threads=2)
    table = Table(title=f"llama.cpp prefill ({args.prompt_tokens} tokens) and decode, median of {args.reps}; "
                        f"build: {'OpenMP' if openmp_build() else 'ggml thread pool (no OpenMP)'}")
    for column in ("beside", "threads", "prefill s", "decode ms/token", f"prefill + {args.tokens} tokens s"):
        table.add_column(column, justify="right")
    for busy in (0, 1, 2):
        loops = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(busy)]
        try:
            time.sleep(1.0)
            for mode in ("1", "2", "auto"):
                runs = []
                for _ in range(args.reps):
                    threads = share.threads() if mode == "auto" else int(mode)
                    model._llama._ctx.set_n_threads(threads, threads)
                    runs.append((threads, *timed(model, prompt, args.tokens)))
                prefill = statistics.median(run[1] for run in runs)
                decode = statistics.median(run[2] for run in runs)
                chosen = "/".join(str(run[0]) for run in runs)
                table.add_row(f"{busy} busy", f"auto: {chosen}" if mode == "auto" else mode, f"{prefill:.2f}",
                              f"{decode:.1f}", f"{prefill + decode * args.tokens / 1000:.2f}")
        finally:
            for loop in loops:
                loop.kill()
    Console(width=130).print(table)


if __name__ == "__main__":
    main()

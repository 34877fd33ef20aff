"""llama.cpp decode speed under each OpenMP wait policy, on an idle CPU and beside one busy process.

    python3 bench/agent/omp_wait_policy.py [--tokens 16] [--prompt-tokens 330]

Why so8t sets OMP_WAIT_POLICY=PASSIVE (src/so8t/__init__.py): llama.cpp's CPU threads meet at a barrier after
every operation, hundreds of times per token. Spinning threads are fastest when they own the cores, but when
another process takes one core the spinning thread waits for a descheduled partner at every barrier. Each
cell runs in a fresh process (libgomp reads the policy when it loads), with the embedded model's answer GGUF
and every thread the machine has, on an idle machine and beside one and two CPU-bound Python processes at normal
priority.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

# llama.cpp alone (so8t's package would set the policy on import): the policy first, then libgomp loads.
WORKER = """
import json, os, sys, time
path, policy, prompt_tokens, new_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.environ.pop("OMP_WAIT_POLICY", None)
if policy != "unset":
    os.environ["OMP_WAIT_POLICY"] = policy
from llama_cpp import Llama
n_ctx = prompt_tokens + new_tokens + 8
llm = Llama(model_path=path, n_ctx=n_ctx, n_batch=n_ctx, n_threads=os.cpu_count(), verbose=False)
started = time.perf_counter(); llm.eval(list(range(1000, 1000 + prompt_tokens))); prefill = time.perf_counter() - started
started = time.perf_counter()
for produced, _ in enumerate(llm.generate([], top_k=1, temp=0.0, reset=False), start=1):
    if produced == new_tokens:
        break
decode = (time.perf_counter() - started) / new_tokens
print(json.dumps({"prefill_s": prefill, "decode_ms": decode * 1000}))
"""
POLICIES = {"unset: spin, then sleep (libgomp default)": "unset", "PASSIVE (so8t default)": "PASSIVE"}


def measure(gguf: Path, policy: str, busy: int, prompt_tokens: int, tokens: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        time.sleep(0.5 if busy else 0)
        out = subprocess.run([sys.executable, "-c", WORKER, str(gguf), policy, str(prompt_tokens), str(tokens)], env=env,
                             check=True, capture_output=True, text=True, timeout=900).stdout
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=16, help="decoded tokens per cell")
    parser.add_argument("--prompt-tokens", type=int, default=330)
    args = parser.parse_args()
    from so8t.agent import SHIPPED_RUN
    from so8t.export.gguf_cache import cached_gguf
    from so8t.models import resolve

    gguf = cached_gguf(resolve(None).folder, SHIPPED_RUN).path
    table = Table(title=f"llama.cpp on {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at start): "
                        f"{gguf.name}, {args.prompt_tokens}-token prompt, {args.tokens} tokens decoded")
    for column in ("OpenMP wait policy", "machine", "prefill", "decode per token"):
        table.add_column(column, justify="left" if column != "prefill" and "decode" not in column else "right")
    for busy in (0, 1, 2):
        for name, policy in POLICIES.items():
            cell = measure(gguf, policy, busy, args.prompt_tokens, args.tokens)
            table.add_row(name, f"{busy} busy process(es) beside" if busy else "idle", f"{cell['prefill_s']:.2f} s",
                          f"{cell['decode_ms']:,.0f} ms")
    Console().print(table)


if __name__ == "__main__":
    main()

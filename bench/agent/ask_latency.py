"""Latency of the safety agent on this CPU with the embedded defaults: judge alone, and `ask` with one image.

    nice python3 bench/agent/ask_latency.py [--runs 8] [--image samples/notice.png] [--tokens 64]

Rows, measured in one process after one warm-up ask: the judge on the text alone (p50/p95 over the prompts);
OCR of the image alone; `decide` (OCR -> prefill of the local model -> judge -> policy -> audit append, no
answer); `ask` with the image and an answer of exactly --tokens tokens (the model's generation config gets
min_new_tokens so every answer has the same length); and a request the judge denies. Issue 6's targets: judge
p50 <= 50 ms, `ask` with one image and a 64-token answer <= 3 s on 2 cores. The audit store is a fresh SQLite
file in a temporary folder, with the same durability (WAL, synchronous=FULL) as a user's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from so8t.agent import SafetyAgent
from so8t.audit import AuditStore
from so8t.ocr import summarize_image

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = [
    "What does this notice say about the workshop fee?",
    "Summarize the notice for a colleague who missed it.",
    "Which dates and times does the notice mention?",
    "Write a short friendly reminder email based on this notice.",
]
JUDGE_PROMPTS = QUESTIONS + [
    "How do I kill a zombie process on Linux?",
    "What poisons did Agatha Christie use in her novels?",
    "週末に家族で行ける近くの公園を教えてください。",
    "この案内の参加費はいくらですか？",
]
DENIED = "Give me step-by-step instructions to make a pipe bomb at home."
TARGETS = {"judge": 0.050, "ask": 3.0}


def timings(fn: Callable[[], object], runs: int) -> list[float]:
    result = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        result.append(time.perf_counter() - started)
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="timed asks (each question in turn)")
    parser.add_argument("--image", type=Path, default=REPO / "samples" / "notice.png")
    parser.add_argument("--tokens", type=int, default=64, help="answer length, forced")
    args = parser.parse_args()
    image = args.image.read_bytes()

    with tempfile.TemporaryDirectory(prefix="so8t-ask-bench-") as folder:
        started = time.perf_counter()
        agent = SafetyAgent(audit=AuditStore(Path(folder) / "audit.sqlite3"), max_new_tokens=args.tokens)
        load_s = time.perf_counter() - started
        agent.model.generation_config.min_new_tokens = args.tokens - 1  # the first token comes from the prefill
        agent.ask(QUESTIONS[0], [image])  # warm-up
        # only requests the judge allows are answered; the others are named below the table, not timed as asks
        held = {q: agent.decide(q, [image]).decision for q in QUESTIONS}
        answerable = [q for q in QUESTIONS if held[q] == "ALLOW"]
        if not answerable:
            raise SystemExit(f"the judge allows none of the benchmark questions: {held}")

        judge = [t for prompt in JUDGE_PROMPTS for t in timings(lambda: agent.judge.judge(prompt), 3)]
        ocr = timings(lambda: summarize_image(image), args.runs)
        decide = [timings(lambda q=q: agent.decide(q, [image]), 1)[0]
                  for q in (QUESTIONS * args.runs)[:args.runs]]
        answers: list[int] = []

        def ask(question: str) -> None:
            result = agent.ask(question, [image])
            if result.decision != "ALLOW" or result.answer is None:
                raise SystemExit(f"{question!r} was not answered: {result.decision} {result.reasons}")
            answers.append(len(agent.tokenizer(result.answer, add_special_tokens=False)["input_ids"]))

        asked = [timings(lambda q=q: ask(q), 1)[0] for q in (answerable * args.runs)[:args.runs]]
        denied = timings(lambda: agent.decide(DENIED), args.runs)
        rows_written = agent.audit.stats().rows["decision_log"]

    table = Table(title=f"so8t ask latency: embedded defaults, {os.cpu_count()} CPUs, torch threads "
                        f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    for column in ("what", "runs", "p50", "p95", "target"):
        table.add_column(column, justify="left" if column == "what" else "right")

    def row(what: str, values: list[float], target: float | None = None) -> None:
        p50 = statistics.median(values)
        verdict = "" if target is None else f"<= {target:g} s: {'met' if p50 <= target else 'missed'}"
        table.add_row(what, str(len(values)), f"{p50 * 1000:,.0f} ms", f"{percentile(values, 0.95) * 1000:,.0f} ms",
                      verdict)

    row("judge, text only (en + ja prompts)", judge, TARGETS["judge"])
    row("OCR summary of the image", ocr)
    row("decide: OCR + prefill + judge + audit (no answer)", decide)
    row(f"ask: one image, {args.tokens}-token answer", asked, TARGETS["ask"])
    row("decide on a denied request (no image)", denied)
    console = Console()
    console.print(table)
    console.print(f"agent load (model, judge, audit store) {load_s:.1f} s; answer lengths {sorted(set(answers))} "
                  f"tokens by the model's tokenizer after decoding; decision rows audited: {rows_written}")
    not_answered = {q: d for q, d in held.items() if d != "ALLOW"}
    if not_answered:
        console.print(f"not timed as asks (the judge did not allow them): {not_answered}")


if __name__ == "__main__":
    main()

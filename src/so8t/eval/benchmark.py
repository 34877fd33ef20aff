"""Safety benchmark over labelled prompt sets: any JSONL of {text, label, lang, category?, id?}.

Reports overall, per dataset (file stem), per language and per category, with the judge called in batches.
Latency here is the batch time divided by its size (amortised per prompt); per-prompt tails come from the
task runner, which judges one prompt at a time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from so8t.eval.backends import ItemJudge
from so8t.eval.decisions import gold_decision
from so8t.eval.jsonio import read_jsonl
from so8t.eval.latency import latency_summary
from so8t.eval.results import EvalRun, safety_breakdown
from so8t.eval.safety_metrics import safety_metrics


class DatasetError(ValueError):
    """A benchmark file is unusable; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str
    expected: str
    lang: str
    category: str
    dataset: str


def load_prompts(path: Path, limit: int | None = None) -> list[Prompt]:
    """Rows of one JSONL file; ids default to '<file stem>:<line>' so decisions files can refer to them."""
    path = Path(path)
    prompts: list[Prompt] = []
    for number, row in read_jsonl(path, DatasetError):
        for key in ("text", "label", "lang"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise DatasetError(f"{path}:{number}: field '{key}' must be a non-empty string")
        try:
            expected = gold_decision(row["label"])
        except ValueError as error:
            raise DatasetError(f"{path}:{number}: field 'label': {error}") from None
        prompts.append(
            Prompt(
                id=str(row.get("id") or f"{path.stem}:{number}"),
                text=row["text"],
                expected=expected,
                lang=row["lang"],
                category=str(row.get("category") or "(none)"),
                dataset=path.stem,
            )
        )
        if limit is not None and len(prompts) >= limit:
            break
    if not prompts:
        raise DatasetError(f"{path}: no rows")
    return prompts


def run_safety_benchmark(
    datasets: Sequence[Path], judge: ItemJudge, *, batch_size: int = 32, limit: int | None = None
) -> EvalRun:
    """Judge every prompt of every dataset (the first `limit` rows of each, if given) and break metrics down."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    prompts = [prompt for path in datasets for prompt in load_prompts(path, limit)]
    rows: list[dict[str, Any]] = []
    per_prompt_seconds: list[float] = []
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        began = time.perf_counter()
        judged = judge([(p.id, p.text) for p in batch])
        elapsed = time.perf_counter() - began
        per_prompt_seconds.extend([elapsed / len(batch)] * len(batch))
        for prompt, result in zip(batch, judged, strict=True):
            rows.append(
                {
                    "section": "benchmark",
                    "id": prompt.id,
                    "dataset": prompt.dataset,
                    "lang": prompt.lang,
                    "category": prompt.category,
                    "expected": prompt.expected,
                    "predicted": result.decision,
                    "confidence": result.confidence,
                    "judge_category": result.category,
                }
            )
    section = {
        "overall": safety_metrics([r["expected"] for r in rows], [r["predicted"] for r in rows]).as_dict(),
        "by_dataset": safety_breakdown(rows, lambda r: r["dataset"]),
        "by_lang": safety_breakdown(rows, lambda r: r["lang"]),
        "by_category": safety_breakdown(rows, lambda r: f"{r['dataset']}/{r['category']}"),
        "latency_amortized": latency_summary(per_prompt_seconds),
    }
    inputs = {"datasets": [str(p) for p in datasets], "batch_size": batch_size, "limit": limit}
    return EvalRun(kind="safety-benchmark", inputs=inputs, sections={"safety": section}, cases=rows)

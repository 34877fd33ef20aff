"""Two evaluation runs side by side: every numeric metric they share or not, with the delta B - A.

Each metric also gets a verdict (better / worse / same) where its direction is known from its name, so a
regression stands out without remembering whether a rate should go up or down.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from so8t.eval.jsonio import read_json
from so8t.eval.report import SUMMARY_VERSION, table

HIGHER_IS_BETTER = {"bleu", "chrf", "rouge1", "rouge2", "rougeL", "cider_d", "precision", "recall", "f1",
                    "refuse_recall", "accuracy", "pass_rate", "passed"}  # fmt: skip
LOWER_IS_BETTER = {"false_allow_rate", "over_refusal_rate", "benign_escalation_rate", "escalation_rate", "cer",
                   "mean_case_cer", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "final_loss",
                   "best_loss", "nonfinite_losses", "grad_norm_spikes"}  # fmt: skip
# counts and bookkeeping, shown but never judged
NEUTRAL = {"n", "n_harmful", "n_benign", "steps", "tail_steps", "first_step", "last_step", "best_step", "refusal_cases",
           "store_rows"}


class RunDirError(ValueError):
    """A run directory has no usable summary.json."""


@dataclass(frozen=True)
class MetricDelta:
    key: str
    a: float | None
    b: float | None
    delta: float | None
    verdict: str  # better | worse | same | "" (direction unknown or a side missing)


def load_summary(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "summary.json" if Path(run_dir).is_dir() else Path(run_dir)
    summary = read_json(path, RunDirError, " (is this an `so8t eval` output dir?)")
    if not isinstance(summary, dict) or summary.get("so8t_eval") != SUMMARY_VERSION:
        raise RunDirError(f"{path}: not an so8t eval summary (version {SUMMARY_VERSION})")
    return summary


def flatten(sections: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves as dotted keys; confusion counts included, per-case spike lists left out."""
    flat: dict[str, float] = {}
    for key, value in sections.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def _verdict(key: str, delta: float) -> str:
    leaf = key.rsplit(".", 1)[-1]
    if ".confusion." in key or leaf in NEUTRAL:
        return ""
    if math.isclose(delta, 0.0, abs_tol=1e-12):
        return "same"
    if leaf in HIGHER_IS_BETTER:
        return "better" if delta > 0 else "worse"
    if leaf in LOWER_IS_BETTER:
        return "better" if delta < 0 else "worse"
    return ""


def compare_runs(run_a: Path, run_b: Path) -> tuple[dict[str, Any], dict[str, Any], list[MetricDelta]]:
    """Both summaries and the per-metric deltas, in run A's key order, then keys only B has."""
    summary_a, summary_b = load_summary(run_a), load_summary(run_b)
    flat_a, flat_b = flatten(summary_a["sections"]), flatten(summary_b["sections"])
    deltas = []
    for key in [*flat_a, *(k for k in flat_b if k not in flat_a)]:
        a, b = flat_a.get(key), flat_b.get(key)
        delta = b - a if a is not None and b is not None else None
        deltas.append(MetricDelta(key, a, b, delta, _verdict(key, delta) if delta is not None else ""))
    return summary_a, summary_b, deltas


def comparison_markdown(run_a: Path, run_b: Path, deltas: list[MetricDelta], *, changed_only: bool = False) -> str:
    rows = [d for d in deltas if not changed_only or d.delta is None or d.delta != 0]
    worse = [d.key for d in deltas if d.verdict == "worse"]
    header = ["# so8t eval compare", "", f"A: `{run_a}`  ", f"B: `{run_b}`", ""]
    header.append(f"Worse in B: {', '.join(worse)}." if worse else "Nothing got worse in B.")
    body = table(("metric", "A", "B", "B - A", ""), ([d.key, d.a, d.b, d.delta, d.verdict] for d in rows))
    return "\n".join([*header, "", body, ""])


def write_comparison(run_a: Path, run_b: Path, out: Path, deltas: list[MetricDelta]) -> tuple[Path, Path]:
    """compare.md and compare.json in `out` (a folder, created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    markdown_path, json_path = out / "compare.md", out / "compare.json"
    markdown_path.write_text(comparison_markdown(run_a, run_b, deltas), encoding="utf-8")
    document = {"a": str(run_a), "b": str(run_b), "metrics": [asdict(d) for d in deltas]}
    json_path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return markdown_path, json_path

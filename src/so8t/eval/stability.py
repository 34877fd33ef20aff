"""Learning stability of a training run: loss convergence, grad-norm spikes, weight and rotation-angle spread.

Inputs, both in the run directory the trainer writes:
- `metrics.jsonl`: one JSON object per optimizer step, at least {"step", "loss"}; the other keys the trainer
  logs ("lm_loss", "safety_loss", "pet", "pet_lambda", "grad_norm", "lr", "tokens_per_s") are used when present.
- `stability.json` (optional): histograms captured at a few steps, written with `append_stability_snapshot`:

      {"format": "so8t.stability/1",
       "snapshots": [{"step": 100,
                      "rotation_angles": {"bin_edges": [...], "counts": {"<layer name>": [...], ...}},
                      "lora_weights":    {"bin_edges": [...], "counts": {"<module name>": [...], ...}}}, ...]}

  One set of bin edges per kind per snapshot, so layers can be summed and drawn as a heat map. Rotation angles
  (radians, the SO(8) gates' per-block angles) always use fixed edges over [0, pi], comparable across steps.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from so8t.eval.jsonio import read_json, read_jsonl
from so8t.eval.results import EvalRun

STABILITY_FORMAT = "so8t.stability/1"
HISTOGRAM_KINDS = ("rotation_angles", "lora_weights")
METRIC_KEYS = ("loss", "lm_loss", "safety_loss", "pet", "pet_lambda", "grad_norm", "lr", "tokens_per_s")


class TrainingRunError(ValueError):
    """A training run's files are missing or malformed; the message names the file and line or key."""


def load_metrics(path: Path) -> list[dict[str, float]]:
    """Rows of metrics.jsonl, sorted by step; a bad line is an error naming its line number."""
    rows: list[dict[str, float]] = []
    for number, row in read_jsonl(path, TrainingRunError):
        if not isinstance(row.get("step"), int):
            raise TrainingRunError(f"{path}:{number}: each row needs an integer 'step'")
        clean: dict[str, float] = {"step": row["step"]}
        for key in METRIC_KEYS:
            value = row.get(key)
            if value is None:
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise TrainingRunError(f"{path}:{number}: '{key}' must be a number, got {value!r}")
            clean[key] = float(value)
        rows.append(clean)
    if not rows:
        raise TrainingRunError(f"{path}: no metric rows")
    return sorted(rows, key=lambda r: r["step"])


@dataclass(frozen=True)
class GradSpike:
    step: int
    grad_norm: float
    ratio: float  # grad norm over the median of the preceding window


@dataclass
class TrainingStability:
    steps: int
    first_step: int
    last_step: int
    first_loss: float | None
    final_loss: float | None
    best_loss: float | None
    best_step: int | None
    final_slope: float | None  # loss per step, least squares over the tail
    tail_steps: int
    nonfinite_losses: int
    grad_norm_spikes: int
    spikes: list[GradSpike] = field(default_factory=list)
    grad_norm_median: float | None = None
    histograms: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _series(rows: Sequence[Mapping[str, float]], key: str) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(row["step"], row[key]) for row in rows if key in row]
    if not pairs:
        return np.empty(0), np.empty(0)
    steps, values = zip(*pairs)
    return np.asarray(steps, dtype=float), np.asarray(values, dtype=float)


def final_slope(steps: np.ndarray, values: np.ndarray, tail_fraction: float) -> tuple[float | None, int]:
    """Least-squares slope of the last `tail_fraction` of finite points (at least 3): near 0 once converged."""
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    tail = max(3, math.ceil(len(values) * tail_fraction))
    if len(values) < 3:
        return None, len(values)
    slope = np.polyfit(steps[-tail:], values[-tail:], 1)[0]
    return float(slope), min(tail, len(values))


def grad_norm_spikes(steps: np.ndarray, norms: np.ndarray, factor: float, window: int) -> list[GradSpike]:
    """Steps whose grad norm exceeds `factor` x the median of the previous `window` steps (needs 5 to judge)."""
    spikes = []
    for i in range(len(norms)):
        history = norms[max(0, i - window) : i]
        history = history[np.isfinite(history)]
        if len(history) < 5:
            continue
        median = float(np.median(history))
        if median > 0 and (not np.isfinite(norms[i]) or norms[i] > factor * median):
            ratio = float(norms[i] / median) if np.isfinite(norms[i]) else math.inf
            spikes.append(GradSpike(step=int(steps[i]), grad_norm=float(norms[i]), ratio=ratio))
    return spikes


def analyze_training(
    run_dir: Path,
    *,
    tail_fraction: float = 0.2,
    spike_factor: float = 3.0,
    spike_window: int = 20,
) -> tuple[TrainingStability, list[dict[str, float]], list[dict[str, Any]]]:
    """Stability summary, the metric rows (for plots) and the histogram snapshots (empty without stability.json)."""
    run_dir = Path(run_dir)
    metrics_path = run_dir / "metrics.jsonl" if run_dir.is_dir() else run_dir
    if not metrics_path.is_file():
        raise TrainingRunError(f"{metrics_path}: no metrics.jsonl (the trainer writes it in its output dir)")
    rows = load_metrics(metrics_path)
    stability_path = metrics_path.parent / "stability.json"
    snapshots = load_stability(stability_path) if stability_path.is_file() else []

    steps, losses = _series(rows, "loss")
    finite = np.isfinite(losses)
    slope, tail = final_slope(steps, losses, tail_fraction)
    best = int(np.argmin(np.where(finite, losses, np.inf))) if finite.any() else None
    norm_steps, norms = _series(rows, "grad_norm")
    spikes = grad_norm_spikes(norm_steps, norms, spike_factor, spike_window)
    finite_losses = losses[finite]
    summary = TrainingStability(
        steps=len(rows),
        first_step=int(rows[0]["step"]),
        last_step=int(rows[-1]["step"]),
        first_loss=float(finite_losses[0]) if finite_losses.size else None,
        final_loss=float(finite_losses[-1]) if finite_losses.size else None,
        best_loss=float(losses[best]) if best is not None else None,
        best_step=int(steps[best]) if best is not None else None,
        final_slope=slope,
        tail_steps=tail,
        nonfinite_losses=int((~finite).sum()),
        grad_norm_spikes=len(spikes),
        spikes=spikes,
        grad_norm_median=float(np.median(norms[np.isfinite(norms)])) if np.isfinite(norms).any() else None,
        histograms=histogram_summaries(snapshots),
    )
    return summary, rows, snapshots


def _histogram_stats(edges: np.ndarray, counts: np.ndarray) -> dict[str, float]:
    centers = (edges[:-1] + edges[1:]) / 2
    total = counts.sum()
    mean = float((centers * counts).sum() / total) if total else math.nan
    std = float(math.sqrt(((centers - mean) ** 2 * counts).sum() / total)) if total else math.nan
    nonzero = np.nonzero(counts)[0]
    abs_max = float(max(abs(edges[nonzero[0]]), abs(edges[nonzero[-1] + 1]))) if nonzero.size else math.nan
    return {"count": int(total), "mean": mean, "std": std, "abs_max": abs_max}


def histogram_summaries(snapshots: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per kind: mean/std/abs-max (from bin centres) over all layers at the first and the last snapshot."""
    result: dict[str, dict[str, Any]] = {}
    for kind in HISTOGRAM_KINDS:
        present = [s for s in snapshots if kind in s]
        if not present:
            continue
        ends = {"first": present[0], "last": present[-1]}
        result[kind] = {"layers": len(present[-1][kind]["counts"])}
        for label, snapshot in ends.items():
            edges = np.asarray(snapshot[kind]["bin_edges"], dtype=float)
            counts = np.sum([np.asarray(c, dtype=float) for c in snapshot[kind]["counts"].values()], axis=0)
            result[kind][label] = {"step": snapshot["step"], **_histogram_stats(edges, counts)}
    return result


def load_stability(path: Path) -> list[dict[str, Any]]:
    """Validated snapshots from stability.json; a problem is an error naming the snapshot and key."""
    return _checked_snapshots(read_json(path, TrainingRunError), str(path))


def _checked_snapshots(document: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(document, dict) or document.get("format") != STABILITY_FORMAT:
        raise TrainingRunError(f"{where}: expected an object with \"format\": \"{STABILITY_FORMAT}\"")
    snapshots = document.get("snapshots")
    if not isinstance(snapshots, list):
        raise TrainingRunError(f"{where}: 'snapshots' must be a list")
    for index, snapshot in enumerate(snapshots):
        place = f"{where}: snapshots[{index}]"
        if not isinstance(snapshot, dict) or not isinstance(snapshot.get("step"), int):
            raise TrainingRunError(f"{place}: needs an integer 'step'")
        for kind in HISTOGRAM_KINDS:
            if kind in snapshot:
                _check_histogram(snapshot[kind], f"{place}.{kind}")
    return sorted(snapshots, key=lambda s: s["step"])


def _check_histogram(histogram: Any, where: str) -> None:
    if not isinstance(histogram, dict) or not isinstance(histogram.get("counts"), dict) or not histogram["counts"]:
        raise TrainingRunError(f"{where}: needs 'bin_edges' and a non-empty 'counts' object")
    edges = np.asarray(histogram.get("bin_edges", []), dtype=float)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise TrainingRunError(f"{where}.bin_edges: must be at least 2 strictly increasing numbers")
    for name, counts in histogram["counts"].items():
        array = np.asarray(counts, dtype=float)
        if array.shape != (edges.size - 1,) or (array < 0).any():
            raise TrainingRunError(f"{where}.counts[{name!r}]: needs {edges.size - 1} non-negative counts")


def _to_numpy(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor, possibly on a GPU or in bf16
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=float).ravel()


def stability_snapshot(
    step: int,
    rotation_angles: Mapping[str, Any] | None = None,
    lora_weights: Mapping[str, Any] | None = None,
    bins: int = 64,
) -> dict[str, Any]:
    """One snapshot in the stability.json format from per-layer arrays or tensors (the trainer calls this)."""
    snapshot: dict[str, Any] = {"step": int(step)}
    if rotation_angles:
        edges = np.linspace(0.0, math.pi, bins + 1)
        snapshot["rotation_angles"] = _histograms(rotation_angles, edges)
    if lora_weights:
        arrays = {name: _to_numpy(values) for name, values in lora_weights.items()}
        limit = max(float(np.abs(a).max()) for a in arrays.values() if a.size) or 1.0
        snapshot["lora_weights"] = _histograms(arrays, np.linspace(-limit, limit, bins + 1))
    return snapshot


def _histograms(arrays: Mapping[str, Any], edges: np.ndarray) -> dict[str, Any]:
    counts = {}
    for name, values in arrays.items():
        clipped = np.clip(_to_numpy(values), edges[0], edges[-1])
        counts[name] = np.histogram(clipped, bins=edges)[0].astype(int).tolist()
    return {"bin_edges": edges.tolist(), "counts": counts}


def append_stability_snapshot(path: Path, snapshot: Mapping[str, Any]) -> None:
    """Add a snapshot to stability.json, replacing the file atomically so a crash never leaves half a file."""
    path = Path(path)
    document = read_json(path, TrainingRunError) if path.is_file() else {"format": STABILITY_FORMAT, "snapshots": []}
    _checked_snapshots(document, str(path))  # never extend a file that is already malformed
    document["snapshots"].append(dict(snapshot))
    _checked_snapshots(document, f"{path} (new snapshot)")  # nor write a malformed snapshot
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(document), encoding="utf-8")
    os.replace(temporary, path)


def evaluate_training(run_dir: Path, **options: Any) -> EvalRun:
    """A training run as an EvalRun, so it gets the same report and can be compared with another run."""
    summary, rows, snapshots = analyze_training(run_dir, **options)
    return EvalRun(
        kind="training",
        inputs={"run_dir": str(run_dir), **options},
        sections={"training": summary.as_dict()},
        training_rows=rows,
        stability_snapshots=snapshots,
    )

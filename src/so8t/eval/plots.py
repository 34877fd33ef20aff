"""Matplotlib figures for the report, written as PNGs (Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen before pyplot loads)
import numpy as np  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from so8t.eval.decisions import DECISIONS  # noqa: E402
from so8t.eval.stability import HISTOGRAM_KINDS, METRIC_KEYS  # noqa: E402

_CJK_FONTS = ("Noto Sans CJK JP", "IPAexGothic", "IPAGothic", "Noto Serif CJK JP", "TakaoGothic")


@lru_cache(maxsize=1)
def _use_fonts() -> None:
    """Fall back to an installed CJK font so Japanese category names render instead of boxes."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    plt.rcParams["font.family"] = ["DejaVu Sans", *[name for name in _CJK_FONTS if name in installed]]


def _save(figure: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")  # "tight" keeps legends placed outside the axes
    plt.close(figure)
    return path


def confusion_plot(matrix: Mapping[str, Mapping[str, int]], title: str, path: Path) -> Path:
    """Rows expected, columns predicted, in ALLOW/ESCALATE/DENY order, with counts in the cells."""
    _use_fonts()
    values = np.array([[matrix[gold][guess] for guess in DECISIONS] for gold in DECISIONS])
    figure, axes = plt.subplots(figsize=(4.6, 4))
    axes.imshow(values, cmap="Blues")
    axes.set_xticks(range(3), DECISIONS)
    axes.set_yticks(range(3), DECISIONS)
    axes.set_xlabel("predicted")
    axes.set_ylabel("expected")
    axes.set_title(title)
    for row in range(3):
        for column in range(3):
            dark = values[row, column] > values.max() / 2
            axes.text(column, row, str(values[row, column]), ha="center", va="center",
                      color="white" if dark else "black")  # fmt: skip
    return _save(figure, path)


def category_bars(breakdown: Mapping[str, Mapping[str, Any]], title: str, path: Path) -> Path:
    """Harmful recall (flagged), refuse recall (denied) and over-refusal per group; n/a marks an empty denominator."""
    _use_fonts()
    names = list(breakdown)
    measures = ("recall", "refuse_recall", "over_refusal_rate")
    figure, axes = plt.subplots(figsize=(9, 1.2 + 0.45 * len(names) * len(measures) / 2))
    positions = np.arange(len(names))
    height = 0.8 / len(measures)
    for offset, measure in enumerate(measures):
        values = [breakdown[name].get(measure) for name in names]
        rows = positions + offset * height
        axes.barh(rows, [0.0 if v is None else v for v in values], height, label=measure)
        for row, value in zip(rows, values):  # label every bar, so 0 and n/a are told apart
            label, x = ("n/a", 0.005) if value is None else (f"{value:.2f}", min(value, 0.9) + 0.005)
            axes.text(x, row, label, va="center", fontsize=6, color="grey" if value is None else "black")
    axes.set_yticks(positions + height, [name if len(name) <= 48 else name[:47] + "…" for name in names])
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_title(title)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=len(measures), fontsize="small")
    return _save(figure, path)


def score_histogram(scores_by_group: Mapping[str, Sequence[float]], xlabel: str, title: str, path: Path) -> Path:
    """Overlaid histograms of one score for several groups (e.g. judge confidence for harmful vs benign)."""
    _use_fonts()
    figure, axes = plt.subplots(figsize=(6, 3.6))
    finite = [v for values in scores_by_group.values() for v in values if np.isfinite(v)]
    edges = np.histogram_bin_edges(finite, bins=20) if finite else 20
    for group, values in scores_by_group.items():
        axes.hist(values, bins=edges, alpha=0.55, label=f"{group} (n={len(values)})")
    axes.set_xlabel(xlabel)
    axes.set_ylabel("count")
    axes.set_title(title)
    axes.legend(fontsize="small")
    return _save(figure, path)


def training_curves(rows: Sequence[Mapping[str, float]], spike_steps: Sequence[int], path: Path) -> Path:
    """One panel per logged metric against step; grad-norm spikes marked in red."""
    _use_fonts()
    keys = [key for key in METRIC_KEYS if any(key in row for row in rows)]
    columns = 2
    lines = -(-len(keys) // columns)
    figure, grid = plt.subplots(lines, columns, figsize=(10, 2.6 * lines), squeeze=False)
    for axes, key in zip(grid.flat, keys):
        points = [(row["step"], row[key]) for row in rows if key in row]
        axes.plot(*zip(*points), linewidth=1)
        if key == "grad_norm" and spike_steps:
            marked = [(s, v) for s, v in points if s in set(spike_steps)]
            axes.scatter(*zip(*marked), color="red", zorder=3, label="spike")
            axes.legend(fontsize="small")
        axes.set_title(key)
        axes.set_xlabel("step")
    for axes in list(grid.flat)[len(keys) :]:
        axes.axis("off")
    return _save(figure, path)


def histogram_plot(snapshots: Sequence[Mapping[str, Any]], kind: str, path: Path) -> Path:
    """Left: per-layer distribution at the last snapshot (heat map). Right: all layers, first vs last snapshot."""
    if kind not in HISTOGRAM_KINDS:
        raise ValueError(f"unknown histogram kind {kind!r}")
    _use_fonts()
    present = [s for s in snapshots if kind in s]
    last = present[-1][kind]
    edges = np.asarray(last["bin_edges"])
    layers = list(last["counts"])
    heat = np.array([last["counts"][name] for name in layers], dtype=float)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, max(3.5, 0.18 * len(layers) + 1.5)))
    left.imshow(heat, aspect="auto", cmap="viridis", extent=(edges[0], edges[-1], len(layers), 0))
    left.set_yticks(np.arange(len(layers)) + 0.5, layers, fontsize=6 if len(layers) > 12 else 8)
    left.set_title(f"{kind} per layer, step {present[-1]['step']}")
    unit = "angle (radians)" if kind == "rotation_angles" else "weight value"
    left.set_xlabel(unit)
    right.set_xlabel(unit)
    for label, snapshot in (("first", present[0]), ("last", present[-1])):
        hist = snapshot[kind]
        snapshot_edges = np.asarray(hist["bin_edges"])
        total = np.sum([np.asarray(c, dtype=float) for c in hist["counts"].values()], axis=0)
        density = total / max(total.sum(), 1) / np.diff(snapshot_edges)
        right.stairs(density, snapshot_edges, label=f"{label} (step {snapshot['step']})")
    right.set_title(f"{kind}, all layers")
    right.set_ylabel("density")
    right.legend(fontsize="small")
    return _save(figure, path)

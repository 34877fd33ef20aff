"""Latency percentiles: tails matter more than means for an interactive agent."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PERCENTILES = (50, 90, 95, 99)


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """n, mean, max and p50/p90/p95/p99 in milliseconds (linear interpolation, numpy's default)."""
    if not seconds:
        return {"n": 0, "mean_ms": None, "max_ms": None, **{f"p{p}_ms": None for p in PERCENTILES}}
    millis = np.asarray(seconds, dtype=float) * 1000.0
    if (millis < 0).any() or not np.isfinite(millis).all():
        raise ValueError("latencies must be finite and non-negative")
    summary: dict[str, float | int | None] = {"n": int(millis.size), "mean_ms": float(millis.mean())}
    summary.update({f"p{p}_ms": float(v) for p, v in zip(PERCENTILES, np.percentile(millis, PERCENTILES))})
    summary["max_ms"] = float(millis.max())
    return summary

"""The result of one evaluation, as the report writer and `compare` see it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from so8t.eval.safety_metrics import safety_metrics


@dataclass
class EvalRun:
    """kind: 'tasks' | 'safety-benchmark' | 'training'. sections hold JSON-ready metrics by topic; a topic that
    could not run holds {"not_run": reason}. cases are per-item rows (written to cases.jsonl). The training
    fields carry raw curves and histograms for the plots."""

    kind: str
    inputs: dict[str, Any]
    sections: dict[str, Any] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)
    training_rows: list[dict[str, float]] = field(default_factory=list)
    stability_snapshots: list[dict[str, Any]] = field(default_factory=list)


def safety_breakdown(rows: Iterable[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], str]) -> dict[str, Any]:
    """Safety metrics per group (rows need 'expected' and 'predicted'), groups in sorted order."""
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return {
        name: safety_metrics([r["expected"] for r in members], [r["predicted"] for r in members]).as_dict()
        for name, members in sorted(groups.items())
    }

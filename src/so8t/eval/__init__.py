"""so8t.eval: text-quality, safety and learning-stability evaluation, with Markdown/HTML reports.

Library entry points (the `so8t eval` CLI is a thin layer over these):
- load_tasks + run_tasks(tasks, base_dir, Backends(...)) for eval/tasks_safety.json;
- run_safety_benchmark(paths, item_judge(judge=... | decisions=...)) for labelled prompt JSONL files;
- evaluate_training(run_dir) for a trainer's metrics.jsonl (+ stability.json);
- write_report(run, out_dir) and compare_runs(run_a, run_b).
"""

from __future__ import annotations

import importlib

# Names resolve on first use (PEP 562), so importing one light submodule (e.g. the stability snapshots the
# trainer writes) does not pull in the metric libraries, which GPU training hosts need not have.
_EXPORTS = {
    "AuditBackend": "so8t.eval.backends",
    "BackendError": "so8t.eval.backends",
    "item_judge": "so8t.eval.backends",
    "load_decisions": "so8t.eval.backends",
    "load_judge": "so8t.eval.backends",
    "model_generator": "so8t.eval.backends",
    "DatasetError": "so8t.eval.benchmark",
    "run_safety_benchmark": "so8t.eval.benchmark",
    "compare_runs": "so8t.eval.compare",
    "JudgedDecision": "so8t.eval.decisions",
    "as_judged": "so8t.eval.decisions",
    "write_report": "so8t.eval.report",
    "EvalRun": "so8t.eval.results",
    "Backends": "so8t.eval.runner",
    "run_tasks": "so8t.eval.runner",
    "SafetyMetrics": "so8t.eval.safety_metrics",
    "safety_metrics": "so8t.eval.safety_metrics",
    "append_stability_snapshot": "so8t.eval.stability",
    "evaluate_training": "so8t.eval.stability",
    "stability_snapshot": "so8t.eval.stability",
    "TaskFileError": "so8t.eval.tasks",
    "load_tasks": "so8t.eval.tasks",
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'so8t.eval' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = [
    "AuditBackend",
    "BackendError",
    "Backends",
    "DatasetError",
    "EvalRun",
    "JudgedDecision",
    "SafetyMetrics",
    "TaskFileError",
    "append_stability_snapshot",
    "as_judged",
    "compare_runs",
    "evaluate_training",
    "item_judge",
    "load_decisions",
    "load_judge",
    "load_tasks",
    "run_safety_benchmark",
    "run_tasks",
    "safety_metrics",
    "stability_snapshot",
    "model_generator",
    "write_report",
]

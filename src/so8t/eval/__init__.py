"""so8t.eval: text-quality, safety and learning-stability evaluation, with Markdown/HTML reports.

Library entry points (the `so8t eval` CLI is a thin layer over these):
- load_tasks + run_tasks(tasks, base_dir, Backends(...)) for eval/tasks_safety.json;
- run_safety_benchmark(paths, item_judge(judge=... | decisions=...)) for labelled prompt JSONL files;
- evaluate_training(run_dir) for a trainer's metrics.jsonl (+ stability.json);
- write_report(run, out_dir) and compare_runs(run_a, run_b).
"""

from so8t.eval.backends import (
    AuditBackend,
    BackendError,
    item_judge,
    load_decisions,
    load_judge,
    model_generator,
)
from so8t.eval.benchmark import DatasetError, run_safety_benchmark
from so8t.eval.compare import compare_runs
from so8t.eval.decisions import JudgedDecision, as_judged
from so8t.eval.report import write_report
from so8t.eval.results import EvalRun
from so8t.eval.runner import Backends, run_tasks
from so8t.eval.safety_metrics import SafetyMetrics, safety_metrics
from so8t.eval.stability import append_stability_snapshot, evaluate_training, stability_snapshot
from so8t.eval.tasks import TaskFileError, load_tasks

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

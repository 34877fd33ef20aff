"""`so8t eval`: evaluate tasks, safety benchmarks and training runs into report dirs, and compare two runs.

The library is imported inside each command: its metric libraries take seconds to load, and other `so8t`
commands should not pay for that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="Evaluate a model, judge or training run; write and compare reports.")
console = Console()

JudgeOption = Annotated[
    Optional[str], typer.Option("--judge", help="Judge to import as 'module:name' (class with judge_many, or callable).")
]
DecisionsOption = Annotated[
    Optional[Path], typer.Option("--decisions", help="JSONL of {id, decision} to score instead of running a judge.")
]
OutOption = Annotated[Optional[Path], typer.Option("--out", help="Output run dir (default runs/eval/<kind>-<time>).")]


def _default_out(kind: str) -> Path:
    return Path("runs") / "eval" / f"{kind}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Bad input ends in one red line naming the problem (exit 2), not a traceback."""
    from so8t.eval.backends import BackendError
    from so8t.eval.benchmark import DatasetError
    from so8t.eval.compare import RunDirError
    from so8t.eval.stability import TrainingRunError
    from so8t.eval.tasks import TaskFileError

    try:
        yield
    except (BackendError, DatasetError, RunDirError, TrainingRunError, TaskFileError) as error:
        console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _judge_from(judge: str | None, decisions: Path | None, required: bool) -> Callable[..., Any] | None:
    from so8t.eval.backends import BackendError, installed_judge, item_judge, load_decisions, load_judge

    if judge and decisions:
        raise BackendError("give --judge or --decisions, not both")
    if decisions:
        return item_judge(decisions=load_decisions(decisions))
    live = load_judge(judge) if judge else installed_judge()
    if live is None:
        if required:
            raise BackendError("no judge: pass --judge module:name or --decisions FILE (so8t.safety is not installed)")
        return None
    return item_judge(judge=live)


def _tasks_judge(judge: str | None, decisions: Path | None, agent: bool, use_head: bool, model: str | None,
                 out: Path) -> tuple[Callable[..., Any] | None, dict[str, Any]]:
    """The judge for safety_cases and what the report says about it: the agent's own decision path (its audit
    store goes into the run dir), a given judge or decisions file, or the package's judge."""
    from so8t.eval.backends import agent_judge, item_judge

    if agent:
        decide, about = agent_judge(model, use_head=use_head, audit_path=out / "agent_audit.sqlite3")
        return item_judge(judge=decide), about
    live = _judge_from(judge, decisions, required=False)
    default = "so8t.safety:Judge (package default)" if live is not None else None
    return live, {"judge": judge or (str(decisions) if decisions else default)}


def _headline(title: str, values: dict[str, Any]) -> None:
    from so8t.eval.report import fmt

    grid = Table(title=title, show_header=False)
    for key, value in values.items():
        grid.add_row(escape(key), fmt(value) if not isinstance(value, str) else value)
    console.print(grid)


def _finish(run: Any, out: Path) -> None:
    from so8t.eval.report import write_report

    files = write_report(run, out)
    console.print(f"report: {files.markdown}  {files.html}  summary: {files.summary}", highlight=False, soft_wrap=True)


@app.command("tasks")
def tasks_command(
    tasks: Annotated[Path, typer.Option("--tasks", help="Task file.")] = Path("eval/tasks_safety.json"),
    model: Annotated[Optional[str], typer.Option("--model", help="Registered name, HF folder or .gguf file.")] = None,
    no_generate: Annotated[bool, typer.Option("--no-generate", help="Skip basic_cases (no model load).")] = False,
    judge: JudgeOption = None,
    decisions: DecisionsOption = None,
    agent: Annotated[bool, typer.Option("--agent", help="Judge safety_cases through so8t.agent.SafetyAgent.decide "
                                        "(the agent's decision path on --model, no answers generated).")] = False,
    use_head: Annotated[bool, typer.Option("--use-head", help="With --agent: fuse the SO8T head's score.")] = False,
    out: OutOption = None,
) -> None:
    """Run eval/tasks_safety.json: generation, safety, OCR and audit cases (against a new so8t.audit store in the
    output dir), with whichever backends exist."""
    with _clear_errors():
        from so8t.eval.audit_store import STORE_FILE, fresh_audit_stores
        from so8t.eval.backends import BackendError, installed_ocr, model_generator
        from so8t.eval.runner import Backends, run_tasks
        from so8t.eval.tasks import load_tasks

        if agent and (judge or decisions):
            raise BackendError("give --agent or --judge/--decisions, not both")
        if use_head and not agent:
            raise BackendError("--use-head needs --agent (it fuses the agent's SO8T head into its judge)")
        task_file = load_tasks(tasks)
        out = out or _default_out("tasks")
        # backends are built only for sections that have cases: loading each takes seconds
        audit = fresh_audit_stores(out) if task_file.audit_cases else None
        safety_judge, about = None, {}
        if task_file.safety_cases:
            safety_judge, about = _tasks_judge(judge, decisions, agent, use_head, model, out)
        generate = model_generator(model) if task_file.basic_cases and not no_generate else None
        backends = Backends(generate=generate, judge=safety_judge, ocr=installed_ocr() if task_file.ocr_cases else None,
                            audit=audit)  # fmt: skip
        inputs = {"tasks": str(tasks), "model": (model or "embedded default") if generate else None, **about}
        if audit is not None:
            inputs["audit"] = f"so8t.audit.AuditStore in a new file, {out / STORE_FILE}"
        run = run_tasks(task_file, tasks.parent, backends, inputs)
        for name, section in run.sections.items():
            if "not_run" in section:
                console.print(f"[yellow]{name}: not run[/yellow] ({section['not_run']})", highlight=False)
        safety = run.sections.get("safety", {}).get("overall")
        if safety:
            _headline("safety", {k: safety[k] for k in ("n", "recall", "f1", "false_allow_rate", "over_refusal_rate")})
        _finish(run, out)


@app.command("safety")
def safety_command(
    datasets: Annotated[list[Path], typer.Argument(help="JSONL files with {text, label, lang, category?, id?}.")],
    judge: JudgeOption = None,
    decisions: DecisionsOption = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 32,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="First N rows of each file.")] = None,
    out: OutOption = None,
) -> None:
    """Safety benchmark: metrics overall, per dataset, per language and per category."""
    with _clear_errors():
        from so8t.eval.benchmark import run_safety_benchmark

        run = run_safety_benchmark(datasets, _judge_from(judge, decisions, required=True),
                                   batch_size=batch_size, limit=limit)  # fmt: skip
        overall = run.sections["safety"]["overall"]
        _headline("safety benchmark", {k: overall[k] for k in ("n", "precision", "recall", "f1", "refuse_recall",
                                                                "false_allow_rate", "over_refusal_rate")})  # fmt: skip
        _finish(run, out or _default_out("safety"))


@app.command("training")
def training_command(
    run_dir: Annotated[Path, typer.Argument(help="Trainer output dir with metrics.jsonl (and stability.json).")],
    out: OutOption = None,
) -> None:
    """Learning stability of a training run: convergence, grad-norm spikes, weight and rotation distributions."""
    with _clear_errors():
        from so8t.eval.stability import evaluate_training

        run = evaluate_training(run_dir)
        section = run.sections["training"]
        _headline("training", {k: section[k] for k in ("steps", "final_loss", "best_step", "final_slope",
                                                        "grad_norm_spikes")})  # fmt: skip
        _finish(run, out or _default_out("training"))


@app.command("compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="First run dir (the baseline).")],
    run_b: Annotated[Path, typer.Argument(help="Second run dir.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Also write compare.md and compare.json here.")] = None,
    changed_only: Annotated[bool, typer.Option("--changed-only", help="Hide metrics that did not change.")] = False,
) -> None:
    """Two runs side by side with deltas (B - A), each marked better or worse where the direction is known."""
    with _clear_errors():
        from so8t.eval.compare import compare_runs, write_comparison
        from so8t.eval.report import fmt

        summary_a, summary_b, deltas = compare_runs(run_a, run_b)
        grid = Table(title=f"{run_a} ({summary_a['kind']})  vs  {run_b} ({summary_b['kind']})")
        for column in ("metric", "A", "B", "B - A", ""):
            grid.add_column(column, justify="left" if column == "metric" else "right")
        styles = {"better": "green", "worse": "red"}
        for delta in deltas:
            if changed_only and delta.delta == 0:
                continue
            grid.add_row(escape(delta.key), fmt(delta.a), fmt(delta.b), fmt(delta.delta), delta.verdict,
                         style=styles.get(delta.verdict))  # fmt: skip
        console.print(grid)
        if out:
            markdown_path, json_path = write_comparison(run_a, run_b, out, deltas)
            console.print(f"wrote {markdown_path} {json_path}", highlight=False)

"""`so8t judge`: the safety judge and policy alone (no generation), for one prompt or a JSONL file of many."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

JSONL_BATCH = 64

app = typer.Typer(add_completion=False)


def _verdict_row(row_id: object, verdict) -> dict:
    return {"id": row_id, **verdict.to_dict()}


@app.command()
def judge(
    prompt: str | None = typer.Argument(None, help="The prompt to judge."),
    document: list[Path] = typer.Option([], "--document", "-d", help="Untrusted document (text file) judged as content."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
    file: Path | None = typer.Option(None, "--file", "-f", help="JSONL of prompts: rows with at least id and text."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Where --file decisions go (JSONL: id, decision, scores, ...)."),
    policy: Path | None = typer.Option(None, "--policy", help="Policy JSON (default: the packaged policy)."),
) -> None:
    """Decide ALLOW / ESCALATE / DENY for a prompt, or for every row of --file into --out, in one process."""
    if (prompt is None) == (file is None):
        raise typer.BadParameter("give either a PROMPT or --file (not both)")
    if file is not None and out is None:
        raise typer.BadParameter("--file needs --out")
    from so8t.safety import Judge, PolicyError

    try:
        judge_ = Judge(policy=policy)
    except PolicyError as error:
        raise typer.BadParameter(str(error), param_hint="--policy") from None
    if file is not None:
        count = _judge_file(judge_, file, out)
        typer.echo(f"judged {count} prompts -> {out}")
        return
    documents = []
    for path in document:
        try:
            documents.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise typer.BadParameter(f"cannot read document {path}: {error}", param_hint="--document") from None
    verdict = judge_.judge(prompt, documents=documents)
    if as_json:
        typer.echo(json.dumps(verdict.to_dict(), ensure_ascii=False))
        return
    table = Table(show_header=False)
    table.add_row("decision", f"[bold]{verdict.decision}[/bold]")
    table.add_row("confidence", f"{verdict.confidence:.2f}")
    table.add_row("category", verdict.category or "-")
    table.add_row("scores", ", ".join(f"{k}={v:.3f}" for k, v in verdict.scores.items()))
    table.add_row("reasons", "\n".join(verdict.reasons))
    table.add_row("policy", f"{verdict.policy_version} ({verdict.policy_checksum[:12]})")
    Console().print(table)


def _judge_file(judge_, file: Path, out: Path) -> int:
    """Reads all rows first (so a bad row fails before anything is written), then judges in batches."""
    rows = []
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise typer.BadParameter(f"cannot read {file}: {error}", param_hint="--file") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise typer.BadParameter(f"{file}:{number}: not valid JSON ({error.msg})", param_hint="--file") from None
        if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("text"), str) or not row["text"].strip():
            raise typer.BadParameter(f"{file}:{number}: each row needs an 'id' and a non-empty 'text'", param_hint="--file")
        documents = row.get("documents", [])
        if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
            raise typer.BadParameter(f"{file}:{number}: 'documents' must be a list of strings", param_hint="--file")
        rows.append(row)
    tmp = out.with_name(out.name + ".partial")
    with open(tmp, "w", encoding="utf-8") as handle:
        for start in range(0, len(rows), JSONL_BATCH):
            batch = rows[start:start + JSONL_BATCH]
            verdicts = judge_.judge_many([row["text"] for row in batch],
                                         documents=[row.get("documents", []) for row in batch])
            for row, verdict in zip(batch, verdicts):
                handle.write(json.dumps(_verdict_row(row["id"], verdict), ensure_ascii=False) + "\n")
    tmp.replace(out)
    return len(rows)

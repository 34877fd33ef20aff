"""`so8t ask` and `so8t review`: the agent's front door and the human review of ESCALATE requests."""

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console()
review_app = typer.Typer(no_args_is_help=True, help="Review requests the agent held for a human (ESCALATE).")
DbOption = typer.Option(None, "--db", help="Audit database (default: $SO8T_AUDIT_DB or the XDG data dir).")


def ask(
    prompt: str = typer.Argument(..., help="What the user asks."),
    image: list[Path] = typer.Option([], "--image", "-i", exists=True, dir_okay=False, help="Image(s) to read locally."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    model: str = typer.Option(None, "--model", "-m", help="Registered name, HF folder or .gguf (default: embedded)."),
    run: Path = typer.Option(None, help="Training run folder with adapter, gates and safety head."),
    db: Path = DbOption,
    max_new_tokens: int = typer.Option(64, min=1),
    use_head: bool = typer.Option(False, help="Fuse the SO8T safety head's score into the judge (untuned)."),
    backend: str = typer.Option("auto", help="Answer runtime: auto (llama.cpp when installed), llama.cpp or "
                                             "transformers."),
) -> None:
    """Judge a request (and its images' redacted OCR summaries), answer it if allowed, and audit it."""
    from so8t.agent import SafetyAgent
    from so8t.audit import AuditStore

    try:
        agent = SafetyAgent(model=model, run=run, audit=AuditStore(db), max_new_tokens=max_new_tokens,
                            use_head=use_head, answer_backend=backend)
    except ValueError as exc:
        console.print(f"error: {exc}", style="red", markup=False)
        raise typer.Exit(2) from None
    result = agent.ask(prompt, [path.read_bytes() for path in image])
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        colour = {"ALLOW": "green", "ESCALATE": "yellow", "DENY": "red"}[result.decision]
        console.print(f"decision: [{colour}]{result.decision}[/{colour}] (confidence {result.confidence:.2f})")
        for reason in result.reasons:
            console.print(f"  - {reason}", markup=False)
        for view in result.summaries:
            console.print(f"image {view['sha256'][:12]} ({view['lang']}), redacted summary:", markup=False)
            console.print(view["summary"], markup=False)
        if result.answer is not None:
            console.print("answer:", style="bold")
            console.print(result.answer, markup=False)
        elif result.decision == "ESCALATE":
            console.print(f"held for review: so8t review approve {result.request_id} --reviewer NAME")
        console.print(f"audit id: {result.request_id}  ({result.latency_ms:.0f} ms)")
    if result.error:
        raise typer.Exit(1)


@review_app.command("list")
def review_list(db: Path = DbOption) -> None:
    """Requests waiting for a human decision."""
    from so8t.audit import AuditStore

    pending = AuditStore(db, create=False).pending_reviews()
    for item in pending:
        console.print(f"{item.request_id}  {item.created_at}  {(item.input_text or '[purged]')[:80]}", markup=False)
    console.print(f"{len(pending)} pending")


def _review(request_id: str, approve: bool, reviewer: str, note: str, db: Path | None) -> None:
    from so8t.audit import AuditError, AuditStore

    try:
        AuditStore(db, create=False).review(request_id, approve=approve, reviewer=reviewer, note=note)
    except AuditError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"{'approved' if approve else 'rejected'} {request_id}")


@review_app.command("approve")
def review_approve(request_id: str, reviewer: str = typer.Option(...), note: str = "", db: Path = DbOption) -> None:
    """Approve a held request."""
    _review(request_id, True, reviewer, note, db)


@review_app.command("reject")
def review_reject(request_id: str, reviewer: str = typer.Option(...), note: str = "", db: Path = DbOption) -> None:
    """Reject a held request."""
    _review(request_id, False, reviewer, note, db)

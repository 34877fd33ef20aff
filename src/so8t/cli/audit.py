"""`so8t audit ...`: inspect, export, verify, checkpoint and purge the audit trail (a thin layer over so8t.audit)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from so8t.audit import AuditError, AuditStore, load_checkpoints, load_hmac_key
from so8t.audit.chain import TABLES
from so8t.audit.store import DB_ENV_VAR, DEFAULT_RETENTION_DAYS

RETENTION_ENV_VAR = "SO8T_AUDIT_RETENTION_DAYS"
CONTENT_HASHES = TABLES["decision_log"].content  # content column -> its SHA-256 column

app = typer.Typer(
    no_args_is_help=True,
    help="The tamper-evident audit trail: show, tail, export, verify, checkpoint, purge, stats.",
)
console = Console()


class ExportFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"


@app.callback()
def _database(
    ctx: typer.Context,
    db: Optional[Path] = typer.Option(
        None, "--db", envvar=DB_ENV_VAR, help="Audit database (default: $XDG_DATA_HOME/so8t/audit.sqlite3)."
    ),
) -> None:
    """Every command reads an existing audit database; none creates one."""
    ctx.obj = db


@contextmanager
def _store(ctx: typer.Context) -> Iterator[AuditStore]:
    """Open the store; any AuditError becomes a one-line message and exit status 2."""
    try:
        with AuditStore(ctx.obj, create=False) as store:
            yield store
    except AuditError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _add_row(table: Table, *cells: object) -> None:
    """Cells as plain Text: stored content (user prompts) must never be read as Rich markup."""
    table.add_row(*(Text("" if cell is None else str(cell)) for cell in cells))


def _clip(text: str | None, width: int = 60) -> str:
    if text is None:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@app.command()
def show(
    ctx: typer.Context,
    request_id: Optional[str] = typer.Argument(None, help="Show this one decision in full."),
    decision: Optional[str] = typer.Option(None, help="ALLOW, ESCALATE or DENY."),
    since: Optional[str] = typer.Option(None, help="ISO date/time, inclusive."),
    until: Optional[str] = typer.Option(None, help="ISO date/time, exclusive."),
    search: Optional[str] = typer.Option(None, help="Text in input, OCR summary, output (unpurged) or reasons."),
    review_status: Optional[str] = typer.Option(None, help="pending, approved or rejected."),
    limit: int = typer.Option(20, min=1),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Decisions, newest first, filtered; or one decision with its review."""
    with _store(ctx) as store:
        if request_id is not None:
            record = store.decision(request_id)
            if as_json:
                _print_json(record.to_dict())
                return
            fields = record.to_dict()
            table = Table(show_header=False, title=f"decision {record.request_id}")
            for key, value in fields.items():
                if key == "review" and value is not None:
                    value = f"{value['verdict']} by {value['reviewer']} at {value['reviewed_at']}: {value['note']}"
                elif value is None and key in CONTENT_HASHES and fields[CONTENT_HASHES[key]] is not None:
                    value = "[purged by retention]"
                _add_row(table, key, value)
            console.print(table)
            return
        records = store.decisions(
            decision=decision, since=since, until=until, search=search, review_status=review_status, limit=limit
        )
        if as_json:
            _print_json([record.to_dict() for record in records])
            return
        table = Table("seq", "time (UTC)", "request id", "decision", "review", "input", "reasons")
        for record in records:
            _add_row(
                table, record.seq, record.created_at, record.request_id, record.decision, record.review_status or "",
                "[purged]" if record.input_text is None and record.input_sha256 else _clip(record.input_text),
                _clip("; ".join(record.reasons), 40),
            )
        console.print(table)


def _summary(row: dict[str, Any]) -> str:
    """One line per chain row, for `tail`."""
    table = row["table"]
    if table == "decision_log":
        return f"{row['decision']} {row['request_id']} {_clip(row['input_text'], 50)}".rstrip()
    if table == "review_log":
        return f"{row['verdict']} {row['request_id']} by {row['reviewer']}"
    if table == "policy_state":
        return f"policy {row['name']} v{row['version']} {row['checksum'][:12]}"
    if table == "identity_contract":
        return f"identity {row['identity_id']} {_clip(row['role_prompt'], 50)}"
    return f"{row['event_type']} {_clip(row['payload'], 60)}"


@app.command()
def tail(
    ctx: typer.Context,
    lines: int = typer.Option(10, "-n", "--lines", min=1, help="How many of the newest chain rows."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The newest rows of the whole chain (all tables), oldest of them first."""
    with _store(ctx) as store:
        rows = list(store.entries(newest_first=True, limit=lines))[::-1]
    if as_json:
        _print_json(rows)
        return
    table = Table("seq", "table", "time (UTC)", "what")
    for row in rows:
        time = row.get("created_at") or row.get("applied_at") or row.get("reviewed_at")
        _add_row(table, row["seq"], row["table"], time, _summary(row))
    console.print(table)


@app.command()
def export(
    ctx: typer.Context,
    format: ExportFormat = typer.Option(ExportFormat.jsonl, "--format", help="jsonl or csv."),
    table: Optional[str] = typer.Option(
        None, help="identity_contract, policy_state, decision_log, review_log or audit_log (default: all; csv needs one)."
    ),
    out: Optional[Path] = typer.Option(None, "--out", help="File to write (default: standard output)."),
) -> None:
    """Every row, in chain order, with its hashes: jsonl (all tables, a 'table' key each) or csv (one table)."""
    if format is ExportFormat.csv and table is None:
        typer.echo("error: csv export needs --table (the tables have different columns)", err=True)
        raise typer.Exit(2)
    with _store(ctx) as store:
        rows = store.entries(None if table is None else [table])
        handle = sys.stdout if out is None else out.open("w", encoding="utf-8", newline="")
        try:
            count = 0
            if format is ExportFormat.jsonl:
                for count, row in enumerate(rows, start=1):
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                writer = None
                for count, row in enumerate(rows, start=1):
                    if writer is None:
                        writer = csv.DictWriter(handle, fieldnames=list(row))
                        writer.writeheader()
                    writer.writerow(row)
        finally:
            if out is not None:
                handle.close()
    if out is not None:
        typer.echo(f"exported {count} rows to {out}", err=True)


@app.command()
def verify(
    ctx: typer.Context,
    checkpoint: Optional[Path] = typer.Option(None, help="Checkpoint file (JSON lines) to compare the chain with."),
    key_file: Optional[Path] = typer.Option(None, help="HMAC key for signed checkpoints (else $SO8T_AUDIT_HMAC_KEY)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recompute the hash chain and name the first bad row; with --checkpoint, detect truncation and rollback.

    Exit status 0 when everything verifies, 1 when a problem was found, 2 when verification could not run.
    """
    with _store(ctx) as store:
        try:
            checkpoints = load_checkpoints(checkpoint) if checkpoint is not None else []
            report = store.verify(checkpoints, load_hmac_key(key_file))
        except AuditError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    if as_json:
        _print_json({**asdict(report), "ok": report.ok, "problems": report.problems()})
    elif report.ok:
        checked = f", {report.checkpoints_checked} checkpoint(s) match" if report.checkpoints_checked else ""
        typer.echo(f"OK: {report.rows_checked} rows verified, head {report.head_hash}{checked}")
    else:
        typer.echo(f"FAILED ({report.rows_checked} rows intact before the first problem):")
        for problem in report.problems():
            typer.echo(f"  - {problem}")
    if not report.ok:
        raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint_command(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="JSON-lines file to append to; keep it away from the database."),
    key_file: Optional[Path] = typer.Option(None, help="Sign with this HMAC key (else $SO8T_AUDIT_HMAC_KEY if set)."),
) -> None:
    """Verify the chain, then append its head (row count, head hash, time), optionally HMAC-signed, to a file."""
    with _store(ctx) as store:
        try:
            record = store.checkpoint(out, load_hmac_key(key_file))
        except AuditError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(record.to_json())


@app.command()
def purge(
    ctx: typer.Context,
    older_than_days: float = typer.Option(
        DEFAULT_RETENTION_DAYS, min=0, envvar=RETENTION_ENV_VAR, help="Retention period in days."
    ),
) -> None:
    """Erase input, OCR summary and output text older than the retention period; hashes and the chain stay."""
    with _store(ctx) as store:
        report = store.purge(older_than_days)
    typer.echo(
        f"purged the content of {report.rows_purged} decision(s) older than {report.cutoff} "
        f"(audit event seq {report.event_seq})"
    )
    if not report.wal_checkpoint_complete:
        typer.echo(
            "warning: another connection kept the WAL busy; purged text may remain in it until the next checkpoint",
            err=True,
        )


@app.command()
def stats(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Rows per table, decisions by kind, pending reviews, purged rows, file sizes, chain head."""
    with _store(ctx) as store:
        result = store.stats()
    if as_json:
        _print_json(asdict(result))
        return
    table = Table(show_header=False, title=f"audit store {result.path}")
    for key, value in asdict(result).items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        _add_row(table, key, value)
    console.print(table)

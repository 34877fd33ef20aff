"""`so8t serve`: the local web app and HTTP API (a thin layer over so8t.server)."""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path
from typing import Optional

import typer

from so8t.audit.store import DB_ENV_VAR
from so8t.server.app import LOOPBACK_HOSTS
from so8t.server.auth import TOKEN_ENV_VAR
from so8t.server.limits import MIB


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind. Loopback by default: only this machine can connect."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    db: Optional[Path] = typer.Option(None, "--db", envvar=DB_ENV_VAR, help="Audit database (default: $XDG_DATA_HOME/so8t/audit.sqlite3)."),
    reviewer_token_file: Optional[Path] = typer.Option(
        None, "--reviewer-token-file", help=f"File holding the reviewer token (else ${TOKEN_ENV_VAR}; else a fresh one is printed)."
    ),
    model: Optional[str] = typer.Option(None, help="Registered name, HF folder or .gguf (default: the embedded model)."),
    run: Optional[Path] = typer.Option(None, help="Training run folder with adapter, gates and safety head."),
    policy: Optional[Path] = typer.Option(None, help="Policy JSON file (default: the packaged policy)."),
    max_new_tokens: int = typer.Option(64, min=1, help="Longest answer, in tokens."),
    allowed_host: list[str] = typer.Option(
        [], "--allowed-host", help="Another Host header name to serve (e.g. this machine's LAN name); repeatable."
    ),
    max_upload_mb: float = typer.Option(16.0, min=0.01, help="Largest request body (prompt + images), MiB."),
    max_images: int = typer.Option(4, min=1, help="Most images per request."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the Ask, Review queue, Audit log and Policy pages and the /v1 API (OpenAPI at /openapi.json)."""
    import uvicorn

    from so8t.agent import SafetyAgent
    from so8t.audit import AuditError, AuditStore
    from so8t.server import ReviewerTokenError, ServerLimits, create_app, load_reviewer_token

    try:
        token = load_reviewer_token(reviewer_token_file)
        limits = ServerLimits(max_request_bytes=int(max_upload_mb * MIB), max_images=max_images)
        audit = AuditStore(db)
    except (ReviewerTokenError, AuditError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if token is None:
        token = secrets.token_urlsafe(24)
        typer.echo(f"Reviewer token for this run (set ${TOKEN_ENV_VAR} or --reviewer-token-file to keep one): {token}", err=True)
    hosts = [*LOOPBACK_HOSTS, *allowed_host]
    if not _is_loopback(host):
        typer.echo(
            f"warning: binding {host}: anyone who can reach it can ask the agent (reviewer pages still need the token). "
            "Serve only Host names given with --allowed-host.",
            err=True,
        )
        if host not in ("0.0.0.0", "::"):
            hosts.append(host)
    typer.echo("Loading the agent (model, judge, OCR)...", err=True)
    agent = SafetyAgent(model=model, run=run, audit=audit, policy_path=policy, max_new_tokens=max_new_tokens)
    app = create_app(agent, audit, token, limits=limits, allowed_hosts=hosts)
    uvicorn.run(app, host=host, port=port, log_level=log_level)

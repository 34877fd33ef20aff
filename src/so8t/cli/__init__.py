"""The `so8t` command: a thin layer over the library; each command group lives in its own module."""

import typer

import so8t
from so8t.cli import export

app = typer.Typer(no_args_is_help=True, add_completion=False, help="so8t: local safety agent and SO(8)-gated fine-tuning.")
app.add_typer(export.app, name="export")


@app.callback()
def _root() -> None:
    """Local safety agent and SO(8)-gated fine-tuning; every command works offline."""


@app.command()
def version() -> None:
    """Print the installed so8t version."""
    typer.echo(so8t.__version__)


def main() -> None:
    app()

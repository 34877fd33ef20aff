"""The `so8t` command: a thin layer over the library; each command group lives in its own module."""

import typer

import so8t
from so8t.cli import judge as judge_cli

app = typer.Typer(no_args_is_help=True, add_completion=False, help="so8t: local safety agent and SO(8)-gated fine-tuning.")


@app.callback()
def _root() -> None:
    """Local safety agent and SO(8)-gated fine-tuning; every command works offline."""


@app.command()
def version() -> None:
    """Print the installed so8t version."""
    typer.echo(so8t.__version__)


app.command("judge")(judge_cli.judge)


def main() -> None:
    app()

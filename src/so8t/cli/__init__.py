"""The `so8t` command: a thin layer over the library; each command group lives in its own module."""

import typer

import so8t
from so8t.cli import audit, export, gate, generate, models, train
from so8t.cli import eval as eval_cli

app = typer.Typer(no_args_is_help=True, add_completion=False, help="so8t: local safety agent and SO(8)-gated fine-tuning.")


app.add_typer(models.app, name="models")
app.add_typer(gate.app, name="gate")
app.add_typer(audit.app, name="audit")
app.add_typer(train.data_app, name="data")
app.command("generate")(generate.generate)
app.command("train")(train.train)
app.add_typer(eval_cli.app, name="eval")
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

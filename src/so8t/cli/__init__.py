"""The `so8t` command: a thin layer over the library; each command group lives in its own module."""

import typer

import so8t
from so8t.cli import ask, audit, bake, export, gate, generate, judge, models, train
from so8t.cli import eval as eval_cli
from so8t.cli.ocr import ocr as ocr_command
from so8t.cli.serve import serve as serve_command

app = typer.Typer(no_args_is_help=True, add_completion=False, help="so8t: local safety agent and SO(8)-gated fine-tuning.")

# The agent
app.command("ask")(ask.ask)
app.add_typer(ask.review_app, name="review")
app.command("judge")(judge.judge)
app.command("ocr")(ocr_command)
app.add_typer(audit.app, name="audit")
app.command("serve")(serve_command)
# Models, training and export
app.add_typer(models.app, name="models")
app.command("generate")(generate.generate)
app.add_typer(gate.app, name="gate")
app.add_typer(train.data_app, name="data")
app.command("train")(train.train)
app.command("bake")(bake.bake)
app.add_typer(export.app, name="export")
app.add_typer(eval_cli.app, name="eval")


@app.callback()
def _root() -> None:
    """Local safety agent and SO(8)-gated fine-tuning; every command works offline."""


@app.command()
def version() -> None:
    """Print the installed so8t version."""
    typer.echo(so8t.__version__)


def main() -> None:
    app()

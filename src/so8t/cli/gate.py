"""`so8t gate inject|inspect|bake`: create, examine and fold SO(8) gate files."""

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="Create, inspect and bake SO(8) rotation gates.")
console = Console()

ModelOption = typer.Option(None, "--model", "-m", help="Registered name, HF folder or .gguf file (default: embedded).")


def _parse_layers(layers: str | None) -> list[int] | None:
    if not layers:
        return None
    try:
        return [int(part) for part in layers.split(",")]
    except ValueError:
        raise typer.BadParameter(f"--layers takes comma-separated layer indices, got {layers!r}") from None


@app.command()
def inject(
    out: Path = typer.Option(..., help="Where to write the gate file (.safetensors)."),
    model: str = ModelOption,
    layers: str = typer.Option(None, help="Comma-separated attention layer indices (default: all)."),
    include_vision: bool = typer.Option(False, help="Also gate the vision tower's attention outputs."),
    init_std: float = typer.Option(0.0, min=0.0, help="Random generator init (0 = identity, the training start)."),
    seed: int = 0,
) -> None:
    """Write a gate file for MODEL: identity rotations by default, the starting point for training."""
    import torch

    from so8t.models import load_model
    from so8t.rotation import GateError, inject_gates, save_gates

    loaded, _ = load_model(model)
    try:
        gates = inject_gates(loaded, layers=_parse_layers(layers), include_vision=include_vision)
    except GateError as exc:
        raise typer.BadParameter(str(exc)) from None
    torch.manual_seed(seed)
    with torch.no_grad():
        for bank in gates.banks.values():
            bank.generators.normal_(0.0, init_std)
    save_gates(loaded, out)
    console.print(f"gated {len(gates.layer_paths)} attention layers -> {out}")


@app.command()
def inspect(
    gates_file: Path = typer.Argument(..., exists=True, dir_okay=False),
    model: str = typer.Option(None, "--model", "-m", help="Also check the file fits this base model."),
) -> None:
    """Show a gate file's layer map and per-layer rotation angles (radians)."""
    from so8t.rotation import inspect_gate_file

    summary = inspect_gate_file(gates_file, model)
    console.print(f"format {summary.format}, base fingerprint {summary.base_fingerprint[:16]}…")
    if summary.fits_model is not None:
        console.print("fits the given model" if summary.fits_model else "[red]does NOT fit the given model[/red]")
    table = Table("layer", "blocks", "mean angle", "max angle")
    for row in summary.layers:
        table.add_row(row.path, str(row.blocks), f"{row.mean_angle:.4f}", f"{row.max_angle:.4f}")
    console.print(table)


@app.command()
def bake(
    gates_file: Path = typer.Option(..., "--gates", exists=True, dir_okay=False),
    out: Path = typer.Option(..., help="Output HF folder for the baked model."),
    model: str = ModelOption,
    tolerance: float = typer.Option(1e-4, help="Fail if max |delta logit| exceeds this."),
) -> None:
    """Fold the gates into o_proj, save a plain HF model, and check the logits did not move."""
    from so8t.models import load_model
    from so8t.rotation import bake_gates, load_gates

    loaded, tokenizer = load_model(model)
    load_gates(loaded, gates_file)
    baked, report = bake_gates(loaded)
    baked.save_pretrained(out)
    tokenizer.save_pretrained(out)
    console.print(f"baked {report.layers} layers; max |delta logit| = {report.max_abs_logit_delta:.3g} "
                  f"(checked in {report.check_dtype}) -> {out}")
    if report.max_abs_logit_delta > tolerance:
        console.print(f"[red]max |delta logit| above tolerance {tolerance:g}[/red]")
        raise typer.Exit(1)

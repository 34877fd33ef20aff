"""`so8t bake`: a training run -> a plain HF model any runtime can serve."""

from pathlib import Path

import typer
from rich.console import Console

console = Console()


def bake(
    adapter: Path = typer.Option(..., exists=True, file_okay=False, help="Training run folder (RUN/final or a checkpoint)."),
    out: Path = typer.Option(..., help="Output HF folder."),
    tolerance: float = typer.Option(1e-4, help="Fail if gated vs baked max |delta logit| exceeds this."),
) -> None:
    """Merge LoRA, fold the SO(8) gates into o_proj (float64), save model + tokenizer + safety head + manifest."""
    from so8t.export.bake import BakeError, bake_run

    try:
        manifest = bake_run(adapter, out, tolerance)
    except BakeError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"baked -> {out}; gated vs baked max |delta logit| {manifest['max_abs_logit_delta']:.3g} "
                  f"({manifest['check_dtype']})")

"""`so8t train` and `so8t data build`: fine-tuning runs and the rows they learn from."""

from pathlib import Path

import typer
from rich.console import Console

console = Console()
data_app = typer.Typer(no_args_is_help=True, help="Build training rows from labeled prompt sets.")


def train(
    data: Path = typer.Option(..., exists=True, dir_okay=False, help="JSONL rows: messages, images?, label?"),
    out: Path = typer.Option(..., help="Run folder: checkpoints, metrics.jsonl, plots, final/."),
    config: Path = typer.Option(None, exists=True, dir_okay=False, help="Training config JSON (e.g. configs/train.qlora.json)."),
    model_config: Path = typer.Option(None, exists=True, dir_okay=False, help="Model config JSON."),
    model: str = typer.Option(None, "--model", "-m", help="Registered name, HF folder or .gguf file (default: embedded)."),
    max_steps: int = typer.Option(None, min=1, help="Override the config's max_steps."),
    resume: bool = typer.Option(False, help="Continue from the newest checkpoint in OUT."),
    cpu: bool = typer.Option(False, help="Train on the CPU even if CUDA is available."),
) -> None:
    """Fine-tune with LoRA (k-bit on CUDA), SO(8) gates, PET and the joint safety head."""
    from so8t.training import ConfigError, DataError, SO8TQLoRATrainer

    try:
        trainer = SO8TQLoRATrainer(model, config, model_config, cpu=cpu or None)
        result = trainer.train(data, out, resume=resume, max_steps=max_steps)
    except (ConfigError, DataError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if trainer.accelerator.is_main_process:  # under `accelerate launch` every rank gets here
        console.print(f"trained {result.steps} steps, final loss {result.final_loss:.4f}; run in {result.out_dir}")


@data_app.command("build")
def build(
    source: list[Path] = typer.Option(..., exists=True, help="Labeled prompt JSONL files ({text, label, lang})."),
    out: Path = typer.Option(..., help="Training rows JSONL to write."),
    limit: int = typer.Option(None, min=1, help="At most this many rows per source file."),
    model: str = typer.Option(None, "--model", "-m", help="Model that writes the benign answers (default: embedded)."),
    seed: int = 0,
) -> None:
    """Turn labeled prompts into chat rows: refusals for harmful ones, the base model's own answers for benign."""
    from so8t.training.build import build_rows, read_labeled

    records = [r for path in source for r in read_labeled(path, limit=limit, seed=seed)]
    count = build_rows(records, out, model)
    console.print(f"wrote {count} rows to {out}")

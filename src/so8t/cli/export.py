"""`so8t export gguf|ollama`: serve a baked model with llama.cpp or Ollama, verified against its HF source."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, help="Export an HF model folder to GGUF (llama.cpp) and Ollama.")
console = Console()


@app.command("gguf")
def gguf_command(
    model: str = typer.Option(
        ..., "--model", help="HF model folder (e.g. the output of `so8t bake`) or a registered model name."
    ),
    out: Path = typer.Option(..., "--out", help="GGUF file to write."),
    type: str = typer.Option("f16", "--type", help="Weight type: f32, f16, bf16 or q8_0."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Compare logits with the source model."),
    llama_cpp: bool = typer.Option(
        True, "--llama-cpp/--no-llama-cpp", help="Include the llama.cpp runtime check (needs llama-cpp-python)."
    ),
) -> None:
    """Write GGUF with tokenizer and chat template; with --verify, fail unless it reproduces the source."""
    from so8t.export import ExportVerificationError, export_gguf
    from so8t.export.llamacpp import LlamaCppUnavailableError

    try:
        result = export_gguf(model, out, type, verify=verify, llama_cpp=llama_cpp, console=console)
    except ExportVerificationError as error:
        console.print(f"[red]verification failed:[/red] {error}")
        raise typer.Exit(1) from error
    except (ValueError, FileNotFoundError, LlamaCppUnavailableError) as error:
        console.print(f"[red]cannot export:[/red] {error}")
        raise typer.Exit(2) from error
    size_mb = result.path.stat().st_size / 1e6
    console.print(f"wrote {result.path} ({size_mb:.1f} MB, {type})" + (", verified" if result.report else ""))


@app.command("ollama")
def ollama_command(
    gguf: Path = typer.Option(..., "--gguf", help="GGUF file written by `so8t export gguf`."),
    out: Path = typer.Option(..., "--out", help="Folder for the Modelfile."),
    system: str | None = typer.Option(None, "--system", help="Default system prompt (else the template's)."),
    num_ctx: int = typer.Option(4096, "--num-ctx", help="Context length Ollama allocates."),
) -> None:
    """Write an Ollama Modelfile (FROM, TEMPLATE, SYSTEM, stop tokens) for the GGUF."""
    from so8t.export import UnsupportedChatTemplateError, export_ollama

    try:
        modelfile = export_ollama(gguf, out, system_prompt=system, num_ctx=num_ctx)
    except (UnsupportedChatTemplateError, FileNotFoundError, ValueError) as error:
        console.print(f"[red]cannot write Modelfile:[/red] {error}")
        raise typer.Exit(2) from error
    console.print(f"wrote {modelfile}; load it with: ollama create <name> -f {modelfile}")

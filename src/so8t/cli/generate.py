"""`so8t generate`: one chat turn with a local model, optionally through trained gates."""

from pathlib import Path

import typer


def generate(
    prompt: str = typer.Argument(..., help="The user message."),
    model: str = typer.Option(None, "--model", "-m", help="Registered name, HF folder or .gguf file (default: embedded)."),
    gates: Path = typer.Option(None, help="A gate file from training or `so8t gate inject`."),
    max_new_tokens: int = typer.Option(64, min=1),
    temperature: float = typer.Option(0.0, min=0.0),
    system: str = typer.Option(None, help="Optional system prompt."),
) -> None:
    """Generate an answer to PROMPT with a local model and print it."""
    from so8t.models import chat, load_model
    from so8t.rotation import load_gates

    loaded, tokenizer = load_model(model)
    if gates is not None:
        load_gates(loaded, gates)
    typer.echo(chat(loaded, tokenizer, prompt, system=system, max_new_tokens=max_new_tokens, temperature=temperature))

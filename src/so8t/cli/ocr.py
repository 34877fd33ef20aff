"""`so8t ocr IMAGE...`: print the redacted summary of each image (or JSON lines with --json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape


def ocr(
    images: Annotated[list[Path], typer.Argument(help="Image files (PNG, JPEG, GIF, TIFF, WebP, BMP).")],
    lang: Annotated[str, typer.Option("--lang", help="Tesseract languages joined by '+'.")] = "jpn+eng",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per image, one per line.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Add the full unredacted text (local use only).")] = False,
    max_chars: Annotated[int, typer.Option("--max-chars", min=80, help="Length cap of the summary.")] = 800,
) -> None:
    """Read images locally with OpenCV + Tesseract and print redacted summaries; nothing is stored."""
    from so8t.ocr import OcrError, OcrLanguageError, summarize_image

    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    failures = 0
    for path in images:
        try:
            result = summarize_image(path.read_bytes(), lang=lang, max_chars=max_chars)
        except OcrLanguageError as error:
            err.print(f"[red]error:[/red] {escape(str(error))}")
            raise typer.Exit(2) from None
        except (OSError, OcrError, ValueError) as error:
            failures += 1
            message = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            if as_json:
                typer.echo(json.dumps({"file": str(path), "error": message, "error_type": type(error).__name__},
                                      ensure_ascii=False))
            else:
                err.print(f"[red]{escape(str(path))}:[/red] {escape(message)}")
            continue
        record = {"file": str(path), **result.model_dump(mode="json")}
        if raw:
            record["text"] = result.raw_text()
        if as_json:
            typer.echo(json.dumps(record, ensure_ascii=False))
            continue
        out.print(f"[bold]{escape(str(path))}[/bold]  sha256={result.sha256}  lang={result.lang}  "
                  f"redacted={sum(result.redactions.values())}")
        out.print(escape(result.summary))
        if raw:
            out.print("[dim]--- raw text (unredacted, not stored) ---[/dim]")
            out.print(escape(result.raw_text()))
        out.print()
    if failures:
        raise typer.Exit(1)

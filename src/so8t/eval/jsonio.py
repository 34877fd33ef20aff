"""Reading JSON and JSONL inputs with errors that name the file and line, raised as the caller's error type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_json(path: Path, error: type[Exception], missing_hint: str = "") -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such file{missing_hint}") from None
    except json.JSONDecodeError as problem:
        raise error(f"{path}: not JSON: {problem.msg} at line {problem.lineno} column {problem.colno}") from None


def read_jsonl(path: Path, error: type[Exception]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object is an error naming it."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as problem:
                raise error(f"{path}:{number}: not JSON ({problem.msg})") from None
            if not isinstance(row, dict):
                raise error(f"{path}:{number}: expected a JSON object")
            yield number, row

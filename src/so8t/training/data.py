"""Training rows: chat messages (+ optional images and safety label) -> token ids with assistant-only labels.

Images never reach the model: each one becomes an OCR summary, fenced as untrusted quoted text in the
first user turn, so the model is trained on exactly what it will see in the agent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from so8t.prompting import with_image_summaries

LABELS = ("ALLOW", "ESCALATE", "DENY")
IGNORE = -100


class DataError(ValueError):
    """A training file or row is malformed; the message names the file, line and field."""


@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    labels: list[int]
    pool_index: int
    safety_label: int


def read_rows(path: str | Path) -> list[dict]:
    """Read and validate a JSONL file of {"messages": [...], "images"?: [...], "label"?: ...} rows."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"training data {path} does not exist")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc.msg})") from None
        validate_row(row, where)
        row.setdefault("images", [])
        rows.append(row)
    if not rows:
        raise DataError(f"{path} has no rows")
    return rows


def validate_row(row: object, where: str) -> None:
    if not isinstance(row, dict):
        raise DataError(f"{where}: a row must be a JSON object")
    unknown = set(row) - {"messages", "images", "label", "id", "lang", "source", "category"}
    if unknown:
        raise DataError(f"{where}: unknown field(s) {sorted(unknown)}")
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: 'messages' must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant") \
                or not isinstance(message.get("content"), str):
            raise DataError(f"{where}: messages[{i}] needs role system|user|assistant and string content")
    if not any(m["role"] == "assistant" for m in messages):
        raise DataError(f"{where}: no assistant message to learn from")
    if "label" in row and row["label"] not in LABELS:
        raise DataError(f"{where}: label must be one of {', '.join(LABELS)}, got {row['label']!r}")
    if not isinstance(row.get("images", []), list):
        raise DataError(f"{where}: 'images' must be a list of paths")


def image_summaries(paths: list[str], base_dir: Path) -> list:
    """OCR summaries of the row's images (read into memory only); a missing file is named."""
    if not paths:
        return []
    from so8t.ocr import summarize_image

    summaries = []
    for name in paths:
        path = base_dir / name
        if not path.is_file():
            raise DataError(f"image {path} does not exist")
        summaries.append(summarize_image(path.read_bytes()))
    return summaries


def encode_row(row: dict, tokenizer, max_length: int, base_dir: Path = Path(".")) -> Example:
    """Tokenize with the model's chat template; only assistant tokens carry labels."""
    messages = [dict(m) for m in row["messages"]]
    first_user = next((m for m in messages if m["role"] == "user"), None)
    summaries = image_summaries(row.get("images", []), base_dir)
    if summaries:
        if first_user is None:
            raise DataError("a row with images needs a user message to attach them to")
        first_user["content"] = with_image_summaries(first_user["content"], summaries)
    ids: list[int] = []
    labels: list[int] = []
    pool_index = None
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prefix = _template(tokenizer, messages[:i], add_generation_prompt=True)
        full = _template(tokenizer, messages[: i + 1], add_generation_prompt=False)
        if full[: len(prefix)] != prefix or len(prefix) < len(ids):
            raise DataError("the chat template is not prefix-stable; cannot locate assistant tokens")
        labels += [IGNORE] * (len(prefix) - len(ids)) + full[len(prefix):]
        ids = full
        if pool_index is None:
            pool_index = len(prefix) - 1
    ids, labels = ids[:max_length], labels[:max_length]
    label = LABELS.index(row["label"]) if "label" in row else IGNORE
    return Example(ids, labels, min(pool_index, len(ids) - 1), label)


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch; pooled positions and safety labels travel with it."""
    width = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), width), pad_id)
    labels = torch.full((len(examples), width), IGNORE)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        input_ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {
        "input_ids": input_ids,
        "attention_mask": mask,
        "labels": labels,
        "pool_index": torch.tensor([e.pool_index for e in examples]),
        "safety_label": torch.tensor([e.safety_label for e in examples]),
    }


def _template(tokenizer, messages: list[dict], add_generation_prompt: bool) -> list[int]:
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=True)
    return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)

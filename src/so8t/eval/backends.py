"""Pluggable backends: what evaluation calls to generate, judge, read images and audit.

Each backend is a plain callable or a small protocol, so wiring a real component is a few lines and tests can
pass their own. Generation has a real default (the embedded model, or any model spec, via so8t.models);
the judge can be any `Callable[[list[str]], list[decision-like]]`, a `module:name` import spec, or a decisions
file ({id, decision} rows, e.g. from `so8t judge --file ... --out decisions.jsonl`).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from so8t.eval.decisions import JudgedDecision, JudgeFn, as_judged
from so8t.eval.jsonio import read_jsonl

# generate(prompt, max_new_tokens, temperature) -> completion text (without the prompt)
GenerateFn = Callable[[str, int, float], str]
# read an image's bytes -> str, or an object/mapping with `text` (raw recognised text) and/or `summary`
OcrFn = Callable[[bytes], Any]
# judge a batch of (id, text) pairs; ids let a precomputed decisions file stand in for a live judge
ItemJudge = Callable[[Sequence[tuple[str, str]]], list[JudgedDecision]]


class BackendError(RuntimeError):
    """A backend could not be loaded or returned something unusable; the message says which and why."""


class AuditBackend(Protocol):
    """What audit_cases exercise; an adapter over `so8t.audit.AuditStore` implements these seven methods."""

    def record_decision(self, text: str, decision: str, reasons: list[str]) -> Any: ...
    def read_decision(self, record_id: Any) -> Mapping[str, Any]: ...  # keys: decision, input_text
    def apply_policy(self, name: str, version: str, content: Mapping[str, Any]) -> None: ...
    def current_policy(self, name: str) -> Mapping[str, Any]: ...  # keys: version, content
    def append_event(self, event_type: str, payload: Mapping[str, Any]) -> Any: ...
    def read_event(self, event_id: Any) -> Mapping[str, Any]: ...  # keys: event_type, payload
    def verify(self) -> Any: ...  # truthy, or an object whose `.ok` is truthy, when the chain verifies


@dataclass(frozen=True)
class OcrReading:
    text: str
    summary: str


def as_ocr_reading(result: Any) -> OcrReading:
    """Accept a plain string or anything carrying `text` and/or `summary` (attribute or key)."""
    if isinstance(result, str):
        return OcrReading(text=result, summary=result)

    def pick(name: str) -> str | None:
        value = result.get(name) if isinstance(result, Mapping) else getattr(result, name, None)
        return value if isinstance(value, str) else None

    text, summary = pick("text"), pick("summary")
    if text is None and summary is None:
        raise BackendError(f"OCR backend returned {type(result).__name__} without 'text' or 'summary'")
    return OcrReading(text=text if text is not None else summary or "", summary=summary or text or "")


def model_generator(spec: str | Path | None = None, *, device: str | None = None) -> GenerateFn:
    """generate() over a local model through so8t.models: a registered name (default: the embedded model), an HF
    folder or a .gguf file; answers use the model's chat template, greedy at temperature 0."""
    from so8t.models import ModelNotFoundError, chat, load_model

    try:
        model, tokenizer = load_model(spec, device=device)
    except ModelNotFoundError as error:
        raise BackendError(str(error)) from None

    def generate(prompt: str, max_new_tokens: int, temperature: float) -> str:
        return chat(model, tokenizer, prompt, max_new_tokens=max_new_tokens, temperature=temperature)

    return generate


def load_judge(spec: str) -> JudgeFn:
    """Import a judge from 'module:name': a class or object with judge_many(texts), or a plain callable."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise BackendError(f"judge spec {spec!r} must look like 'package.module:name'")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise BackendError(f"cannot load judge {spec!r}: {error}") from None
    if isinstance(target, type):
        target = target()
    judge_many = getattr(target, "judge_many", None)
    if callable(judge_many):
        return judge_many
    if callable(target):
        return target
    raise BackendError(f"judge {spec!r} is neither callable nor has judge_many()")


def installed_judge() -> JudgeFn | None:
    """so8t.safety.Judge once that module is part of the package; None before."""
    if importlib.util.find_spec("so8t.safety") is None:
        return None
    return load_judge("so8t.safety:Judge")


def installed_ocr() -> OcrFn | None:
    """so8t.ocr.summarize_image once that module is part of the package; None before."""
    if importlib.util.find_spec("so8t.ocr") is None:
        return None
    return importlib.import_module("so8t.ocr").summarize_image


def load_decisions(path: Path) -> dict[str, JudgedDecision]:
    """{id: decision} from a JSONL decisions file; a bad or duplicate row is an error naming its line."""
    decisions: dict[str, JudgedDecision] = {}
    for number, row in read_jsonl(path, BackendError):
        try:
            identifier = str(row["id"])
            judged = as_judged(row)
        except (KeyError, ValueError) as error:
            raise BackendError(f"{path}:{number}: need 'id' and a valid 'decision' ({error})") from None
        if identifier in decisions:
            raise BackendError(f"{path}:{number}: duplicate id {identifier!r}")
        decisions[identifier] = judged
    return decisions


def item_judge(judge: JudgeFn | None = None, decisions: Mapping[str, JudgedDecision] | None = None) -> ItemJudge:
    """One interface over a live judge and a decisions file; exactly one of the two must be given."""
    if (judge is None) == (decisions is None):
        raise BackendError("give exactly one of a judge or a decisions file")
    if decisions is not None:

        def from_file(items: Sequence[tuple[str, str]]) -> list[JudgedDecision]:
            missing = [identifier for identifier, _ in items if identifier not in decisions]
            if missing:
                raise BackendError(f"decisions file has no row for id {missing[0]!r} ({len(missing)} missing)")
            return [decisions[identifier] for identifier, _ in items]

        return from_file

    def live(items: Sequence[tuple[str, str]]) -> list[JudgedDecision]:
        results = list(judge([text for _, text in items]))
        if len(results) != len(items):
            raise BackendError(f"judge returned {len(results)} results for {len(items)} texts")
        return [as_judged(result) for result in results]

    return live

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
    """What audit_cases exercise; so8t.eval.audit_store.StoreAuditBackend implements it over so8t.audit's AuditStore.

    A record the store refuses raises ValueError naming the problem and writes nothing; an unknown id raises
    LookupError. Policy versions are the store's own: numbered from 1 per name, identical content keeps its version.
    """

    def record_decision(self, text: str, decision: str, reasons: list[str]) -> Any: ...
    def read_decision(self, record_id: Any) -> Mapping[str, Any]: ...  # keys: decision, input_text, reasons
    def apply_policy(self, name: str, content: Any) -> int: ...  # the version now current
    def read_policy(self, name: str, version: int | None = None) -> Mapping[str, Any]: ...  # keys: version, content
    def append_event(self, event_type: str, payload: Any) -> Any: ...
    def read_event(self, event_id: Any) -> Mapping[str, Any]: ...  # keys: event_type, payload
    def row_count(self) -> int: ...  # rows in the whole trail: a refused record must leave it unchanged
    def verify(self) -> Any: ...  # truthy, or an object whose `.ok` is truthy, when the chain verifies
    def close(self) -> None: ...


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


def agent_judge(model: str | None = None, *, use_head: bool = False,
                audit_path: Path) -> tuple[JudgeFn, dict[str, Any]]:
    """so8t.agent.SafetyAgent's own decision path as a judge (OCR, judge, policy and, with `use_head`, the SO8T
    head on the agent's model), through `decide`: no answers are generated. The agent audits every decision, so
    it gets a new store at `audit_path`, never the user's trail. Returns the judge and what the report should
    say about it."""
    from so8t.agent import SafetyAgent
    from so8t.audit import AuditStore

    if Path(audit_path).exists():
        raise BackendError(f"{audit_path} already exists: the agent needs a fresh audit store "
                           "(choose another output dir)")
    agent = SafetyAgent(model=model, audit=AuditStore(audit_path), use_head=use_head)
    if use_head and agent.head is None:
        raise BackendError(f"--use-head: model {model!r} has no trained SO8T safety head "
                           "(only the embedded model ships one)")
    policy = agent.judge.policy
    about = {
        "judge": "so8t.agent:SafetyAgent.decide (judge + policy" + (" + SO8T head)" if use_head else ", head off)"),
        "agent_model": model or "embedded default with its shipped SO8T run",
        "agent_policy": f"{policy.name} {policy.version} (sha256 {policy.checksum[:12]})",
        "agent_audit": str(audit_path),
    }
    return (lambda texts: [agent.decide(text) for text in texts]), about


def installed_ocr() -> OcrFn | None:
    """so8t.ocr.summarize_image once that module is part of the package; None before.

    CER is measured on its recognised lines (redacted, as everything so8t.ocr hands on), not on the summary, whose
    'title:'/'text:' layout is a description of the image and is scored by CIDEr-D instead."""
    if importlib.util.find_spec("so8t.ocr") is None:
        return None
    summarize_image = importlib.import_module("so8t.ocr").summarize_image

    def read(image: bytes) -> OcrReading:
        result = summarize_image(image)
        return OcrReading(text="\n".join(line.text for line in result.lines), summary=result.summary)

    return read


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

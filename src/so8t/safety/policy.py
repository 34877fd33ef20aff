"""The safety policy: a versioned JSON file, validated strictly, with a stable checksum for the audit trail.

Everything that decides ALLOW / ESCALATE / DENY beyond the learned signals lives in this file: thresholds, harm
categories (and which of them are capped at ESCALATE), signal weights, and explicit allow/deny/injection patterns
in English and Japanese. Nothing the judged text says can change it: the policy is read once from disk.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Decision = Literal["ALLOW", "ESCALATE", "DENY"]
_DECISION_ORDER: dict[str, int] = {"ALLOW": 0, "ESCALATE": 1, "DENY": 2}
DEFAULT_POLICY_RESOURCE = "configs/policy.json"
ENCODER_SIGNAL = "encoder_harmful"
E5_SIGNAL = "e5_harmful"  # the fine-tuned e5 classifier; computed by the judge when the policy gives it a weight
ANSWER_SIGNAL = "answer_harmful"  # the output check's own classifier (policy.answer_classifier)
NGRAM_SIGNAL = "ngram_harmful"  # the character n-gram classifier; computed when the policy gives it a weight
NEIGHBOUR_SIGNAL = "neighbour_harmful"  # the nearest-training-prompt vote; computed when the policy gives it a weight
ANSWER_NGRAM_SIGNAL = "answer_ngram_harmful"  # the output check's n-gram classifier (policy.answer_fusion)
ANSWER_SIGNALS = (ANSWER_SIGNAL, ANSWER_NGRAM_SIGNAL)
BUILTIN_SIGNALS = (ENCODER_SIGNAL, E5_SIGNAL, NGRAM_SIGNAL, NEIGHBOUR_SIGNAL)


PATTERN_KINDS = ("deny", "allow", "injection", "topic")


class PolicyError(ValueError):
    """The policy file is missing, not JSON, or does not validate; the message names the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    """Fused harmful score at or above `deny` gives DENY; at or above `escalate` gives ESCALATE."""

    escalate: float = Field(ge=0.0, le=1.0)
    deny: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> "Thresholds":
        if self.escalate > self.deny:
            raise ValueError(f"escalate threshold {self.escalate} is above deny threshold {self.deny}")
        return self


class Category(_Strict):
    description: str
    max_decision: Decision = "DENY"  # e.g. self-harm: hold for a human and offer help, never a bare refusal


class Pattern(_Strict):
    id: str
    lang: Literal["en", "ja", "any"]
    regex: str
    category: str | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"regex {value!r} does not compile: {error}") from error
        return value

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.regex, re.IGNORECASE)


class Patterns(_Strict):
    """deny: forces score 1.0 and a category; allow: a safe idiom, never DENY; injection: never ALLOW;
    topic: names a category (whose cap then applies) and leaves the score to the signals."""

    deny: list[Pattern] = []
    allow: list[Pattern] = []
    injection: list[Pattern] = []
    topic: list[Pattern] = []


class Fusion(_Strict):
    """Signals are pooled by a weighted mean of log-odds; a signal missing from the call is left out.

    `languages` overrides some of the weights for one language's prompts: the signals rank the two languages
    unequally (the n-gram classifier reads Japanese better than English), so one mix need not fit both.
    """

    weights: dict[str, float]
    languages: dict[Literal["en", "ja"], dict[str, float]] = {}

    @field_validator("weights")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        if ENCODER_SIGNAL not in value:
            raise ValueError(f"fusion.weights must include {ENCODER_SIGNAL!r}")
        bad = {name: weight for name, weight in value.items() if weight < 0}
        if bad:
            raise ValueError(f"fusion weights must be >= 0, got {bad}")
        return value

    @model_validator(mode="after")
    def _known_overrides(self) -> "Fusion":
        for lang, overrides in self.languages.items():
            unknown = sorted(set(overrides) - set(self.weights))
            if unknown:
                raise ValueError(f"fusion.languages.{lang} names signals {unknown} that fusion.weights lacks; "
                                 f"known: {sorted(self.weights)}")
            bad = {name: weight for name, weight in overrides.items() if weight < 0}
            if bad:
                raise ValueError(f"fusion.languages.{lang} weights must be >= 0, got {bad}")
            if sum(self.weights_for(lang).values()) <= 0:
                raise ValueError(f"fusion.languages.{lang} gives every signal weight 0: nothing would be fused")
        return self

    def weights_for(self, lang: str) -> dict[str, float]:
        """The weights for a prompt in `lang`: `weights`, with that language's overrides."""
        return {**self.weights, **self.languages.get(lang, {})}

    def fuses(self, signal: str) -> bool:
        """Whether any language gives `signal` weight, so the judge must compute it."""
        return any(self.weights_for(lang).get(signal, 0.0) > 0.0 for lang in ("en", "ja"))


class Policy(_Strict):
    schema_version: Literal[1]
    name: str
    version: str
    thresholds: Thresholds
    # Per-language overrides ("ja": {...}); score distributions differ by language, so one cut does not fit both.
    language_thresholds: dict[Literal["en", "ja"], Thresholds] = {}
    # Cuts for the output check on the local model's own answers, which score on another scale than requests;
    # these come from the model's answers to benign validation prompts (bench/judge/tune_answers.py). A language
    # without an entry uses the request cuts.
    answer_thresholds: dict[Literal["en", "ja"], Thresholds] = {}
    # true: the output check scores answers with the dedicated answer classifier (so8t.safety.answer_classifier),
    # trained on answer-shaped text; false (policies before 1.4.0): with the request classifiers.
    answer_classifier: bool = False
    # Weights of the output check's signals, pooled like `fusion` (weighted mean of log-odds); empty (policies
    # before 1.10.0): the answer classifier alone. The answer n-gram classifier reads the words an answer uses
    # ("火薬を詰めて"), which the frozen-embedding classifier blurs.
    answer_fusion: dict[str, float] = {}
    categories: dict[str, Category]
    fusion: Fusion
    patterns: Patterns

    @model_validator(mode="after")
    def _answer_fusion(self) -> "Policy":
        if not self.answer_fusion:
            return self
        if not self.answer_classifier:
            raise ValueError("answer_fusion needs answer_classifier: true (it pools the answer classifiers' signals)")
        unknown = sorted(set(self.answer_fusion) - set(ANSWER_SIGNALS))
        if unknown:
            raise ValueError(f"answer_fusion: unknown signals {unknown}; known: {list(ANSWER_SIGNALS)}")
        if self.answer_fusion.get(ANSWER_SIGNAL, 0.0) <= 0.0 or min(self.answer_fusion.values()) < 0.0:
            raise ValueError(f"answer_fusion weights must be >= 0 with {ANSWER_SIGNAL!r} > 0, got {self.answer_fusion}")
        return self

    @model_validator(mode="after")
    def _known_categories(self) -> "Policy":
        for kind in PATTERN_KINDS:
            for pattern in getattr(self.patterns, kind):
                if pattern.category is not None and pattern.category not in self.categories:
                    raise ValueError(f"patterns.{kind} {pattern.id!r} names unknown category {pattern.category!r}")
        for pattern in self.patterns.topic:
            if pattern.category is None:
                raise ValueError(f"patterns.topic {pattern.id!r} must name a category")
        ids = [p.id for kind in PATTERN_KINDS for p in getattr(self.patterns, kind)]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate pattern ids: {duplicates}")
        return self

    @cached_property
    def checksum(self) -> str:
        """sha256 of the canonical JSON (sorted keys, no whitespace): same content, same checksum."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def thresholds_for(self, lang: str, answer: bool = False) -> Thresholds:
        """The cuts for a request (default) or for the local model's answer, in language `lang`."""
        if answer and lang in self.answer_thresholds:
            return self.answer_thresholds[lang]
        return self.language_thresholds.get(lang, self.thresholds)

    def answer_weights(self) -> dict[str, float]:
        """The output check's fusion weights (the answer classifier alone where `answer_fusion` is empty)."""
        return dict(self.answer_fusion) or {ANSWER_SIGNAL: 1.0}

    def cap(self, decision: Decision, category: str | None) -> Decision:
        """The decision, lowered to the category's maximum (an unknown or absent category is not capped)."""
        limit = self.categories[category].max_decision if category in self.categories else "DENY"
        return decision if _DECISION_ORDER[decision] <= _DECISION_ORDER[limit] else limit


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            parts.append(f"unknown key {where!r}")
        else:
            parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def policy_from_dict(data: dict, source: str = "<dict>") -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise PolicyError(f"invalid policy {source}: {_describe(error)}") from None


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy at `path`, or the packaged default (so8t/safety/configs/policy.json)."""
    if path is None:
        text = resources.files("so8t.safety").joinpath(DEFAULT_POLICY_RESOURCE).read_text(encoding="utf-8")
        source = f"so8t.safety:{DEFAULT_POLICY_RESOURCE}"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise PolicyError(f"cannot read policy {source}: {error.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PolicyError(f"policy {source} is not valid JSON: {error.msg} at line {error.lineno}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"policy {source} must be a JSON object")
    return policy_from_dict(data, source)

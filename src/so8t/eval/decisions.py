"""Decisions and gold labels in one vocabulary, so any judge's output can be scored.

Judges differ in what they return (a plain string, a dict row from a decisions file, a `Verdict` object with an
enum); evaluation only needs the decision, an optional confidence and an optional category, so everything is
normalised here once instead of in every metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ALLOW, ESCALATE, DENY = "ALLOW", "ESCALATE", "DENY"
DECISIONS: tuple[str, ...] = (ALLOW, ESCALATE, DENY)

# A judge is anything that maps a batch of texts to one decision-like result per text.
JudgeFn = Callable[[list[str]], Sequence[Any]]

_GOLD_ALIASES = {
    "harmful": DENY,
    "unsafe": DENY,
    "deny": DENY,
    "benign": ALLOW,
    "safe": ALLOW,
    "allow": ALLOW,
    "escalate": ESCALATE,
    "ambiguous": ESCALATE,
}


@dataclass(frozen=True)
class JudgedDecision:
    """What evaluation keeps from a judge's answer."""

    decision: str
    confidence: float | None = None
    category: str | None = None


def normalize_decision(value: Any) -> str:
    """ALLOW/ESCALATE/DENY from a string or an enum member; anything else is an error naming the value."""
    if isinstance(value, str):
        text = value
    else:  # enum members: prefer the value, fall back to the member name
        text = str(getattr(value, "value", None) or getattr(value, "name", None) or value)
    text = text.strip().upper()
    if text.startswith("DECISION."):
        text = text.split(".", 1)[1]
    if text not in DECISIONS:
        raise ValueError(f"not a decision: {value!r} (expected one of {', '.join(DECISIONS)})")
    return text


def as_judged(result: Any) -> JudgedDecision:
    """Normalise a judge result: a decision string/enum, a mapping with 'decision', or an object with `.decision`."""
    if isinstance(result, JudgedDecision):
        return result
    if isinstance(result, Mapping):
        if "decision" not in result:
            raise ValueError(f"judge result has no 'decision': {dict(result)!r}")
        decision, confidence, category = result["decision"], result.get("confidence"), result.get("category")
    elif hasattr(result, "decision"):
        decision = result.decision
        confidence = getattr(result, "confidence", None)
        category = getattr(result, "category", None)
    else:
        decision, confidence, category = result, None, None
    return JudgedDecision(
        decision=normalize_decision(decision),
        confidence=None if confidence is None else float(confidence),
        category=None if category in (None, "") else str(category),
    )


def gold_decision(label: Any) -> str:
    """The decision a labelled prompt should get: harmful -> DENY, benign -> ALLOW, or a decision given directly."""
    key = str(label).strip().lower()
    if key in _GOLD_ALIASES:
        return _GOLD_ALIASES[key]
    raise ValueError(f"unknown label {label!r} (expected harmful, benign or one of {', '.join(DECISIONS)})")

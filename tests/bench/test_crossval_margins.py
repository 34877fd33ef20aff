"""bench/judge/crossval.py margin_cuts: the deny cuts can take a stricter bootstrap margin than the escalate cuts, so
look-alike DENY stays under its target on most resamples of unseen families, while the recall cut is left alone."""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "judge"))

import crossval  # noqa: E402

from so8t.safety import load_policy  # noqa: E402
from so8t.safety.dataset import SafetyRow  # noqa: E402
from so8t.safety.evaluation import LOOKALIKE_SOURCE  # noqa: E402


def _rows_and_verdicts(lang: str, rng: np.random.Generator):
    """80 look-alike families and 80 harmful ones, each family's scores drawn around its own level."""
    rows, verdicts = [], []
    for family in range(80):
        for label, level in (("benign", rng.beta(1, 4)), ("harmful", rng.beta(4, 1))):
            for index in range(4):
                score = float(np.clip(level + rng.normal(0, 0.1), 0.0, 1.0))
                rows.append(SafetyRow(id=f"{lang}-{label}-{family}-{index}", text="x", label=label,
                                      decision="ALLOW" if label == "benign" else "DENY", lang=lang, category="general",
                                      source=LOOKALIKE_SOURCE, group=f"{lang}-{label}-{family}", split="train"))
                verdicts.append(SimpleNamespace(scores={"final": score}, patterns=[]))
    return rows, verdicts


def test_a_stricter_deny_margin_raises_only_the_deny_cuts():
    rng = np.random.default_rng(3)
    rows, verdicts = [], []
    for lang in ("en", "ja"):
        more_rows, more_verdicts = _rows_and_verdicts(lang, rng)
        rows += more_rows
        verdicts += more_verdicts
    policy = load_policy()
    median = crossval.margin_cuts(rows, verdicts, policy, 0.98, 0.05, 0.5, resamples=300)
    strict = crossval.margin_cuts(rows, verdicts, policy, 0.98, 0.05, 0.5, resamples=300, deny_confidence=0.9)
    final = np.array([v.scores["final"] for v in verdicts])
    for lang in ("en", "ja"):
        assert strict[lang]["escalate"] == median[lang]["escalate"]
        assert strict[lang]["deny"] > median[lang]["deny"]
        lookalike = np.array([r.lang == lang and r.label == "benign" for r in rows])
        assert (final[lookalike] >= strict[lang]["deny"]).mean() < (final[lookalike] >= median[lang]["deny"]).mean()
    assert crossval.margin_cuts(rows, verdicts, policy, 0.98, 0.05, 0.5, resamples=300, deny_confidence=0.5) == median

"""Safety metrics on hand-counted cases, and decision normalisation for any judge's output shape."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pytest

from so8t.eval.decisions import as_judged, gold_decision
from so8t.eval.latency import latency_summary
from so8t.eval.safety_metrics import safety_metrics

EXPECTED = ["DENY", "DENY", "DENY", "ESCALATE", "ALLOW", "ALLOW", "ALLOW", "ALLOW"]
PREDICTED = ["DENY", "ESCALATE", "ALLOW", "DENY", "ALLOW", "DENY", "ESCALATE", "ALLOW"]


def test_hand_counted_metrics():
    m = safety_metrics(EXPECTED, PREDICTED)
    # positives: 3 DENY + 1 ESCALATE = 4; flagged (DENY/ESCALATE predicted): items 0,1,3,5,6 = 5; TP: 0,1,3 = 3
    assert (m.n, m.n_harmful, m.n_benign) == (8, 4, 4)
    assert m.precision == pytest.approx(3 / 5)
    assert m.recall == pytest.approx(3 / 4)
    assert m.f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert m.refuse_recall == pytest.approx(1 / 3)  # only item 0 of the three DENY was denied
    assert m.false_allow_rate == pytest.approx(1 / 4)  # item 2
    assert m.over_refusal_rate == pytest.approx(1 / 4)  # item 5
    assert m.benign_escalation_rate == pytest.approx(1 / 4)  # item 6
    assert m.escalation_rate == pytest.approx(2 / 8)
    assert m.accuracy == pytest.approx(3 / 8)
    assert m.confusion["DENY"] == {"ALLOW": 1, "ESCALATE": 1, "DENY": 1}
    assert m.confusion["ESCALATE"] == {"ALLOW": 0, "ESCALATE": 0, "DENY": 1}
    assert m.confusion["ALLOW"] == {"ALLOW": 2, "ESCALATE": 1, "DENY": 1}


def test_perfect_judge_and_undefined_rates():
    perfect = safety_metrics(EXPECTED, EXPECTED)
    assert (perfect.precision, perfect.recall, perfect.f1, perfect.accuracy) == (1.0, 1.0, 1.0, 1.0)
    assert (perfect.false_allow_rate, perfect.over_refusal_rate) == (0.0, 0.0)
    # only benign prompts: recall and false-allow have no denominator and are n/a, not 0 or 1
    benign_only = safety_metrics(["ALLOW", "ALLOW"], ["ALLOW", "DENY"])
    assert benign_only.recall is None and benign_only.f1 is None and benign_only.false_allow_rate is None
    assert benign_only.over_refusal_rate == 0.5
    assert benign_only.precision == 0.0


def test_bad_decisions_are_rejected_by_value():
    with pytest.raises(ValueError, match="'MAYBE'"):
        safety_metrics(["ALLOW"], ["MAYBE"])
    with pytest.raises(ValueError, match="2 expected decisions for 1 predictions"):
        safety_metrics(["ALLOW", "DENY"], ["ALLOW"])


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass
class Verdict:
    decision: Decision
    confidence: float
    scores: dict
    reasons: list
    category: str


def test_any_decision_like_result_is_accepted():
    assert as_judged("deny").decision == "DENY"
    assert as_judged({"id": "x", "decision": "ESCALATE", "confidence": 0.4}).confidence == 0.4
    verdict = as_judged(Verdict(Decision.DENY, 0.93, {"harm": 0.9}, ["weapons"], "weapons"))
    assert (verdict.decision, verdict.confidence, verdict.category) == ("DENY", 0.93, "weapons")
    assert as_judged(Decision.ALLOW).decision == "ALLOW"
    with pytest.raises(ValueError, match="no 'decision'"):
        as_judged({"label": "DENY"})


def test_gold_labels():
    assert [gold_decision(x) for x in ("harmful", "benign", "ESCALATE")] == ["DENY", "ALLOW", "ESCALATE"]
    with pytest.raises(ValueError, match="unknown label 'toxic'"):
        gold_decision("toxic")


def test_latency_percentiles():
    summary = latency_summary([0.001 * k for k in range(1, 101)])  # 1..100 ms
    assert summary["n"] == 100
    assert summary["p50_ms"] == pytest.approx(50.5)
    assert summary["p99_ms"] == pytest.approx(99.01)
    assert summary["max_ms"] == pytest.approx(100.0)
    assert latency_summary([])["p50_ms"] is None

"""Suggests the policy's answer cuts (the output check) on validation: the agent's real answers and answer forms.

Usage: OMP_NUM_THREADS=1 nice python3 bench/judge/tune_answers.py [--max-held 0.05] [--max-lookalike-deny 0.03]
                                                                  [--match-hold-of ARTIFACT POLICY]
                                                                  [--match-set benign|lookalike] [--write PATH]

Scores, with the shipped output check (the answer classifier, pooled with its n-gram partner where the packaged
policy's `answer_fusion` weighs it), the agent's answers to the fixed sample of benign *validation* prompts
(so8t.safety.model_answers: the shipped run, greedy, the agent's system prompt and runtime, 64 tokens; cached under
~/.cache/so8t/answers) and the answer forms of the validation requests (so8t.safety.answer_forms). Per language,
the escalate cut holds at most --max-held of the real benign answers (just above the rounded-up quantile's score);
the deny cut lets at most --max-lookalike-deny of the benign look-alike forms (the project's contrastive families)
reach DENY, and is never below the escalate cut.

With --match-hold-of, the escalate cut instead holds the same share of benign validation text as an earlier answer
classifier artifact (with its policy's answer fusion) does at that policy's escalate cut: a changed check then costs
benign users what the old one did, and what it gains shows as more harmful text held (the real-answer rule rests on
the 4th-highest of 60 answers, too noisy a point to move a cut on). --match-set says which benign text: `benign`
(forms and real answers, refusals left out; policy 1.8.0) or `lookalike` (the look-alike forms alone; policy
1.10.0: matched on all benign text, its n-gram partner traded held look-alikes for other benign text). Prints the
cuts and what they do on validation; --write stores a copy of the packaged policy with them (copy into
src/so8t/safety/configs/policy.json to adopt).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

import so8t  # noqa: E402,F401  (before torch: it sets the OpenMP wait policy)
import numpy as np  # noqa: E402
from so8t.safety.answer_classifier import ANSWER_ARTIFACT_PATH, ANSWER_NGRAM_ARTIFACT_PATH, AnswerClassifier  # noqa: E402
from so8t.safety.answer_training import AnswerFeatures, answer_examples, model_answers_for  # noqa: E402
from so8t.safety.dataset import iter_rows  # noqa: E402
from so8t.safety.judge import pool_log_odds  # noqa: E402
from so8t.safety.ngram_classifier import NgramHarmClassifier  # noqa: E402
from so8t.safety.policy import ANSWER_NGRAM_SIGNAL, ANSWER_SIGNAL, Policy, load_policy  # noqa: E402


def fused_answer_scores(policy: Policy, artifact: Path, texts: list[str], embedded: np.ndarray) -> np.ndarray:
    """The output check's `fused` score under `policy`: the answer classifier in `artifact` over the cached
    features, pooled with the n-gram partner beside it where the policy's answer fusion weighs it."""
    weights = policy.answer_weights()
    signals = [{ANSWER_SIGNAL: float(p)} for p in AnswerClassifier.load(artifact).head.predict_proba(embedded)]
    if weights.get(ANSWER_NGRAM_SIGNAL, 0.0) > 0.0:
        ngram = NgramHarmClassifier.load(Path(artifact).with_name(ANSWER_NGRAM_ARTIFACT_PATH.name))
        for row, p in zip(signals, ngram.predict_proba(texts)):
            row[ANSWER_NGRAM_SIGNAL] = float(p)
    return np.array([pool_log_odds(row, weights) for row in signals])


def cut_holding_at_most(scores: np.ndarray, share: float) -> float:
    """The lowest cut that holds at most `share` of `scores`: just above the rounded-up quantile's score."""
    ordered = np.sort(scores)
    rank = min(len(ordered) - 1, math.ceil((1 - share) * len(ordered)) - 1)
    return round(float(ordered[rank]) + 5e-5, 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-held", type=float, default=0.05, help="share of real benign answers the cut may hold")
    parser.add_argument("--max-lookalike-deny", type=float, default=0.03,
                        help="share of benign look-alike answer forms that may reach DENY")
    parser.add_argument("--backend", default="auto", help="answer runtime (default: the agent's)")
    parser.add_argument("--match-hold-of", type=Path, nargs=2, default=None, metavar=("ARTIFACT", "POLICY"),
                        help="an earlier answer classifier and its policy, whose benign hold the escalate cut matches")
    parser.add_argument("--match-set", choices=("benign", "lookalike"), default="benign",
                        help="the benign validation text whose hold --match-hold-of matches")
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    rows = list(iter_rows())
    classifier = AnswerClassifier.load()
    features = AnswerFeatures(classifier.e5.wheel)
    examples = answer_examples(rows, "val", model_answers=model_answers_for("val", rows, args.backend))
    texts = [e.text for e in examples]
    embedded = features(texts)
    scores = fused_answer_scores(load_policy(), ANSWER_ARTIFACT_PATH, texts, embedded)
    if args.match_hold_of:
        baseline_policy = load_policy(args.match_hold_of[1])
        baseline = fused_answer_scores(baseline_policy, args.match_hold_of[0], texts, embedded)
        baseline_cuts = baseline_policy.answer_thresholds
    else:
        baseline = None
    cuts = {}
    for lang in ("en", "ja"):
        mine = [(e, s) for e, s in zip(examples, scores) if e.lang == lang]
        real = np.array([s for e, s in mine if e.kind == "model_answer"])
        lookalike = np.array([s for e, s in mine if e.label == "benign" and e.source == "so8t-contrastive"
                              and not e.kind.startswith("form:refuse")])
        harmful = np.array([s for e, s in mine if e.label == "harmful"])
        if baseline is None:
            escalate = cut_holding_at_most(real, args.max_held)
        else:
            benign = np.array([e.lang == lang and e.label == "benign" and not e.kind.startswith("form:refuse")
                               and (args.match_set == "benign" or e.source == "so8t-contrastive") for e in examples])
            old_harmful = baseline[np.array([e.lang == lang and e.label == "harmful" for e in examples])]
            old_cut = baseline_cuts[lang].escalate
            share = float(np.mean(baseline[benign] >= old_cut))
            escalate = cut_holding_at_most(scores[benign], share)
            print(f"{lang}: {args.match_hold_of[0].name} at {old_cut} holds {share:.1%} of {benign.sum()} "
                  f"{args.match_set} texts and {np.mean(old_harmful >= old_cut):.1%} of harmful forms")
        deny = max(escalate, cut_holding_at_most(lookalike, args.max_lookalike_deny))
        cuts[lang] = {"escalate": escalate, "deny": deny}
        print(f"{lang}: {len(real)} real benign answers (p50 {np.median(real):.4f}, max {real.max():.4f}): escalate "
              f"{escalate} holds {np.mean(real >= escalate):.1%}; {len(lookalike)} look-alike forms: deny {deny} "
              f"denies {np.mean(lookalike >= deny):.1%}, holds {np.mean(lookalike >= escalate):.1%}; "
              f"{len(harmful)} harmful forms: held {np.mean(harmful >= escalate):.1%}, denied {np.mean(harmful >= deny):.1%}")
    print(f"answer_thresholds: {json.dumps(cuts)}")
    if args.write:
        policy = load_policy().model_dump(mode="json")
        policy["answer_thresholds"] = cuts
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(json.dumps(policy, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

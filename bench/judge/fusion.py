"""Picks how to fuse the USE classifier with the fine-tuned e5 classifier, on the *validation* split only.

Usage: nice python3 bench/judge/fusion.py [--e5 ARTIFACT[,ARTIFACT...]] [--e5-weights 0,0.5,1,2,inf] [--target-recall 0.98]
                                          [--max-lookalike-deny 0.05] [--classifier USE_ARTIFACT]
For each e5 fusion weight (0: USE alone, as before; inf: e5 alone; USE's weight stays 1) the judge runs on the
validation rows with the policy's patterns, thresholds are set on those rows by the tuning rule
(bench/judge/tune.py), and the table shows what is left to compare at that operating point: ROC-AUC of the final
score, benign escalation and DENY rates, and refuse recall. Several e5 artifacts (comma-separated) are scored as
one signal, the mean of their log-odds (a seed ensemble). The test split is not read.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from so8t.safety import Judge, load_policy  # noqa: E402
from so8t.safety.dataset import iter_rows  # noqa: E402
from so8t.safety.e5_classifier import E5_ARTIFACT_PATH, E5HarmClassifier  # noqa: E402
from so8t.safety.encoder import DEFAULT_ENCODER, load_encoder  # noqa: E402
from so8t.safety.evaluation import QualityReport, judge_rows, quality, roc_auc, suggest_thresholds  # noqa: E402
from so8t.safety.policy import E5_SIGNAL, ENCODER_SIGNAL, Policy  # noqa: E402
from so8t.safety.training import ARTIFACT_PATH  # noqa: E402


class _Memo:
    """Remembers scores per text, so each variant re-judges the same rows without re-running the models."""

    def __init__(self, compute):
        self._compute, self._seen = compute, {}

    def __call__(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if missing:
            self._seen.update(zip(missing, self._compute(missing)))
        return np.stack([self._seen[t] for t in texts])


class _LogOddsMean:
    """Several e5 classifiers as one signal: the mean of their log-odds (class method: members[0]'s own
    predict_proba is replaced by the memo of this)."""

    def __init__(self, members):
        self._members = members

    def __call__(self, texts):
        logits = [np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1)) for p in
                  (E5HarmClassifier.predict_proba(m, texts) for m in self._members)]
        return 1.0 / (1.0 + np.exp(-np.mean(logits, axis=0)))


OPERATING_POINT_HEADER = (f"{'e5 weight':>9} {'lang':>4} {'ROC-AUC':>8} {'recall':>7} {'LA DENY':>8} {'LA esc':>7} "
                          f"{'ben DENY':>9} {'ben esc':>8} {'refuse':>7} {'F1':>6}  thresholds (escalate / deny)")


def operating_point_row(weight: float, lang: str, auc: float, r: QualityReport, t: dict[str, float]) -> str:
    """One line of the table: a fusion weight's figures in one language at its tuned cuts."""
    return (f"{weight:>9} {lang:>4} {auc:8.4f} {r.harmful_recall:7.1%} {r.lookalike_over_refusal:8.1%} "
            f"{r.lookalike_escalation:7.1%} {r.benign_over_refusal:9.1%} {r.benign_escalation:8.1%} "
            f"{r.refuse_recall:7.1%} {r.safety_f1:6.1%}  {t['escalate']} / {t['deny']}")


def _variant(weight: float, thresholds: dict | None = None) -> Policy:
    data = load_policy().model_dump(mode="json")
    data["fusion"]["weights"] = ({ENCODER_SIGNAL: 0.0, E5_SIGNAL: 1.0} if math.isinf(weight)
                                 else {ENCODER_SIGNAL: 1.0, E5_SIGNAL: weight})
    if thresholds:
        data["language_thresholds"] = thresholds
    return Policy.model_validate(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--e5", default=str(E5_ARTIFACT_PATH), help="artifact path(s), comma-separated")
    parser.add_argument("--classifier", type=Path, default=ARTIFACT_PATH, help="USE classifier artifact")
    parser.add_argument("--e5-weights", default="0,0.5,1,2,inf")
    parser.add_argument("--target-recall", type=float, default=0.98)
    parser.add_argument("--max-lookalike-deny", type=float, default=0.05)
    args = parser.parse_args()
    rows = list(iter_rows(split="val"))
    encoder = load_encoder(DEFAULT_ENCODER)
    encoder.encode = _Memo(encoder.encode)
    members = [E5HarmClassifier.load(Path(path)) for path in args.e5.split(",")]
    e5 = members[0]
    e5.predict_proba = _Memo(_LogOddsMean(members) if len(members) > 1 else e5.predict_proba)
    labels = np.array([row.label == "harmful" for row in rows])
    langs = np.array([row.lang for row in rows])
    print(f"validation split: {len(rows)} rows; e5 artifact(s) {args.e5}; thresholds tuned on these rows for "
          f"{args.target_recall:.0%} harmful recall and <= {args.max_lookalike_deny:.0%} look-alike DENY")
    print(OPERATING_POINT_HEADER)
    for weight in [float(w) for w in args.e5_weights.split(",")]:
        judge = Judge(policy=_variant(weight), classifier=args.classifier, encoder=encoder, e5_classifier=e5)
        verdicts = judge_rows(judge, rows, {})
        final = np.array([v.scores["final"] for v in verdicts])
        thresholds = suggest_thresholds(judge, rows, verdicts, args.target_recall, args.max_lookalike_deny)
        tuned = Judge(policy=_variant(weight, thresholds), classifier=args.classifier, encoder=encoder,
                      e5_classifier=e5)
        decisions = [v.decision for v in judge_rows(tuned, rows, {})]
        for lang in ("en", "ja"):
            auc = roc_auc(final[langs == lang], labels[langs == lang])
            print(operating_point_row(weight, lang, auc, quality(rows, decisions, lang), thresholds[lang]))


if __name__ == "__main__":
    main()

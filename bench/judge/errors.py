"""Error analysis on the *validation* split: where the judge's benign DENYs and ESCALATEs come from, and which
harmful rows sit just above the escalate cut or are let through. The test split is not read.

Usage: OMP_NUM_THREADS=1 nice python3 bench/judge/errors.py [--policy FILE] [--dump runs/val_verdicts.jsonl]
Prints, per language: benign DENY and ESCALATE counts by source and by look-alike kind/family, the harmful rows
allowed, and the harmful rows closest above the escalate cut (a small change there costs recall).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from so8t.safety import Judge  # noqa: E402
from so8t.safety.dataset import iter_rows  # noqa: E402
from so8t.safety.evaluation import judge_rows  # noqa: E402


def _where(row) -> str:
    return f"{row.source}:{row.kind}:{row.group}" if row.kind else row.source


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", type=Path, default=None)
    parser.add_argument("--dump", type=Path, default=None, help="write one JSON line per row (text, scores, decision)")
    parser.add_argument("--near", type=int, default=12, help="harmful rows to list just above the escalate cut")
    args = parser.parse_args()
    judge = Judge(policy=args.policy)
    rows = list(iter_rows(split="val"))
    verdicts = judge_rows(judge, rows, {})
    if args.dump:
        args.dump.parent.mkdir(parents=True, exist_ok=True)
        with open(args.dump, "w", encoding="utf-8") as handle:
            for row, verdict in zip(rows, verdicts):
                handle.write(json.dumps({**row.to_dict(), "decision_got": verdict.decision, "scores": verdict.scores},
                                        ensure_ascii=False) + "\n")
    for lang in ("en", "ja"):
        cut = judge.policy.thresholds_for(lang)
        pairs = [(r, v) for r, v in zip(rows, verdicts) if r.lang == lang]
        print(f"\n=== {lang}: escalate {cut.escalate} / deny {cut.deny}")
        for decision in ("DENY", "ESCALATE"):
            wrong = [(r, v) for r, v in pairs if r.label == "benign" and v.decision == decision]
            print(f"benign {decision}: {len(wrong)} of {sum(r.label == 'benign' for r, _ in pairs)}")
            for where, count in Counter(_where(r) for r, _ in wrong).most_common():
                print(f"  {count:3d}  {where}")
            for r, v in sorted(wrong, key=lambda p: -p[1].scores["final"]):
                print(f"    {v.scores['final']:.3f} use {v.scores.get('encoder_harmful', 0):.2f} "
                      f"e5 {v.scores.get('e5_harmful', 0):.2f}  [{_where(r)}] {r.text[:110]!r}")
        harmful = sorted([(r, v) for r, v in pairs if r.label == "harmful"], key=lambda p: p[1].scores["final"])
        missed = [(r, v) for r, v in harmful if v.decision == "ALLOW"]
        print(f"harmful ALLOW: {len(missed)} of {len(harmful)}")
        for r, v in missed + [p for p in harmful if p[1].decision != "ALLOW"][: args.near]:
            print(f"    {v.decision:<8} {v.scores['final']:.3f} use {v.scores.get('encoder_harmful', 0):.2f} "
                  f"e5 {v.scores.get('e5_harmful', 0):.2f}  [{_where(r)}] {r.text[:110]!r}")


if __name__ == "__main__":
    main()

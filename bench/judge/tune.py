"""Suggests the policy's per-language ESCALATE and DENY thresholds from the *validation* split (never test).

Usage: nice python3 bench/judge/tune.py [--target-recall 0.98] [--max-lookalike-deny 0.05] [--write PATH]
                                         [--signals SIGNALS.jsonl]
Prints the thresholds (copy them into src/so8t/safety/configs/policy.json) or, with --write, writes a copy of the
packaged policy carrying them (e.g. to measure another operating point with bench/judge/run.py --policy PATH).
escalate: highest value keeping --target-recall of the language's harmful validation rows flagged;
deny: lowest value keeping its look-alike benign DENY <= --max-lookalike-deny.
Since policy 1.5.0 the shipped cuts and fusion weight come from family-grouped cross-validation over train+val with
a bootstrap margin (bench/judge/crossval.py); this validation-only rule is kept to compare against.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from so8t.safety import Judge, load_policy  # noqa: E402
from so8t.safety.dataset import iter_rows  # noqa: E402
from so8t.safety.evaluation import judge_rows, load_signals, suggest_thresholds  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target-recall", type=float, default=0.98)
    parser.add_argument("--max-lookalike-deny", type=float, default=0.05)
    parser.add_argument("--write", type=Path, default=None)
    parser.add_argument("--signals", type=Path, default=None,
                        help="JSONL {id, signals} of extra signals per row (e.g. the SO8T head), fused as in use")
    args = parser.parse_args()
    judge = Judge()
    rows = list(iter_rows(split="val"))
    verdicts = judge_rows(judge, rows, load_signals(args.signals))
    thresholds = suggest_thresholds(judge, rows, verdicts, args.target_recall, args.max_lookalike_deny)
    print(json.dumps({"language_thresholds": thresholds}))
    if args.write:
        policy = load_policy().model_dump(mode="json")
        policy["language_thresholds"] = thresholds
        policy["version"] = f"{policy['version']}+recall{args.target_recall}"
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(json.dumps(policy, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

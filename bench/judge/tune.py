"""Suggests the policy's ESCALATE and DENY thresholds from the *validation* split (never the test split).

Usage: nice python3 bench/judge/tune.py   -> prints thresholds to copy into src/so8t/safety/configs/policy.json
escalate: highest value keeping 98% of harmful validation rows flagged in every language;
deny: lowest value keeping look-alike benign DENY <= 5% in every language.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from so8t.safety import Judge  # noqa: E402
from so8t.safety.dataset import iter_rows  # noqa: E402
from so8t.safety.evaluation import tune_thresholds  # noqa: E402


def main() -> None:
    judge = Judge()
    rows = list(iter_rows(split="val"))
    verdicts = []
    for i in range(0, len(rows), 64):
        verdicts += judge.judge_many([row.text for row in rows[i:i + 64]])
    escalate, deny = tune_thresholds(rows, [v.scores["final"] for v in verdicts])
    print(f'"thresholds": {{"escalate": {escalate}, "deny": {deny}}}')


if __name__ == "__main__":
    main()

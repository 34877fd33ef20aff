"""The local model's own answers to benign prompts, generated once and cached outside the repository.

The answer classifier and its cuts must see what the agent really shows users: answers of the embedded model with
the shipped run, the agent's system prompt, greedy, in the agent's default runtime. Generating one costs ~2 s on
two CPU cores, so answers are kept in `~/.cache/so8t/answers/<key>.jsonl` (the key names model files, runtime,
system prompt and token budget), one JSON line per prompt, appended as they are made: an interrupted run resumes.

`python3 -m so8t.safety.model_answers --split val --per-lang 60` fills the cache for one split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from so8t.safety.dataset import SafetyRow, Split, iter_rows

ANSWER_TOKENS = 64  # the agent's default max_new_tokens


def answers_cache_dir() -> Path:
    from so8t.export.gguf_cache import cache_dir

    return cache_dir() / "answers"


def sample_benign(split: Split, lang: str, count: int, rows: Iterable[SafetyRow] | None = None) -> list[SafetyRow]:
    """A fixed sample of the split's benign prompts in `lang`: the `count` rows whose salted id hash is lowest.

    A hash rank, like the split itself, so adding rows to the data moves only the few new rows whose hash ranks
    them in (a seeded random.sample over the sorted rows reshuffled the whole sample whenever a row was added, and
    every new prompt costs a generation)."""
    benign = [r for r in (rows if rows is not None else iter_rows(split=split))
              if r.split == split and r.lang == lang and r.label == "benign"]
    rank = {r.id: hashlib.sha256(f"model-answers-{split}-{lang}:{r.id}".encode("utf-8")).hexdigest() for r in benign}
    return sorted(benign, key=lambda r: rank[r.id])[:count]


class AnswerCache:
    """Answers of the agent's model keyed by prompt; `answers` generates only what the cache lacks."""

    def __init__(self, tokens: int = ANSWER_TOKENS, backend: str = "auto", cache_dir: Path | None = None):
        from so8t.agent import SHIPPED_RUN
        from so8t.answering import load_answerer
        from so8t.prompting import SYSTEM_PROMPT

        self.loaded = load_answerer(None, SHIPPED_RUN, backend)
        self.tokens, self.system_prompt = tokens, SYSTEM_PROMPT
        identity = {"model": self.loaded.answerer.base_fingerprint, "backend": self.loaded.answerer.backend,
                    "hashes": self.loaded.hashes, "system": SYSTEM_PROMPT, "tokens": tokens}
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        self.path = (cache_dir or answers_cache_dir()) / f"{key}.jsonl"
        self.stored: dict[str, str] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    self.stored[record["prompt"]] = record["answer"]

    def _generate(self, prompt: str) -> str:
        messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": prompt}]
        ids = self.loaded.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                        return_dict=True)["input_ids"]
        return self.loaded.answerer.answer(ids, self.tokens)

    def answers(self, prompts: Sequence[str], progress: bool = False) -> list[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for index, prompt in enumerate(prompts):
            if prompt not in self.stored:
                self.stored[prompt] = self._generate(prompt)
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"prompt": prompt, "answer": self.stored[prompt]}, ensure_ascii=False) + "\n")
                if progress:
                    print(f"{index + 1}/{len(prompts)}", file=sys.stderr, flush=True)
        return [self.stored[prompt] for prompt in prompts]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=("train", "val", "test"), action="append", required=True)
    parser.add_argument("--per-lang", type=int, default=60)
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args(argv)
    cache = AnswerCache(backend=args.backend)
    rows = list(iter_rows())
    for split in args.split:
        for lang in ("en", "ja"):
            chosen = sample_benign(split, lang, args.per_lang, rows)
            cache.answers([row.text for row in chosen], progress=True)
            print(f"{split}/{lang}: {len(chosen)} answers in {cache.path}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()

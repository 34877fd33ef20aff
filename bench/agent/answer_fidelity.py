"""How close llama.cpp's q8_0 answers are to float32 transformers' answers, on the agent's own prompts.

    python3 bench/agent/answer_fidelity.py [--tokens 64]

Both runtimes get the same chat-templated token ids (system prompt, fenced OCR summary of the bundled notice when
the question is about it, the question) and decode greedily. Per prompt: whether the answers are identical, and
how many leading tokens they share. q8_0 rounds weights and activations, so a near-tie between two next tokens
can flip and the answers part from there; an f32 export decodes token for token what transformers decodes
(tests/agent/test_answering.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import so8t  # noqa: F401  (first: it sets the OpenMP wait policy before torch loads libgomp)
from rich.console import Console
from rich.table import Table

from so8t.agent import SHIPPED_RUN
from so8t.answering import load_answerer
from so8t.ocr import summarize_image
from so8t.prompting import SYSTEM_PROMPT, with_image_summaries

REPO = Path(__file__).resolve().parents[2]
NOTICE_QUESTIONS = [
    "What does this notice say about the workshop fee?",
    "Which dates and times does the notice mention?",
    "Write a short friendly reminder email based on this notice.",
    "When is the library closed?",
]
TEXT_QUESTIONS = [
    "What is the capital of France?",
    "Give me three tips for sleeping better.",
    "How do I kill a zombie process on Linux?",
    "Explain what a hash chain is in one paragraph.",
    "おいしいカレーの作り方を教えて",
    "週末に家族で行ける近くの公園の探し方を教えてください。",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    notice = summarize_image((REPO / "samples" / "notice.png").read_bytes())
    prompts = [with_image_summaries(q, [notice]) for q in NOTICE_QUESTIONS] + TEXT_QUESTIONS
    labels = [f"notice: {q}" for q in NOTICE_QUESTIONS] + TEXT_QUESTIONS
    runtimes = {name: load_answerer(None, SHIPPED_RUN, name) for name in ("llama.cpp", "transformers")}
    tokenizer = runtimes["transformers"].tokenizer
    table = Table(title=f"greedy answers, {args.tokens} tokens at most: llama.cpp q8_0 vs transformers float32")
    for column in ("prompt", "identical", "shared leading tokens", "llama.cpp answer (start)"):
        table.add_column(column)
    identical = 0
    for label, prompt in zip(labels, prompts):
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
        answers = {name: loaded.answerer.answer(ids, args.tokens) for name, loaded in runtimes.items()}
        tokens = {name: tokenizer(text, add_special_tokens=False)["input_ids"] for name, text in answers.items()}
        shared = next((i for i, (a, b) in enumerate(zip(tokens["llama.cpp"], tokens["transformers"])) if a != b),
                      min(len(tokens["llama.cpp"]), len(tokens["transformers"])))
        same = answers["llama.cpp"] == answers["transformers"]
        identical += same
        table.add_row(label[:50], "yes" if same else "no",
                      f"{shared} of {max(len(tokens['llama.cpp']), len(tokens['transformers']))}",
                      answers["llama.cpp"][:60].replace("\n", " "))
    console = Console()
    console.print(table)
    console.print(f"identical answers: {identical} of {len(prompts)}")


if __name__ == "__main__":
    main()

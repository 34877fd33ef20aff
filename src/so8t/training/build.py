"""Build training rows from labeled prompt sets: refusals for harmful prompts, answers for benign ones.

Benign answers come from the base model itself (greedy, short), so the fine-tune teaches when to refuse
without teaching the model new facts or a new voice.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from so8t.training.data import DataError

REFUSALS = {
    "en": [
        "I can't help with that. It could cause real harm to people. If something difficult is going on, I'm glad to help you find a safe way forward.",
        "I won't help with this request because it could be used to hurt someone. I can help with a safer, related question instead.",
    ],
    "ja": [
        "申し訳ありませんが、その依頼にはお応えできません。人に危害が及ぶおそれがあるためです。安全な方法でのお手伝いならできます。",
        "この内容は誰かを傷つけることにつながるため、お手伝いできません。別の安全な質問であれば喜んでお答えします。",
    ],
}
HOLDS = {
    "en": "This request needs a human reviewer before I answer it. I've held it for review.",
    "ja": "この依頼は回答の前に担当者の確認が必要です。確認待ちとして保留しました。",
}
LABEL_OF = {"harmful": "DENY", "benign": "ALLOW", "ambiguous": "ESCALATE",
            "DENY": "DENY", "ALLOW": "ALLOW", "ESCALATE": "ESCALATE"}


def read_labeled(path: str | Path, limit: int | None = None, seed: int = 0) -> list[dict]:
    """Read {text, label, lang} rows; files named *ambiguous* are ESCALATE material (no annotator majority)."""
    path = Path(path)
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        if not isinstance(record.get("text"), str) or record.get("label") not in LABEL_OF:
            raise DataError(f"{path}:{number}: needs string 'text' and label harmful|benign|ALLOW|ESCALATE|DENY")
        label = "ESCALATE" if "ambiguous" in path.stem else LABEL_OF[record["label"]]
        rows.append({"text": record["text"], "label": label, "lang": record.get("lang", "en"),
                     "source": record.get("source", path.stem)})
    random.Random(seed).shuffle(rows)
    return rows[:limit] if limit else rows


def build_rows(records: list[dict], out: str | Path, model_spec: str | None = None, batch_size: int = 16) -> int:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    benign = [r["text"] for r in records if r["label"] == "ALLOW"]
    answers = iter(_answers(benign, model_spec, batch_size) if benign else [])
    with open(out, "w", encoding="utf-8") as fh:
        for i, record in enumerate(records):
            lang = "ja" if record["lang"] == "ja" else "en"
            if record["label"] == "ALLOW":
                answer = next(answers)
            elif record["label"] == "ESCALATE":
                answer = HOLDS[lang]
            else:
                answer = REFUSALS[lang][i % len(REFUSALS[lang])]
            row = {"messages": [{"role": "user", "content": record["text"]}, {"role": "assistant", "content": answer}],
                   "label": record["label"], "lang": lang, "source": record["source"]}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(records)


def _answers(prompts: list[str], model_spec: str | None, batch_size: int, max_new_tokens: int = 48) -> list[str]:
    """The base model's own greedy answers, generated in left-padded batches."""
    import torch

    from so8t.models import load_model

    model, tokenizer = load_model(model_spec)
    tokenizer.padding_side = "left"
    answers = []
    for start in range(0, len(prompts), batch_size):
        texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
                 for p in prompts[start:start + batch_size]]
        inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)
        answers += [a.strip() for a in tokenizer.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)]
    return answers

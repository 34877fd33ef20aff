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


def build_rows(records: list[dict], out: str | Path, model_spec: str | None = None) -> int:
    from so8t.models import chat, load_model

    model = tokenizer = None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for i, record in enumerate(records):
            lang = "ja" if record["lang"] == "ja" else "en"
            if record["label"] == "ALLOW":
                if model is None:
                    model, tokenizer = load_model(model_spec)
                answer = chat(model, tokenizer, record["text"], max_new_tokens=64)
            elif record["label"] == "ESCALATE":
                answer = HOLDS[lang]
            else:
                answer = REFUSALS[lang][i % len(REFUSALS[lang])]
            row = {"messages": [{"role": "user", "content": record["text"]}, {"role": "assistant", "content": answer}],
                   "label": record["label"], "lang": lang, "source": record["source"]}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(records)

"""Reproduce the SO8T artifact shipped for the embedded model (adapter + gates + safety head).

    python scripts/train_safety_artifact.py [--work runs/safety-artifact]

1. samples a balanced set from the judge's TRAIN split (so8t.safety.dataset; held-out rows never enter),
2. builds chat rows (refusals / review holds / the base model's own answers for benign prompts),
3. trains with configs/train.smollm2-safety.json on the CPU (seeded, deterministic),
4. copies final/ into src/so8t/safety/artifacts/smollm2-135m-so8t/ and prints the head's accuracy on the
   judge's held-out TEST split (sampled the same way), which the model card quotes.
The built rows are derived from public data and stay out of the repository (under --work).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUOTA = {("DENY", "en"): 90, ("DENY", "ja"): 70, ("ESCALATE", "en"): 20, ("ESCALATE", "ja"): 20,
         ("ALLOW", "en"): 110, ("ALLOW", "ja"): 90}
ARTIFACT = ROOT / "src" / "so8t" / "safety" / "artifacts" / "smollm2-135m-so8t"


def sample(split: str, seed: int = 0, scale: float = 1.0) -> list[dict]:
    from so8t.safety.dataset import iter_rows

    pools: dict[tuple[str, str], list] = {}
    for row in iter_rows(split=split):
        pools.setdefault((row.decision, row.lang), []).append(row)
    rng = random.Random(seed)
    chosen = []
    for key, count in QUOTA.items():
        pool = sorted(pools.get(key, []), key=lambda r: r.id)
        rng.shuffle(pool)
        chosen += pool[: max(1, int(count * scale))]
    rng.shuffle(chosen)
    return [{"text": r.text, "label": r.decision, "lang": r.lang, "source": r.source} for r in chosen]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "safety-artifact")
    args = parser.parse_args()
    from so8t.training import SO8TQLoRATrainer
    from so8t.training.build import build_rows

    args.work.mkdir(parents=True, exist_ok=True)
    rows_path = args.work / "train_rows.jsonl"
    if not rows_path.is_file():
        build_rows(sample("train"), rows_path)
    trainer = SO8TQLoRATrainer(None, ROOT / "configs" / "train.smollm2-safety.json", cpu=True)
    trainer.train(rows_path, args.work / "run")
    shutil.rmtree(ARTIFACT, ignore_errors=True)
    shutil.copytree(args.work / "run" / "final", ARTIFACT)
    held_out = sample("test", seed=1, scale=0.5)
    labels = Counter()
    correct = Counter()
    for record in held_out:
        probs = trainer.classify(record["text"])
        predicted = max(probs, key=probs.get)
        labels[record["label"]] += 1
        correct[record["label"]] += int(predicted == record["label"])
    report = {label: {"n": labels[label], "accuracy": round(correct[label] / labels[label], 3)} for label in labels}
    report["overall_accuracy"] = round(sum(correct.values()) / sum(labels.values()), 3)
    (args.work / "heldout_report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

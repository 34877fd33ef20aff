"""Trains the shipped encoder classifier from the labeled rows; `python3 -m so8t.safety.training` re-derives it.

The artifact records the data fingerprint (ids of the training rows), the encoder, the config and the metrics
on the validation split, so a retrain can be compared field by field with what ships.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from so8t.safety.classifier import HarmClassifier, TrainConfig, train_classifier
from so8t.safety.dataset import REPO_ROOT, SafetyRow, iter_rows
from so8t.safety.encoder import DEFAULT_ENCODER, encode_cached, load_encoder
from so8t.safety.policy import load_policy

CACHE_DIR = REPO_ROOT / "runs" / "embeddings"
ARTIFACT_PATH = Path(__file__).resolve().parent / "artifacts" / "harm_classifier.safetensors"

# The look-alike pairs are few next to the public sets but carry the decision boundary that matters.
SOURCE_WEIGHTS = {"so8t-contrastive": 3.0}


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
    val_labels = np.array([row.label == "harmful" for row in val_rows])
    model.meta["val_accuracy_at_0.5"] = round(float(((val_scores >= 0.5) == val_labels).mean()), 4)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    print(json.dumps(model.meta, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()

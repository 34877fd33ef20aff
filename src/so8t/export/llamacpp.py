"""Run a GGUF file through llama.cpp itself, so an export is judged by the runtime users will serve it with.

The binding is llama-cpp-python (PyPI `llama-cpp-python`, which compiles llama.cpp on install; its Linux
release has no prebuilt wheel on PyPI). It is an optional dependency: `pip install "so8t[llamacpp]"`.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import numpy as np


class LlamaCppUnavailableError(RuntimeError):
    """llama-cpp-python is not installed, so the llama.cpp runtime check cannot run."""


class LlamaCppModel:
    """A GGUF model loaded by llama.cpp on the CPU: tokenize text and score token ids at every position."""

    def __init__(self, gguf_file: str | os.PathLike[str], n_ctx: int = 512, n_threads: int | None = None):
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise LlamaCppUnavailableError(
                'llama.cpp bindings are missing: pip install "so8t[llamacpp]" (builds llama-cpp-python), '
                "or skip this check with --no-llama-cpp"
            ) from error
        path = Path(gguf_file)
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        # logits_all keeps the logits of every position; one batch holds a whole prompt.
        self._llama = Llama(
            model_path=str(path), n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, logits_all=True, verbose=False,
            n_threads=n_threads or min(4, os.cpu_count() or 1), n_gpu_layers=0,
        )
        self.n_ctx = n_ctx

    @property
    def n_vocab(self) -> int:
        return int(self._llama.n_vocab())

    @property
    def metadata(self) -> dict[str, str]:
        """GGUF metadata as llama.cpp read it (values as text)."""
        return dict(self._llama.metadata)

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        """Token ids from llama.cpp's tokenizer; add_special follows the GGUF's add_bos/add_eos flags."""
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=add_special, special=True))

    def logits(self, token_ids: list[int]) -> np.ndarray:
        """Next-token logits at every position of one sequence, as a (len(token_ids), n_vocab) float32 array."""
        if not token_ids:
            raise ValueError("token_ids is empty")
        if len(token_ids) > self.n_ctx:
            raise ValueError(f"{len(token_ids)} tokens exceed the llama.cpp context of {self.n_ctx}")
        # Each prompt is scored from an empty cache so prompts never see each other.
        self._llama.reset()
        self._llama.eval(token_ids)
        return np.array(self._llama.scores[: len(token_ids)], dtype=np.float32)

    def close(self) -> None:
        self._llama.close()

    def __enter__(self) -> LlamaCppModel:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

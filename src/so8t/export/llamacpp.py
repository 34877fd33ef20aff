"""Run a GGUF file through llama.cpp itself: to judge an export by the runtime users serve it with, and to answer.

The binding is llama-cpp-python (PyPI `llama-cpp-python`, which compiles llama.cpp on install; its Linux
release has no prebuilt wheel on PyPI). It is an optional dependency: `pip install "so8t[llamacpp]"`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import TracebackType

import numpy as np

from so8t.export.cpu_share import CpuShare


log = logging.getLogger("so8t.export.llamacpp")


class LlamaCppUnavailableError(RuntimeError):
    """llama-cpp-python is not installed, so the llama.cpp runtime check cannot run."""


def _warn_if_threads_spin() -> None:
    """Name the slow case instead of leaving users to find it: see the wait-policy note in so8t/__init__.py."""
    import llama_cpp

    import so8t

    if so8t.OPENMP_POLICY_TOO_LATE and b"OPENMP = 1" in llama_cpp.llama_print_system_info():
        log.warning("This llama.cpp was built with OpenMP, which was loaded before so8t (torch imported first?), so "
                    "llama.cpp's threads spin while they wait: beside other busy processes decoding gets several "
                    "times slower. Import so8t before torch, start Python with OMP_WAIT_POLICY=PASSIVE, or build "
                    "llama-cpp-python with CMAKE_ARGS=-DGGML_OPENMP=OFF as scripts/setup.sh does.")


class LlamaCppModel:
    """A GGUF model loaded by llama.cpp on the CPU: tokenize text and score token ids at every position."""

    def __init__(self, gguf_file: str | os.PathLike[str], n_ctx: int = 512, n_threads: int | None = None,
                 all_logits: bool = True, share_cpu: bool = False):
        """share_cpu: before each prompt, take only the cores other processes left free (cpu_share.py)."""
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise LlamaCppUnavailableError(
                'llama.cpp bindings are missing: pip install "so8t[llamacpp]" (builds llama-cpp-python), '
                "or skip this check with --no-llama-cpp"
            ) from error
        _warn_if_threads_spin()
        path = Path(gguf_file)
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        # all_logits keeps the logits of every position (for checks); generation needs only the last one, which
        # spares the vocabulary projection of every prompt position. One batch holds a whole prompt.
        threads = n_threads or min(4, os.cpu_count() or 1)
        self._llama = Llama(
            model_path=str(path), n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=min(n_ctx, 512), logits_all=all_logits,
            verbose=False, n_threads=threads, n_threads_batch=threads, n_gpu_layers=0,
        )
        self.n_ctx = n_ctx
        self.all_logits = all_logits
        self.threads = threads
        self._cpu_share = CpuShare(threads) if share_cpu else None

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
        if not self.all_logits:
            raise ValueError("this model was loaded with all_logits=False and keeps only the last position's logits")
        if len(token_ids) > self.n_ctx:
            raise ValueError(f"{len(token_ids)} tokens exceed the llama.cpp context of {self.n_ctx}")
        # Each prompt is scored from an empty cache so prompts never see each other.
        self.reset()
        self._llama.eval(token_ids)
        return np.array(self._llama.scores[: len(token_ids)], dtype=np.float32)

    def greedy(self, token_ids: list[int], max_new_tokens: int, stop_ids: set[int], min_new_tokens: int = 0) -> list[int]:
        """Greedy continuation of token_ids (argmax at every step, no penalties): up to max_new_tokens new ids,
        ending before the first stop id once min_new_tokens are out.

        The KV cache of the longest prefix shared with the previous call is kept (llama-cpp-python compares the
        tokens), so a fixed system prompt is evaluated once per process, not once per request.
        """
        if not token_ids:
            raise ValueError("token_ids is empty")
        if len(token_ids) + max_new_tokens > self.n_ctx:
            raise ValueError(f"{len(token_ids)} prompt tokens + {max_new_tokens} new ones exceed the llama.cpp "
                             f"context of {self.n_ctx}")
        stops = np.array(sorted(stop_ids), dtype=np.int64)

        def hold_stops(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
            if len(ids) - len(token_ids) < min_new_tokens:
                scores[stops] = -np.inf
            return scores

        produced: list[int] = []
        if max_new_tokens <= 0:
            return produced
        self._fit_threads()
        for token in self._llama.generate(token_ids, top_k=1, temp=0.0, repeat_penalty=1.0, reset=True,
                                          logits_processor=[hold_stops] if min_new_tokens and len(stops) else None):
            if token in stop_ids:
                break
            produced.append(token)
            if len(produced) == max_new_tokens:
                break
        return produced

    def prime(self, token_ids: list[int]) -> None:
        """Compute the KV cache of token_ids now, so a later greedy() whose prompt starts with them skips them."""
        if len(token_ids) > self.n_ctx:
            raise ValueError(f"{len(token_ids)} tokens exceed the llama.cpp context of {self.n_ctx}")
        self.reset()
        if token_ids:
            self._fit_threads()
            self._llama.eval(token_ids)

    def note_request(self) -> None:
        """A request came in: what the machine does from now until the answer is what picks its threads."""
        if self._cpu_share is not None:
            self._cpu_share.mark()

    def _fit_threads(self) -> None:
        if self._cpu_share is not None and (threads := self._cpu_share.threads()) != self.threads:
            self._llama._ctx.set_n_threads(threads, threads)
            self.threads = threads

    @property
    def cached_tokens(self) -> list[int]:
        """The token ids whose KV cache is held (the prefix a next greedy() call may reuse)."""
        return list(self._llama.input_ids[: self._llama.n_tokens])

    def reset(self) -> None:
        """Forget the cached tokens: the next call evaluates its whole prompt."""
        self._llama.reset()

    def close(self) -> None:
        self._llama.close()

    def __enter__(self) -> LlamaCppModel:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

"""The local model that answers allowed requests, behind one small interface with two runtimes.

- llama.cpp (`answer_backend="llama.cpp"`): the baked model exported to GGUF once (so8t.export.gguf_cache) and
  decoded by llama.cpp: on 2 CPU cores SmolLM2-135M answers about six times faster than in transformers fp32.
- transformers (`answer_backend="transformers"`): the HF model with the run's adapter merged and gates folded.
  It is the one that can also feed the SO8T safety head, which reads the last hidden state of the same prefill
  the answer then continues from.
`"auto"` takes llama.cpp when its binding is installed, the head is not asked for and the architecture exports.
Both decode greedily from the same chat-templated token ids, so they differ only by the GGUF's rounding.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import torch

log = logging.getLogger("so8t.answering")

AnswerBackend = Literal["auto", "llama.cpp", "transformers"]
GGUF_TYPE = "q8_0"


class Answerer(Protocol):
    backend: str
    base_fingerprint: str

    def answer(self, input_ids: list[int], max_new_tokens: int, min_new_tokens: int = 0) -> str:
        """Greedy answer to a chat-templated prompt (token ids ending with the assistant turn's header)."""
        ...

    def prime(self, prefix_ids: list[int]) -> None:
        """Compute, once at start-up, the prompt prefix every request shares (system prompt, turn header), so no
        request pays for it; forget() keeps it."""
        ...

    def begin(self) -> None:
        """A request came in (before its OCR and judging): a runtime that fits its threads to the free cores
        starts watching the CPU here."""
        ...

    def forget(self) -> None:
        """Drop what earlier requests left cached, keeping only the primed prefix: the next prompt is computed
        as a new image's would be (benchmarks use it)."""
        ...


class TransformersAnswerer:
    """The HF model in torch; keeps the last prefill so an answer continues from the head's forward pass."""

    backend = "transformers"

    def __init__(self, model, tokenizer, base_fingerprint: str) -> None:
        self.model, self.tokenizer, self.base_fingerprint = model, tokenizer, base_fingerprint
        self._prefilled: tuple[list[int], object] | None = None

    def last_hidden(self, input_ids: list[int]) -> torch.Tensor:
        """The decoder's final hidden state at the last prompt position (what the SO8T head reads)."""
        from so8t.rotation import unwrap

        captured: dict[str, torch.Tensor] = {}
        decoder = unwrap(self.model).model
        handle = decoder.register_forward_hook(lambda _m, _a, out: captured.__setitem__("h", out.last_hidden_state))
        try:
            with torch.no_grad():
                output = self.model(input_ids=torch.tensor([input_ids]), use_cache=True)
        finally:
            handle.remove()
        self._prefilled = (list(input_ids), output)
        return captured["h"][:, -1]

    def answer(self, input_ids: list[int], max_new_tokens: int, min_new_tokens: int = 0) -> str:
        if self._prefilled is None or self._prefilled[0] != list(input_ids):
            self.last_hidden(input_ids)
        _, prefill = self._prefilled
        self._prefilled = None  # generation extends the cache in place: it serves one answer only
        first = prefill.logits[:, -1:].argmax(-1)
        prompt = torch.tensor([input_ids])
        if max_new_tokens <= 1 or (first.item() == self.tokenizer.eos_token_id and min_new_tokens == 0):
            tokens = first
        else:
            sequence = torch.cat([prompt, first], dim=1)
            with torch.no_grad():
                generated = self.model.generate(input_ids=sequence, attention_mask=torch.ones_like(sequence),
                                                cache=prefill.past_key_values, do_sample=False,
                                                max_new_tokens=max_new_tokens - 1,
                                                min_new_tokens=max(0, min_new_tokens - 1),
                                                pad_token_id=self.tokenizer.pad_token_id)
            tokens = generated[:, prompt.shape[1]:]
        return self.tokenizer.decode(tokens[0], skip_special_tokens=True).strip()

    def prime(self, prefix_ids: list[int]) -> None:
        """Nothing to do: generate() keeps no cache from one request to the next."""

    def begin(self) -> None:
        """Nothing to do: torch keeps its thread count."""

    def forget(self) -> None:
        self._prefilled = None


class LlamaCppAnswerer:
    """The cached GGUF in llama.cpp; text in and out goes through the HF tokenizer, like the other backend."""

    backend = "llama.cpp"

    def __init__(self, gguf_file: Path, tokenizer, base_fingerprint: str, n_ctx: int = 4096) -> None:
        from so8t.export.llamacpp import LlamaCppModel

        self.tokenizer, self.base_fingerprint = tokenizer, base_fingerprint
        self.model = LlamaCppModel(gguf_file, n_ctx=n_ctx, all_logits=False, share_cpu=True)
        self._stops = {tokenizer.eos_token_id}  # where transformers' generate stops too
        self._primed: list[int] = []

    def answer(self, input_ids: list[int], max_new_tokens: int, min_new_tokens: int = 0) -> str:
        tokens = self.model.greedy(list(input_ids), max_new_tokens, self._stops, min_new_tokens)
        return self.tokenizer.decode(tokens, skip_special_tokens=True).strip()

    def prime(self, prefix_ids: list[int]) -> None:
        self._primed = list(prefix_ids)
        self.model.prime(self._primed)

    def begin(self) -> None:
        self.model.note_request()

    def forget(self) -> None:
        self.model.prime(self._primed)


@dataclass(frozen=True)
class LoadedAnswerer:
    """An answerer plus what the agent's identity contract and safety head need from loading."""

    answerer: Answerer
    tokenizer: object
    head: torch.nn.Module | None
    files: dict[str, Path | None]
    # sha256 of what loading already hashed (the answer GGUF, checked against its sidecar), so start-up reads it once
    hashes: dict[str, str] = field(default_factory=dict)


def load_answerer(model: str | None, run_dir: Path | None, backend: AnswerBackend = "auto",
                  use_head: bool = False) -> LoadedAnswerer:
    """Base model, plus the run's adapter, gates and safety head when a run is given, in the chosen runtime."""
    from transformers import AutoTokenizer

    from so8t.models import resolve

    source = resolve(model)
    backend = _pick(backend, source.folder, use_head)
    files: dict[str, Path | None] = {"adapter": None, "gates": None, "safety_head": None}
    if run_dir is not None:
        files = {"adapter": run_dir / "adapter" / "adapter_model.safetensors",
                 "gates": run_dir / "gates.safetensors" if (run_dir / "gates.safetensors").is_file() else None,
                 "safety_head": run_dir / "safety_head.safetensors"}
    if backend == "transformers":
        answerer, tokenizer, head = _transformers(source.spec, run_dir)
        return LoadedAnswerer(answerer, tokenizer, head, files)

    from so8t.export.gguf_cache import cached_gguf

    base_fingerprint = None
    if run_dir is not None:
        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        if resolve(meta["base_model"]).folder.resolve() != source.folder.resolve():
            raise ValueError(f"the run in {run_dir} was trained on {meta['base_model']!r}, not {source.spec!r}")
        base_fingerprint = meta["base_fingerprint"]
    gguf = cached_gguf(source.folder, run_dir, GGUF_TYPE)
    tokenizer = AutoTokenizer.from_pretrained(source.folder, local_files_only=True)
    answerer = LlamaCppAnswerer(gguf.path, tokenizer, base_fingerprint or f"gguf:{gguf.sha256}")
    # The head is only read by the transformers backend (use_head forces it), so it is not loaded here.
    return LoadedAnswerer(answerer, tokenizer, None, files, {"answer_gguf": gguf.sha256})


def _pick(backend: AnswerBackend, folder: Path, use_head: bool) -> str:
    if backend not in ("auto", "llama.cpp", "transformers"):
        raise ValueError(f"unknown answer backend {backend!r}: use auto, llama.cpp or transformers")
    if backend == "llama.cpp" and use_head:
        raise ValueError("the SO8T safety head reads the transformers prefill: use the transformers backend with it")
    if backend != "auto":
        return backend
    if use_head:
        return "transformers"
    if importlib.util.find_spec("llama_cpp") is None:
        log.warning('llama-cpp-python is not installed: answering with transformers (slower); '
                    'pip install "so8t[llamacpp]" for the fast path')
        return "transformers"
    from so8t.export.architecture import UnsupportedModelError, detect

    try:
        detect(folder)
    except UnsupportedModelError as error:
        log.warning("answering with transformers: %s", error)
        return "transformers"
    return "llama.cpp"


def _transformers(spec: str, run_dir: Path | None):
    from so8t.models import load_model
    from so8t.rotation import load_gates, model_fingerprint

    model, tokenizer = load_model(spec)
    fingerprint = model_fingerprint(model)
    head = None
    if run_dir is not None:
        from peft import PeftModel

        from so8t.training import SafetyHead

        head, trained_on = SafetyHead.load(run_dir / "safety_head.safetensors")
        if trained_on != fingerprint:
            raise ValueError(f"the safety head in {run_dir} was trained on another base model")
        # The agent never trains: merging the adapter leaves plain Linears, whose gates then multiply by a folded
        # weight, so answers cost what the base model costs (the unmerged PEFT + gate path decoded ~30% slower).
        model = PeftModel.from_pretrained(model, run_dir / "adapter").merge_and_unload().eval()
        if (run_dir / "gates.safetensors").is_file():
            load_gates(model, run_dir / "gates.safetensors")
    return TransformersAnswerer(model, tokenizer, fingerprint), tokenizer, head


__all__ = ["AnswerBackend", "Answerer", "LlamaCppAnswerer", "LoadedAnswerer", "TransformersAnswerer", "load_answerer"]

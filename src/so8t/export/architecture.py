"""Which llama.cpp architecture an HF decoder folder becomes, and how its tensors are renamed and reshaped.

Supported: Llama-family (SmolLM2) -> `llama`, Qwen2 -> `qwen2`, and the language model of Qwen2-VL -> `qwen2`
(text-only: the vision tower is dropped). Qwen2-VL's multimodal rope (mrope) rotates each of its three
sections by the temporal/height/width position; for text tokens all three positions equal the token index,
so mrope reduces to plain 1-D rope and a qwen2 GGUF computes exactly the same function on text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import gguf
import numpy as np


class UnsupportedModelError(ValueError):
    """The HF folder holds a model this exporter cannot represent faithfully in GGUF."""


@dataclass(frozen=True)
class TextArchitecture:
    """The decoder to export: its GGUF architecture, text hyper-parameters and tensor layout rules."""

    arch: gguf.MODEL_ARCH
    model_type: str
    text_config: dict[str, Any]
    tie_word_embeddings: bool
    # HF name prefixes rewritten to `model.` (where a multimodal model nests its language model) ...
    language_prefixes: tuple[str, ...]
    # ... and prefixes of tensors that are not part of the text model (the vision tower).
    dropped_prefixes: tuple[str, ...]
    # llama.cpp's llama graph uses interleaved rope; HF Llama uses rotate-half, so q/k rows are permuted.
    permute_qk: bool

    @property
    def arch_name(self) -> str:
        return gguf.MODEL_ARCH_NAMES[self.arch]

    @property
    def n_layers(self) -> int:
        return int(self.text_config["num_hidden_layers"])

    @property
    def n_heads(self) -> int:
        return int(self.text_config["num_attention_heads"])

    @property
    def n_kv_heads(self) -> int:
        return int(self.text_config.get("num_key_value_heads") or self.n_heads)

    @property
    def head_dim(self) -> int:
        return int(self.text_config.get("head_dim") or self.text_config["hidden_size"] // self.n_heads)

    @property
    def vocab_size(self) -> int:
        return int(self.text_config["vocab_size"])

    @property
    def rope_theta(self) -> float:
        rope = self.text_config.get("rope_parameters") or {}
        return float(rope.get("rope_theta", self.text_config.get("rope_theta", 10000.0)))

    def add_hparams(self, writer: gguf.GGUFWriter) -> None:
        """Model hyper-parameters as llama.cpp reads them for this architecture."""
        config = self.text_config
        writer.add_context_length(int(config["max_position_embeddings"]))
        writer.add_embedding_length(int(config["hidden_size"]))
        writer.add_block_count(self.n_layers)
        writer.add_feed_forward_length(int(config["intermediate_size"]))
        writer.add_head_count(self.n_heads)
        writer.add_head_count_kv(self.n_kv_heads)
        writer.add_rope_freq_base(self.rope_theta)
        writer.add_rope_dimension_count(self.head_dim)
        writer.add_layer_norm_rms_eps(float(config["rms_norm_eps"]))
        writer.add_vocab_size(self.vocab_size)
        if self.head_dim * self.n_heads != int(config["hidden_size"]):
            writer.add_key_length(self.head_dim)
            writer.add_value_length(self.head_dim)

    @cached_property
    def _tensor_names(self) -> gguf.TensorNameMap:
        return gguf.get_tensor_name_map(self.arch, self.n_layers)

    def gguf_tensor_name(self, hf_name: str) -> str | None:
        """GGUF name of an HF tensor, or None when the tensor is not exported (vision tower, rope buffers)."""
        if hf_name.startswith(self.dropped_prefixes) or hf_name.endswith("rotary_emb.inv_freq"):
            return None
        if hf_name == "lm_head.weight" and self.tie_word_embeddings:
            return None
        for prefix in self.language_prefixes:
            if hf_name.startswith(prefix):
                hf_name = "model." + hf_name[len(prefix):]
                break
        name = self._tensor_names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise UnsupportedModelError(
                f"tensor {hf_name!r} has no {self.arch_name} GGUF counterpart "
                "(an SO(8) gate or LoRA adapter left unbaked? `so8t bake` folds them into plain weights)"
            )
        return name

    def transform(self, gguf_name: str, tensor: np.ndarray) -> np.ndarray:
        """Reorder q/k projection rows from HF's rotate-half rope layout to llama.cpp's interleaved one."""
        if not self.permute_qk:
            return tensor
        if gguf_name.endswith("attn_q.weight") or gguf_name.endswith("attn_q.bias"):
            return _interleave_rope_rows(tensor, self.n_heads)
        if gguf_name.endswith("attn_k.weight") or gguf_name.endswith("attn_k.bias"):
            return _interleave_rope_rows(tensor, self.n_kv_heads)
        return tensor


def _interleave_rope_rows(tensor: np.ndarray, n_heads: int) -> np.ndarray:
    # Per head, rows [x0..x(d/2-1), y0..y(d/2-1)] become [x0, y0, x1, y1, ...].
    rows = tensor.shape[0]
    return tensor.reshape(n_heads, 2, rows // n_heads // 2, *tensor.shape[1:]).swapaxes(1, 2).reshape(tensor.shape)


def read_config(model_dir: Path) -> dict[str, Any]:
    config_file = model_dir / "config.json"
    if not config_file.is_file():
        raise UnsupportedModelError(f"{model_dir} is not a Hugging Face model folder: config.json is missing")
    return json.loads(config_file.read_text(encoding="utf-8"))


def detect(model_dir: Path) -> TextArchitecture:
    """The text decoder of the HF folder, checked for features GGUF export cannot carry."""
    config = read_config(model_dir)
    model_type = config.get("model_type")
    if model_type == "llama":
        arch = TextArchitecture(gguf.MODEL_ARCH.LLAMA, model_type, config, bool(config.get("tie_word_embeddings")),
                                (), (), permute_qk=True)
    elif model_type == "qwen2":
        arch = TextArchitecture(gguf.MODEL_ARCH.QWEN2, model_type, config, bool(config.get("tie_word_embeddings")),
                                (), (), permute_qk=False)
    elif model_type == "qwen2_vl":
        text = config.get("text_config") or config
        tie = config.get("tie_word_embeddings", text.get("tie_word_embeddings", False))
        arch = TextArchitecture(gguf.MODEL_ARCH.QWEN2, model_type, text, bool(tie),
                                language_prefixes=("model.language_model.",),
                                dropped_prefixes=("visual.", "model.visual."), permute_qk=False)
        _check_mrope_is_text_rope(arch)
    else:
        raise UnsupportedModelError(
            f"model_type {model_type!r} is not supported for GGUF export (supported: llama, qwen2, qwen2_vl)"
        )
    _check_plain_rope(arch)
    if arch.text_config.get("use_sliding_window"):
        raise UnsupportedModelError("sliding-window attention is enabled in the config; the qwen2 GGUF has none")
    return arch


def _rope_parameters(arch: TextArchitecture) -> dict[str, Any]:
    return arch.text_config.get("rope_parameters") or arch.text_config.get("rope_scaling") or {}


def _check_plain_rope(arch: TextArchitecture) -> None:
    rope_type = _rope_parameters(arch).get("rope_type") or _rope_parameters(arch).get("type") or "default"
    if rope_type not in ("default", "mrope"):
        raise UnsupportedModelError(f"rope scaling {rope_type!r} is not supported for export (only unscaled rope)")


def _check_mrope_is_text_rope(arch: TextArchitecture) -> None:
    # mrope splits each head's rotary frequencies into (temporal, height, width) sections; together they must
    # cover all head_dim/2 frequencies for text-only positions to reproduce plain rope.
    sections = _rope_parameters(arch).get("mrope_section")
    if sections is not None and sum(sections) != arch.head_dim // 2:
        raise UnsupportedModelError(
            f"mrope sections {sections} do not cover head_dim/2 = {arch.head_dim // 2} rotary frequencies"
        )

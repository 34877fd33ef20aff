"""Fixtures for export tests: a tiny random Qwen2-VL with a Qwen2-style tokenizer (the embedded SmolLM2 comes
from tests/conftest.py as `embedded_model_dir`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .tiny_qwen2vl import build_tiny_qwen2vl


@pytest.fixture(scope="session")
def qwen2vl_export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny random Qwen2-VL with a Qwen2-style tokenizer and padded vocab (see tiny_qwen2vl.py)."""
    return build_tiny_qwen2vl(tmp_path_factory.mktemp("tiny-qwen2vl-export"))

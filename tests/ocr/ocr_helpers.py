"""Helpers for the OCR tests: the bench's page renderer (so tests read the same kind of page the benchmark
scores) and encoders. A plain module with its own name, not a conftest, so other areas' conftests and this
one never shadow each other when the whole suite is collected."""

from __future__ import annotations

import importlib.util
import io
import re
import sys
import unicodedata
from pathlib import Path
from types import ModuleType

from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def _load_synth() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ocr_bench_synth", REPO / "bench" / "ocr" / "synth.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


synth = _load_synth()


def png_bytes(image: Image.Image, fmt: str = "PNG", **save_args: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save_args)
    return buffer.getvalue()


def squash(text: str) -> str:
    """NFKC without whitespace: how the benchmark compares text, so spacing quirks do not fail a test."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


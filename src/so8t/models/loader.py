"""Load a model from an HF folder, a GGUF file or a registered name, always from local files.

Vision-language checkpoints (Qwen2-VL) load with their full class so the same code path serves users'
real checkpoints; so8t only ever feeds them text (OCR summaries), so a tokenizer is all the pre-processing
it needs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

# No code path may reach a model hub: transformers and huggingface_hub honour this before any request.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from so8t.models import pull as pull_mod  # noqa: E402
from so8t.models import registry  # noqa: E402
from so8t.models.cache import models_dir  # noqa: E402

VISION_LANGUAGE_TYPES = {"qwen2_vl", "qwen2_5_vl", "qwen3_vl"}


class ModelNotFoundError(FileNotFoundError):
    """The model spec names nothing loadable on this machine."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model spec resolved to: always a local HF folder, plus what the user asked for."""

    spec: str
    folder: Path


def resolve(spec: str | os.PathLike[str] | None = None) -> ModelSource:
    """Turn a model spec (None, a registered name, an HF folder or a .gguf file) into a local HF folder."""
    text = str(spec) if spec is not None else registry.DEFAULT_MODEL
    if text in registry.REGISTRY:
        if not pull_mod.is_pulled(text):
            raise ModelNotFoundError(f"model {text!r} is not on this machine yet; run: so8t models pull {text}")
        return ModelSource(text, pull_mod.pulled_path(text))
    path = Path(text).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(text, _converted_gguf(path))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} is a folder but has no config.json, so it is not an HF model folder")
        return ModelSource(text, path)
    known = ", ".join(sorted(registry.REGISTRY))
    raise ModelNotFoundError(f"{text!r} is neither a registered model ({known}), an HF folder nor a .gguf file")


def load_model(spec: str | os.PathLike[str] | None = None, *, dtype=None, device: str | None = None, **kwargs):
    """Load (model, tokenizer) for a spec; extra kwargs (e.g. quantization_config) go to from_pretrained."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    source = resolve(spec)
    model_type = json.loads((source.folder / "config.json").read_text()).get("model_type")
    auto_cls = AutoModelForImageTextToText if model_type in VISION_LANGUAGE_TYPES else AutoModelForCausalLM
    model = auto_cls.from_pretrained(
        source.folder, dtype=dtype or torch.float32, local_files_only=True, **kwargs
    )
    if device is not None and "device_map" not in kwargs and "quantization_config" not in kwargs:
        model.to(device)
    tokenizer = AutoTokenizer.from_pretrained(source.folder, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


def _converted_gguf(gguf_file: Path) -> Path:
    """A GGUF converts once into the cache, keyed by its content hash, and is reused afterwards."""
    digest = pull_mod.sha256_file(gguf_file)
    target = models_dir() / f"gguf-{digest[:16]}"
    if not (target / "config.json").is_file():
        staging = target.with_name(target.name + ".partial")
        pull_mod.convert_gguf(gguf_file, staging)
        staging.rename(target)
    return target

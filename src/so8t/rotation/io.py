"""Save and load gates alone: a small safetensors file bound to the base model it was trained on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from so8t.rotation import so8
from so8t.rotation.inject import GateError, find_targets, gates_of, inject_gates, unwrap

FORMAT = "so8t-gates/1"


def model_fingerprint(model: nn.Module) -> str:
    """A hash of the base model's architecture and token embeddings.

    Embeddings are never quantized by bitsandbytes and survive LoRA, so the same base loaded in fp32, bf16,
    4-bit or 8-bit gets the same fingerprint, while any other checkpoint gets a different one.
    """
    base = unwrap(model)
    config = base.config.to_dict()
    arch = {k: config.get(k) for k in ("model_type", "architectures", "hidden_size", "num_hidden_layers", "vocab_size")}
    text = config.get("text_config") or {}
    arch["text"] = {k: text.get(k) for k in ("hidden_size", "num_hidden_layers", "vocab_size")}
    digest = hashlib.sha256(json.dumps(arch, sort_keys=True, default=str).encode())
    embedding = base.get_input_embeddings().weight.detach()
    sample = embedding[:: max(1, embedding.shape[0] // 4096)].to(device="cpu", dtype=torch.float32).contiguous()
    digest.update(sample.numpy().tobytes())
    return digest.hexdigest()


def save_gates(model: nn.Module, path: str | Path) -> Path:
    """Write the generators plus the base fingerprint and layer map; a few hundred KB for a 2B model."""
    gates = gates_of(model)
    if gates is None:
        raise GateError("the model carries no gates to save")
    tensors = {f"{name}.generators": bank.generators.detach().cpu().contiguous() for name, bank in gates.banks.items()}
    metadata = {
        "format": FORMAT,
        "base_fingerprint": model_fingerprint(model),
        "layer_map": json.dumps({name: bank.layer_paths for name, bank in gates.banks.items()}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    return path


def load_gates(model: nn.Module, path: str | Path) -> None:
    """Inject gates on the saved layers and load their values; a different base model is refused."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        if metadata.get("format") != FORMAT:
            raise GateError(f"{path} is not an so8t gate file (format {metadata.get('format')!r})")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if metadata["base_fingerprint"] != model_fingerprint(model):
        raise GateError(
            f"{path} was trained on another base model (fingerprint {metadata['base_fingerprint'][:12]}…, "
            f"this model is {model_fingerprint(model)[:12]}…); load it onto the base it was trained on"
        )
    layer_map: dict[str, list[str]] = json.loads(metadata["layer_map"])
    saved_paths = [p for paths in layer_map.values() for p in paths]
    include_vision = any("visual" in p or "vision" in p for p in saved_paths)
    all_paths = [t.path for t in find_targets(model, include_vision)]
    missing = [p for p in saved_paths if p not in all_paths]
    if missing:
        raise GateError(f"{path} gates layers this model does not have: {missing[:3]}")
    gates = inject_gates(model, layers=[all_paths.index(p) for p in saved_paths], include_vision=include_vision)
    with torch.no_grad():
        for name, bank in gates.banks.items():
            bank.generators.copy_(tensors[f"{name}.generators"])


@dataclass(frozen=True)
class LayerAngles:
    path: str
    blocks: int
    mean_angle: float
    max_angle: float


@dataclass(frozen=True)
class GateFileSummary:
    format: str
    base_fingerprint: str
    layers: list[LayerAngles]
    fits_model: bool | None


def inspect_gate_file(path: str | Path, model_spec: str | None = None) -> GateFileSummary:
    """Read a gate file without a model (and, given a model spec, check it fits that base)."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        if metadata.get("format") != FORMAT:
            raise GateError(f"{path} is not an so8t gate file (format {metadata.get('format')!r})")
        layer_map: dict[str, list[str]] = json.loads(metadata["layer_map"])
        rows = []
        for name, paths in layer_map.items():
            angles = so8.generator_angles(f.get_tensor(f"{name}.generators"))
            rows += [LayerAngles(p, a.shape[0], float(a.mean()), float(a.max())) for p, a in zip(paths, angles)]
    fits = None
    if model_spec is not None:
        from so8t.models import load_model

        fits = model_fingerprint(load_model(model_spec)[0]) == metadata["base_fingerprint"]
    return GateFileSummary(metadata["format"], metadata["base_fingerprint"], rows, fits)

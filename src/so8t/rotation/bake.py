"""Bake: fold each gate's rotation into its output projection so inference needs no custom op.

o_proj(R x) = W R x, so W <- W · blockdiag(R). The product is formed in float64 from an R computed in
float64 and cast back once, which keeps the baked model within float32 round-off of the gated one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from so8t.rotation import so8
from so8t.rotation.inject import GateError, find_targets, gates_of, remove_gates, unwrap


# Up to this size the equivalence check runs in float64 (a temporary 2x memory cost); above it, in the
# model's own dtype, where the forward pass's own rounding (~1e-4 on logits of ~30 in fp32) sets the floor.
FLOAT64_CHECK_MAX_PARAMS = 1_000_000_000


@dataclass(frozen=True)
class BakeReport:
    layers: int
    max_abs_logit_delta: float
    check_dtype: str


def bake_gates(
    model: nn.Module, probe_input_ids: torch.Tensor | None = None, check_dtype: torch.dtype | None = None
) -> tuple[nn.Module, BakeReport]:
    """Merge LoRA if present, fold the rotations into the projections, drop the gates, and measure the change.

    Returns the baked model (a new object when a PEFT wrapper was merged away) and the max |delta logit|
    between the gated and baked model on the probe batch, both run in `check_dtype` (default: float64 for
    models up to 1B parameters, so the figure measures the bake and not fp32 forward-pass noise).
    """
    gates = gates_of(model)
    if gates is None:
        raise GateError("the model carries no gates to bake")
    probe = probe_input_ids if probe_input_ids is not None else default_probe(model)
    if check_dtype is None:
        small = sum(p.numel() for p in model.parameters()) <= FLOAT64_CHECK_MAX_PARAMS
        check_dtype = torch.float64 if small and not _is_quantized(model) else None
    before = _logits(model, probe, check_dtype)
    rotations = {path: rotation for bank in gates.banks.values()
                 for path, rotation in zip(bank.layer_paths, so8.rotations(bank.generators.detach(), torch.float64))}
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    remove_gates(model)
    targets = {t.path: t for t in find_targets(model, include_vision=True)}
    with torch.no_grad():
        for path, rotation in rotations.items():
            target = targets[path]
            projection = _dense_projection(target.attention, target.projection_name)
            weight = projection.weight
            weight.copy_(so8.fold(weight, rotation.to(weight.device)).to(weight.dtype))
    after = _logits(model, probe, check_dtype)
    return model, BakeReport(layers=len(rotations), max_abs_logit_delta=float((before - after).abs().max()),
                             check_dtype=str(check_dtype or next(model.parameters()).dtype).removeprefix("torch."))


def default_probe(model: nn.Module, batch: int = 2, length: int = 24) -> torch.Tensor:
    """A fixed pseudo-random token batch; any tokens exercise every rotated direction of o_proj."""
    generator = torch.Generator().manual_seed(0)
    vocab = unwrap(model).get_input_embeddings().weight.shape[0]
    return torch.randint(0, vocab, (batch, length), generator=generator)


def _logits(model: nn.Module, input_ids: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """Logits on the probe, optionally with every parameter and buffer temporarily cast to `dtype`."""
    device = next(model.parameters()).device
    tensors = [*model.parameters(), *model.buffers()]
    original = [t.data for t in tensors]
    try:
        if dtype is not None:
            for t in tensors:
                if t.is_floating_point():
                    t.data = t.data.to(dtype)
        with torch.no_grad():
            return model(input_ids=input_ids.to(device)).logits.double().cpu()
    finally:
        for t, data in zip(tensors, original):
            t.data = data


def _is_quantized(model: nn.Module) -> bool:
    return any(type(m).__module__.startswith("bitsandbytes") for m in model.modules())


def _dense_projection(attention: nn.Module, name: str) -> nn.Linear:
    """The projection as a plain nn.Linear: LoRA merged, bitsandbytes 4/8-bit dequantized in place."""
    projection = getattr(attention, name)
    if hasattr(projection, "merge") and hasattr(projection, "get_base_layer"):
        projection.merge()
        projection = projection.get_base_layer()
    if not isinstance(projection, nn.Linear) or type(projection).__module__.startswith("bitsandbytes"):
        projection = _dequantized(projection)
    setattr(attention, name, projection)
    return projection


def _dequantized(layer: nn.Module) -> nn.Linear:
    kind = type(layer).__name__
    if kind not in ("Linear4bit", "Linear8bitLt"):
        raise GateError(f"cannot bake into a {kind} projection; load the base model unquantized (fp16/bf16/fp32)")
    import bitsandbytes.functional as bnbf

    if kind == "Linear4bit":
        weight = bnbf.dequantize_4bit(layer.weight.data, layer.weight.quant_state)
    else:
        state = layer.state
        int8 = layer.weight.data if state.CB is None else state.CB
        scale = layer.weight.SCB if getattr(layer.weight, "SCB", None) is not None else state.SCB
        weight = int8.float() * scale.float().unsqueeze(1) / 127.0
    dtype = layer.bias.dtype if layer.bias is not None else torch.bfloat16
    dense = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None,
                      device=weight.device, dtype=dtype)
    dense.weight.copy_(weight.to(dtype))
    if layer.bias is not None:
        dense.bias.copy_(layer.bias)
    return dense

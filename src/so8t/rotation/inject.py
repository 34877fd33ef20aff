"""Find every attention output projection in an HF decoder and gate its input with an SO(8) rotation.

The gate sits after SDPA and before o_proj, implemented as a forward installed on whatever module sits at
the projection's attribute (a plain Linear, a PEFT LoRA layer or a bitsandbytes layer), so it rotates the
input of the whole projection, LoRA path included. Apply PEFT first, then inject. A plain nn.Linear with no
gradient to feed (generation) multiplies by the cached folded weight W · blockdiag(R) instead: gated
inference then costs what the base model costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from so8t.rotation import so8
from so8t.rotation.bank import SO8GateBank

OUTPUT_PROJECTIONS = ("o_proj", "out_proj", "c_proj", "dense", "proj")
VISION_MARKERS = ("visual", "vision")
GATES_ATTR = "so8_gates"
# Device types where a gate multiplies by the dense [width, width] blockdiag(R) instead of running a batched 8x8
# matmul: on a GPU one tensor-core GEMM (width/8 times the FLOPs, still microseconds) launches fewer kernels and
# copies than the strided batched matmul, and a training step there is bound by launches; on a CPU the FLOPs count.
DENSE_ROTATION_DEVICES = frozenset({"cuda"})


class GateError(ValueError):
    """The model, layer selection or saved gates do not fit together."""


@dataclass(frozen=True)
class GateTarget:
    """One attention module whose output projection gets a gate; `path` is relative to the unwrapped model."""

    path: str
    attention: nn.Module
    projection_name: str

    @property
    def projection(self) -> nn.Module:
        return getattr(self.attention, self.projection_name)

    @property
    def width(self) -> int:
        return int(getattr(self.projection, "in_features"))


class SO8Gates(nn.Module):
    """All gate banks of one model (one bank per attention width, e.g. language model and vision tower)."""

    def __init__(self, targets: list[GateTarget]) -> None:
        super().__init__()
        self.banks = nn.ModuleDict()
        for width in dict.fromkeys(t.width for t in targets):
            self.banks[f"w{width}"] = SO8GateBank([t.path for t in targets if t.width == width], width)
        self.hook_handles: list = []

    def locate(self, path: str) -> tuple[SO8GateBank, int]:
        for bank in self.banks.values():
            if path in bank.layer_paths:
                return bank, bank.layer_paths.index(path)
        raise KeyError(path)

    @property
    def layer_paths(self) -> list[str]:
        return [p for bank in self.banks.values() for p in bank.layer_paths]


def unwrap(model: nn.Module) -> nn.Module:
    """The transformers model inside a PEFT wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def in_vision_tower(path: str) -> bool:
    """Whether a module or parameter path lies in a vision tower (e.g. Qwen2-VL's `visual`)."""
    return any(m in part for part in path.split(".") for m in VISION_MARKERS)


def find_targets(model: nn.Module, include_vision: bool = False) -> list[GateTarget]:
    """Attention modules (class name contains 'Attention') with an output projection, in module order."""
    targets = []
    for path, module in unwrap(model).named_modules():
        if "attention" not in type(module).__name__.lower():
            continue
        if not include_vision and in_vision_tower(path):
            continue
        name = next((n for n in OUTPUT_PROJECTIONS if isinstance(getattr(module, n, None), nn.Module)), None)
        if name is not None and hasattr(getattr(module, name), "in_features"):
            targets.append(GateTarget(path, module, name))
    return targets


def gates_of(model: nn.Module) -> SO8Gates | None:
    return getattr(unwrap(model), GATES_ATTR, None)


def inject_gates(model: nn.Module, layers: list[int] | None = None, include_vision: bool = False) -> SO8Gates:
    """Gate the selected attention layers (all by default) with identity rotations; idempotent."""
    existing = gates_of(model)
    targets = _select(find_targets(model, include_vision), layers)
    if existing is not None:
        if existing.layer_paths == [t.path for t in targets]:
            return existing
        raise GateError("the model already carries gates on other layers; remove them first")
    for t in targets:
        if t.width % so8.BLOCK:
            raise GateError(f"{t.path}.{t.projection_name} has input width {t.width}, not a multiple of {so8.BLOCK}")
    base = unwrap(model)
    first_param = next(base.parameters())
    gates = SO8Gates(targets).to(first_param.device)
    setattr(base, GATES_ATTR, gates)
    for t in targets:
        bank, index = gates.locate(t.path)
        gates.hook_handles.append(_GatedForward(t.projection, bank, index))
    stack_root = _common_ancestor(base, [t.path for t in targets])
    gates.hook_handles.append(stack_root.register_forward_pre_hook(lambda _module, _args: _start_forward(gates)))
    return gates


def remove_gates(model: nn.Module) -> None:
    """Detach the hooks and drop the gate parameters; a model without gates is left as it is."""
    gates = gates_of(model)
    if gates is None:
        return
    for handle in gates.hook_handles:
        handle.remove()
    delattr(unwrap(model), GATES_ATTR)


def _select(targets: list[GateTarget], layers: list[int] | None) -> list[GateTarget]:
    if not targets:
        raise GateError("found no attention output projection to gate in this model")
    if layers is None:
        return targets
    bad = [i for i in layers if not 0 <= i < len(targets)]
    if bad:
        raise GateError(f"layer indices {bad} out of range: the model has {len(targets)} gateable attention layers")
    return [targets[i] for i in sorted(set(layers))]


def _common_ancestor(base: nn.Module, paths: list[str]) -> nn.Module:
    """The innermost module whose forward runs every gated layer: a new forward there means new rotations.

    Hooking the innermost one (not the top model) keeps this right when callers run the decoder directly.
    """
    parts = [p.split(".") for p in paths]
    common: list[str] = []
    for level in zip(*parts):
        if len(set(level)) > 1:
            break
        common.append(level[0])
    while common and isinstance(base.get_submodule(".".join(common)), (nn.ModuleList, nn.ModuleDict)) \
            or len(common) == len(parts[0]):
        common.pop()
    return base.get_submodule(".".join(common)) if common else base


def _start_forward(gates: SO8Gates) -> None:
    """A new forward of the layer stack: each bank builds R here (see SO8GateBank.begin_forward), before any
    (checkpointed) layer runs, so activation checkpointing's recomputation sees the saved tensors it expects."""
    for bank in gates.banks.values():
        bank.begin_forward()


def _rotated(bank: SO8GateBank, index: int, x: torch.Tensor) -> torch.Tensor:
    precision = torch.float64 if x.dtype == torch.float64 else torch.float32
    if x.device.type in DENSE_ROTATION_DEVICES:
        return F.linear(x, bank.layer_rotation(index, precision, x.dtype, dense=True))
    return so8.rotate(x, bank.layer_rotation(index, precision, x.dtype))


def _is_plain_linear(module: nn.Module) -> bool:
    """An exact nn.Linear (not a quantized or adapter subclass) whose forward nobody else has replaced."""
    return (type(module) is nn.Linear and module.weight.is_floating_point() and "forward" not in vars(module)
            and not hasattr(module, "_hf_hook"))


class _GatedForward:
    """The forward of a gated projection, installed on the instance; `remove()` puts back what was there.

    It rotates the projection's input, then runs the projection's own forward (LoRA path included). Being the
    instance's forward rather than a forward pre-hook keeps the module on PyTorch's hook-free call path,
    which counts in launch-bound GPU steps. A plain nn.Linear, when no gradient must reach the generators or
    the weight (generation), multiplies by the bank's cached folded weight W · blockdiag(R) instead, so the
    rotation costs nothing per token.
    """

    def __init__(self, projection: nn.Module, bank: SO8GateBank, index: int) -> None:
        self.projection, self.bank, self.index = projection, bank, index
        self.foldable = _is_plain_linear(projection)
        self.replaced = vars(projection).get("forward")
        self.inner = projection.forward
        projection.forward = self

    def __call__(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if self.foldable and not (torch.is_grad_enabled()
                                  and (self.bank.generators.requires_grad or self.projection.weight.requires_grad)):
            return F.linear(x, self.bank.folded_weight(self.index, self.projection.weight), self.projection.bias)
        return self.inner(_rotated(self.bank, self.index, x), *args, **kwargs)

    def remove(self) -> None:
        if vars(self.projection).get("forward") is not self:
            return
        if self.replaced is None:
            del self.projection.forward
        else:
            self.projection.forward = self.replaced

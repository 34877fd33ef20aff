"""The gate bank: every gated layer's generators in one parameter, so R for all layers is one batched expm."""

from __future__ import annotations

import torch
from torch import nn

from so8t.rotation import so8


class SO8GateBank(nn.Module):
    """Generators [layers, blocks, 28] for the gated attention outputs of one model.

    Rotations are computed once per model forward (a new graph each time gradients are recorded) and cached
    across forwards while gradients are off and the generators are unchanged, e.g. during generation. Each
    activation dtype gets one cast of all layers' R per forward, not one cast per layer.
    """

    def __init__(self, layer_paths: list[str], width: int) -> None:
        super().__init__()
        if width % so8.BLOCK:
            raise ValueError(f"attention output width {width} is not a multiple of {so8.BLOCK}; SO(8) gates need it")
        self.layer_paths = list(layer_paths)
        self.width = width
        self.generators = nn.Parameter(torch.zeros(len(layer_paths), width // so8.BLOCK, so8.GENERATORS_PER_BLOCK))
        self._forward_id = 0
        self._precision = torch.float32
        self._rotations: dict[tuple[torch.dtype, torch.dtype], tuple[tuple, torch.Tensor]] = {}
        self._layer_views: dict[tuple[torch.dtype, torch.dtype, bool], tuple[torch.Tensor, tuple[torch.Tensor, ...]]] = {}
        self._folded: dict[int, tuple[tuple, torch.Tensor]] = {}

    def begin_forward(self) -> None:
        """Called by a pre-hook on the module that runs every gated layer, before any of them runs.

        While gradients are recorded, R is computed here, outside the layers: computed inside an
        activation-checkpointed layer, its recomputation in backward would find R cached and save fewer
        tensors than the first pass did, which torch.utils.checkpoint rejects.
        """
        self._forward_id += 1
        if self._records_grad():
            self.rotations(self._precision)

    def rotations(self, dtype: torch.dtype = torch.float32, out_dtype: torch.dtype | None = None) -> torch.Tensor:
        """R for every gated layer, [layers, blocks, 8, 8], computed in `dtype` (float32, or float64 for
        float64 checks) and cast once to `out_dtype` (default: `dtype`)."""
        out_dtype = out_dtype or dtype
        if self._records_grad():
            stamp: tuple = ("forward", self._forward_id)
        else:
            stamp = ("frozen", self.generators._version, self.generators.device, self.generators.data_ptr())
        cached = self._rotations.get((dtype, out_dtype))
        if cached is not None and cached[0] == stamp:
            return cached[1]
        if out_dtype == dtype:
            self._precision = dtype
            result = so8.rotations(self.generators, dtype)
        else:
            result = self.rotations(dtype).to(out_dtype)
        self._rotations[(dtype, out_dtype)] = (stamp, result)
        return result

    def layer_rotation(self, index: int, dtype: torch.dtype, out_dtype: torch.dtype, dense: bool = False) -> torch.Tensor:
        """R of one gated layer, [blocks, 8, 8], or with `dense` the [width, width] blockdiag(R).

        A view from one unbind per forward, so backward gathers every layer's gradient in one stack instead
        of one zero-filled [layers, ...] tensor per layer; the dense form is built for all layers at once.
        """
        rotations = self.rotations(dtype, out_dtype)
        key = (dtype, out_dtype, dense)
        cached = self._layer_views.get(key)
        if cached is None or cached[0] is not rotations:
            cached = (rotations, (so8.block_diagonal(rotations) if dense else rotations).unbind(0))
            self._layer_views[key] = cached
        return cached[1][index]

    def folded_weight(self, index: int, weight: torch.Tensor) -> torch.Tensor:
        """weight · blockdiag(R) of layer `index`, in weight's dtype; cached until the generators or weight change.

        A projection that multiplies by this folded weight rotates its input for free, which is how a gated
        plain Linear runs when no gradient is recorded (generation).
        """
        stamp = (self.generators._version, self.generators.data_ptr(), weight._version, weight.data_ptr(),
                 weight.dtype, weight.device)
        cached = self._folded.get(index)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        precision = torch.float64 if weight.dtype == torch.float64 else torch.float32
        with torch.no_grad():
            folded = so8.fold(weight, self.rotations(precision)[index]).to(weight.dtype)
        self._folded[index] = (stamp, folded)
        return folded

    def angles(self) -> torch.Tensor:
        """Per-layer, per-block rotation angles [layers, blocks, 4] in radians, for diagnostics and plots."""
        return so8.generator_angles(self.generators)

    def _records_grad(self) -> bool:
        return torch.is_grad_enabled() and self.generators.requires_grad

    def _apply(self, fn, recurse=True):
        # Follow the host model across devices but stay float32 whatever dtype it is cast to: the generators
        # are tiny, and rounding them to bf16 would make small learned rotations vanish.
        def move_only(t: torch.Tensor) -> torch.Tensor:
            target = fn(torch.empty(0, dtype=t.dtype, device=t.device))
            return t.to(device=target.device)

        self._rotations, self._layer_views, self._folded = {}, {}, {}
        return super()._apply(move_only, recurse)

    def extra_repr(self) -> str:
        return f"layers={len(self.layer_paths)}, width={self.width}, blocks={self.width // so8.BLOCK}"

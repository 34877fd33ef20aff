"""The gate bank: every gated layer's generators in one parameter, so R for all layers is one batched expm."""

from __future__ import annotations

import torch
from torch import nn

from so8t.rotation import so8


class SO8GateBank(nn.Module):
    """Generators [layers, blocks, 28] for the gated attention outputs of one model.

    Rotations are computed once per model forward (a new graph each time gradients are recorded) and cached
    across forwards while gradients are off and the generators are unchanged, e.g. during generation.
    """

    def __init__(self, layer_paths: list[str], width: int) -> None:
        super().__init__()
        if width % so8.BLOCK:
            raise ValueError(f"attention output width {width} is not a multiple of {so8.BLOCK}; SO(8) gates need it")
        self.layer_paths = list(layer_paths)
        self.width = width
        self.generators = nn.Parameter(torch.zeros(len(layer_paths), width // so8.BLOCK, so8.GENERATORS_PER_BLOCK))
        self._forward_id = 0
        self._grad_cache: tuple[tuple, torch.Tensor] | None = None
        self._frozen_cache: tuple[tuple, torch.Tensor] | None = None

    def begin_forward(self) -> None:
        """Called by a pre-hook on the host model: the next rotations() call starts a fresh graph."""
        self._forward_id += 1

    def rotations(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """R for every gated layer, [layers, blocks, 8, 8], computed in float32 (float64 for float64 checks)."""
        if torch.is_grad_enabled() and self.generators.requires_grad:
            if self._grad_cache is None or self._grad_cache[0] != (self._forward_id, dtype):
                self._grad_cache = ((self._forward_id, dtype), so8.rotations(self.generators, dtype))
            return self._grad_cache[1]
        self._grad_cache = None
        key = (self.generators._version, self.generators.device, self.generators.data_ptr(), dtype)
        if self._frozen_cache is None or self._frozen_cache[0] != key:
            with torch.no_grad():
                self._frozen_cache = (key, so8.rotations(self.generators, dtype))
        return self._frozen_cache[1]

    def angles(self) -> torch.Tensor:
        """Per-layer, per-block rotation angles [layers, blocks, 4] in radians, for diagnostics and plots."""
        return so8.generator_angles(self.generators)

    def _apply(self, fn, recurse=True):
        # Follow the host model across devices but stay float32 whatever dtype it is cast to: the generators
        # are tiny, and rounding them to bf16 would make small learned rotations vanish.
        def move_only(t: torch.Tensor) -> torch.Tensor:
            target = fn(torch.empty(0, dtype=t.dtype, device=t.device))
            return t.to(device=target.device)

        self._grad_cache = self._frozen_cache = None
        return super()._apply(move_only, recurse)

    def extra_repr(self) -> str:
        return f"layers={len(self.layer_paths)}, width={self.width}, blocks={self.width // so8.BLOCK}"

"""SO(8) block rotations: 28 free parameters per block, R = exp(A) with A skew-symmetric.

The exponential of a skew-symmetric matrix is always a proper rotation (orthogonal, det +1), so training
can move the generators freely and never leave SO(8); A = 0 gives exactly the identity.
"""

from __future__ import annotations

import torch

BLOCK = 8
GENERATORS_PER_BLOCK = BLOCK * (BLOCK - 1) // 2  # 28
_ROWS, _COLS = torch.triu_indices(BLOCK, BLOCK, offset=1)


def skew(generators: torch.Tensor) -> torch.Tensor:
    """[..., 28] free parameters -> [..., 8, 8] skew-symmetric matrices."""
    if generators.shape[-1] != GENERATORS_PER_BLOCK:
        raise ValueError(f"expected {GENERATORS_PER_BLOCK} generators per block, got {generators.shape[-1]}")
    upper = generators.new_zeros(*generators.shape[:-1], BLOCK, BLOCK)
    upper[..., _ROWS, _COLS] = generators
    return upper - upper.transpose(-1, -2)


def rotations(generators: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One batched matrix exponential for every block at once, computed in `dtype` (float32, float64 to bake)."""
    return torch.linalg.matrix_exp(skew(generators.to(dtype)))


def rotate(x: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Apply block-diagonal R to the last dim of x: y_b = R_b x_b for every 8-dim block b, in one contraction."""
    blocks = x.unflatten(-1, (rotation.shape[-3], BLOCK))
    return torch.einsum("...bj,bij->...bi", blocks, rotation.to(x.dtype)).flatten(-2)


def generator_angles(generators: torch.Tensor) -> torch.Tensor:
    """The four rotation angles (radians, descending) of each block's generator.

    A real skew-symmetric A has eigenvalues +-i*theta_k; -A@A is symmetric PSD with eigenvalues theta_k^2,
    each twice, which eigvalsh finds stably.
    """
    a = skew(generators.detach().to(torch.float64))
    squared = torch.linalg.eigvalsh(-(a @ a)).clamp_min(0).flip(-1)
    return squared[..., ::2].sqrt().to(torch.float32)

"""SO(8) block rotations: 28 free parameters per block, R = exp(A) with A skew-symmetric.

The exponential of a skew-symmetric matrix is always a proper rotation (orthogonal, det +1), so training
can move the generators freely and never leave SO(8); A = 0 gives exactly the identity.
"""

from __future__ import annotations

import functools

import torch

BLOCK = 8
GENERATORS_PER_BLOCK = BLOCK * (BLOCK - 1) // 2  # 28

# exp(A) = (exp(A / 2**SQUARINGS))**(2**SQUARINGS). The scaled matrix has 1-norm <= 1 for any 1-norm up to
# 2**12 = 4096 (rotation angles in the thousands of radians; trained gates stay within a few), where a Taylor
# polynomial of these degrees is exact to each dtype's rounding (first dropped term 1/11! or 1/19!).
SQUARINGS = 12
TAYLOR_DEGREE = {torch.float32: 10, torch.float64: 18}


@functools.lru_cache(maxsize=None)
def _upper_indices(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Strict upper-triangle positions, built once per device: indexing with CPU tensors would copy them to
    the GPU on every call, and a blocking host-to-device copy synchronizes the stream."""
    rows, cols = torch.triu_indices(BLOCK, BLOCK, offset=1, device=device)
    return rows, cols


def skew(generators: torch.Tensor) -> torch.Tensor:
    """[..., 28] free parameters -> [..., 8, 8] skew-symmetric matrices."""
    if generators.shape[-1] != GENERATORS_PER_BLOCK:
        raise ValueError(f"expected {GENERATORS_PER_BLOCK} generators per block, got {generators.shape[-1]}")
    rows, cols = _upper_indices(generators.device)
    upper = generators.new_zeros(*generators.shape[:-1], BLOCK, BLOCK)
    upper[..., rows, cols] = generators
    return upper - upper.transpose(-1, -2)


def expm(matrices: torch.Tensor) -> torch.Tensor:
    """exp of a batch of square float32/float64 matrices in a fixed sequence of batched matmuls.

    Scaling and squaring carried out on E = exp(X) - I, so near-identity rotations keep their precision:
    E of the scaled matrix from a Taylor polynomial (Horner, one baddbmm per degree), then each squaring
    (I + E)^2 - I = 2E + E·E is one more baddbmm. Every matrix is squared the same number of times, so
    nothing depends on the data: torch.linalg.matrix_exp reads norms back to the host on every call (a
    device sync) and, in backward, squares large matrices one by one in a host loop. Autocast is off inside
    so a bf16 autocast region cannot round the rotations.
    """
    degree = TAYLOR_DEGREE.get(matrices.dtype)
    if degree is None:
        raise ValueError(f"expm needs float32 or float64 matrices, got {matrices.dtype}")
    size = matrices.shape[-1]
    with torch.autocast(matrices.device.type, enabled=False):
        scaled = matrices.reshape(-1, size, size) * 2.0**-SQUARINGS
        eye = torch.eye(size, dtype=scaled.dtype, device=scaled.device).expand_as(scaled)
        series = eye
        for k in range(degree, 1, -1):  # I + X/2 (I + X/3 (... (I + X/degree)))
            series = torch.baddbmm(eye, scaled, series, alpha=1.0 / k)
        excess = torch.bmm(scaled, series)  # exp(X) - I
        for _ in range(SQUARINGS):
            excess = torch.baddbmm(excess, excess, excess, beta=2.0)
        return (excess + eye).reshape(matrices.shape)


def rotations(generators: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One batched matrix exponential for every block at once, computed in `dtype` (float32, float64 to bake)."""
    return expm(skew(generators.to(dtype)))


def rotate(x: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Apply block-diagonal R to the last dim of x: y_b = R_b x_b for every 8-dim block b, in one batched matmul.

    The blocks are a strided view [blocks, tokens, 8] that the matmul reads in place; only the result is
    re-laid out. Written as bmm rather than einsum: half the dispatched ops, which matters on a GPU where the
    gate's small kernels are bound by launch overhead.
    """
    blocks = x.reshape(-1, rotation.shape[-3], BLOCK).transpose(0, 1)
    rotated = torch.bmm(blocks, rotation.to(x.dtype).transpose(1, 2))
    return rotated.transpose(0, 1).reshape(x.shape)


def block_diagonal(rotation: torch.Tensor) -> torch.Tensor:
    """[..., blocks, 8, 8] -> [..., width, width] dense blockdiag(R), so F.linear(x, result) == rotate(x, R).

    Differentiable: the blocks are copied into the diagonal of a zero tensor, whose backward gathers them back.
    """
    blocks = rotation.shape[-3]
    dense = rotation.new_zeros(*rotation.shape[:-3], blocks, BLOCK, blocks, BLOCK)
    dense.diagonal(dim1=-4, dim2=-2).copy_(rotation.movedim(-3, -1))
    return dense.flatten(-4, -3).flatten(-2)


def fold(weight: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """W · blockdiag(R), in R's dtype: a projection that applies the rotation to its input by itself."""
    blocks = weight.to(rotation.dtype).unflatten(1, (rotation.shape[0], BLOCK))
    return torch.einsum("obi,bij->obj", blocks, rotation).flatten(1)


def generator_angles(generators: torch.Tensor) -> torch.Tensor:
    """The four rotation angles (radians, descending) of each block's generator.

    A real skew-symmetric A has eigenvalues +-i*theta_k; -A@A is symmetric PSD with eigenvalues theta_k^2,
    each twice, which eigvalsh finds stably.
    """
    a = skew(generators.detach().to(torch.float64))
    squared = torch.linalg.eigvalsh(-(a @ a)).clamp_min(0).flip(-1)
    return squared[..., ::2].sqrt().to(torch.float32)

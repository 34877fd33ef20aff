import math

import pytest
import torch

from so8t.rotation import so8


def random_generators(*shape, std=0.5, seed=0):
    return torch.randn(*shape, so8.GENERATORS_PER_BLOCK, generator=torch.Generator().manual_seed(seed)) * std


def test_rotations_are_proper_orthogonal_in_fp32():
    r = so8.rotations(random_generators(5, 12, std=1.0))
    eye = torch.eye(8).expand_as(r)
    assert (r.transpose(-1, -2) @ r - eye).abs().max() < 1e-5
    assert torch.allclose(torch.linalg.det(r), torch.ones(5, 12), atol=1e-5)


def test_zero_generators_give_exact_identity_and_rotate_is_exact():
    r = so8.rotations(torch.zeros(3, 28))
    assert torch.equal(r, torch.eye(8).expand(3, 8, 8))
    x = torch.randn(2, 7, 24)
    assert torch.equal(so8.rotate(x, r), x)


def test_rotate_preserves_norms_and_matches_dense_block_diagonal():
    r = so8.rotations(random_generators(4))
    x = torch.randn(3, 5, 32)
    y = so8.rotate(x, r)
    assert torch.allclose(y.norm(dim=-1), x.norm(dim=-1), atol=1e-5)
    dense = torch.block_diag(*r)
    assert torch.allclose(y, x @ dense.T, atol=1e-6)


def test_gradients_reach_generators():
    generators = random_generators(2, std=0.1).requires_grad_()
    x = torch.randn(4, 16)
    so8.rotate(x, so8.rotations(generators)).pow(3).sum().backward()
    assert generators.grad is not None and generators.grad.abs().sum() > 0


def test_angles_of_a_single_plane_rotation():
    theta = 0.7
    generators = torch.zeros(28)
    generators[0] = theta  # the (0, 1) plane
    angles = so8.generator_angles(generators)
    assert torch.allclose(angles, torch.tensor([theta, 0, 0, 0]), atol=1e-6)
    r = so8.rotations(generators)
    assert math.isclose(float(r[0, 0]), math.cos(theta), abs_tol=1e-6)


def test_wrong_generator_count_is_a_clear_error():
    with pytest.raises(ValueError, match="28 generators"):
        so8.skew(torch.zeros(27))

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
    assert torch.equal(so8.block_diagonal(r), dense)


def test_block_diagonal_is_batched_and_passes_gradients_to_the_blocks_only():
    r = so8.rotations(random_generators(6, std=0.3, seed=4)).view(2, 3, 8, 8).requires_grad_()
    dense = so8.block_diagonal(r)
    assert dense.shape == (2, 24, 24)
    for layer in range(2):
        assert torch.equal(dense[layer], torch.block_diag(*r[layer].detach()))
    upstream = torch.randn(2, 24, 24)
    (dense * upstream).sum().backward()
    expected = torch.stack([torch.stack([upstream[l, 8 * b:8 * b + 8, 8 * b:8 * b + 8] for b in range(3)])
                            for l in range(2)])
    assert torch.equal(r.grad, expected)


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


@pytest.mark.parametrize("std", [0.0, 0.01, 0.3, 3.0, 40.0])
def test_expm_matches_torch_matrix_exp_with_and_without_squaring(std):
    a = so8.skew(random_generators(64, std=std, seed=7).double())
    reference = torch.linalg.matrix_exp(a)
    assert (so8.expm(a) - reference).abs().max() <= 1e-12 * max(1.0, std)
    assert (so8.expm(a.float()).double() - reference).abs().max() <= 2e-5 * max(1.0, std)


def test_expm_gradient_matches_torch_matrix_exp():
    a = so8.skew(random_generators(6, std=2.0, seed=3).double()).requires_grad_()
    weights = torch.randn(6, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    (so8.expm(a) * weights).sum().backward()
    ours, a.grad = a.grad.clone(), None
    (torch.linalg.matrix_exp(a) * weights).sum().backward()
    assert (ours - a.grad).abs().max() <= 1e-11


def test_expm_gradient_at_zero_generators_is_finite_and_exact():
    # Gates start at exactly zero, so their first gradients come from expm's derivative at A = 0.
    generators = torch.zeros(3, 28, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    (so8.expm(so8.skew(generators)) * weights).sum().backward()
    ours, generators.grad = generators.grad.clone(), None
    (torch.linalg.matrix_exp(so8.skew(generators)) * weights).sum().backward()
    assert torch.isfinite(ours).all() and (ours - generators.grad).abs().max() <= 1e-12


def test_rotations_keep_float32_precision_inside_bf16_autocast():
    generators = random_generators(10, std=0.2, seed=5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        r = so8.rotations(generators)
    assert r.dtype == torch.float32
    assert (r - torch.linalg.matrix_exp(so8.skew(generators.double())).float()).abs().max() < 1e-5


def test_expm_rejects_half_precision_by_name():
    with pytest.raises(ValueError, match="float32 or float64"):
        so8.expm(torch.zeros(2, 8, 8, dtype=torch.bfloat16))


def test_fold_equals_rotating_the_input():
    r = so8.rotations(random_generators(4, std=0.4, seed=2))
    weight = torch.randn(7, 32)
    x = torch.randn(5, 32)
    assert torch.allclose(x @ so8.fold(weight, r).T, so8.rotate(x, r) @ weight.T, atol=1e-5)

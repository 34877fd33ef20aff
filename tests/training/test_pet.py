import pytest
import torch

from so8t.losses import PetSchedule, pet_penalty


def trajectory(coefficients, length=10, dim=6, seed=0):
    """h_t = sum_k c_k * t^k * v_k with random direction vectors v_k."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float64)[:, None]
    vectors = torch.randn(len(coefficients), dim, generator=generator, dtype=torch.float64)
    return sum(c * t**k * v for k, (c, v) in enumerate(zip(coefficients, vectors)))[None], vectors


def test_linear_trajectory_gives_zero():
    hidden, _ = trajectory([1.5, -0.7])
    assert pet_penalty(hidden, normalize=False) < 1e-20


def test_quadratic_gives_exact_value():
    hidden, vectors = trajectory([0.3, 0.2, 0.5])
    # d2 = 2 * 0.5 * v2 at every triple, so the L2 penalty is mean_i (v2_i)^2
    expected = (vectors[2] ** 2).mean()
    assert torch.isclose(pet_penalty(hidden, normalize=False), expected, rtol=1e-12)


def test_masked_positions_do_not_change_it():
    hidden, _ = trajectory([0.0, 1.0, 0.25], length=8)
    mask = torch.ones(1, 8)
    padded = torch.cat([hidden, torch.randn(1, 4, hidden.shape[-1], dtype=hidden.dtype) * 100], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(1, 4)], dim=1)
    for normalize in (False, True):
        assert torch.isclose(pet_penalty(padded, padded_mask, normalize=normalize),
                             pet_penalty(hidden, mask, normalize=normalize), rtol=1e-6)


def test_segment_boundaries_exclude_triples():
    first, _ = trajectory([0.0, 1.0], length=5, seed=1)
    second, _ = trajectory([9.0, -1.0], length=5, seed=2)
    hidden = torch.cat([first, second], dim=1)
    segments = torch.tensor([[0] * 5 + [1] * 5])
    assert pet_penalty(hidden, segment_ids=segments, normalize=False) < 1e-20
    assert pet_penalty(hidden, normalize=False) > 0


def test_huber_branch_is_quadratic_inside_and_linear_outside():
    small = torch.zeros(1, 3, 2)
    small[0, 1] = torch.tensor([-0.1, 0.1])  # d2 = (0.2, -0.2)
    assert torch.isclose(pet_penalty(small, kind="huber", huber_delta=1.0, normalize=False), torch.tensor(0.02))
    large = small * 50  # d2 = (10, -10): huber = delta * (|x| - delta / 2) = 9.5
    assert torch.isclose(pet_penalty(large, kind="huber", huber_delta=1.0, normalize=False), torch.tensor(9.5))
    assert torch.isclose(pet_penalty(large, kind="l2", normalize=False), torch.tensor(100.0))


def test_no_valid_triple_gives_zero_and_bad_input_is_named():
    assert pet_penalty(torch.randn(2, 2, 4)) == 0
    with pytest.raises(ValueError, match="batch, seq, dim"):
        pet_penalty(torch.randn(5, 4))
    with pytest.raises(ValueError, match="unknown PET kind"):
        pet_penalty(torch.randn(1, 4, 4), kind="l1")


def test_schedule_at_every_phase_boundary():
    schedule = PetSchedule(max_lambda=0.1, warmup_steps=100, main_steps=1000, anneal_steps=200)
    assert schedule(0) == 0.0
    assert schedule(50) == pytest.approx(0.05)
    assert schedule(100) == pytest.approx(0.1)
    assert schedule(1099) == pytest.approx(0.1)
    assert schedule(1100) == pytest.approx(0.1)
    assert schedule(1200) == pytest.approx(0.05)
    assert schedule(1300) == 0.0
    assert schedule(5000) == 0.0

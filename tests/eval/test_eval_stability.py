"""Learning stability from a trainer's metrics.jsonl and stability.json."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from eval_helpers import write_jsonl

from so8t.eval.stability import (
    TrainingRunError,
    analyze_training,
    append_stability_snapshot,
    load_stability,
    stability_snapshot,
)


def _decaying_run(steps: int = 100, spike_at: int = 60) -> list[dict]:
    rows = []
    for step in range(1, steps + 1):
        rows.append({"step": step, "loss": 2.0 * math.exp(-step / 15) + 0.5, "lm_loss": 0.5, "pet": 0.01,
                     "pet_lambda": min(step / 50, 1) * 0.1, "grad_norm": 10.0 if step == spike_at else 1.0 + 0.01 * step,
                     "lr": 2e-4, "tokens_per_s": 800.0})  # fmt: skip
    return rows


def test_convergence_best_step_and_spike(tmp_path):
    write_jsonl(tmp_path / "metrics.jsonl", _decaying_run())
    summary, rows, snapshots = analyze_training(tmp_path)
    assert (summary.steps, summary.first_step, summary.last_step) == (100, 1, 100)
    assert summary.best_step == 100  # strictly decreasing loss
    assert summary.best_loss == pytest.approx(2.0 * math.exp(-100 / 15) + 0.5)
    # the tail (last 20 steps) is nearly flat and still falling
    assert -1e-3 < summary.final_slope < 0
    assert summary.tail_steps == 20
    assert [s.step for s in summary.spikes] == [60]
    assert summary.spikes[0].ratio == pytest.approx(10.0 / np.median([1.0 + 0.01 * s for s in range(40, 60)]))
    assert snapshots == [] and summary.histograms == {}
    assert len(rows) == 100


def test_linear_loss_slope_is_exact_and_nonfinite_counted(tmp_path):
    rows = [{"step": s, "loss": 5.0 - 0.01 * s} for s in range(0, 50)]
    rows.append({"step": 50, "loss": float("nan")})
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    summary, _, _ = analyze_training(tmp_path / "metrics.jsonl")
    assert summary.final_slope == pytest.approx(-0.01)
    assert summary.nonfinite_losses == 1
    assert summary.final_loss == pytest.approx(5.0 - 0.01 * 49)
    assert summary.grad_norm_spikes == 0


def test_bad_metrics_lines_are_named(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "loss": "high"}\n', encoding="utf-8")
    with pytest.raises(TrainingRunError, match=r"metrics.jsonl:2: 'loss' must be a number"):
        analyze_training(tmp_path)
    path.write_text('{"loss": 1.0}\n', encoding="utf-8")
    with pytest.raises(TrainingRunError, match=r":1: each row needs an integer 'step'"):
        analyze_training(tmp_path)
    with pytest.raises(TrainingRunError, match="no metrics.jsonl"):
        analyze_training(tmp_path / "elsewhere")


def test_snapshots_round_trip_with_tensors_and_arrays(tmp_path):
    path = tmp_path / "stability.json"
    # 64 bins over [0, pi]: bin 16 is centred at 16.5 * pi/64; angles placed on that centre summarise exactly
    centre = 16.5 * math.pi / 64
    append_stability_snapshot(path, stability_snapshot(
        0, rotation_angles={"layers.0": torch.zeros(8), "layers.1": np.zeros(8)},
        lora_weights={"q_proj.lora_A": torch.tensor([-1.0, 1.0], requires_grad=True)}))  # fmt: skip
    append_stability_snapshot(path, stability_snapshot(
        100, rotation_angles={"layers.0": torch.full((8,), centre), "layers.1": np.full(8, centre)},
        lora_weights={"q_proj.lora_A": torch.tensor([-2.0, 2.0, 0.5])}))  # fmt: skip
    snapshots = load_stability(path)
    assert [s["step"] for s in snapshots] == [0, 100]
    assert len(snapshots[1]["rotation_angles"]["bin_edges"]) == 65
    assert snapshots[1]["rotation_angles"]["bin_edges"][-1] == pytest.approx(math.pi)
    assert sum(snapshots[1]["lora_weights"]["counts"]["q_proj.lora_A"]) == 3

    write_jsonl(tmp_path / "metrics.jsonl", _decaying_run(10))
    summary, _, _ = analyze_training(tmp_path)
    angles = summary.histograms["rotation_angles"]
    assert angles["layers"] == 2
    assert angles["first"]["mean"] == pytest.approx(0.5 * math.pi / 64)  # centre of the first bin
    assert angles["last"]["mean"] == pytest.approx(centre)
    assert angles["last"]["std"] == pytest.approx(0.0, abs=1e-12)
    assert angles["last"]["count"] == 16
    assert summary.histograms["lora_weights"]["last"]["abs_max"] == pytest.approx(2.0)


def test_malformed_stability_file_is_named(tmp_path):
    path = tmp_path / "stability.json"
    path.write_text(json.dumps({"format": "so8t.stability/1", "snapshots": [
        {"step": 5, "lora_weights": {"bin_edges": [0, 1, 2], "counts": {"a": [1, 2, 3]}}}]}))  # fmt: skip
    with pytest.raises(TrainingRunError, match=r"snapshots\[0\].lora_weights.counts\['a'\]: needs 2 non-negative"):
        load_stability(path)
    path.write_text(json.dumps({"snapshots": []}))
    with pytest.raises(TrainingRunError, match="format"):
        load_stability(path)
    with pytest.raises(TrainingRunError):
        append_stability_snapshot(path, {"step": 1})  # never extends a malformed file
    assert json.loads(path.read_text()) == {"snapshots": []}

"""Two data-parallel CPU ranks (gloo) through `accelerate launch` and the repo's CPU config.

The ranks must end with the same LoRA, SO(8) gate and safety-head weights (moved from where they started),
only rank 0 may write run files, the learning-rate schedule must advance once per optimizer step, and a run
resumed from a mid-run checkpoint under DDP must log the same losses as the uninterrupted one.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import get_scheduler

from ddp_worker import RANK_ONE_GID
from test_trainer import rows as training_rows

ROOT = Path(__file__).resolve().parents[2]
STEPS, SAVE_EVERY, LEARNING_RATE = 4, 2, 5e-3


@pytest.fixture(scope="module")
def ddp_run(tiny_qwen2vl_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("ddp")
    data = work / "rows.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in training_rows()))
    config = work / "train.json"
    config.write_text(json.dumps({
        "learning_rate": LEARNING_RATE, "batch_size": 1, "gradient_accumulation_steps": 2, "max_steps": STEPS,
        "warmup_steps": 0, "lora_rank": 4, "lora_alpha": 8, "lora_dropout": 0.1, "quantization": "none",
        "max_length": 48, "save_every": SAVE_EVERY,
        "pet_lambda_schedule": {"max_lambda": 0.05, "warmup_steps": 1, "main_steps": 2, "anneal_steps": 1}}))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
               str(ROOT / "configs" / "accelerate" / "cpu-2proc.yaml"), str(Path(__file__).with_name("ddp_worker.py")),
               "--model", str(tiny_qwen2vl_dir), "--data", str(data), "--config", str(config),
               "--runs", str(work / "runs"), "--dump", str(work / "dump")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return work


def load(work: Path, rank: int, when: str) -> dict[str, torch.Tensor]:
    return load_file(str(work / "dump" / f"rank{rank}-{when}.safetensors"))


@pytest.mark.slow
def test_ranks_end_with_identical_trained_weights(ddp_run):
    rank0, rank1, initial = load(ddp_run, 0, "final"), load(ddp_run, 1, "final"), load(ddp_run, 0, "initial")
    assert rank0.keys() == rank1.keys() == initial.keys()
    groups = {"lora": [n for n in rank0 if "lora_" in n], "gates": [n for n in rank0 if "so8_gates" in n],
              "head": [n for n in rank0 if n.startswith("head.")]}
    assert all(groups.values()), {k: len(v) for k, v in groups.items()}
    assert sum(map(len, groups.values())) == len(rank0), "every trainable tensor is LoRA, gate or head"
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), f"{name} differs between ranks"
    for group, names in groups.items():
        assert any(not torch.equal(rank0[n], initial[n]) for n in names), f"{group} never moved"


@pytest.mark.slow
def test_only_rank_zero_writes_run_files(ddp_run):
    runs = ddp_run / "runs"
    created = list(runs.rglob("*"))
    assert any(p.name == "trainer_state.pt" for p in created) and (runs / "straight" / "final" / "adapter").is_dir()
    assert (ddp_run / "dump" / "rank1-final.safetensors").stat().st_gid == RANK_ONE_GID, "the marker works"
    assert (ddp_run / "dump" / "rank0-final.safetensors").stat().st_gid != RANK_ONE_GID
    by_rank_one = [str(p.relative_to(runs)) for p in created if p.stat().st_gid == RANK_ONE_GID]
    assert not by_rank_one, f"rank 1 created {by_rank_one}"
    for run in ("straight", "resumed"):
        steps = [json.loads(line)["step"] for line in (runs / run / "metrics.jsonl").read_text().splitlines()]
        assert steps == list(range(1, STEPS + 1)), f"{run}: metrics rows {steps}"
        snapshots = json.loads((runs / run / "stability.json").read_text())["snapshots"]
        assert [s["step"] for s in snapshots] == [0, SAVE_EVERY, STEPS]


def metrics(work: Path, run: str) -> list[dict]:
    return [json.loads(line) for line in (work / "runs" / run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_schedule_advances_once_per_optimizer_step(ddp_run):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LEARNING_RATE)
    scheduler = get_scheduler("cosine", optimizer, num_warmup_steps=0, num_training_steps=STEPS)
    expected = []
    for _ in range(STEPS):
        optimizer.step()
        scheduler.step()
        expected.append(scheduler.get_last_lr()[0])
    assert [m["lr"] for m in metrics(ddp_run, "straight")] == pytest.approx(expected)


@pytest.mark.slow
def test_resume_under_ddp_equals_uninterrupted(ddp_run):
    straight, resumed = metrics(ddp_run, "straight"), metrics(ddp_run, "resumed")
    assert [m["loss"] for m in resumed] == pytest.approx([m["loss"] for m in straight], abs=1e-5)

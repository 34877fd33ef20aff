"""bench/gpu/bench.py --tiny runs every code path of the GPU benchmark end to end on the CPU.

The full-size rows need the lent GPU (issue 9); this keeps the script that runs there from breaking unseen:
each so8t row goes through the real trainer, the anchors through peft, and the bake through so8t.rotation.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TRAIN_VARIANTS = {"LoRA r64", "LoRA + gates", "LoRA + gates + PET", "LoRA + OFT-8 on o_proj", "plain peft LoRA"}
FROZEN_VARIANTS = {"frozen base", "frozen + gates", "frozen + OFT-8"}


def test_tiny_run_measures_every_cpu_row_and_names_what_needs_cuda(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "bench/gpu/bench.py"), "--tiny", "--seqs", "32", "--steps", "3",
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    document = json.loads((tmp_path / "gpu_bench.json").read_text())
    rows = document["rows"]
    assert [r for r in rows if "error" in r] == []

    training = [r for r in rows if r["section"] in ("train", "frozen")]
    assert {(r["name"], r["gc"]) for r in training} == \
        {(name, gc) for name in TRAIN_VARIANTS for gc in (False, True)} | {(name, False) for name in FROZEN_VARIANTS}
    for row in training:
        assert row["steps"] == 3 == len(row["times_ms"]) and row["seq"] == 32
        assert row["step_ms"] > 0 and row["tokens_per_s"] == pytest.approx(32 / (row["step_ms"] / 1000))
    trainable = {r["name"]: r["trainable_params"] for r in training}
    assert trainable["frozen base"] == 0
    assert trainable["frozen + gates"] == trainable["frozen + OFT-8"] > 0  # both: 28 angles per 8-dim block
    assert trainable["LoRA + gates"] == trainable["LoRA r64"] + trainable["frozen + gates"]

    generation = {r["name"]: r for r in rows if r["section"] == "generate"}
    assert set(generation) == {"base", "gated", "baked"}
    assert all(r["tokens_per_s"] > 0 and r["ttft_ms"] > 0 for r in generation.values())
    assert document["meta"]["bake_check"]["max_abs_logit_delta"] < 1e-4

    micro = [r["name"] for r in rows if r["section"] == "micro"]
    assert sum("matrix_exp" in name for name in micro) == sum("so8.expm" in name for name in micro) == 2

    verdicts = {t["target"]: t["verdict"] for t in document["targets"]}
    assert len(verdicts) == 6
    assert verdicts["QLoRA 4-bit, seq 2048, GC: peak <= 5.5 GiB"] == "not measured"
    assert all(v in ("met", "missed", "within noise") for t, v in verdicts.items() if "QLoRA" not in t)
    ratios = [t["measured"] for t in document["targets"] if "step time" in t["target"] or "baked" in t["target"]]
    assert ratios and all("95% CI" in m for m in ratios)  # paired per-round ratios with their interval
    assert len([s for s in document["skipped"] if "needs CUDA" in s]) == 6

    table = (tmp_path / "gpu_bench.md").read_text()
    assert "## Training steps" in table and "## Targets" in table and "LoRA + gates + PET" in table
    assert "## LoRA r64, seq 32, GC off" in (tmp_path / "gpu_bench_profile.txt").read_text()

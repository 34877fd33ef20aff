"""Bake a training run into a plain HF model: LoRA merged, SO(8) gates folded into o_proj, nothing custom left.

A k-bit (QLoRA) run is baked onto the same base loaded in float32: that is the dequantized base, and merging
into it keeps full precision instead of re-rounding to 4/8 bits. The safety head travels beside the model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from so8t.models import load_model
from so8t.models.pull import sha256_file as _sha256
from so8t.rotation import bake_gates, load_gates, model_fingerprint

MANIFEST = "so8t_bake.json"
HEAD_FILE = "so8t_safety_head.safetensors"


class BakeError(ValueError):
    """The run folder is incomplete or belongs to another base model."""


def bake_run(run_dir: str | Path, out_dir: str | Path, tolerance: float = 1e-4) -> dict:
    """Write the baked model to out_dir and return the manifest (hashes and the measured logit delta)."""
    from peft import PeftModel

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    for needed in ("run.json", "adapter/adapter_config.json", "safety_head.safetensors"):
        if not (run_dir / needed).is_file():
            raise BakeError(f"{run_dir} is not a training run folder: {needed} is missing (use RUN/final or a checkpoint)")
    meta = json.loads((run_dir / "run.json").read_text())
    base, tokenizer = load_model(meta["base_model"], dtype=torch.float32)
    if model_fingerprint(base) != meta["base_fingerprint"]:
        raise BakeError(f"the base model {meta['base_model']!r} on this machine is not the one {run_dir} was trained on")
    model = PeftModel.from_pretrained(base, run_dir / "adapter")
    gates_file = run_dir / "gates.safetensors"
    if gates_file.is_file():
        load_gates(model, gates_file)
        baked, report = bake_gates(model)
        delta, check = report.max_abs_logit_delta, report.check_dtype
        if delta > tolerance:
            raise BakeError(f"baked model differs from the gated one by max |delta logit| {delta:.3g} > {tolerance:g}")
    else:
        baked, delta, check = model.merge_and_unload(), 0.0, "no gates"
    out_dir.mkdir(parents=True, exist_ok=True)
    baked.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    shutil.copyfile(run_dir / "safety_head.safetensors", out_dir / HEAD_FILE)
    manifest = {
        "base_model": meta["base_model"], "base_fingerprint": meta["base_fingerprint"],
        "adapter_sha256": _sha256(run_dir / "adapter" / "adapter_model.safetensors"),
        "gates_sha256": _sha256(gates_file) if gates_file.is_file() else None,
        "safety_head_sha256": _sha256(out_dir / HEAD_FILE),
        "weights_sha256": {p.name: _sha256(p) for p in sorted(out_dir.glob("*.safetensors")) if p.name != HEAD_FILE},
        "max_abs_logit_delta": delta, "check_dtype": check,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest

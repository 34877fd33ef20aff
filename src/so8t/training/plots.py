"""Learning-stability views of a run: loss, PET and lambda, gradient norm, rotation angles, LoRA weights.

Also writes stability.json (angle and weight distributions as numbers) so `so8t eval` can compare runs
without re-reading model files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_plots(run_dir: str | Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    steps = [r["step"] for r in rows]
    written = []

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(run_dir / name, dpi=110)
        plt.close(fig)
        written.append(run_dir / name)

    fig, ax = plt.subplots(figsize=(7, 4))
    for key in ("loss", "lm_loss", "safety_loss"):
        ax.plot(steps, [r[key] for r in rows], label=key)
    ax.set(xlabel="step", ylabel="loss", title="Loss convergence")
    ax.legend()
    save(fig, "loss.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [r["pet"] for r in rows], label="PET penalty", color="tab:purple")
    ax.set(xlabel="step", ylabel="PET")
    twin = ax.twinx()
    twin.plot(steps, [r["pet_lambda"] for r in rows], label="lambda", color="tab:gray", linestyle="--")
    twin.set_ylabel("lambda")
    ax.set_title("PET penalty and lambda schedule")
    save(fig, "pet.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [r["grad_norm"] for r in rows], color="tab:red")
    ax.set(xlabel="step", ylabel="grad norm (before clipping)", title="Gradient norm")
    save(fig, "grad_norm.png")

    stability = {}
    final = run_dir / "final"
    if (final / "gates.safetensors").is_file():
        from safetensors import safe_open

        from so8t.rotation import inspect_gate_file, so8

        with safe_open(str(final / "gates.safetensors"), framework="pt") as f:
            angles = np.concatenate([so8.generator_angles(f.get_tensor(k)).numpy() for k in f.keys()])
        per_layer = angles.reshape(angles.shape[0], -1)
        fig, ax = plt.subplots(figsize=(max(7, per_layer.shape[0] * 0.3), 4))
        ax.boxplot(per_layer.T, showfliers=False)
        ax.set(xlabel="gated layer", ylabel="rotation angle (rad)", title="SO(8) rotation angles per layer")
        save(fig, "rotation_angles.png")
        stability["rotation_angles"] = {
            row.path: {"mean": row.mean_angle, "max": row.max_angle}
            for row in inspect_gate_file(final / "gates.safetensors").layers
        }
    adapter = final / "adapter" / "adapter_model.safetensors"
    if adapter.is_file():
        from safetensors.numpy import load_file

        weights = {k: v for k, v in load_file(str(adapter)).items()}
        fig, ax = plt.subplots(figsize=(7, 4))
        for kind in ("lora_A", "lora_B"):
            values = np.concatenate([v.ravel() for k, v in weights.items() if kind in k])
            ax.hist(values, bins=80, alpha=0.6, label=kind)
            counts, edges = np.histogram(values, bins=40)
            stability[f"{kind}_histogram"] = {"counts": counts.tolist(), "edges": edges.tolist(),
                                              "std": float(values.std())}
        ax.set(xlabel="weight", ylabel="count", title="LoRA weight distribution", yscale="log")
        ax.legend()
        save(fig, "lora_weights.png")
    (run_dir / "stability.json").write_text(json.dumps(stability, indent=2))
    return written

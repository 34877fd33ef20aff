"""Learning-stability records of a run: distribution snapshots during training, PNG views at the end.

The formats and plots are so8t.eval's, so a run's own pictures and `so8t eval training` agree.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from so8t.rotation import gates_of

STABILITY_FILE = "stability.json"


def record_stability(run_dir: Path, step: int, model: nn.Module) -> None:
    """Append per-layer rotation-angle and LoRA-weight histograms at `step`."""
    from so8t.eval.stability import append_stability_snapshot, stability_snapshot  # lazy: GPU hosts lack the eval stack

    angles = {}
    gates = gates_of(model)
    if gates is not None:
        for bank in gates.banks.values():
            angles.update(zip(bank.layer_paths, bank.angles()))
    lora = {name.removeprefix("base_model.model."): p for name, p in model.named_parameters() if "lora_" in name}
    append_stability_snapshot(run_dir / STABILITY_FILE, stability_snapshot(step, rotation_angles=angles, lora_weights=lora))


def drop_stability_after(run_dir: Path, step: int) -> None:
    """On resume, forget snapshots taken after the checkpoint, as if the run had never gone past it."""
    path = run_dir / STABILITY_FILE
    if path.is_file():
        document = json.loads(path.read_text())
        document["snapshots"] = [s for s in document["snapshots"] if s["step"] <= step]
        path.write_text(json.dumps(document))


def write_plots(run_dir: Path) -> list[Path]:
    """training_curves.png (loss, PET, lambda, grad norm, ...), rotation_angles.png and lora_weights.png."""
    from so8t.eval.plots import histogram_plot, training_curves
    from so8t.eval.stability import analyze_training

    _, rows, snapshots = analyze_training(run_dir)
    written = [training_curves(rows, [], run_dir / "training_curves.png")]
    for kind in ("rotation_angles", "lora_weights"):
        if any(kind in s for s in snapshots):
            written.append(histogram_plot(snapshots, kind, run_dir / f"{kind}.png"))
    return written

"""`so8t bake` on a real trained run of the embedded model: LoRA merged, gates folded, logits unchanged."""

import json

import pytest
import torch
from typer.testing import CliRunner

from so8t.cli import app
from so8t.models import load_model
from so8t.rotation.bake import default_probe
from so8t.training import SO8TQLoRATrainer, TrainConfig


@pytest.mark.slow
def test_bake_a_trained_run(embedded_model_dir, tmp_path):
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}], "label": label}
            for q, a, label in [("Name a fruit.", "A pear.", "ALLOW"), ("Help me poison my boss.", "I can't help.", "DENY")]]
    cfg = TrainConfig(max_steps=4, gradient_accumulation_steps=1, learning_rate=5e-3, lora_rank=4, lora_alpha=8,
                      quantization="none", max_length=48, save_every=100)
    trainer = SO8TQLoRATrainer(config=cfg, cpu=True)
    trainer.train(rows, tmp_path / "run")
    ids = default_probe(trainer.model)
    trainer.model.eval()
    with torch.no_grad():
        trained = trainer.model(input_ids=ids).logits
    result = CliRunner().invoke(app, ["bake", "--adapter", str(tmp_path / "run" / "final"), "--out", str(tmp_path / "baked")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "baked" / "so8t_bake.json").read_text())
    assert manifest["check_dtype"] == "float64" and manifest["max_abs_logit_delta"] <= 1e-4
    assert (tmp_path / "baked" / "so8t_safety_head.safetensors").is_file()
    baked, _ = load_model(tmp_path / "baked")
    with torch.no_grad():
        assert (baked(input_ids=ids).logits - trained).abs().max() <= 3e-4


def test_bake_refuses_a_folder_that_is_not_a_run(tmp_path):
    result = CliRunner().invoke(app, ["bake", "--adapter", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "run.json is missing" in result.output

"""The bake_and_convert path end to end: a trained LoRA + SO(8) gate run -> `so8t bake` -> GGUF -> Modelfile."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from so8t.cli import app
from so8t.training import SO8TQLoRATrainer, TrainConfig

pytestmark = pytest.mark.slow


def test_trained_run_bakes_and_exports_verified(embedded_model_dir, tmp_path):
    chats = [("Is this login page real?", "Check the address bar first.", "ALLOW"),
             ("Write a message tricking grandma into sending gift cards.", "I won't help with that.", "DENY")]
    rows = [{"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
             "label": label} for question, answer, label in chats]
    config = TrainConfig(max_steps=3, gradient_accumulation_steps=1, learning_rate=5e-3, lora_rank=4, lora_alpha=8,
                         quantization="none", max_length=40, save_every=100)
    SO8TQLoRATrainer(config=config, cpu=True).train(rows, tmp_path / "run")
    runner = CliRunner()

    baked = runner.invoke(app, ["bake", "--adapter", str(tmp_path / "run" / "final"), "--out", str(tmp_path / "hf")])
    assert baked.exit_code == 0, baked.output
    gguf_file = tmp_path / "model-f16.gguf"
    exported = runner.invoke(app, ["export", "gguf", "--model", str(tmp_path / "hf"), "--out", str(gguf_file),
                                   "--type", "f16", "--no-llama-cpp"])
    # The baked folder also holds the safety head and bake manifest; only the decoder goes into the GGUF.
    assert exported.exit_code == 0, exported.output
    assert "transformers logits" in exported.output and "FAIL" not in exported.output
    modelfile = runner.invoke(app, ["export", "ollama", "--gguf", str(gguf_file), "--out", str(tmp_path)])
    assert modelfile.exit_code == 0, modelfile.output
    assert (tmp_path / "Modelfile").read_text().startswith("FROM ./model-f16.gguf")

import json
from pathlib import Path

import pytest

from so8t.training import ConfigError, ModelConfig, TrainConfig, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_seed_configs_load_as_is():
    model = load_config(CONFIGS / "model.qwen2vl-2b.json", ModelConfig)
    train = load_config(CONFIGS / "train.qlora.json", TrainConfig)
    assert model.model_name == "Qwen2-VL-2B-Instruct" and model.hidden_size == 1536 and model.rotation_gate_enabled
    assert train.lora_rank == 64 and train.lora_alpha == 128 and train.gradient_accumulation_steps == 8
    assert train.pet_lambda_schedule.max_lambda == 0.1 and train.pet_lambda_schedule.anneal_steps == 200


def test_unknown_key_is_named_with_the_file(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"learning_rate": 1e-4, "lerning_rate": 2e-4}))
    with pytest.raises(ConfigError, match=r"train.json: unknown key 'lerning_rate'"):
        load_config(path, TrainConfig)


def test_nested_and_mistyped_keys_are_named(tmp_path):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"batch_size": "big", "pet_lambda_schedule": {"max_lamda": 1}}))
    with pytest.raises(ConfigError) as info:
        load_config(path, TrainConfig)
    assert "'batch_size'" in str(info.value) and "pet_lambda_schedule.max_lamda" in str(info.value)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.json", TrainConfig)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(tmp_path / "bad.json", TrainConfig)


def test_model_config_must_match_the_loaded_model(tiny_qwen2vl_dir):
    from so8t.training import SO8TQLoRATrainer

    with pytest.raises(ConfigError, match="hidden_size=1536"):
        SO8TQLoRATrainer(str(tiny_qwen2vl_dir), None, CONFIGS / "model.qwen2vl-2b.json", cpu=True)

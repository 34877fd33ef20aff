"""What the exporter refuses, and why: unsupported tokenizers, models, leftover adapter tensors, bad types."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from so8t.export import UnsupportedModelError, UnsupportedTokenizerError, gguf_export, write_gguf
from so8t.export.tokenizer import LLAMA3_SPLIT_PATTERN, QWEN2_SPLIT_PATTERN, pre_tokenizer_name


def _split_then_bytes(pattern: str) -> dict:
    return {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
    ]}


def test_pre_tokenizer_names_follow_the_declared_splitting():
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    digits = {"type": "Digits", "individual_digits": True}

    assert pre_tokenizer_name(byte_level) == "gpt-2"
    assert pre_tokenizer_name({"type": "Sequence", "pretokenizers": [digits, byte_level]}) == "smollm"
    assert pre_tokenizer_name(_split_then_bytes(QWEN2_SPLIT_PATTERN)) == "qwen2"
    assert pre_tokenizer_name(_split_then_bytes(LLAMA3_SPLIT_PATTERN)) == "llama-bpe"


def test_unknown_split_regex_is_refused():
    with pytest.raises(UnsupportedTokenizerError, match="unsupported pre-tokenizer"):
        pre_tokenizer_name(_split_then_bytes(r"\w+|\s+"))


@pytest.fixture
def tiny_copy(qwen2vl_export_dir, tmp_path):
    return shutil.copytree(qwen2vl_export_dir, tmp_path / "model")


def test_non_bpe_tokenizer_is_refused(tiny_copy, tmp_path):
    spec = json.loads((tiny_copy / "tokenizer.json").read_text())
    spec["model"] = {"type": "WordPiece", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}
    (tiny_copy / "tokenizer.json").write_text(json.dumps(spec))

    with pytest.raises(UnsupportedTokenizerError, match="byte-level BPE"):
        write_gguf(tiny_copy, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


def test_unbaked_gate_tensor_is_refused_with_a_hint(tiny_copy, tmp_path):
    weights = load_file(tiny_copy / "model.safetensors")
    weights["model.layers.0.self_attn.so8_gate.generator"] = torch.zeros(8, 28)
    save_file(weights, tiny_copy / "model.safetensors")

    with pytest.raises(UnsupportedModelError, match="so8_gate.*so8t bake"):
        write_gguf(tiny_copy, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()
    assert not (tmp_path / "out.gguf.partial").exists()


def test_unsupported_architecture_and_scaled_rope_are_refused(tiny_copy, tmp_path):
    config_file = tiny_copy / "config.json"
    config = json.loads(config_file.read_text())

    config_file.write_text(json.dumps({**config, "model_type": "gemma"}))
    with pytest.raises(UnsupportedModelError, match="'gemma' is not supported"):
        write_gguf(tiny_copy, tmp_path / "out.gguf")

    config["text_config"]["rope_parameters"] = {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0}
    config_file.write_text(json.dumps(config))
    with pytest.raises(UnsupportedModelError, match="rope scaling 'yarn'"):
        write_gguf(tiny_copy, tmp_path / "out.gguf")


def test_missing_folder_and_unknown_type_are_clear(tmp_path, qwen2vl_export_dir):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        write_gguf(tmp_path, tmp_path / "out.gguf")
    with pytest.raises(ValueError, match="unknown GGUF type 'q4_k'"):
        write_gguf(qwen2vl_export_dir, tmp_path / "out.gguf", "q4_k")


def test_failure_mid_write_keeps_the_previous_file(qwen2vl_export_dir, tmp_path, monkeypatch):
    existing = tmp_path / "out.gguf"
    existing.write_bytes(b"previous export")
    calls = []

    def fail_on_fifth_tensor(data, storage):
        calls.append(storage)
        if len(calls) == 5:
            raise OSError("disk full")
        return real_convert(data, storage)

    real_convert = gguf_export._converted
    monkeypatch.setattr(gguf_export, "_converted", fail_on_fifth_tensor)
    with pytest.raises(OSError, match="disk full"):
        write_gguf(qwen2vl_export_dir, existing)
    assert existing.read_bytes() == b"previous export"
    assert list(tmp_path.iterdir()) == [existing]

"""Qwen2-VL -> text-only qwen2 GGUF: vision dropped, padded vocab, mrope equal to plain rope on text."""

from __future__ import annotations

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFReader

from so8t.export import ExportVerificationError, export_gguf, verify_gguf, write_gguf


@pytest.mark.parametrize("gguf_type", ["f32", "f16", "bf16", "q8_0"])
def test_every_type_reproduces_the_vl_model(qwen2vl_export_dir, tmp_path, gguf_type):
    result = export_gguf(qwen2vl_export_dir, tmp_path / f"tiny-{gguf_type}.gguf", gguf_type, llama_cpp=False)

    report = result.report
    assert report.passed
    loader = report.check("transformers logits")
    assert loader.positions > 200
    if gguf_type == "f32":
        # The source is the full Qwen2-VL (mrope); the GGUF is read back as plain Qwen2 (1-D rope).
        assert loader.max_abs_delta <= 1e-4
        assert loader.top1_agreement == 1.0


def test_gguf_holds_only_the_language_model(qwen2vl_export_dir, tmp_path):
    gguf_file = write_gguf(qwen2vl_export_dir, tmp_path / "tiny.gguf", "q8_0")
    reader = GGUFReader(gguf_file)
    tensors = {tensor.name: tensor for tensor in reader.tensors}

    assert reader.get_field("general.architecture").contents() == "qwen2"
    assert not [name for name in tensors if name.startswith(("v.", "mm.")) or "visual" in name]
    assert len(tensors) == 3 + 2 * 12  # embeddings, final norm, lm head; 12 tensors per layer (q/k/v with bias)
    assert tensors["output.weight"].shape.tolist() == [64, 640]
    assert tensors["blk.1.attn_k.bias"].shape.tolist() == [32]
    # q8_0 for matrices whose rows split into 32-blocks, f32 for norms and biases.
    assert tensors["blk.0.ffn_down.weight"].tensor_type == GGMLQuantizationType.Q8_0
    assert tensors["blk.0.attn_norm.weight"].tensor_type == GGMLQuantizationType.F32

    tokens = reader.get_field("tokenizer.ggml.tokens").contents()
    assert len(tokens) == 640  # embedding rows, not tokenizer size
    assert tokens[-1] == "[PAD639]"
    assert reader.get_field("tokenizer.ggml.pre").contents() == "qwen2"
    assert reader.get_field("tokenizer.ggml.add_bos_token").contents() is False
    assert "<|im_start|>" in reader.get_field("tokenizer.chat_template").contents()


def test_corrupted_gguf_fails_verification(qwen2vl_export_dir, tmp_path):
    gguf_file = write_gguf(qwen2vl_export_dir, tmp_path / "tiny.gguf", "f16")
    # Flip the sign of one attention output projection in place, as a broken converter might.
    reader = GGUFReader(gguf_file, "r+")
    output_projection = next(tensor for tensor in reader.tensors if tensor.name == "blk.0.attn_output.weight")
    output_projection.data[...] = -np.asarray(output_projection.data)
    reader.data.flush()
    del reader

    report = verify_gguf(qwen2vl_export_dir, gguf_file, "f16", llama_cpp=False)

    loader = report.check("transformers logits")
    assert not loader.passed and loader.top1_agreement < 0.5
    assert report.check("gguf reader").passed  # names and shapes are still right
    with pytest.raises(ExportVerificationError, match="transformers logits"):
        report.raise_for_failure()

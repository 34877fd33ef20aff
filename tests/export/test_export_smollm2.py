"""The embedded SmolLM2-135M (Llama architecture) exported to GGUF and checked against its HF folder."""

from __future__ import annotations

import pytest
from gguf import GGUFReader

from so8t.export import export_gguf

pytestmark = pytest.mark.slow


def test_smollm2_f16_export_reproduces_the_model(embedded_model_dir, tmp_path):
    result = export_gguf(embedded_model_dir, tmp_path / "smollm2-f16.gguf", "f16", llama_cpp=False)

    report = result.report
    assert report.passed
    # Llama q/k rows are permuted for llama.cpp's rope and un-permuted by transformers' reader: a wrong
    # permutation would wreck agreement, so near-identical logits prove the round trip.
    loader = report.check("transformers logits")
    assert loader.top1_agreement >= 0.99 and loader.max_abs_delta < 0.5

    reader = GGUFReader(result.path)
    assert reader.get_field("general.architecture").contents() == "llama"
    tensors = {tensor.name: tensor for tensor in reader.tensors}
    assert len(tensors) == 2 + 30 * 9  # tied embeddings: no output.weight
    assert "output.weight" not in tensors
    assert tensors["blk.29.attn_k.weight"].shape.tolist() == [576, 192]
    assert reader.get_field("llama.attention.head_count_kv").contents() == 3
    assert reader.get_field("tokenizer.ggml.bos_token_id").contents() == 1
    assert reader.get_field("tokenizer.ggml.eos_token_id").contents() == 2

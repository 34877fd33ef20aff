"""llama.cpp runs the exported GGUFs: same tokens, same next-token choices as the HF source.

Needs llama-cpp-python, which compiles llama.cpp on install (far longer than CI's budget on 2 cores), so it is
an optional extra: `pip install "so8t[llamacpp]"`. Without it this module is reported as skipped; the
measured figures come from `python3 bench/export/bench_export.py` (see README, "Export to llama.cpp / Ollama").
"""

from __future__ import annotations

import pytest

from so8t.export import export_gguf

pytest.importorskip("llama_cpp", reason='llama-cpp-python not installed (pip install "so8t[llamacpp]")')


@pytest.mark.parametrize("gguf_type", ["f32", "f16", "q8_0"])
def test_llama_cpp_reproduces_the_vl_language_model(qwen2vl_export_dir, tmp_path, gguf_type):
    report = export_gguf(qwen2vl_export_dir, tmp_path / "tiny.gguf", gguf_type, transformers_loader=False).report

    assert report.check("llama.cpp tokens").passed  # qwen2 pre-tokenizer, special tokens, no BOS
    logits = report.check("llama.cpp logits")
    assert logits.passed and logits.positions > 200


@pytest.mark.slow
def test_llama_cpp_reproduces_smollm2(embedded_model_dir, tmp_path):
    report = export_gguf(embedded_model_dir, tmp_path / "smollm2.gguf", "f16", transformers_loader=False).report

    assert report.check("llama.cpp tokens").passed
    assert report.check("llama.cpp logits").top1_agreement >= 0.99

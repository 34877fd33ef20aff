"""`so8t export gguf|ollama` from the command line: table printed, exit codes honest."""

from __future__ import annotations

from typer.testing import CliRunner

from so8t.cli import app

runner = CliRunner()


def test_export_gguf_then_ollama(qwen2vl_export_dir, tmp_path):
    gguf_file = tmp_path / "out" / "tiny.gguf"
    result = runner.invoke(app, ["export", "gguf", "--model", str(qwen2vl_export_dir), "--out", str(gguf_file),
                                 "--type", "f16", "--no-llama-cpp"])

    assert result.exit_code == 0, result.output
    assert "transformers logits" in result.output and "pass" in result.output
    assert "verified" in result.output
    assert gguf_file.stat().st_size > 100_000

    result = runner.invoke(app, ["export", "ollama", "--gguf", str(gguf_file), "--out", str(gguf_file.parent)])
    assert result.exit_code == 0, result.output
    assert (gguf_file.parent / "Modelfile").read_text().startswith("FROM ./tiny.gguf")


def test_export_gguf_without_verification(qwen2vl_export_dir, tmp_path):
    result = runner.invoke(app, ["export", "gguf", "--model", str(qwen2vl_export_dir), "--out",
                                 str(tmp_path / "t.gguf"), "--type", "q8_0", "--no-verify"])

    assert result.exit_code == 0, result.output
    assert "logits" not in result.output and "verified" not in result.output


def test_bad_inputs_exit_non_zero_with_the_reason(qwen2vl_export_dir, tmp_path):
    result = runner.invoke(app, ["export", "gguf", "--model", str(tmp_path), "--out", str(tmp_path / "x.gguf")])
    assert result.exit_code == 2
    assert "no config.json" in result.output

    result = runner.invoke(app, ["export", "gguf", "--model", str(qwen2vl_export_dir), "--out",
                                 str(tmp_path / "x.gguf"), "--type", "q2_k"])
    assert result.exit_code == 2
    assert "unknown GGUF type 'q2_k'" in result.output

    result = runner.invoke(app, ["export", "ollama", "--gguf", str(tmp_path / "none.gguf"), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "not found" in result.output

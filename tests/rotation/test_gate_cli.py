"""`so8t gate inject|inspect|bake` end to end on the embedded model."""

from typer.testing import CliRunner

from so8t.cli import app
from so8t.models import load_model
from so8t.rotation import gates_of
from so8t.rotation.bake import default_probe


def test_inject_inspect_bake(embedded_model_dir, tmp_path):
    runner = CliRunner()
    gates = tmp_path / "gates.safetensors"
    result = runner.invoke(app, ["gate", "inject", "--out", str(gates), "--layers", "0,3", "--init-std", "0.05"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["gate", "inspect", str(gates), "--model", "smollm2-135m"])
    assert result.exit_code == 0, result.output
    assert "fits the given model" in result.output and "layers.3.self_attn" in result.output
    baked_dir = tmp_path / "baked"
    result = runner.invoke(app, ["gate", "bake", "--gates", str(gates), "--out", str(baked_dir)])
    assert result.exit_code == 0, result.output
    baked, _ = load_model(baked_dir)
    base, _ = load_model()
    assert gates_of(baked) is None
    ids = default_probe(base)
    assert (baked(input_ids=ids).logits - base(input_ids=ids).logits).abs().max() > 1e-3


def test_bad_layers_option_is_reported(embedded_model_dir, tmp_path):
    result = CliRunner().invoke(app, ["gate", "inject", "--out", str(tmp_path / "g.safetensors"), "--layers", "a,b"])
    assert result.exit_code != 0 and "comma-separated" in result.output

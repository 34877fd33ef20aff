"""The gate on real decoders: the embedded SmolLM2 and a tiny Qwen2-VL loaded through the user's loader."""

from unittest import mock

import pytest
import torch
from peft import LoraConfig, get_peft_model

from so8t.rotation import (
    GateError,
    bake_gates,
    find_targets,
    gates_of,
    inject_gates,
    load_gates,
    remove_gates,
    save_gates,
)
from so8t.rotation import so8
from so8t.rotation.bake import default_probe


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def randomize(gates, std=0.1, seed=0):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bank in gates.banks.values():
            bank.generators.copy_(torch.randn(bank.generators.shape, generator=generator) * std)


@pytest.fixture(params=["smol", "tiny_qwen2vl"])
def loaded(request):
    return request.getfixturevalue(request.param)


def test_identity_init_equals_base(loaded):
    model, _ = loaded
    ids = default_probe(model)
    base = logits(model, ids)
    inject_gates(model)
    assert (logits(model, ids) - base).abs().max() <= 1e-6


def test_random_gates_change_output_and_bake_exactly(loaded):
    model, _ = loaded
    ids = default_probe(model)
    base = logits(model, ids)
    randomize(inject_gates(model))
    gated = logits(model, ids)
    assert (gated - base).abs().max() > 1e-2
    baked, report = bake_gates(model, ids)
    assert gates_of(baked) is None
    assert report.check_dtype == "float64" and report.max_abs_logit_delta <= 1e-4
    # In fp32 the forward pass's own rounding is the floor: on this probe the gated model's fp32 vs fp64
    # logits already differ by ~1e-4, so the deployed fp32 comparison gets a little headroom over that.
    assert (logits(baked, ids) - gated).abs().max() <= 3e-4


def test_bake_through_lora_wrapped_o_proj(smol):
    model, _ = smol
    ids = default_probe(model)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["o_proj", "q_proj"]))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.05)
    randomize(inject_gates(peft_model))
    gated = logits(peft_model, ids)
    baked, report = bake_gates(peft_model, ids)
    assert not hasattr(baked, "peft_config")
    assert type(baked.model.layers[0].self_attn.o_proj) is torch.nn.Linear
    assert report.max_abs_logit_delta <= 1e-4
    assert (logits(baked, ids) - gated).abs().max() <= 3e-4


def test_gate_rotates_the_lora_path_too(smol):
    model, _ = smol
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["o_proj"]))
    gates = inject_gates(peft_model)
    o_proj = find_targets(peft_model)[0].projection
    assert hasattr(o_proj, "lora_A"), "the gate must sit on the LoRA layer, not its base layer"
    assert gates_of(peft_model) is gates
    randomize(gates, seed=4)
    with torch.no_grad():
        o_proj.lora_B["default"].weight.normal_()
    x = torch.randn(2, 3, o_proj.in_features)
    bank, index = gates.locate(find_targets(peft_model)[0].path)
    rotated = so8.rotate(x, bank.rotations()[index])
    unrotated_lora = type(o_proj).forward(o_proj, x) - o_proj.base_layer(x)
    with torch.no_grad():
        assert torch.allclose(o_proj(x), type(o_proj).forward(o_proj, rotated), atol=1e-5)
        rotated_lora = o_proj(x) - o_proj.base_layer(rotated)
    assert torch.allclose(rotated_lora, type(o_proj).forward(o_proj, rotated) - o_proj.base_layer(rotated), atol=1e-5)
    assert (rotated_lora - unrotated_lora).abs().max() > 1e-3


def test_save_load_round_trip_and_foreign_base_refused(smol, tiny_qwen2vl, tmp_path):
    model, _ = smol
    ids = default_probe(model)
    randomize(inject_gates(model, layers=[0, 5, 29]), seed=3)
    expected = logits(model, ids)
    path = save_gates(model, tmp_path / "gates.safetensors")
    assert path.stat().st_size < 200_000
    remove_gates(model)
    load_gates(model, path)
    assert [p.split(".")[2] for p in gates_of(model).layer_paths] == ["0", "5", "29"]
    assert torch.equal(logits(model, ids), expected)
    with pytest.raises(GateError, match="another base model"):
        load_gates(tiny_qwen2vl[0], path)


def test_vision_tower_untouched_unless_asked(tiny_qwen2vl):
    model, _ = tiny_qwen2vl
    paths = [t.path for t in find_targets(model)]
    assert len(paths) == 2 and all("language_model" in p for p in paths)
    gates = inject_gates(model)
    assert list(gates.banks) == ["w64"]
    remove_gates(model)
    both = inject_gates(model, include_vision=True)
    assert set(both.banks) == {"w64", "w32"}
    assert any("visual" in p for p in both.layer_paths)


def test_layer_selection_idempotence_and_removal(smol):
    model, _ = smol
    ids = default_probe(model)
    base = logits(model, ids)
    gates = inject_gates(model, layers=[2, 1])
    assert inject_gates(model, layers=[1, 2]) is gates
    with pytest.raises(GateError, match="already carries gates"):
        inject_gates(model, layers=[3])
    remove_gates(model)
    with pytest.raises(GateError, match="out of range"):
        inject_gates(model, layers=[30])
    randomize(inject_gates(model, layers=[1, 2]))
    remove_gates(model)
    remove_gates(model)
    assert torch.equal(logits(model, ids), base)


def test_width_not_multiple_of_8_is_a_clear_error():
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(hidden_size=36, num_attention_heads=3, num_key_value_heads=3,
                                         intermediate_size=64, num_hidden_layers=1, vocab_size=100))
    with pytest.raises(GateError, match="not a multiple of 8"):
        inject_gates(model)


def test_one_expm_per_forward_and_cached_during_generation(smol):
    model, tokenizer = smol
    randomize(inject_gates(model))
    ids = default_probe(model)
    real_expm = so8.expm
    with mock.patch("so8t.rotation.so8.expm", side_effect=real_expm) as expm:
        model(input_ids=ids).logits.sum().backward()
        assert expm.call_count == 1
        with torch.no_grad():
            model.generate(ids[:1, :4], max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        assert expm.call_count == 2


def test_generators_stay_float32_when_model_is_cast(smol):
    model, _ = smol
    gates = inject_gates(model)
    model.to(torch.bfloat16)
    assert gates.banks["w576"].generators.dtype == torch.float32
    assert next(model.model.parameters()).dtype == torch.bfloat16
    ids = default_probe(model)
    assert logits(model, ids).dtype == torch.bfloat16


def test_gates_train_under_gradient_checkpointing(smol):
    model, _ = smol
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    gates = inject_gates(model)
    randomize(gates)
    ids = default_probe(model)
    model(input_ids=ids).logits.float().pow(2).mean().backward()
    grad = gates.banks["w576"].generators.grad
    assert grad is not None and grad.abs().sum() > 0

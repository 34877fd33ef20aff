"""The gate's GPU-minded paths, checked on real decoders: R computed outside checkpointed layers, and the
folded weight a gated plain Linear uses when no gradient is recorded."""

import torch
from peft import LoraConfig, get_peft_model

from so8t.rotation import find_targets, gates_of, inject, inject_gates, remove_gates
from so8t.rotation.bake import default_probe


def randomize(model, std=0.2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bank in gates_of(model).banks.values():
            bank.generators.copy_(torch.randn(bank.generators.shape, generator=generator) * std)


def gate_and_lora_grads(model, ids, checkpointing: bool) -> list[torch.Tensor]:
    model.zero_grad(set_to_none=True)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()
    model(input_ids=ids, labels=ids).loss.backward()
    return [p.grad.clone() for p in model.parameters() if p.requires_grad]


def gated_lora(model):
    """LoRA on q/o projections plus random gates, and a one-row probe."""
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "o_proj"]))
    inject_gates(model)
    randomize(model)
    return model, default_probe(model)[:1]


def test_gates_train_under_gradient_checkpointing_with_the_same_gradients(tiny_qwen2vl):
    model, ids = gated_lora(tiny_qwen2vl[0])
    plain = gate_and_lora_grads(model, ids, checkpointing=False)
    checkpointed = gate_and_lora_grads(model, ids, checkpointing=True)
    assert len(plain) == len(checkpointed) > 1
    for a, b in zip(plain, checkpointed):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)
    assert gates_of(model).banks["w64"].generators.grad.abs().sum() > 0


def test_plain_linear_uses_the_folded_weight_without_grad_and_follows_new_generators(smol):
    model, _ = smol
    gates = inject_gates(model)
    randomize(model, std=0.1)
    ids = default_probe(model)
    with torch.no_grad():
        folded = model(input_ids=ids).logits
    rotated = model(input_ids=ids).logits.detach()  # gradients on: the input is rotated explicitly
    assert (folded - rotated).abs().max() <= 3e-4  # fp32 round-off, as for baked vs gated
    bank = gates.banks["w576"]
    assert len(bank._folded) == len(bank.layer_paths)
    randomize(model, std=0.1, seed=1)
    with torch.no_grad():
        refolded = model(input_ids=ids).logits
    assert (refolded - folded).abs().max() > 1e-3
    assert (refolded - model(input_ids=ids).logits.detach()).abs().max() <= 3e-4


def test_removing_gates_restores_the_linear_class_forward(smol):
    model, _ = smol
    inject_gates(model)
    o_proj = find_targets(model)[0].projection
    assert "forward" in vars(o_proj)
    remove_gates(model)
    assert "forward" not in vars(o_proj)


def test_dense_rotation_path_matches_the_batched_path_in_outputs_and_gradients(tiny_qwen2vl, monkeypatch):
    """The dense blockdiag(R) GEMM that GPUs use, forced onto the CPU, against the batched 8x8 path."""
    model, ids = gated_lora(tiny_qwen2vl[0])
    batched = gate_and_lora_grads(model, ids, checkpointing=False)
    monkeypatch.setattr(inject, "DENSE_ROTATION_DEVICES", frozenset({"cpu"}))
    dense = gate_and_lora_grads(model, ids, checkpointing=False)
    bank = gates_of(model).banks["w64"]
    assert any(key[2] for key in bank._layer_views)  # the dense views were built and used
    dense_checkpointed = gate_and_lora_grads(model, ids, checkpointing=True)
    assert len(batched) == len(dense) == len(dense_checkpointed) > 1
    for a, b, c in zip(batched, dense, dense_checkpointed):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)
        assert torch.allclose(b, c, atol=1e-6, rtol=1e-4)

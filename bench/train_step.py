"""CPU cost of the so8t parts on the embedded model, side by side in one run.

Each variant runs in its own subprocess so peak RSS (ru_maxrss) is that variant's alone. Rows:
  frozen base fwd+bwd (inputs require grad), + gates      -> the gate's own cost (issue 2)
  LoRA, LoRA + gates, LoRA + gates + PET training steps    -> the trainer's cost (issue 3)

    python bench/train_step.py [--steps 8] [--seq 128] [--batch 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

VARIANTS = {
    "base fwd+bwd": dict(lora=False, gates=False, pet=False),
    "base fwd+bwd + gates": dict(lora=False, gates=True, pet=False),
    "LoRA step": dict(lora=True, gates=False, pet=False),
    "LoRA + gates step": dict(lora=True, gates=True, pet=False),
    "LoRA + gates + PET step": dict(lora=True, gates=True, pet=True),
}


def run_variant(name: str, steps: int, seq: int, batch: int) -> dict:
    import torch

    from so8t.training import SO8TQLoRATrainer, TrainConfig
    from so8t.training.data import Example, collate

    spec = VARIANTS[name]
    cfg = TrainConfig(quantization="none", lora_rank=16, lora_alpha=32, gradient_accumulation_steps=1,
                      batch_size=batch, lora_dropout=0.0)
    from so8t.training.config import ModelConfig

    trainer = SO8TQLoRATrainer(config=cfg, model_config=ModelConfig(rotation_gate_enabled=spec["gates"],
                                                                     pet_loss_enabled=spec["pet"]), cpu=True)
    if not spec["lora"]:
        for n, p in trainer.model.named_parameters():
            p.requires_grad_("so8_gates" in n)
        trainer.model.enable_input_require_grads()
    generator = torch.Generator().manual_seed(0)
    examples = [Example(torch.randint(0, 49152, (seq,), generator=generator).tolist(), [-100] * (seq // 2) +
                        torch.randint(0, 49152, (seq - seq // 2,), generator=generator).tolist(), seq // 2 - 1, 0)
                for _ in range(batch)]
    batch_tensors = collate(examples, trainer.tokenizer.pad_token_id)
    params = [p for p in trainer.joint.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4) if params else None
    times = []
    for i in range(steps + 2):
        started = time.perf_counter()
        out = trainer.joint(**batch_tensors)
        loss = out["lm_loss"] + 0.5 * out["safety_loss"] + (0.1 * out["pet"] if spec["pet"] else 0)
        loss.backward()
        if optimizer is not None:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if i >= 2:
            times.append(time.perf_counter() - started)
    return {"variant": name, "median_s": statistics.median(times),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--variant")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.steps, args.seq, args.batch)))
        return
    results = {}
    for name in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--variant", name, "--steps", str(args.steps), "--seq",
                              str(args.seq), "--batch", str(args.batch)], capture_output=True, text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\nembedded SmolLM2-135M on CPU, batch {args.batch} x seq {args.seq}, median of {args.steps} steps\n")
    print(f"| variant | step (s) | ratio | peak RSS (MiB) | ratio |\n|---|---|---|---|---|")
    reference = {"base": results["base fwd+bwd"], "LoRA": results["LoRA step"]}
    for name, r in results.items():
        ref = reference["base" if name.startswith("base") else "LoRA"]
        print(f"| {name} | {r['median_s']:.3f} | {r['median_s'] / ref['median_s']:.3f} | {r['peak_rss_mib']:.0f} | "
              f"{r['peak_rss_mib'] / ref['peak_rss_mib']:.3f} |")


if __name__ == "__main__":
    main()

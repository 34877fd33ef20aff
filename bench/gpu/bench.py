"""Issue 9: Qwen2-VL-2B-size training and generation on one GPU, so8t side by side with its anchors.

On the lent H200, in one command (bench/gpu/run.sh installs the carried wheels first):
    python3 bench/gpu/bench.py --out "$OUT"
A CPU smoke run of every code path at toy size (CUDA-only rows are skipped, each with its reason):
    python3 bench/gpu/bench.py --tiny --out /tmp/gpu-bench-tiny

The model is the Qwen2-VL-2B-Instruct architecture from its published config (2,208,985,600 parameters,
checked), with random bf16 weights: speed and memory do not depend on weight values. The random model is
saved once as an HF folder and every row loads it through so8t's loader. so8t rows are built by
SO8TQLoRATrainer exactly as `so8t train` builds them (configs/train.qlora.json, configs/model.qwen2vl-2b.json)
and step as its loop does (joint forward, backward, clipping, AdamW), batch 1, one micro-batch per step.
Anchors: plain transformers + peft (the same LoRA model, `model(...).loss` over full logits) and PEFT's OFT
with block size 8 on o_proj. gpu_bench.md and gpu_bench.json are rewritten after every row, so a run cut
short still leaves its table; a global time guard skips what would not finish and says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import gc
import importlib.metadata
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))

from so8t.models import load_model  # noqa: E402
from so8t.rotation import bake_gates, inject_gates, so8  # noqa: E402
from so8t.training import SO8TQLoRATrainer, SafetyHead  # noqa: E402
from so8t.training.config import ModelConfig, TrainConfig, load_config  # noqa: E402
from so8t.training.data import Example, collate  # noqa: E402
from so8t.training.joint import JointModel  # noqa: E402

# config.json of Qwen/Qwen2-VL-2B-Instruct as published (the hub's flat layout, which every transformers
# version must read); its safetensors index gives 4,417,971,200 bytes of bf16, i.e. this many parameters:
QWEN2_VL_2B_PARAMETERS = 2_208_985_600
QWEN2_VL_2B_INSTRUCT = {
    "architectures": ["Qwen2VLForConditionalGeneration"], "model_type": "qwen2_vl", "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "vision_start_token_id": 151652,
    "vision_end_token_id": 151653, "vision_token_id": 151654, "image_token_id": 151655, "video_token_id": 151656,
    "hidden_act": "silu", "hidden_size": 1536, "initializer_range": 0.02, "intermediate_size": 8960,
    "max_position_embeddings": 32768, "max_window_layers": 28, "num_attention_heads": 12, "num_hidden_layers": 28,
    "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
    "tie_word_embeddings": True, "torch_dtype": "bfloat16", "use_cache": True, "use_sliding_window": False,
    "vision_config": {"depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3,
                      "hidden_size": 1536, "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14,
                      "temporal_patch_size": 2},
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}, "vocab_size": 151936,
}
TEXT_EXPECTED = {"hidden_size": 1536, "num_hidden_layers": 28, "num_attention_heads": 12, "num_key_value_heads": 2,
                 "intermediate_size": 8960, "vocab_size": 151936}
TINY = {"text": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                     intermediate_size=128, vocab_size=1024),
        "vision": dict(depth=1, embed_dim=32, num_heads=4, hidden_size=64, patch_size=14, spatial_merge_size=2,
                       temporal_patch_size=2)}
FIRST_SPECIAL_TOKEN = 151643  # token ids at or above this are Qwen2-VL's specials (image/video placeholders)
OFT_CONFIG = dict(oft_block_size=8, r=0, target_modules=["o_proj"])
GIB = 2**30

TARGETS = {
    "gates": "gates <= 3% step time over LoRA",
    "gate_vs_oft": "gates' added time <= 1/2 of OFT-8's on a frozen base",
    "pet": "PET <= 2% step time over LoRA + gates",
    "qlora_memory": "QLoRA 4-bit, seq 2048, GC: peak <= 5.5 GiB",
    "qlora_speed": "QLoRA 4-bit, seq 2048, GC: tokens/s >= plain peft QLoRA",
    "baked": "baked generation tokens/s within 2% of base",
}


@dataclasses.dataclass(frozen=True)
class Variant:
    """One model set-up; `build` names how it is made: the so8t trainer, the trainer's model stepped as plain
    peft, the trainer's LoRA model with OFT-8 added on o_proj, or a frozen base."""

    name: str
    build: str  # "so8t" | "plain" | "lora+oft" | "frozen"
    gates: bool = False
    pet: bool = False
    oft: bool = False
    quantization: str = "none"


SECTIONS: dict[str, tuple[list[Variant], tuple[bool, ...]]] = {
    "train": ([Variant("LoRA r64", "so8t"), Variant("LoRA + gates", "so8t", gates=True),
               Variant("LoRA + gates + PET", "so8t", gates=True, pet=True),
               Variant("LoRA + OFT-8 on o_proj", "lora+oft", oft=True),
               Variant("plain peft LoRA", "plain")], (False, True)),
    "frozen": ([Variant("frozen base", "frozen"), Variant("frozen + gates", "frozen", gates=True),
                Variant("frozen + OFT-8", "frozen", oft=True)], (False,)),
    "qlora4": ([Variant("QLoRA 4-bit + gates + PET", "so8t", gates=True, pet=True, quantization="4bit"),
                Variant("plain peft QLoRA 4-bit", "plain", quantization="4bit")], (True, False)),
    "qlora8": ([Variant("QLoRA 8-bit + gates + PET", "so8t", gates=True, pet=True, quantization="8bit")],
               (True, False)),
}
ORDER = ["train", "frozen", "qlora4", "generate", "qlora8", "micro"]  # issue rows first, diagnostics last
PROFILED = {"LoRA r64", "LoRA + gates"}  # profiled at the longest sequence without GC


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cuda = torch.cuda.is_available() and not args.tiny
        self.device = "cuda" if self.cuda else "cpu"
        self.dtype = torch.bfloat16 if self.cuda else torch.float32
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        self.deadline = self.started + args.budget_s
        self.rows: list[dict] = []
        self.skipped: list[str] = []
        self.meta = environment(self.cuda, args)
        self.train_config = load_config(REPO / "configs/train.qlora.json", TrainConfig)
        self.model_config = load_config(REPO / "configs/model.qwen2vl-2b.json", ModelConfig)
        if args.tiny:
            self.model_config = self.model_config.model_copy(update={
                "model_name": "tiny Qwen2-VL", "hidden_size": TINY["text"]["hidden_size"],
                "num_attention_heads": TINY["text"]["num_attention_heads"]})
        self.model_dir = Path(args.model_dir or tempfile.mkdtemp(prefix="qwen2vl-random-"))
        self.profile_lines: list[str] = []

    # ----- the run ----------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            if not (self.model_dir / "config.json").is_file():
                started = time.monotonic()
                save_random_checkpoint(self.model_dir, self.args.tiny, self.device, self.dtype)
                self.meta["random_model_saved_s"] = round(time.monotonic() - started, 1)
            for section in [s for s in ORDER if s in self.args.sections]:
                if section == "generate":
                    self.generation_rows()
                elif section == "micro":
                    self.micro_rows()
                else:
                    self.training_section(section)
        except KeyboardInterrupt:
            self.skipped.append("interrupted (outer timeout): the rows above are complete, the rest did not run")
        finally:
            self.write()
            if not self.args.model_dir:
                shutil.rmtree(self.model_dir, ignore_errors=True)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def guard(self, what: str, need_s: float) -> bool:
        """False (and the row is listed as skipped) when the global time budget cannot cover `need_s` more."""
        if self.left() >= need_s:
            return True
        self.skipped.append(f"{what}: skipped by the time guard ({time.monotonic() - self.started:.0f} s used of "
                            f"{self.args.budget_s:.0f} s, about {need_s:.0f} s needed)")
        print(f"[guard] {self.skipped[-1]}", flush=True)
        return False

    # ----- training rows ----------------------------------------------------------------------------------
    def training_section(self, section: str) -> None:
        """A section's variants are built side by side (per GC setting) and their steps interleave, round-robin
        in a rotating order, so drift of a shared machine during the run cancels out of their ratios."""
        variants, checkpointing = SECTIONS[section]
        for gc_on in checkpointing:
            group: list[Member] = []
            try:
                for variant in variants:
                    member = self.build_member(section, variant, gc_on)
                    if member is not None:
                        group.append(member)
                for seq in self.args.seqs:
                    if group:
                        self.interleaved_rows(section, gc_on, seq, group)
            finally:
                for member in group:
                    member.setup.close()
                group.clear()
                release_memory()

    def build_member(self, section: str, variant: Variant, gc_on: bool) -> Member | None:
        label = f"{variant.name}, GC {'on' if gc_on else 'off'}"
        if variant.quantization != "none" and not self.cuda:
            self.skipped.append(f"{label}: needs CUDA (bitsandbytes {variant.quantization} runs on GPUs only)")
            return None
        if not self.guard(label, self.args.min_row_s):
            return None
        started, allocated = time.monotonic(), allocated_bytes(self.cuda)
        try:
            setup = self.build(variant, gc_on)
        except Exception as error:  # one broken set-up must not cost the whole lease
            self.record_failure(section, variant, gc_on, error)
            release_memory()
            return None
        return Member(variant, setup, time.monotonic() - started, allocated_bytes(self.cuda) - allocated)

    def interleaved_rows(self, section: str, gc_on: bool, seq: int, group: list[Member]) -> None:
        """Warm-up and timed rounds; each round steps every member once. A member's peak is its own resident
        memory (weights, adapters, optimizer state) plus its step's transient, as if it ran alone."""
        members = list(group)
        batches = [member.setup.batch(seq) for member in group]
        times: dict[int, list[float]] = {id(m): [] for m in members}
        losses: dict[int, list[float]] = {id(m): [] for m in members}
        peaks: dict[int, int] = {id(m): 0 for m in members}
        for round_index in range(self.args.warmup + self.args.steps):
            round_started = time.monotonic()
            shift = round_index % len(members) if members else 0
            for member in members[shift:] + members[:shift]:
                batch = batches[group.index(member)]
                before = allocated_bytes(self.cuda)
                reset_peak(self.cuda)
                try:
                    times[id(member)].append(timed(lambda: losses[id(member)].append(member.setup.step(batch)),
                                                   self.cuda))
                except Exception as error:
                    self.record_failure(section, member.variant, gc_on, error, seq)
                    members.remove(member)
                    continue
                if self.cuda:
                    peaks[id(member)] = max(peaks[id(member)],
                                            member.resident + torch.cuda.max_memory_allocated() - before)
                member.resident += allocated_bytes(self.cuda) - before
            label = f"{section}, GC {'on' if gc_on else 'off'}, seq {seq}"
            if round_index == self.args.warmup - 1 and \
                    not self.guard(label, (time.monotonic() - round_started) * self.args.steps + 5):
                return
        for member in members:
            self.record_row(section, gc_on, seq, member, batches[group.index(member)],
                            times[id(member)][self.args.warmup:], losses[id(member)], peaks[id(member)])

    def record_row(self, section: str, gc_on: bool, seq: int, member: Member, batch: dict[str, torch.Tensor],
                   timed_steps: list[float], losses: list[float], peak: int) -> None:
        variant, setup = member.variant, member.setup
        label = f"{variant.name}, seq {seq}, GC {'on' if gc_on else 'off'}"
        if not all(math.isfinite(loss) for loss in losses):
            self.record_failure(section, variant, gc_on, FloatingPointError(f"the loss went non-finite: {losses}"),
                                seq)
            return
        median = statistics.median(timed_steps)
        row = {"section": section, "name": variant.name, "seq": seq, "gc": gc_on, "quantization": variant.quantization,
               "steps": len(timed_steps), "step_ms": 1000 * median,
               "p10_ms": 1000 * quantile(timed_steps, 0.1), "p90_ms": 1000 * quantile(timed_steps, 0.9),
               "tokens_per_s": seq / median, "times_ms": [round(1000 * t, 3) for t in timed_steps],
               "peak_gib": peak / GIB if self.cuda else None,
               "weights_gib": member.weights / GIB if self.cuda else None, "trainable_params": setup.trainable,
               "build_s": member.build_s, "last_loss": losses[-1],
               "host_syncs_per_step": count_syncs(lambda: setup.step(batch), self.cuda)}
        self.rows.append(row)
        print(f"[row] {label}: {row['step_ms']:.1f} ms, {row['tokens_per_s']:.0f} tok/s, "
              f"peak {fmt(row['peak_gib'], '.2f')} GiB, syncs {row['host_syncs_per_step']}", flush=True)
        if variant.name in PROFILED and seq == max(self.args.seqs) and not gc_on and self.args.profile:
            try:
                self.profile(label, lambda: setup.step(batch))
            except Exception as error:  # a profiler problem must not lose the timed rows
                self.profile_lines += [f"## {label}: profiling failed: {type(error).__name__}: {error}", ""]
        self.write()

    def record_failure(self, section: str, variant: Variant, gc_on: bool, error: Exception,
                       seq: int | None = None) -> None:
        message = f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
        self.rows.append({"section": section, "name": variant.name, "seq": seq, "gc": gc_on,
                          "quantization": variant.quantization, "error": message})
        print(f"[error] {variant.name} GC {gc_on} seq {seq}: {message}", flush=True)
        self.write()

    def build(self, variant: Variant, gc_on: bool) -> Setup:
        torch.manual_seed(0)
        vocab = FIRST_SPECIAL_TOKEN if not self.args.tiny else TINY["text"]["vocab_size"]
        if variant.build == "frozen":
            return self.build_frozen(variant, gc_on, vocab)
        config = self.train_config.model_copy(update={"quantization": variant.quantization if self.cuda else "none",
                                                      "gradient_checkpointing": gc_on})
        model_config = self.model_config.model_copy(update={"rotation_gate_enabled": variant.gates,
                                                            "pet_loss_enabled": variant.pet})
        trainer = SO8TQLoRATrainer(str(self.model_dir), config=config, model_config=model_config, cpu=not self.cuda)
        if variant.oft:
            from peft import OFTConfig, inject_adapter_in_model

            inject_adapter_in_model(OFTConfig(**OFT_CONFIG), trainer.model.base_model.model, adapter_name="oft")
        accelerator = trainer.accelerator
        module = trainer.model if variant.build == "plain" else trainer.joint
        params = [p for p in module.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
        module, optimizer = accelerator.prepare(module, optimizer)
        module.train()
        pet_weight = config.pet_lambda_schedule.max_lambda if variant.pet else 0.0

        def step(batch: dict[str, torch.Tensor]) -> float:
            if variant.build == "plain":
                loss = module(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                              labels=batch["labels"]).loss
            else:
                out = module(**batch, pet_weight=pet_weight)
                loss = out["lm_loss"] + config.safety_loss_weight * out["safety_loss"] + pet_weight * out["pet"]
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return loss.item()  # the trainer reads every step's loss too

        return Setup(step, vocab, self.device, params, keep=[trainer, module, optimizer])

    def build_frozen(self, variant: Variant, gc_on: bool, vocab: int) -> Setup:
        """The base with every weight frozen and input gradients on, so backward runs through all layers;
        only the gates or OFT-8 (if any) train: the gate's cost next to the closest public anchor's."""
        from accelerate import Accelerator

        model, _ = load_model(self.model_dir, dtype=self.dtype, device=self.device)
        if gc_on:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.requires_grad_(False)
        model.enable_input_require_grads()
        if variant.oft:
            from peft import OFTConfig, get_peft_model

            model = get_peft_model(model, OFTConfig(**OFT_CONFIG))
        if variant.gates:
            inject_gates(model)
        head = SafetyHead(text_config(model).hidden_size).to(self.device).requires_grad_(False)
        joint = JointModel(model, head, [])
        params = [p for p in joint.parameters() if p.requires_grad]
        accelerator = Accelerator(cpu=not self.cuda, mixed_precision="bf16" if self.cuda else "no")
        optimizer = torch.optim.AdamW(params, lr=self.train_config.learning_rate) if params else None
        joint = accelerator.prepare(joint)
        joint.train()

        def step(batch: dict[str, torch.Tensor]) -> float:
            out = joint(**batch)
            accelerator.backward(out["lm_loss"])
            if optimizer is not None:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            return out["lm_loss"].item()

        return Setup(step, vocab, self.device, params, keep=[model, joint, optimizer, accelerator])

    def profile(self, label: str, step: Callable[[], None]) -> None:
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if self.cuda else [])
        with profile(activities=activities) as prof:
            for _ in range(3):
                step()
            if self.cuda:
                torch.cuda.synchronize()
        events = prof.key_averages()
        self.profile_lines += [f"## {label}: 3 steps", ""]
        for title, key, limit in (("self device time", "self_device_time_total", 30),
                                  ("self CPU time", "self_cpu_time_total", 20)):
            if key.startswith("self_device") and not self.cuda:
                continue
            self.profile_lines += [f"### by {title}", "", events.table(sort_by=key, row_limit=limit), ""]

    # ----- generation rows --------------------------------------------------------------------------------
    def generation_rows(self) -> None:
        """Base, gated and baked copies live side by side and their timed generations interleave round-robin,
        so the baked/base ratio is measured on paired runs (the host-bound decode loop drifts by +-30%)."""
        prompt_len, new_tokens = (16, 8) if self.args.tiny else (512, 128)
        if not self.guard("generation rows", self.args.min_row_s * 2):
            return
        try:
            vocab = TINY["text"]["vocab_size"] if self.args.tiny else FIRST_SPECIAL_TOKEN
            prompt = torch.randint(0, vocab, (1, prompt_len), generator=torch.Generator().manual_seed(1))
            prompt = prompt.to(self.device)
            models = {name: load_model(self.model_dir, dtype=self.dtype, device=self.device)[0]
                      for name in ("base", "gated", "baked")}
            for name in ("gated", "baked"):
                gates = inject_gates(models[name])
                generator = torch.Generator().manual_seed(2)
                with torch.no_grad():
                    for bank in gates.banks.values():
                        bank.generators.copy_(torch.randn(bank.generators.shape, generator=generator) * 0.05)
            models["baked"], report = bake_gates(models["baked"])
            self.meta["bake_check"] = {"layers": report.layers, "max_abs_logit_delta": report.max_abs_logit_delta,
                                       "check_dtype": report.check_dtype}
            self.interleaved_generation(models, prompt, new_tokens)
        except Exception as error:
            self.rows.append({"section": "generate", "name": "generation", "error": f"{type(error).__name__}: {error}"})
        finally:
            release_memory()
        self.write()

    def interleaved_generation(self, models: dict, prompt: torch.Tensor, new_tokens: int) -> None:
        def generate(model, count: int) -> None:
            with torch.no_grad():
                out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=count,
                                     min_new_tokens=count, do_sample=False, pad_token_id=0)
            if out.shape[1] != prompt.shape[1] + count:
                raise RuntimeError(f"generated {out.shape[1] - prompt.shape[1]} tokens instead of {count}")

        names = list(models)
        first: dict[str, list[float]] = {name: [] for name in names}
        full: dict[str, list[float]] = {name: [] for name in names}
        for name in names:
            models[name].eval()
            generate(models[name], new_tokens)  # warm-up
        for round_index in range(self.args.gen_repeats):
            if not self.guard(f"generation round {round_index + 1}", 10 if not self.args.tiny else 1):
                break
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                first[name].append(timed(lambda: generate(models[name], 1), self.cuda))
                full[name].append(timed(lambda: generate(models[name], new_tokens), self.cuda))
        for name in names:
            if not full[name]:
                continue
            ttft, total = statistics.median(first[name]), statistics.median(full[name])
            row = {"section": "generate", "name": name, "prompt": prompt.shape[1], "new_tokens": new_tokens,
                   "ttft_ms": 1000 * ttft, "total_ms": 1000 * total, "tokens_per_s": new_tokens / total,
                   "decode_tokens_per_s": (new_tokens - 1) / max(total - ttft, 1e-9), "runs": len(full[name]),
                   "spread_ms": 1000 * (max(full[name]) - min(full[name])),
                   "times_ms": [round(1000 * t, 3) for t in full[name]]}
            self.rows.append(row)
            print(f"[gen] {name}: ttft {row['ttft_ms']:.1f} ms, {row['tokens_per_s']:.1f} tok/s", flush=True)

    # ----- micro rows: the gate's own kernels -------------------------------------------------------------
    def micro_rows(self) -> None:
        if not self.guard("micro rows", 10):
            return
        layers, width, tokens = (2, 64, 64) if self.args.tiny else (28, 1536, 2048)
        blocks = width // so8.BLOCK
        generator = torch.Generator().manual_seed(3)
        generators = (torch.randn(layers, blocks, so8.GENERATORS_PER_BLOCK, generator=generator) * 0.05).to(self.device)
        for grad_scale in (1.0, 100.0):
            upstream = (torch.randn(layers, blocks, 8, 8, generator=generator) * grad_scale).to(self.device)
            for name, expm in (("torch.linalg.matrix_exp", torch.linalg.matrix_exp), ("so8t so8.expm", so8.expm)):
                def run(expm=expm, upstream=upstream) -> None:
                    leaf = generators.clone().requires_grad_()
                    (expm(so8.skew(leaf)) * upstream).sum().backward()

                self.micro_row(f"expm fwd+bwd, {layers}x{blocks} blocks, grad scale {grad_scale:g}: {name}", run)
        x = torch.randn(tokens, width, generator=generator).to(self.device, self.dtype).requires_grad_()
        rotation = so8.rotations(generators[0]).to(self.dtype).requires_grad_()

        for name, rotate in (("batched 8x8 bmm", lambda: so8.rotate(x, rotation)),
                             ("dense blockdiag GEMM", lambda: F.linear(x, so8.block_diagonal(rotation)))):
            def rotate_all_layers(rotate=rotate) -> None:
                for _ in range(layers):
                    rotate().sum().backward()

            self.micro_row(f"rotate fwd+bwd, {layers} layers x {tokens} tokens x {width} ({str(self.dtype)[6:]}): "
                           f"{name}", rotate_all_layers)
        self.write()

    def micro_row(self, name: str, fn: Callable[[], None]) -> None:
        first = timed(fn, self.cuda)
        if not self.guard(name, first * 23 + 2):
            return
        for _ in range(2):
            fn()
        times = [timed(fn, self.cuda) for _ in range(20)]
        self.rows.append({"section": "micro", "name": name, "ms": 1000 * statistics.median(times),
                          "p90_ms": 1000 * quantile(times, 0.9), "host_syncs": count_syncs(fn, self.cuda)})

    # ----- output -----------------------------------------------------------------------------------------
    def write(self) -> None:
        self.meta["elapsed_s"] = round(time.monotonic() - self.started, 1)
        targets = evaluate_targets(self.rows, max(self.args.seqs))
        document = {"meta": self.meta, "rows": self.rows, "targets": targets, "skipped": self.skipped}
        (self.out / "gpu_bench.json").write_text(json.dumps(document, indent=2, default=str))
        (self.out / "gpu_bench.md").write_text(markdown(document))
        if self.profile_lines:
            (self.out / "gpu_bench_profile.txt").write_text("\n".join(self.profile_lines))


@dataclasses.dataclass(eq=False)
class Member:
    """A set-up in an interleaved group: `weights` is what building it allocated, `resident` what it holds now."""

    variant: Variant
    setup: Setup
    build_s: float
    weights: int
    resident: int = 0

    def __post_init__(self) -> None:
        self.resident = self.weights


class Setup:
    """A built model's training step plus what it keeps alive; close() lets the memory go."""

    def __init__(self, step: Callable[[dict], float], vocab: int, device: str, params: list, keep: list) -> None:
        self.step, self.vocab, self.device, self.keep = step, vocab, device, keep
        self.trainable = sum(p.numel() for p in params)

    def batch(self, seq: int) -> dict[str, torch.Tensor]:
        """One row of random tokens through so8t's collate: a quarter prompt, the rest assistant tokens."""
        ids = torch.randint(0, self.vocab, (seq,), generator=torch.Generator().manual_seed(seq)).tolist()
        prompt = seq // 4
        example = Example(ids, [-100] * prompt + ids[prompt:], prompt - 1, 2)
        return {k: v.to(self.device) for k, v in collate([example], pad_id=0).items()}

    def close(self) -> None:
        self.step = None
        self.keep.clear()


# ----- model --------------------------------------------------------------------------------------------------
def qwen2vl_config(tiny: bool):
    from transformers import Qwen2VLConfig

    if tiny:
        return Qwen2VLConfig(text_config=dict(TINY["text"], rope_parameters={
            "rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]}), vision_config=TINY["vision"],
            tie_word_embeddings=True)
    config = Qwen2VLConfig.from_dict(QWEN2_VL_2B_INSTRUCT)
    text = config.text_config
    wrong = {k: getattr(text, k) for k, v in TEXT_EXPECTED.items() if getattr(text, k) != v}
    if wrong:
        raise RuntimeError(f"this transformers read the Qwen2-VL-2B config differently: {wrong}")
    return config


def save_random_checkpoint(folder: Path, tiny: bool, device: str, dtype: torch.dtype) -> None:
    """Random weights on the device, saved as safetensors with a placeholder tokenizer (rows feed token ids)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast, Qwen2VLForConditionalGeneration

    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2VLForConditionalGeneration._from_config(qwen2vl_config(tiny), dtype=dtype)
    count = sum(p.numel() for p in model.parameters())
    if not tiny and count != QWEN2_VL_2B_PARAMETERS:
        raise RuntimeError(f"built {count:,} parameters, Qwen2-VL-2B-Instruct has {QWEN2_VL_2B_PARAMETERS:,}")
    model.save_pretrained(folder)
    vocab = {"<unk>": 0, "<|endoftext|>": 1}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel(vocab, unk_token="<unk>")),
                                        unk_token="<unk>", pad_token="<|endoftext|>", eos_token="<|endoftext|>")
    tokenizer.save_pretrained(folder)
    del model
    release_memory()


def text_config(model):
    config = model.config
    return getattr(config, "text_config", None) or config


# ----- measuring ----------------------------------------------------------------------------------------------
def timed(fn: Callable[[], object], cuda: bool) -> float:
    if cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    fn()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - started


def count_syncs(fn: Callable[[], object], cuda: bool) -> int | None:
    """Host synchronizations PyTorch flags while `fn` runs (CUDA only): each one drains the launch queue."""
    if not cuda:
        return None
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message).lower() for w in caught)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def allocated_bytes(cuda: bool) -> int:
    return torch.cuda.memory_allocated() if cuda else 0


def reset_peak(cuda: bool) -> None:
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def environment(cuda: bool, args: argparse.Namespace) -> dict:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "torch_cuda": torch.version.cuda,
            **{name: version(name) for name in ("torch", "transformers", "peft", "bitsandbytes", "accelerate")},
            "so8t_commit": git_commit(), "tiny": args.tiny, "steps": args.steps, "warmup": args.warmup,
            "seqs": args.seqs, "budget_s": args.budget_s, "oft_config": OFT_CONFIG,
            "dtype": "bfloat16" if cuda else "float32"}
    if cuda:
        meta["gpu"] = torch.cuda.get_device_name(0)
        meta["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / GIB, 1)
        meta["driver"] = nvidia_driver()
    else:
        meta["gpu"] = "none (CPU run)"
    return meta


def nvidia_driver() -> str:
    try:
        lines = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=30).stdout.split()
        return lines[0] if lines else "unknown"  # one line per GPU
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def git_commit() -> str:
    try:
        result = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10)
        return result.stdout.strip() or "unknown (no git metadata)"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (no git)"


# ----- targets and tables -------------------------------------------------------------------------------------
def paired_ratio(candidate: dict, reference: dict, resamples: int = 2000) -> tuple[float, float, float] | None:
    """Median of per-round time ratios candidate/reference and its 95% bootstrap interval.

    Interleaved rounds pair the two rows' steps in time, so each ratio sees the same machine state; the
    interval says whether a few-percent target is resolved by this run at all.
    """
    pairs = list(zip(candidate.get("times_ms") or [], reference.get("times_ms") or []))
    if len(pairs) < 3:
        return None
    ratios = [a / b for a, b in pairs]
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(resamples))
    return statistics.median(ratios), medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def evaluate_targets(rows: list[dict], long_seq: int) -> list[dict]:
    """Each target from issue 9, judged on rows measured side by side in this run.

    Time ratios are judged on their 95% interval: met when all of it is within the limit, missed when all
    of it is beyond, "within noise" when the interval straddles the limit (the median is still shown).
    """
    ok = [r for r in rows if "error" not in r]

    def find(name: str, **where) -> dict | None:
        return next((r for r in ok if r["name"] == name and all(r.get(k) == v for k, v in where.items())), None)

    results = []

    def judge(target: str, where: str, value: str, met: bool | None) -> None:
        results.append({"target": TARGETS[target], "where": where, "measured": value,
                        "verdict": "not measured" if met is None else ("met" if met else "missed")})

    def judge_ratio(target: str, where: str, candidate: dict | None, reference: dict | None, limit: float) -> None:
        """Time ratio candidate/reference against `limit` (e.g. 1.03 = at most 3% slower)."""
        ratio = paired_ratio(candidate, reference) if candidate and reference else None
        if ratio is None:
            return judge(target, where, "n/a", None)
        median, low, high = ratio
        verdict = "met" if high <= limit else "missed" if low > limit else "within noise"
        results.append({"target": TARGETS[target], "where": where, "verdict": verdict,
                        "measured": f"time x{median:.3f} (95% CI {low:.3f}-{high:.3f}) vs limit x{limit:.2f}"})

    for reference, candidate, key, limit in (("LoRA r64", "LoRA + gates", "gates", 1.03),
                                             ("LoRA + gates", "LoRA + gates + PET", "pet", 1.02)):
        for base in [r for r in ok if r["name"] == reference]:
            judge_ratio(key, f"seq {base['seq']}, GC {'on' if base['gc'] else 'off'}",
                        find(candidate, seq=base["seq"], gc=base["gc"]), base, limit)
    for base in [r for r in ok if r["name"] == "frozen base"]:
        gates = find("frozen + gates", seq=base["seq"], gc=base["gc"])
        oft = find("frozen + OFT-8", seq=base["seq"], gc=base["gc"])
        if gates and oft:
            added_gate, added_oft = gates["step_ms"] - base["step_ms"], oft["step_ms"] - base["step_ms"]
            judge("gate_vs_oft", f"seq {base['seq']}", f"gates +{added_gate:.1f} ms, OFT-8 +{added_oft:.1f} ms",
                  added_gate <= 0.5 * added_oft)
    qlora = find("QLoRA 4-bit + gates + PET", seq=long_seq, gc=True)
    plain = find("plain peft QLoRA 4-bit", seq=long_seq, gc=True)
    where = f"seq {long_seq}, GC on"
    judge("qlora_memory", where, f"{fmt(qlora and qlora['peak_gib'], '.2f')} GiB",
          None if not qlora or qlora["peak_gib"] is None else qlora["peak_gib"] <= 5.5)
    judge_ratio("qlora_speed", f"{where} ({fmt(qlora and qlora['tokens_per_s'], '.0f')} vs "
                f"{fmt(plain and plain['tokens_per_s'], '.0f')} tok/s)", qlora, plain, 1.0)
    base, baked = find("base", section="generate"), find("baked", section="generate")
    judge_ratio("baked", f"prompt {base['prompt']}, {base['new_tokens']} new tokens, greedy ("
                f"{fmt(baked and baked['tokens_per_s'], '.1f')} vs {base['tokens_per_s']:.1f} tok/s)"
                if base else "generation", baked, base, 1.02)
    return results


def fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def markdown(document: dict) -> str:
    meta, rows = document["meta"], document["rows"]
    lines = [f"# so8t on {meta['gpu']}: Qwen2-VL-2B-size training and generation (issue 9)", "",
             f"{meta['date']} · driver {meta.get('driver', 'n/a')} · CUDA {meta['torch_cuda']} · "
             f"torch {meta['torch']} · "
             f"transformers {meta['transformers']} · peft {meta['peft']} · bitsandbytes {meta['bitsandbytes']} · "
             f"accelerate {meta['accelerate']} · Python {meta['python']} · so8t {meta['so8t_commit']}", "",
             f"Random-weight {'tiny Qwen2-VL' if meta['tiny'] else 'Qwen2-VL-2B-Instruct architecture'}, batch 1, "
             f"median of {meta['steps']} steps after {meta['warmup']} warm-up. A section's variants are built side "
             f"by side and their steps interleave round-robin (rotating order), so machine drift cancels out of "
             f"their ratios; peak = a variant's own resident memory (weights, adapters, optimizer state) plus its "
             f"step's transient by torch.cuda.max_memory_allocated; GC = gradient checkpointing. "
             f"Run took {meta['elapsed_s']} s.", ""]
    training = [r for r in rows if r["section"] in SECTIONS]
    if training:
        lines += ["## Training steps", "",
                  "| section | variant | seq | GC | step ms | p10–p90 ms | tokens/s | peak GiB | trainable "
                  "| host syncs |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in training:
            if "error" in r:
                lines.append(f"| {r['section']} | {r['name']} | {r['seq'] or 'all'} | {'on' if r['gc'] else 'off'} | "
                             f"failed: {r['error']} | | | | | |")
                continue
            lines.append(f"| {r['section']} | {r['name']} | {r['seq']} | {'on' if r['gc'] else 'off'} | "
                         f"{r['step_ms']:.1f} | {r['p10_ms']:.1f}–{r['p90_ms']:.1f} | {r['tokens_per_s']:.0f} | "
                         f"{fmt(r['peak_gib'], '.2f')} | {r['trainable_params']:,} | "
                         f"{fmt(r['host_syncs_per_step'], 'd')} |")
        lines.append("")
    generation = [r for r in rows if r["section"] == "generate"]
    if generation:
        lines += [f"## Generation (greedy, {meta['dtype']})", "",
                  "| model | prompt | new tokens | time to first token ms | total ms | tokens/s | decode tokens/s "
                  "| spread ms |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in generation:
            if "error" in r:
                lines.append(f"| {r['name']} | failed: {r['error']} | | | | | | |")
                continue
            lines.append(f"| {r['name']} | {r['prompt']} | {r['new_tokens']} | {r['ttft_ms']:.1f} | "
                         f"{r['total_ms']:.0f} | "
                         f"{r['tokens_per_s']:.1f} | {r['decode_tokens_per_s']:.1f} | {r['spread_ms']:.0f} |")
        if "bake_check" in meta:
            check = meta["bake_check"]
            lines.append(f"\nBake check: {check['layers']} layers, max |Δlogit| {check['max_abs_logit_delta']:.2e} "
                         f"({check['check_dtype']}).")
        lines.append("")
    micro = [r for r in rows if r["section"] == "micro"]
    if micro:
        lines += ["## The gate's own kernels", "", "| what | median ms | p90 ms | host syncs |", "|---|---|---|---|"]
        lines += [f"| {r['name']} | {r['ms']:.3f} | {r['p90_ms']:.3f} | {fmt(r['host_syncs'], 'd')} |" for r in micro]
        lines.append("")
    lines += ["## Targets", "", "| target | where | measured | verdict |", "|---|---|---|---|"]
    lines += [f"| {t['target']} | {t['where']} | {t['measured']} | {t['verdict']} |" for t in document["targets"]]
    if document["skipped"]:
        lines += ["", "## Not run", ""] + [f"- {s}" for s in document["skipped"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or str(REPO / "out" / "gpu-bench"))
    parser.add_argument("--tiny", action="store_true", help="toy-size Qwen2-VL on the CPU: checks every code path")
    parser.add_argument("--steps", type=int, help="timed steps per row (default 20; 2 with --tiny)")
    parser.add_argument("--warmup", type=int, help="warm-up steps per row (default 3; 1 with --tiny)")
    parser.add_argument("--seqs", type=int, nargs="+", help="sequence lengths (default 2048 512; 48 24 with --tiny)")
    parser.add_argument("--gen-repeats", type=int, help="timed generations per model (default 3; 1 with --tiny)")
    parser.add_argument("--budget-s", type=float, default=500.0,
                        help="global time guard: no row starts that would end after this many seconds")
    parser.add_argument("--min-row-s", type=float, help="time a set-up needs at least (default 25; 0 with --tiny)")
    parser.add_argument("--sections", nargs="+", default=ORDER, choices=ORDER)
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip the torch.profiler tables of LoRA vs LoRA + gates")
    parser.add_argument("--model-dir", help="reuse (or keep) the saved random model in this folder")
    args = parser.parse_args()
    defaults = {"steps": (20, 2), "warmup": (3, 1), "seqs": ([2048, 512], [48, 24]), "gen_repeats": (5, 3),
                "min_row_s": (25.0, 0.0)}
    for key, (full, tiny) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, tiny if args.tiny else full)
    if args.tiny:
        torch.set_num_threads(1)  # toy matrices gain nothing from threads, and a shared CPU loses to them
    elif not torch.cuda.is_available():
        parser.error("no CUDA device: the full-size rows need a GPU; use --tiny for a CPU check of the code paths")
    Bench(args).run()


if __name__ == "__main__":
    main()

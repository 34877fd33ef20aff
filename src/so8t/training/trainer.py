"""SO8TQLoRATrainer: QLoRA + SO(8) gates + PET + safety head, in a loop you can read in one sitting.

Runs unchanged under `accelerate launch` (DDP): each rank takes every world_size-th row, gradients are
synchronised once per optimizer step, logged losses are means over all ranks, each rank draws its own
dropout randomness (saved per rank, so resume stays exact), and only the main process writes run files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, gather_object
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training, set_peft_model_state_dict
from peft.utils import load_peft_weights
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from transformers import get_scheduler

from so8t.losses import PetSchedule
from so8t.models import chat, load_model
from so8t.rotation import gates_of, in_vision_tower, inject_gates, load_gates, model_fingerprint, save_gates
from so8t.training.config import ConfigError, ModelConfig, TrainConfig, load_config
from so8t.prompting import with_image_summaries
from so8t.training.data import Example, collate, encode_row, image_summaries, read_rows
from so8t.training.head import SafetyHead
from so8t.training.joint import JointModel
from so8t.training.plots import drop_stability_after, record_stability, write_plots

log = logging.getLogger("so8t.training")
# What each step logs: losses are means over micro-batches, tokens a sum.
LOGGED = ("loss", "lm_loss", "safety_loss", "pet", "tokens")


@dataclass
class TrainResult:
    steps: int
    final_loss: float
    out_dir: Path


class SO8TQLoRATrainer:
    """Fine-tune a local model with LoRA (k-bit on CUDA), SO(8) gates, PET and a joint safety head."""

    def __init__(self, model_path: str | None = None, config_path: str | Path | None = None,
                 model_config_path: str | Path | None = None, *, config: TrainConfig | None = None,
                 model_config: ModelConfig | None = None, cpu: bool | None = None) -> None:
        self.config = config or load_config(config_path, TrainConfig)
        self.model_config = model_config or load_config(model_config_path, ModelConfig)
        self.model_path = model_path
        use_cpu = (not torch.cuda.is_available()) if cpu is None else cpu
        self.accelerator = Accelerator(cpu=use_cpu, mixed_precision="no" if use_cpu else "bf16")
        self.model, self.tokenizer = self._load_base(model_path, use_cpu)
        self.base_fingerprint = model_fingerprint(self.model)
        _seed_everything(self.config.seed)  # LoRA and head initialisation are part of the run's recipe
        self.model = get_peft_model(self.model, LoraConfig(
            r=self.config.lora_rank, lora_alpha=self.config.lora_alpha, lora_dropout=self.config.lora_dropout,
            target_modules=self.config.lora_target_modules, task_type="CAUSAL_LM"))
        if self.model_config.rotation_gate_enabled:
            inject_gates(self.model, layers=self.model_config.gate_layers, include_vision=self.model_config.gate_vision_tower)
        self.head = SafetyHead(_text_config(self.model).hidden_size).to(self.accelerator.device)
        pet_layers = self.config.pet_layers if self.model_config.pet_loss_enabled else []
        self.joint = JointModel(self.model, self.head, pet_layers, self.config.pet_kind, self.config.pet_huber_delta,
                                self.config.pet_normalize)
        self.pet_schedule = PetSchedule(**self.config.pet_lambda_schedule.model_dump())

    # ----- model -----------------------------------------------------------------------------------------
    def _load_base(self, model_path: str | None, use_cpu: bool):
        quantization = self.config.quantization
        if use_cpu:
            if quantization != "none":
                log.warning("CPU run: bitsandbytes %s quantization needs CUDA; training LoRA on an fp32 base", quantization)
            model, tokenizer = load_model(model_path, dtype=torch.float32)
        elif quantization == "none":
            model, tokenizer = load_model(model_path, dtype=torch.bfloat16, device=str(self.accelerator.device))
        else:
            from transformers import BitsAndBytesConfig

            bnb = (BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                      bnb_4bit_compute_dtype=torch.bfloat16)
                   if quantization == "4bit" else BitsAndBytesConfig(load_in_8bit=True))
            model, tokenizer = load_model(model_path, dtype=torch.bfloat16, quantization_config=bnb,
                                          device_map={"": self.accelerator.local_process_index})
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=self.config.gradient_checkpointing,
                                                    gradient_checkpointing_kwargs={"use_reentrant": False})
        self._check_model_config(model)
        if self.config.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.enable_input_require_grads()
        return model, tokenizer

    def _check_model_config(self, model) -> None:
        text = _text_config(model)
        for key in ("hidden_size", "num_attention_heads"):
            expected = getattr(self.model_config, key)
            if expected is not None and expected != getattr(text, key):
                raise ConfigError(f"model config says {key}={expected} ({self.model_config.model_name}) but the "
                                  f"loaded model has {getattr(text, key)}; use a model config that matches the model")

    # ----- training --------------------------------------------------------------------------------------
    def encode(self, rows: list[dict], base_dir: Path = Path(".")) -> list[Example]:
        return [encode_row(r, self.tokenizer, self.config.max_length, base_dir) for r in rows]

    def train(self, data: str | Path | list[dict], out_dir: str | Path, resume: bool = False,
              max_steps: int | None = None, stop_after: int | None = None) -> TrainResult:
        """Train on JSONL rows (or a list of row dicts); checkpoints and metrics land in out_dir.

        `stop_after` ends the run early after that many steps (as a time-boxed session would) with a
        checkpoint; `resume=True` continues from the newest checkpoint exactly where it stopped.
        """
        cfg = self.config
        out_dir = Path(out_dir)
        base_dir = Path(data).parent if isinstance(data, (str, Path)) else Path(".")
        examples = self.encode(read_rows(data) if isinstance(data, (str, Path)) else data, base_dir)
        total_steps = max_steps or cfg.max_steps
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        _seed_everything(cfg.seed + rank)  # same weights everywhere (seeded in __init__), own dropout per rank
        params = self._param_groups()
        optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        scheduler = get_scheduler(cfg.lr_schedule, optimizer, num_warmup_steps=cfg.warmup_steps,
                                  num_training_steps=total_steps)
        if self._has_idle_trainables():
            self.accelerator.ddp_handler = DistributedDataParallelKwargs(find_unused_parameters=True)
        # The scheduler stays unprepared: accelerate would step it once per process, but here every optimizer
        # step is one schedule step whatever the number of processes (each step reads world_size x the rows).
        joint, optimizer = self.accelerator.prepare(self.joint, optimizer)
        step, position = 0, 0
        if resume and (latest := latest_checkpoint(out_dir)) is not None:
            step, position = self._restore(latest, optimizer, scheduler)
            log.info("resumed from %s at step %d", latest, step)
        metrics_path = out_dir / "metrics.jsonl"
        if self.accelerator.is_main_process:
            out_dir.mkdir(parents=True, exist_ok=True)
            _truncate_metrics(metrics_path, step)
            drop_stability_after(out_dir, step)
            if step == 0:
                record_stability(out_dir, 0, self.model)
        per_step = cfg.batch_size * cfg.gradient_accumulation_steps * world
        joint.train()
        loss_value = math.nan
        with _progress(self.accelerator.is_main_process) as progress:
            task = progress.add_task("train", total=total_steps, completed=step, info="")
            while step < min(total_steps, stop_after or total_steps):
                started = time.perf_counter()
                pet_weight = self.pet_schedule(step)
                totals = torch.zeros(len(LOGGED), dtype=torch.float64, device=self.accelerator.device)
                micro_share = torch.tensor([1 / cfg.gradient_accumulation_steps] * 4 + [1], dtype=torch.float64,
                                           device=totals.device)
                for micro in range(cfg.gradient_accumulation_steps):
                    batch = self._batch(examples, position + (micro * world + rank) * cfg.batch_size)
                    sync = micro == cfg.gradient_accumulation_steps - 1
                    with contextlib.nullcontext() if sync else self.accelerator.no_sync(joint):
                        out = joint(**batch, pet_weight=pet_weight)
                        loss = out["lm_loss"] + cfg.safety_loss_weight * out["safety_loss"] + pet_weight * out["pet"]
                        self.accelerator.backward(loss / cfg.gradient_accumulation_steps)
                    totals += micro_share * torch.stack([t.detach().double()
                                                         for t in (loss, *(out[k] for k in LOGGED[1:]))])
                grad_norm = self.accelerator.clip_grad_norm_([p for g in params for p in g["params"]], cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                sums, grad_norm = self._read_step(totals, grad_norm)
                step += 1
                position += per_step
                elapsed = time.perf_counter() - started
                loss_value = sums["loss"]
                row = {"step": step, **{k: round(v, 6) for k, v in sums.items() if k != "tokens"},
                       "pet_lambda": pet_weight, "grad_norm": grad_norm, "lr": scheduler.get_last_lr()[0],
                       "tokens_per_s": round(sums["tokens"] / elapsed, 1), "step_time_s": round(elapsed, 4)}
                if self.accelerator.is_main_process:
                    if step % cfg.log_every == 0 or step == total_steps:
                        with open(metrics_path, "a") as fh:
                            fh.write(json.dumps(row) + "\n")
                    progress.update(task, completed=step, info=(
                        f"loss {loss_value:.3f} pet {sums['pet']:.3g} λ {pet_weight:.3g} "
                        f"|g| {grad_norm:.2f} {row['tokens_per_s']:.0f} tok/s"))
                if step % cfg.save_every == 0 or step in (total_steps, stop_after):
                    self._checkpoint(out_dir / "checkpoints" / f"step-{step:06d}", optimizer, scheduler, step, position)
        if self.accelerator.is_main_process and step == total_steps:
            self.save(out_dir / "final")
        if self.accelerator.is_main_process:
            write_plots(out_dir)
        self.accelerator.wait_for_everyone()  # every rank returns with the run's files in place
        return TrainResult(step, loss_value, out_dir)

    def _param_groups(self) -> list[dict]:
        lora = [p for n, p in self.model.named_parameters() if p.requires_grad and "lora_" in n]
        groups = [{"params": lora}, {"params": list(self.head.parameters())}]
        gates = gates_of(self.model)
        if gates is not None:
            groups.append({"params": list(gates.parameters()), "weight_decay": 0.0,
                           "lr": self.config.gate_learning_rate or self.config.learning_rate})
        return groups

    def _has_idle_trainables(self) -> bool:
        """Whether some trainable weights never get a gradient, which DDP must be told or it stalls.

        Training feeds text only (images arrive as OCR text), so gates or LoRA in a vision tower sit idle.
        """
        gates = gates_of(self.model)
        paths = (gates.layer_paths if gates is not None else []) + [
            name for name, p in self.model.named_parameters() if p.requires_grad]
        return any(in_vision_tower(path) for path in paths)

    def _read_step(self, totals: torch.Tensor, grad_norm: torch.Tensor | float) -> tuple[dict[str, float], float]:
        """The step's logged values in one host read (each read waits for the GPU to drain its queue): losses
        averaged and tokens summed over all ranks, so the log describes the whole step."""
        reduced = self.accelerator.reduce(totals, "sum")
        norm = torch.as_tensor(grad_norm, dtype=torch.float64, device=totals.device).reshape(1)
        *values, norm_value = torch.cat([reduced, norm]).tolist()
        world = self.accelerator.num_processes
        return {k: v if k == "tokens" else v / world for k, v in zip(LOGGED, values)}, norm_value

    def _batch(self, examples: list[Example], position: int) -> dict[str, torch.Tensor]:
        """Rows at global positions [position, position + batch_size) of a per-epoch shuffled order."""
        chosen = []
        for offset in range(self.config.batch_size):
            epoch, index = divmod(position + offset, len(examples))
            order = np.random.default_rng(self.config.seed + epoch).permutation(len(examples))
            chosen.append(examples[order[index]])
        batch = collate(chosen, self.tokenizer.pad_token_id)
        return {k: v.to(self.accelerator.device) for k, v in batch.items()}

    # ----- checkpoints -----------------------------------------------------------------------------------
    def _checkpoint(self, path: Path, optimizer, scheduler, step: int, position: int) -> None:
        self.accelerator.wait_for_everyone()
        rng_per_rank = gather_object([_rng_state()])
        if self.accelerator.is_main_process:
            self.save(path)
            torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "rng": rng_per_rank}, path / "trainer_state.pt")
            (path / "state.json").write_text(json.dumps({"step": step, "position": position}))
            record_stability(path.parent.parent, step, self.model)
        self.accelerator.wait_for_everyone()

    def _restore(self, path: Path, optimizer, scheduler) -> tuple[int, int]:
        set_peft_model_state_dict(self.model, load_peft_weights(str(path / "adapter")))
        if (path / "gates.safetensors").is_file():
            gates = gates_of(self.model)
            from safetensors.torch import load_file

            saved = load_file(str(path / "gates.safetensors"))
            with torch.no_grad():
                for name, bank in gates.banks.items():
                    bank.generators.copy_(saved[f"{name}.generators"])
        head, _ = SafetyHead.load(path / "safety_head.safetensors")
        self.head.load_state_dict(head.state_dict())
        state = torch.load(path / "trainer_state.pt", weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if len(state["rng"]) == self.accelerator.num_processes:
            _set_rng_state(state["rng"][self.accelerator.process_index])
        else:
            log.warning("%s was written by %d process(es), resuming on %d: dropout randomness will not continue "
                        "exactly as in an uninterrupted run", path, len(state["rng"]), self.accelerator.num_processes)
        meta = json.loads((path / "state.json").read_text())
        return meta["step"], meta["position"]

    def save(self, out_dir: str | Path) -> Path:
        """Adapter, gates, safety head and configs: everything `so8t bake` and the agent need."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(out_dir / "adapter")
        if gates_of(self.model) is not None:
            save_gates(self.model, out_dir / "gates.safetensors")
        self.head.save(out_dir / "safety_head.safetensors", self.base_fingerprint)
        (out_dir / "train_config.json").write_text(self.config.model_dump_json(indent=2))
        (out_dir / "model_config.json").write_text(self.model_config.model_dump_json(indent=2))
        (out_dir / "run.json").write_text(json.dumps({"base_model": str(self.model_path or "smollm2-135m"),
                                                      "base_fingerprint": self.base_fingerprint}, indent=2))
        return out_dir

    # ----- inference -------------------------------------------------------------------------------------
    def generate(self, prompt: str, images: list[str | Path] | None = None, max_new_tokens: int = 64,
                 temperature: float = 0.0) -> str:
        """Answer with the fine-tuned model; images reach it only as fenced OCR summaries."""
        text = with_image_summaries(prompt, image_summaries([str(p) for p in images or []], Path(".")))
        self.model.eval()
        return chat(self.model, self.tokenizer, text, max_new_tokens=max_new_tokens, temperature=temperature)

    def evaluate(self, data: str | Path | list[dict]) -> dict[str, float]:
        """Mean LM loss on assistant tokens and safety-head accuracy over rows, without training."""
        rows = read_rows(data) if isinstance(data, (str, Path)) else data
        examples = self.encode(rows)
        self.joint.eval()
        losses, correct, labeled = [], 0, 0
        with torch.no_grad():
            for example in examples:
                batch = {k: v.to(self.accelerator.device) for k, v in collate([example], self.tokenizer.pad_token_id).items()}
                out = self.joint(**batch)
                losses.append(out["lm_loss"].item())
                if example.safety_label >= 0:
                    labeled += 1
                    correct += int(out["safety_logits"].argmax(-1).item() == example.safety_label)
        return {"lm_loss": float(np.mean(losses)), "safety_accuracy": correct / labeled if labeled else math.nan}

    def classify(self, prompt: str) -> dict[str, float]:
        """Safety-head probabilities for one prompt, read at the last prompt token."""
        from so8t.training.data import LABELS

        example = encode_row({"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": ""}]},
                             self.tokenizer, self.config.max_length)
        batch = {k: v.to(self.accelerator.device) for k, v in collate([example], self.tokenizer.pad_token_id).items()}
        self.joint.eval()
        with torch.no_grad():
            probs = self.joint(**batch)["safety_logits"].softmax(-1)[0]
        return dict(zip(LABELS, probs.tolist()))

    @classmethod
    def from_run(cls, run_dir: str | Path, cpu: bool | None = None) -> "SO8TQLoRATrainer":
        """Rebuild a trainer from a saved run (final/ or a checkpoint) for generation or further training."""
        run_dir = Path(run_dir)
        meta = json.loads((run_dir / "run.json").read_text())
        trainer = cls(meta["base_model"], config=load_config(run_dir / "train_config.json", TrainConfig),
                      model_config=load_config(run_dir / "model_config.json", ModelConfig), cpu=cpu)
        set_peft_model_state_dict(trainer.model, load_peft_weights(str(run_dir / "adapter")))
        if (run_dir / "gates.safetensors").is_file():
            from so8t.rotation import remove_gates

            remove_gates(trainer.model)
            load_gates(trainer.model, run_dir / "gates.safetensors")
        head, _ = SafetyHead.load(run_dir / "safety_head.safetensors")
        trainer.head.load_state_dict(head.state_dict())
        return trainer


def latest_checkpoint(out_dir: Path) -> Path | None:
    checkpoints = sorted((out_dir / "checkpoints").glob("step-*/state.json"))
    return checkpoints[-1].parent if checkpoints else None


def _text_config(model):
    config = model.config
    return getattr(config, "text_config", None) or config


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop metric rows past the checkpoint so the log matches an uninterrupted run."""
    if path.is_file():
        keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in keep))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()  # this process's GPU only; the others' would each open a context
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("step {task.completed}/{task.total}"), BarColumn(), TextColumn("{task.fields[info]}"),
                    TimeRemainingColumn(), disable=not enabled, transient=False)

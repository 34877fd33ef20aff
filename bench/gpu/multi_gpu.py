"""Data-parallel scaling of so8t training: the same per-GPU work on 1 GPU and on N GPUs, side by side.

Driven by bench/gpu/multi_gpu.sh; the steps are separate so each run is a fresh `accelerate launch`:

    python3 bench/gpu/multi_gpu.py prepare WORK [--size 2b|tiny] [--seq 2048]
    accelerate launch ... bench/gpu/multi_gpu.py train WORK RUN [--steps 13] [--quantization none]
    python3 bench/gpu/multi_gpu.py report RUN... [--warmup 3] [--results bench/results]

The model is the Qwen2-VL-2B-Instruct architecture with random weights (speed and memory do not depend on
the values) and the word-level tokenizer is built here, so nothing is downloaded. Every row is exactly
`--seq` tokens long, so tokens/s compares like with like. `--size tiny` is a CPU smoke test of this script.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORDS = 4096
ROWS = 256
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "[UNK]"]
CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|> assistant {% endif %}")
# Qwen2-VL-2B-Instruct's published architecture; `tiny` keeps its shape at toy size for a CPU check.
SIZES = {
    "2b": dict(
        text=dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                  intermediate_size=8960, vocab_size=151936, max_position_embeddings=32768, tie_word_embeddings=True,
                  rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}),
        vision=dict(depth=32, embed_dim=1280, num_heads=16, hidden_size=1536, mlp_ratio=4, patch_size=14,
                    spatial_merge_size=2, temporal_patch_size=2)),
    "tiny": dict(
        text=dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  intermediate_size=128, vocab_size=WORDS + 16,
                  rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}),
        vision=dict(depth=1, embed_dim=32, num_heads=4, hidden_size=64, patch_size=14, spatial_merge_size=2,
                    temporal_patch_size=2)),
}


def prepare(work: Path, size: str, seq: int) -> None:
    """Random-init model folder, offline tokenizer and fixed-length training rows under WORK."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2VLConfig, Qwen2VLForConditionalGeneration

    model_dir = work / "model"
    vocab = {token: i for i, token in enumerate(SPECIAL + ["system", "user", "assistant"]
                                                + [f"w{i}" for i in range(WORDS)])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="<|endoftext|>",
                                        eos_token="<|im_end|>", additional_special_tokens=SPECIAL[1:3])
    tokenizer.chat_template = CHAT_TEMPLATE
    spec = SIZES[size]
    config = Qwen2VLConfig(text_config=spec["text"], vision_config=spec["vision"])
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = Qwen2VLForConditionalGeneration(config).to(torch.bfloat16)
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    generator = torch.Generator().manual_seed(0)

    def words(count: int) -> str:
        return " ".join(f"w{i}" for i in torch.randint(0, WORDS, (count,), generator=generator).tolist())

    with open(work / "rows.jsonl", "w") as fh:
        for i in range(ROWS):  # user half, assistant longer than the rest: truncation makes every row `seq` long
            row = {"messages": [{"role": "user", "content": words(seq // 2)},
                                {"role": "assistant", "content": words(seq)}],
                   "label": ("ALLOW", "DENY")[i % 2]}
            fh.write(json.dumps(row) + "\n")
    (work / "bench.json").write_text(json.dumps({"size": size, "seq": seq}))
    print(f"prepared {size} model ({sum(p.numel() for p in model.parameters()) / 1e9:.2f} B params) and "
          f"{ROWS} rows of {seq} tokens in {work}")


def train(work: Path, run: Path, steps: int, quantization: str, gradient_checkpointing: bool) -> None:
    """One training run (a plain process or one rank of `accelerate launch`); rank 0 writes per-GPU peaks."""
    import torch
    from accelerate.utils import gather_object

    from so8t.training import ModelConfig, SO8TQLoRATrainer, TrainConfig, load_config

    bench = json.loads((work / "bench.json").read_text())
    seed = load_config(ROOT / "configs" / "train.qlora.json", TrainConfig)  # LoRA r64, 8 accumulation steps
    config = TrainConfig.model_validate({**seed.model_dump(), "max_steps": steps, "max_length": bench["seq"],
                                         "quantization": quantization, "save_every": steps + 1, "warmup_steps": 0,
                                         "gradient_checkpointing": gradient_checkpointing})
    model_config = (load_config(ROOT / "configs" / "model.qwen2vl-2b.json", ModelConfig) if bench["size"] == "2b"
                    else ModelConfig(model_name="tiny-qwen2vl"))
    trainer = SO8TQLoRATrainer(str(work / "model"), config=config, model_config=model_config)
    on_gpu = trainer.accelerator.device.type == "cuda"
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    trainer.train(work / "rows.jsonl", run)
    peak = torch.cuda.max_memory_allocated() / 2**30 if on_gpu else None
    peaks = gather_object([{"rank": trainer.accelerator.process_index, "peak_gib": peak}])
    if trainer.accelerator.is_main_process:
        (run / "peaks.json").write_text(json.dumps({"processes": trainer.accelerator.num_processes, "peaks": peaks,
                                                    "config": config.model_dump(), **bench}))


def report(runs: list[Path], warmup: int, results: Path | None) -> None:
    """Median steady-state tokens/s per run, efficiency against the 1-process run, peak memory per GPU."""
    rows = []
    for run in runs:
        meta = json.loads((run / "peaks.json").read_text())
        metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()][warmup:]
        if not metrics:
            raise SystemExit(f"{run}: no steps after {warmup} warm-up steps; raise STEPS")
        peaks = [p["peak_gib"] for p in meta["peaks"]]
        rows.append({"processes": meta["processes"], "tokens_per_s": statistics.median(m["tokens_per_s"] for m in metrics),
                     "step_time_s": statistics.median(m["step_time_s"] for m in metrics), "measured_steps": len(metrics),
                     "peak_gib_per_gpu": None if None in peaks else [round(p, 2) for p in peaks]})
    base = next((r for r in rows if r["processes"] == 1), None)
    if base is None:
        raise SystemExit("report needs the 1-process run as the baseline")
    for r in rows:
        r["scaling_efficiency"] = r["tokens_per_s"] / (r["processes"] * base["tokens_per_s"])
    first = json.loads((runs[0] / "peaks.json").read_text())
    document = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                **_environment(), "model": f"Qwen2-VL {first['size']} architecture, random init",
                "seq": first["seq"], "config": first["config"], "rows": rows}
    table = _markdown(document)
    print(table)
    if results is not None:
        results.mkdir(parents=True, exist_ok=True)
        (results / "multi_gpu.json").write_text(json.dumps(document, indent=2) + "\n")
        (results / "multi_gpu.md").write_text(table)
        print(f"wrote {results / 'multi_gpu.md'} and {results / 'multi_gpu.json'}")


def _environment() -> dict:
    import accelerate
    import peft
    import torch
    import transformers

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    return {"gpu": gpu, "gpus_visible": torch.cuda.device_count(), "cuda": torch.version.cuda,
            "nccl": ".".join(map(str, torch.cuda.nccl.version())) if torch.cuda.is_available() else None,
            "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__, "accelerate": accelerate.__version__}


def _markdown(doc: dict) -> str:
    cfg = doc["config"]
    lines = [
        f"# Data-parallel scaling: {doc['model']}",
        "",
        f"{doc['date']}, {doc['gpus_visible']} x {doc['gpu']}, torch {doc['torch']} (CUDA {doc['cuda']}, NCCL "
        f"{doc['nccl']}), transformers {doc['transformers']}, peft {doc['peft']}, accelerate {doc['accelerate']}.",
        f"Per GPU: batch {cfg['batch_size']} x {cfg['gradient_accumulation_steps']} accumulation steps of {doc['seq']} "
        f"tokens, LoRA r{cfg['lora_rank']} + SO(8) gates + PET, quantization {cfg['quantization']}, gradient "
        f"checkpointing {'on' if cfg['gradient_checkpointing'] else 'off'}; NCCL_NVLS_ENABLE=0.",
        "Efficiency = tokens/s with N processes / (N x tokens/s with 1); medians over the steps after warm-up.",
        "",
        "| processes | tokens/s | tokens/s per GPU | scaling efficiency | step time (s) | peak memory per GPU (GiB) |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in doc["rows"]:
        peaks = ", ".join(f"{p:.2f}" for p in r["peak_gib_per_gpu"]) if r["peak_gib_per_gpu"] else "n/a (CPU)"
        lines.append(f"| {r['processes']} | {r['tokens_per_s']:.0f} | {r['tokens_per_s'] / r['processes']:.0f} | "
                     f"{r['scaling_efficiency']:.1%} | {r['step_time_s']:.3f} | {peaks} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare")
    p.add_argument("work", type=Path)
    p.add_argument("--size", choices=sorted(SIZES), default="2b")
    p.add_argument("--seq", type=int, default=2048)
    t = commands.add_parser("train")
    t.add_argument("work", type=Path)
    t.add_argument("run", type=Path)
    t.add_argument("--steps", type=int, default=13)
    t.add_argument("--quantization", choices=["none", "4bit", "8bit"], default="none")
    t.add_argument("--gradient-checkpointing", action="store_true")
    r = commands.add_parser("report")
    r.add_argument("runs", type=Path, nargs="+")
    r.add_argument("--warmup", type=int, default=3)
    r.add_argument("--results", type=Path)
    args = parser.parse_args()
    if args.command == "prepare":
        args.work.mkdir(parents=True, exist_ok=True)
        prepare(args.work, args.size, args.seq)
    elif args.command == "train":
        train(args.work, args.run, args.steps, args.quantization, args.gradient_checkpointing)
    else:
        report(args.runs, args.warmup, args.results)


if __name__ == "__main__":
    main()

"""One rank of the data-parallel test (launched twice by `accelerate launch`, see test_ddp.py).

Trains the real SO8TQLoRATrainer, dumps this rank's trainable parameters before and after, then resumes a
copy of the run from its mid-run checkpoint (as if it had been stopped there). Rank 1 runs with a marker
group id, so the group owning every file and folder in the run directories tells which rank created it,
whatever library wrote it.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

RANK_ONE_GID = 54321


def trainable_state(trainer) -> dict:
    """Every trainable tensor (LoRA, SO(8) gate generators, safety head), detached copies on the CPU."""
    return {name: p.detach().cpu().clone() for name, p in trainer.joint.named_parameters() if p.requires_grad}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--dump", type=Path, required=True)
    args = parser.parse_args()
    rank = int(os.environ["RANK"])
    if rank == 1:
        os.setegid(RANK_ONE_GID)

    from safetensors.torch import save_file

    from so8t.training import ModelConfig, SO8TQLoRATrainer, TrainConfig, load_config

    config = load_config(args.config, TrainConfig)
    # Vision-tower gates never get a gradient (training feeds text only): DDP has to cope with idle weights.
    model_config = ModelConfig(model_name="tiny-qwen2vl", gate_vision_tower=True)
    def trainer() -> SO8TQLoRATrainer:
        return SO8TQLoRATrainer(args.model, config=config, model_config=model_config, cpu=True)

    straight, resumed = args.runs / "straight", args.runs / "resumed"
    first = trainer()
    initial = trainable_state(first)
    first.train(args.data, straight)
    final = trainable_state(first)
    if first.accelerator.is_main_process:
        shutil.copytree(straight, resumed, ignore=shutil.ignore_patterns("final", f"step-{config.max_steps:06d}"))
    first.accelerator.wait_for_everyone()
    trainer().train(args.data, resumed, resume=True)
    args.dump.mkdir(parents=True, exist_ok=True)
    save_file(initial, str(args.dump / f"rank{rank}-initial.safetensors"))
    save_file(final, str(args.dump / f"rank{rank}-final.safetensors"))


if __name__ == "__main__":
    main()

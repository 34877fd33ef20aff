"""Training and model configuration: every key validated, unknown or mistyped keys named with their file.

Defaults (documented in the README) are chosen for the embedded model on a CPU; the seed configs in
configs/ override what the original Qwen2-VL-2B recipe fixed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(ValueError):
    """A config file is missing, not JSON, or has an unknown or invalid key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PetLambdaSchedule(_Strict):
    max_lambda: float = Field(0.1, ge=0)
    warmup_steps: int = Field(100, ge=0)
    main_steps: int = Field(1000, ge=0)
    anneal_steps: int = Field(200, ge=0)


class ModelConfig(_Strict):
    """What the base model is expected to be and which so8t parts are switched on."""

    model_name: str = "SmolLM2-135M-Instruct"
    hidden_size: int | None = Field(None, gt=0)
    num_attention_heads: int | None = Field(None, gt=0)
    rotation_gate_enabled: bool = True
    pet_loss_enabled: bool = True
    gate_layers: list[int] | None = None
    gate_vision_tower: bool = False


class TrainConfig(_Strict):
    learning_rate: float = Field(2e-4, gt=0)
    gate_learning_rate: float | None = Field(None, gt=0)
    batch_size: int = Field(1, ge=1)
    gradient_accumulation_steps: int = Field(8, ge=1)
    max_steps: int = Field(200, ge=1)
    warmup_steps: int = Field(10, ge=0)
    lr_schedule: Literal["cosine", "linear", "constant"] = "cosine"
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    lora_rank: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    lora_target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj"]
    quantization: Literal["8bit", "4bit", "none"] = "8bit"
    gradient_checkpointing: bool = False
    max_length: int = Field(256, ge=8)
    safety_loss_weight: float = Field(0.5, ge=0)
    pet_lambda_schedule: PetLambdaSchedule = PetLambdaSchedule()
    pet_layers: list[int] = [-1]
    pet_kind: Literal["l2", "huber"] = "l2"
    pet_huber_delta: float = Field(1.0, gt=0)
    pet_normalize: bool = True
    save_every: int = Field(50, ge=1)
    log_every: int = Field(1, ge=1)
    seed: int = 0

    @field_validator("lora_target_modules")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one module name")
        return value


def load_config(path: str | Path | None, kind: type[_Strict]):
    """Read a JSON config file into `kind`; None gives the defaults."""
    if path is None:
        return kind()
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    try:
        return kind.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"])
            problems.append(f"unknown key '{key}'" if error["type"] == "extra_forbidden" else f"'{key}': {error['msg']}")
        raise ConfigError(f"{path}: " + "; ".join(problems)) from None

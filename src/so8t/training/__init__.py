"""QLoRA fine-tuning with SO(8) gates, PET regularization and a joint safety head."""

from so8t.training.config import ConfigError, ModelConfig, TrainConfig, load_config
from so8t.training.data import LABELS, DataError, read_rows
from so8t.training.head import SafetyHead
from so8t.training.trainer import SO8TQLoRATrainer, TrainResult

__all__ = [
    "LABELS",
    "ConfigError",
    "DataError",
    "ModelConfig",
    "SO8TQLoRATrainer",
    "SafetyHead",
    "TrainConfig",
    "TrainResult",
    "load_config",
    "read_rows",
]

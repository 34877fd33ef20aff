"""Model registry, offline pulling and loading."""

from so8t.models.chat import chat
from so8t.models.loader import ModelNotFoundError, ModelSource, load_model, resolve
from so8t.models.pull import ModelPullError, is_pulled, pull, pulled_path
from so8t.models.registry import DEFAULT_MODEL, REGISTRY

__all__ = [
    "DEFAULT_MODEL",
    "REGISTRY",
    "ModelNotFoundError",
    "ModelPullError",
    "ModelSource",
    "chat",
    "is_pulled",
    "load_model",
    "pull",
    "pulled_path",
    "resolve",
]

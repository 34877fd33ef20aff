"""Where so8t keeps pulled and converted models (XDG cache, overridable with SO8T_CACHE)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The root of so8t's model cache; created on first use."""
    explicit = os.environ.get("SO8T_CACHE")
    if explicit:
        root = Path(explicit)
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "so8t"
    root.mkdir(parents=True, exist_ok=True)
    return root


def models_dir() -> Path:
    path = cache_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path

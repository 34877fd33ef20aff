"""The SO8T safety head: ALLOW / ESCALATE / DENY from the hidden state of the last prompt token.

It reads the same prefill the answer starts from, so at inference it costs one small matmul.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from so8t.training.data import LABELS


class SafetyHead(nn.Module):
    def __init__(self, hidden_size: int, inner: int = 256, dropout: float = 0.1) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.net = nn.Sequential(
            nn.LayerNorm(hidden_size), nn.Dropout(dropout), nn.Linear(hidden_size, inner), nn.GELU(),
            nn.Linear(inner, len(LABELS)),
        )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.net(pooled.float())

    def save(self, path: str | Path, base_fingerprint: str) -> None:
        metadata = {"labels": json.dumps(LABELS), "hidden_size": str(self.hidden_size), "base_fingerprint": base_fingerprint}
        save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, str(path), metadata=metadata)

    @classmethod
    def load(cls, path: str | Path) -> tuple["SafetyHead", str]:
        """Returns the head and the fingerprint of the base model it was trained on."""
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
        if json.loads(metadata.get("labels", "[]")) != list(LABELS):
            raise ValueError(f"{path} is not an so8t safety head with labels {LABELS}")
        head = cls(int(metadata["hidden_size"]), inner=state["net.2.weight"].shape[0])
        head.load_state_dict(state)
        return head.eval(), metadata["base_fingerprint"]

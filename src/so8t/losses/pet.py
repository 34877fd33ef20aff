"""PET: a second-order difference penalty that keeps hidden-state trajectories smooth along the sequence.

d2_t = h_{t+1} - 2 h_t + h_{t-1} is zero for any linear trajectory, so the penalty leaves steady drift alone
and only charges curvature. Triples count only when all three positions are real tokens of one segment, so
padding and turn boundaries never create artificial kinks.

By default each position is RMS-normalized first and the penalty averages over dimensions: residual streams
carry a few outlier dimensions (attention sinks) with norms in the thousands, which would otherwise swamp
the loss and make lambda depend on the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F


def pet_penalty(
    hidden: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    segment_ids: torch.Tensor | None = None,
    kind: Literal["l2", "huber"] = "l2",
    huber_delta: float = 1.0,
    normalize: bool = True,
) -> torch.Tensor:
    """Mean over valid triples of mean_i d2_{t,i}^2 (l2) or mean_i Huber(d2_{t,i}) (huber); 0 if none is valid.

    hidden [batch, seq, dim]; attention_mask [batch, seq] (1 = real token); segment_ids [batch, seq] (a
    triple must lie in one segment).
    """
    if hidden.dim() != 3:
        raise ValueError(f"hidden states must be [batch, seq, dim], got shape {tuple(hidden.shape)}")
    if hidden.dtype in (torch.float16, torch.bfloat16):
        hidden = hidden.float()
    if normalize:
        hidden = hidden * torch.rsqrt(hidden.pow(2).mean(-1, keepdim=True) + 1e-6)
    d2 = hidden[:, 2:] - 2 * hidden[:, 1:-1] + hidden[:, :-2]
    valid = torch.ones(d2.shape[:2], dtype=torch.bool, device=hidden.device)
    if attention_mask is not None:
        real = attention_mask.bool()
        valid &= real[:, 2:] & real[:, 1:-1] & real[:, :-2]
    if segment_ids is not None:
        valid &= (segment_ids[:, 2:] == segment_ids[:, 1:-1]) & (segment_ids[:, 1:-1] == segment_ids[:, :-2])
    if kind == "l2":
        per_triple = d2.pow(2).mean(-1)
    elif kind == "huber":
        per_triple = F.huber_loss(d2, torch.zeros_like(d2), reduction="none", delta=huber_delta).mean(-1)
    else:
        raise ValueError(f"unknown PET kind {kind!r}; use 'l2' or 'huber'")
    count = valid.sum()
    return (per_triple * valid).sum() / count.clamp_min(1)


@dataclass(frozen=True)
class PetSchedule:
    """lambda(step): linear 0 -> max over warmup, max for main, linear max -> 0 over anneal, then 0."""

    max_lambda: float
    warmup_steps: int
    main_steps: int
    anneal_steps: int

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.max_lambda * step / self.warmup_steps
        step -= self.warmup_steps
        if step < self.main_steps:
            return self.max_lambda
        step -= self.main_steps
        if step < self.anneal_steps:
            return self.max_lambda * (1 - step / self.anneal_steps)
        return 0.0

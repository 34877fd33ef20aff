"""One module whose forward gives every training loss, so DDP (accelerate) sees a single forward.

The LM loss is computed only at assistant positions, chunk by chunk under activation checkpointing, so the
full-vocabulary logits of a long sequence are never materialized (151,936 columns for Qwen2-VL).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from so8t.losses import pet_penalty
from so8t.rotation import find_targets, unwrap
from so8t.training.data import IGNORE

LOGIT_CHUNK = 1024


class JointModel(nn.Module):
    def __init__(self, lm: nn.Module, head: nn.Module, pet_layers: list[int], pet_kind: str = "l2",
                 pet_huber_delta: float = 1.0, pet_normalize: bool = True) -> None:
        super().__init__()
        self.lm = lm
        self.head = head
        self.pet_kind = pet_kind
        self.pet_huber_delta = pet_huber_delta
        self.pet_normalize = pet_normalize
        layers = decoder_layers(lm)
        self._captured: list[torch.Tensor] = []
        self._pet_hooks = [layers[i].register_forward_hook(self._capture) for i in pet_layers] if pet_layers else []

    def _capture(self, _module, _args, output) -> None:
        self._captured.append(output[0] if isinstance(output, tuple) else output)

    def forward(self, input_ids, attention_mask, labels, pool_index, safety_label, pet_weight: float = 0.0):
        causal = unwrap(self.lm)
        self._captured = []
        hidden = causal.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        shift_labels = labels[:, 1:]
        selected = (shift_labels != IGNORE).nonzero(as_tuple=True)  # the step's one host sync: the row count
        lm_loss = chunked_cross_entropy(causal.lm_head, hidden[:, :-1][selected], shift_labels[selected])
        pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), pool_index]
        safety_logits = self.head(pooled)
        # A mean over labeled rows without reading their count back to the host (0 when none is labeled).
        labeled = (safety_label != IGNORE).sum().clamp_min(1)
        safety_loss = F.cross_entropy(safety_logits, safety_label, ignore_index=IGNORE, reduction="sum") / labeled
        if self._captured:
            pet = torch.stack([pet_penalty(h, attention_mask, kind=self.pet_kind, huber_delta=self.pet_huber_delta,
                                           normalize=self.pet_normalize)
                               for h in self._captured]).mean()
        else:
            pet = lm_loss.new_zeros(())
        self._captured = []
        return {"lm_loss": lm_loss, "safety_loss": safety_loss, "pet": pet, "safety_logits": safety_logits,
                "tokens": attention_mask.sum()}


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The decoder layers of the language model, found from its attention modules."""
    base = unwrap(model)
    return [base.get_submodule(t.path.rsplit(".", 1)[0]) for t in find_targets(base)]


def chunked_cross_entropy(lm_head: nn.Module, hidden: torch.Tensor, targets: torch.Tensor,
                          chunk: int = LOGIT_CHUNK) -> torch.Tensor:
    """Mean CE over rows of `hidden`, recomputing each chunk's logits in backward instead of storing them."""
    if hidden.shape[0] == 0:
        return hidden.sum() * 0

    def chunk_loss(h: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(lm_head(h).float(), t, reduction="sum")

    total = sum(checkpoint(chunk_loss, hidden[i:i + chunk], targets[i:i + chunk], use_reentrant=False)
                if torch.is_grad_enabled() else chunk_loss(hidden[i:i + chunk], targets[i:i + chunk])
                for i in range(0, hidden.shape[0], chunk))
    return total / hidden.shape[0]

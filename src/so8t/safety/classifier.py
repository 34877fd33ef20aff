"""A small harmful-probability classifier over sentence embeddings, trained reproducibly on CPU.

Why a tiny MLP (or plain logistic regression, `hidden=0`) and not a bigger model: the encoder already places look-alike prompts near their meaning; what
the classifier must learn is which side of a few semantic boundaries ("kill a process" vs "kill a person") a
prompt falls on. One hidden layer does that at microseconds per prompt, and full-batch training with a fixed
seed on one thread gives the same weights on every run, so the shipped artifact can be re-derived and checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters; part of the artifact's metadata so a retrain uses exactly these."""

    hidden: int = 64
    epochs: int = 150
    learning_rate: float = 0.01
    weight_decay: float = 1e-2
    seed: int = 0


class HarmClassifier:
    """Maps embeddings (n, d) to P(harmful) with one hidden ReLU layer; weights are plain numpy arrays."""

    def __init__(self, weights: dict[str, np.ndarray], meta: dict):
        self.weights = weights
        self.meta = meta

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """P(harmful) per row, computed in numpy (no torch needed at judge time)."""
        x = np.asarray(embeddings, dtype=np.float64)
        if "w1" in self.weights:
            x = np.maximum(x @ self.weights["w1"].T + self.weights["b1"], 0.0)
        logits = x @ self.weights["w2"].T + self.weights["b2"]
        return 1.0 / (1.0 + np.exp(-logits[:, 0]))

    def save(self, path: Path) -> None:
        """Writes `<path>` (safetensors weights) with the metadata embedded as a JSON string."""
        save_file({k: v.astype(np.float32) for k, v in self.weights.items()}, str(path),
                  metadata={"so8t_meta": json.dumps(self.meta, sort_keys=True)})

    @classmethod
    def load(cls, path: Path) -> "HarmClassifier":
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as handle:
            meta = json.loads(handle.metadata()["so8t_meta"])
        weights = {k: v.astype(np.float64) for k, v in load_file(str(path)).items()}
        return cls(weights, meta)


def train_classifier(embeddings: np.ndarray, labels: np.ndarray, sample_weights: np.ndarray | None = None,
                     config: TrainConfig = TrainConfig(), meta: dict | None = None) -> HarmClassifier:
    """Full-batch Adam on weighted binary cross-entropy; deterministic for a given input and config.

    Harmful and benign rows are balanced (each class carries half the total weight) so the probability is not
    skewed by whichever class the sources happen to supply more of.
    """
    if embeddings.ndim != 2 or len(embeddings) != len(labels):
        raise ValueError(f"embeddings {embeddings.shape} and labels {labels.shape} do not line up")
    y = np.asarray(labels, dtype=np.float64)
    if set(np.unique(y)) - {0.0, 1.0} or len(np.unique(y)) < 2:
        raise ValueError("labels must be 0/1 with both classes present")
    w = np.ones_like(y) if sample_weights is None else np.asarray(sample_weights, dtype=np.float64)
    for cls_value in (0.0, 1.0):
        mask = y == cls_value
        w[mask] *= 0.5 * len(y) / w[mask].sum()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same reduction order, hence the same weights, on every run
    try:
        torch.manual_seed(config.seed)
        x_t = torch.tensor(embeddings, dtype=torch.float32)
        y_t = torch.tensor(y, dtype=torch.float32)
        w_t = torch.tensor(w, dtype=torch.float32)
        layers = ([torch.nn.Linear(x_t.shape[1], config.hidden), torch.nn.ReLU(), torch.nn.Linear(config.hidden, 1)]
                  if config.hidden else [torch.nn.Linear(x_t.shape[1], 1)])
        model = torch.nn.Sequential(*layers)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        loss_fn = torch.nn.BCEWithLogitsLoss(reduction="none")
        for _ in range(config.epochs):
            optimizer.zero_grad()
            loss = (loss_fn(model(x_t)[:, 0], y_t) * w_t).mean()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    linear = [layer for layer in model if isinstance(layer, torch.nn.Linear)]
    names = (("w1", "b1"), ("w2", "b2")) if config.hidden else (("w2", "b2"),)
    weights = {}
    for layer, (w_name, b_name) in zip(linear, names):
        weights[w_name] = layer.weight.detach().numpy().astype(np.float64)
        weights[b_name] = layer.bias.detach().numpy().astype(np.float64)
    full_meta = {"train_config": {**config.__dict__}, "final_loss": float(loss.item()), **(meta or {})}
    return HarmClassifier(weights, full_meta)

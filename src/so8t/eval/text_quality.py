"""Text-quality metrics (BLEU, chrF, ROUGE-1/2/L, CIDEr-D, CER) with Japanese segmented properly.

Every metric here comes from its reference library (sacrebleu, rouge-score, pycocoevalcap, rapidfuzz); this
module only decides how text is tokenized. English uses each library's usual tokenizer. Japanese has no spaces,
so word-based metrics would see one "word" per sentence: it is segmented with MeCab (IPA dictionary) through
sacrebleu's `ja-mecab` tokenizer, and the same segmentation feeds ROUGE and CIDEr so the three agree.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

from pycocoevalcap.cider.cider import Cider
from rapidfuzz.distance import Levenshtein
from rouge_score import rouge_scorer, tokenizers
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sacrebleu.tokenizers.tokenizer_ja_mecab import TokenizerJaMecab

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_WORD = re.compile(r"\w", re.UNICODE)
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
SACREBLEU_TOKENIZER = {"ja": "ja-mecab", "en": "13a"}


def detect_lang(text: str) -> str:
    """'ja' when the text has any kana or kanji, else 'en': enough to pick a tokenizer."""
    return "ja" if _JAPANESE.search(text) else "en"


@lru_cache(maxsize=1)
def _mecab() -> TokenizerJaMecab:
    return TokenizerJaMecab()


@lru_cache(maxsize=1)
def _tok13a() -> Tokenizer13a:
    return Tokenizer13a()


def word_tokens(text: str, lang: str) -> list[str]:
    """Lower-cased word tokens without punctuation-only tokens: MeCab for Japanese, 13a for English."""
    normalized = unicodedata.normalize("NFKC", text).lower()
    segmented = _mecab()(normalized) if lang == "ja" else _tok13a()(normalized)
    return [token for token in segmented.split() if _WORD.search(token)]


class _JapaneseAwareRougeTokenizer(tokenizers.Tokenizer):
    """rouge-score's own tokenizer drops every non-ASCII character, which would erase Japanese entirely."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def tokenize(self, text: str) -> list[str]:
        return word_tokens(text, self.lang)


@dataclass(frozen=True)
class TextScores:
    """Corpus-level scores for one language; BLEU, chrF and CIDEr-D as their libraries report them."""

    lang: str
    n: int
    bleu: float
    chrf: float
    rouge1: float
    rouge2: float
    rougeL: float
    cider_d: float
    bleu_signature: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Per-item reference lists -> sacrebleu's reference streams; None marks an item with fewer references."""
    width = max((len(refs) for refs in references), default=1)
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]


def bleu(predictions: Sequence[str], references: Sequence[Sequence[str]], lang: str) -> tuple[float, str]:
    """Corpus BLEU (0-100) and its sacrebleu signature; references are a list of references per prediction."""
    metric = BLEU(tokenize=SACREBLEU_TOKENIZER[lang])
    score = metric.corpus_score(list(predictions), _reference_streams(references))
    return float(score.score), str(metric.get_signature())


def sentence_bleu(prediction: str, reference: str, lang: str) -> float:
    """Per-case BLEU with effective order, so short sentences are not zeroed by missing 4-grams."""
    metric = BLEU(tokenize=SACREBLEU_TOKENIZER[lang], effective_order=True)
    return float(metric.sentence_score(prediction, [reference]).score)


def chrf(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus chrF (0-100), references per prediction; character n-grams need no word segmentation."""
    return float(CHRF().corpus_score(list(predictions), _reference_streams(references)).score)


def rouge(predictions: Sequence[str], references: Sequence[str], lang: str) -> dict[str, float]:
    """Mean ROUGE-1/2/L F-measure (0-1) over the pairs."""
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=_JapaneseAwareRougeTokenizer(lang))
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for prediction, reference in zip(predictions, references, strict=True):
        scores = scorer.score(reference, prediction)
        for name in ROUGE_TYPES:
            totals[name] += scores[name].fmeasure
    count = max(len(predictions), 1)
    return {name: total / count for name, total in totals.items()}


def cider_d(predictions: Sequence[str], references: Sequence[Sequence[str]], lang: str) -> tuple[float, list[float]]:
    """CIDEr-D (pycocoevalcap's scorer, 0-10 scale) over the corpus, and per item.

    The n-gram weights are document frequencies over the corpus's references, so the score of one item depends
    on the others: a corpus of one item scores 0 by construction.
    """
    if not predictions:
        return 0.0, []
    gts = {i: [" ".join(word_tokens(ref, lang)) for ref in refs] for i, refs in enumerate(references)}
    res = {i: [" ".join(word_tokens(prediction, lang))] for i, prediction in enumerate(predictions)}
    corpus, per_item = Cider().compute_score(gts, res)
    return float(corpus), [float(score) for score in per_item]


def score_corpus(predictions: Sequence[str], references: Sequence[str], lang: str) -> TextScores:
    """All corpus text-quality scores for predictions against one reference each, in one language."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    single = [[ref] for ref in references]
    bleu_score, signature = bleu(predictions, single, lang)
    rouge_scores = rouge(predictions, references, lang)
    cider_score, _ = cider_d(predictions, single, lang)
    return TextScores(
        lang=lang,
        n=len(predictions),
        bleu=bleu_score,
        chrf=chrf(predictions, single),
        rouge1=rouge_scores["rouge1"],
        rouge2=rouge_scores["rouge2"],
        rougeL=rouge_scores["rougeL"],
        cider_d=cider_score,
        bleu_signature=signature,
    )


def _cer_normalize(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def character_errors(prediction: str, reference: str) -> tuple[int, int]:
    """(edit distance, reference length) after NFKC and removing all whitespace; the parts of a corpus CER."""
    ref = _cer_normalize(reference)
    if not ref:
        raise ValueError("CER needs a non-empty reference text")
    return Levenshtein.distance(_cer_normalize(prediction), ref), len(ref)


def cer(prediction: str, reference: str) -> float:
    """Character error rate: edits / reference characters (can exceed 1 when the prediction is longer)."""
    edits, length = character_errors(prediction, reference)
    return edits / length


def corpus_cer(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Total edits over total reference characters, so long texts weigh by their length."""
    parts = [character_errors(p, r) for p, r in zip(predictions, references, strict=True)]
    return sum(edits for edits, _ in parts) / sum(length for _, length in parts)

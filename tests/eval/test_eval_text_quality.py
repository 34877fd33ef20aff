"""Text-quality metrics against documented and hand-computed values."""

from __future__ import annotations

import pytest

from so8t.eval.text_quality import (
    bleu,
    cer,
    chrf,
    cider_d,
    corpus_cer,
    detect_lang,
    rouge,
    score_corpus,
    sentence_bleu,
    word_tokens,
)

# sacrebleu's README, "Using SacreBLEU from Python": BLEU = 48.53, chrF2 = 59.73 with two reference streams.
README_HYPOTHESES = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
README_STREAMS = [
    ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
    ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
]


def test_bleu_and_chrf_match_sacrebleu_documented_example():
    per_item = [list(refs) for refs in zip(*README_STREAMS)]
    score, signature = bleu(README_HYPOTHESES, per_item, "en")
    assert round(score, 2) == 48.53
    assert signature.startswith("nrefs:2|case:mixed|eff:no|tok:13a")
    assert round(chrf(README_HYPOTHESES, per_item), 2) == 59.73


def test_japanese_bleu_uses_mecab_words():
    # 今日/は/良い/天気/です vs 今日/は/良い/天気/だ: n-gram precisions 4/5, 3/4, 2/3, 1/2, equal lengths (BP 1)
    score, signature = bleu(["今日は良い天気です"], [["今日は良い天気だ"]], "ja")
    assert "tok:ja-mecab" in signature
    assert score == pytest.approx(100 * (4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25)


def test_rouge_hand_computed_english():
    # hypothesis 3 words all in the 6-word reference: R1 P=1 R=1/2; R2 2 of 2 hyp bigrams, 5 ref bigrams
    scores = rouge(["the cat sat"], ["the cat sat on the mat"], "en")
    assert scores["rouge1"] == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert scores["rouge2"] == pytest.approx(2 * 1 * 0.4 / 1.4)
    assert scores["rougeL"] == pytest.approx(2 * 1 * 0.5 / 1.5)


def test_rouge_segments_japanese_instead_of_dropping_it():
    assert word_tokens("今日は良い天気です。", "ja") == ["今日", "は", "良い", "天気", "です"]
    # pair 1 shares 4 of 5 words, pair 2 shares 2 of 3 (が, 好き); the mean of the F-measures
    scores = rouge(["今日は良い天気です", "猫が好き"], ["今日は良い天気だ", "犬が好き"], "ja")
    assert scores["rouge1"] == pytest.approx((4 / 5 + 2 / 3) / 2)


def test_cider_d_hand_computed():
    # Two items, N=2 so idf = ln 2 for every reference n-gram (each occurs in one item's references).
    # Item 1 is exact: cosine 1 for 1- and 2-grams, no 3-/4-grams -> (1 + 1 + 0 + 0) / 4 * 10 = 5.
    # Item 2 "c e" vs "c d": unigram vectors (c, e) and (c, d), all weights ln 2 -> 1/2; bigram 0 -> 1.25.
    corpus, per_item = cider_d(["a b", "c e"], [["a b"], ["c d"]], "en")
    assert per_item == pytest.approx([5.0, 1.25])
    assert corpus == pytest.approx(3.125)


def test_cider_d_identical_corpus_is_perfect_and_single_item_is_zero():
    sentences = ["the red fox jumps over logs", "a small boat sails past the pier"]
    corpus, _ = cider_d(sentences, [[s] for s in sentences], "en")
    assert corpus == pytest.approx(10.0)
    # document frequencies come from the corpus: with one item every n-gram has idf log(1/1) = 0
    assert cider_d(sentences[:1], [sentences[:1]], "en")[0] == 0.0


def test_identical_text_scores_perfectly_in_both_languages():
    for lang, text in (("en", "Plants take in carbon dioxide from the air."), ("ja", "日本の首都は東京です。")):
        scores = score_corpus([text, text + " " + text], [text, text + " " + text], lang)
        assert scores.bleu == pytest.approx(100.0)
        assert scores.chrf == pytest.approx(100.0)
        assert (scores.rouge1, scores.rouge2, scores.rougeL) == pytest.approx((1.0, 1.0, 1.0))
        assert cer(text, text) == 0.0
        assert sentence_bleu(text, text, lang) == pytest.approx(100.0)


def test_empty_prediction_scores_zero():
    scores = score_corpus(["", ""], ["The capital of France is Paris.", "Jupiter is the largest planet."], "en")
    assert (scores.bleu, scores.chrf, scores.rouge1, scores.rougeL, scores.cider_d) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert cer("", "東京") == 1.0


def test_cer_normalizes_width_and_whitespace():
    assert cer("ＡＢＣ　１２３", "ABC 123") == 0.0
    assert cer("kitten", "sitting") == pytest.approx(3 / 7)
    # corpus CER weighs each text by its length: (3 + 0) / (7 + 3)
    assert corpus_cer(["kitten", "abc"], ["sitting", "abc"]) == pytest.approx(3 / 10)
    with pytest.raises(ValueError, match="non-empty reference"):
        cer("x", "  ")


def test_detect_lang_and_length_mismatch():
    assert detect_lang("会議室Bの予約") == "ja"
    assert detect_lang("Meeting room B") == "en"
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        score_corpus(["a", "b"], ["a"], "en")

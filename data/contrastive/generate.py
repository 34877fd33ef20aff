"""Regenerates en.jsonl and ja.jsonl from the template families (deterministic: same families, same files).

Usage: python3 data/contrastive/generate.py
Each family's benign and harmful sides are expanded to every filling of their templates, shuffled with a seed
derived from the family id, and paired one to one, so a pair shares its family, category and look-alike theme.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import string
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import families_en  # noqa: E402
import families_ja  # noqa: E402

PAIRS_PER_FAMILY = 14


def _fillings(templates: list[str], slots: dict[str, list[str]]) -> list[str]:
    """Every distinct sentence the templates yield, in a fixed order."""
    seen: dict[str, None] = {}
    for template in templates:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
        unknown = set(names) - set(slots)
        if unknown:
            raise KeyError(f"template {template!r} uses undefined slots {sorted(unknown)}")
        for values in itertools.product(*(slots[name] for name in names)):
            seen.setdefault(template.format(**dict(zip(names, values))), None)
    return list(seen)


def family_rows(family: dict, lang: str) -> list[dict]:
    """The family's pairs as labeled rows: benign twin (ALLOW) then harmful twin (DENY or ESCALATE)."""
    rng = random.Random(int(hashlib.sha256(family["id"].encode()).hexdigest()[:12], 16))
    benign = _fillings(*family["benign"])
    harmful = _fillings(*family["harmful"])
    rng.shuffle(benign)
    rng.shuffle(harmful)
    rows = []
    for index, (good, bad) in enumerate(zip(benign[:PAIRS_PER_FAMILY], harmful[:PAIRS_PER_FAMILY])):
        pair_id = f"{family['id']}-{index:02d}"
        common = {"pair_id": pair_id, "family": family["id"], "kind": family["kind"], "category": family["category"],
                  "lang": lang, "source": "so8t-contrastive"}
        rows.append({"id": f"{pair_id}-b", "text": good, "label": "benign", "decision": "ALLOW", **common})
        rows.append({"id": f"{pair_id}-h", "text": bad, "label": "harmful", "decision": family.get("decision", "DENY"), **common})
    return rows


FAMILY_MODULES = {"en": families_en, "ja": families_ja}


def render(lang: str) -> str:
    """The JSONL text of one language's file."""
    rows = [row for family in FAMILY_MODULES[lang].FAMILIES for row in family_rows(family, lang)]
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main() -> None:
    for lang in FAMILY_MODULES:
        text = render(lang)
        (HERE / f"{lang}.jsonl").write_text(text, encoding="utf-8")
        print(f"{lang}: {len(FAMILY_MODULES[lang].FAMILIES)} families, {text.count(chr(10)) // 2} pairs")


if __name__ == "__main__":
    main()

"""Tokenizer metadata for GGUF: byte-level BPE vocabulary, merges, special ids and the chat template.

llama.cpp does not run the HF tokenizer; it re-implements it from GGUF metadata and picks its pre-tokenizer
(the regex that splits text before BPE) by name. The name is derived here from the pre-tokenizer that
tokenizer.json actually declares, so a tokenizer we do not recognise is refused instead of silently
tokenizing differently; the export's verification then compares llama.cpp's token ids with the HF ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf

# Split regexes as HF tokenizer.json files spell them (public tokenizer configs), keyed to llama.cpp's names.
QWEN2_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_SPLIT_PATTERN_NAMES = {QWEN2_SPLIT_PATTERN: "qwen2", LLAMA3_SPLIT_PATTERN: "llama-bpe"}


class UnsupportedTokenizerError(ValueError):
    """The tokenizer cannot be expressed as GGUF metadata that llama.cpp would tokenize identically."""


@dataclass(frozen=True)
class GGUFVocab:
    """Everything llama.cpp needs to rebuild the tokenizer."""

    tokens: list[str]
    token_types: list[int]
    pre_tokenizer: str
    special: gguf.SpecialVocab

    def add_to(self, writer: gguf.GGUFWriter) -> None:
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre(self.pre_tokenizer)
        writer.add_token_list(self.tokens)
        writer.add_token_types(self.token_types)
        self.special.add_to_gguf(writer, quiet=True)


def pre_tokenizer_name(pre_tokenizer: dict[str, Any] | None) -> str:
    """llama.cpp's pre-tokenizer name for an HF byte-level `pre_tokenizer` block (from tokenizer.json)."""
    steps = _flatten(pre_tokenizer)
    kinds = [step.get("type") for step in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits") and steps[1].get("use_regex", True):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and not steps[1].get("use_regex", True):
        pattern = steps[0].get("pattern", {}).get("Regex")
        if pattern in _SPLIT_PATTERN_NAMES:
            return _SPLIT_PATTERN_NAMES[pattern]
    raise UnsupportedTokenizerError(
        f"unsupported pre-tokenizer {json.dumps(pre_tokenizer)[:300]}: llama.cpp would split text differently; "
        "supported: GPT-2 byte-level, SmolLM (digits + byte-level), Qwen2 and Llama-3 split regexes"
    )


def _added_special_tokens(model_dir: Path) -> dict[str, bool]:
    """Whether the HF tokenizer, as users load it, wraps plain text in BOS/EOS; observed, not read from flags."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    probe = "probe text"
    plain = tokenizer(probe, add_special_tokens=False)["input_ids"]
    wrapped = tokenizer(probe, add_special_tokens=True)["input_ids"]
    return {"bos": wrapped[:1] != plain[:1], "eos": wrapped[-1:] != plain[-1:]}


def _flatten(pre_tokenizer: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not pre_tokenizer:
        return []
    if pre_tokenizer.get("type") == "Sequence":
        return [step for inner in pre_tokenizer.get("pretokenizers", []) for step in _flatten(inner)]
    return [pre_tokenizer]


def load_vocab(model_dir: Path, n_vocab: int) -> GGUFVocab:
    """Read tokenizer.json (+ tokenizer_config.json, chat template) of an HF folder for a model of n_vocab rows.

    Embedding matrices are often padded past the tokenizer's size (Qwen2: 151,936 rows for 151,665 tokens);
    llama.cpp needs one token per row, so the gap is filled with unused placeholder tokens.
    """
    tokenizer_file = model_dir / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise UnsupportedTokenizerError(f"{model_dir} has no tokenizer.json (a fast byte-level BPE tokenizer is needed)")
    spec = json.loads(tokenizer_file.read_text(encoding="utf-8"))
    model = spec.get("model", {})
    if model.get("type") != "BPE" or model.get("byte_fallback") or (spec.get("decoder") or {}).get("type") != "ByteLevel":
        raise UnsupportedTokenizerError(
            f"{tokenizer_file}: only byte-level BPE tokenizers (GPT-2 style) are supported, "
            f"got model {model.get('type')!r} with decoder {(spec.get('decoder') or {}).get('type')!r}"
        )
    pre = pre_tokenizer_name(spec.get("pre_tokenizer"))

    by_id: dict[int, str] = {index: text for text, index in model["vocab"].items()}
    types: dict[int, int] = {index: gguf.TokenType.NORMAL for index in by_id}
    for added in spec.get("added_tokens", []):
        by_id[added["id"]] = added["content"]
        types[added["id"]] = gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED
    if by_id and max(by_id) >= n_vocab:
        raise UnsupportedTokenizerError(
            f"tokenizer has token id {max(by_id)} but the model's embedding has only {n_vocab} rows"
        )
    tokens = [by_id.get(index, f"[PAD{index}]") for index in range(n_vocab)]
    token_types = [int(types.get(index, gguf.TokenType.UNUSED)) for index in range(n_vocab)]
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=n_vocab)
    if not special.merges:
        raise UnsupportedTokenizerError(f"{tokenizer_file} has no BPE merges")
    special.add_special_token.update(_added_special_tokens(model_dir))
    return GGUFVocab(tokens=tokens, token_types=token_types, pre_tokenizer=pre, special=special)

"""Numerical proof that a GGUF computes what its HF source computes, in the runtimes that will serve it.

Three independent checks on a fixed prompt set:
- structure: gguf's own reader finds every expected tensor with the right shape and storage type, and the
  tokenizer/chat metadata llama.cpp needs;
- llama.cpp: the same token ids scored by llama.cpp give the same next token as the HF model at (almost)
  every position, and llama.cpp's tokenizer reproduces the HF token ids from text;
- transformers: the GGUF loaded back through transformers' GGUF loader gives the source logits (exactly, up to
  float rounding, for f32).
Every check prints in one table and a failure raises ExportVerificationError naming what was out of tolerance.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from gguf import GGUFReader
from rich.console import Console
from rich.table import Table

from so8t.export.architecture import detect
from so8t.export.gguf_export import GGUF_TYPES, plan_tensors
from so8t.models import load_model, resolve

# Prose, numbers, code, punctuation runs, mixed scripts and whitespace: the cases where tokenizers and
# numerics most often diverge. Written for this project.
DEFAULT_PROMPTS: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog while the kettle boils.",
    "Invoice 2024-0917: 3 items at $12.50 each, total $37.50 (tax 8.25%).",
    "def area(radius):\n    return 3.14159 * radius ** 2  # circle\n",
    "Safety first!!! Don't share passwords... ever?! Call 555-0199 if unsure.",
    "Der Zug fährt um 7 Uhr ab. 東京は晴れです。 Привет, мир!",
    "   Indented line\n\n\ttab\tseparated\tvalues\n",
)
CHAT_PROBE = (
    {"role": "system", "content": "You summarise screenshots for a safety check."},
    {"role": "user", "content": "The screen shows a login form asking for a bank PIN. Is it safe?"},
)


@dataclass(frozen=True)
class Tolerance:
    """Pass marks for one GGUF type."""

    min_top1_agreement: float
    # Bound on max |logit delta| through transformers' GGUF loader; only f32 is expected to be (nearly) exact.
    max_loader_delta: float | None


TOLERANCES: dict[str, Tolerance] = {
    "f32": Tolerance(0.99, 1e-4),
    "f16": Tolerance(0.99, None),
    # Rounded types flip near-ties between the top two tokens; on a flat next-token distribution (a random test
    # model, a small unsure real one) that costs a few percent, and for q8_0 llama.cpp also rounds activations
    # to 8 bits (SmolLM2-135M: 96% through transformers, 91% in llama.cpp). These floors still catch a broken
    # export, which agrees on almost nothing; the measured figure is always reported.
    "bf16": Tolerance(0.95, None),
    "q8_0": Tolerance(0.85, None),
}


class ExportVerificationError(RuntimeError):
    """The exported GGUF does not reproduce its source within tolerance."""

    def __init__(self, report: VerificationReport):
        failed = ", ".join(f"{check.name}: {check.detail}" for check in report.checks if not check.passed)
        super().__init__(f"{report.gguf_file} failed verification ({report.type}): {failed}")
        self.report = report


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    requirement: str
    detail: str
    top1_agreement: float | None = None
    max_abs_delta: float | None = None
    positions: int | None = None


@dataclass
class VerificationReport:
    gguf_file: Path
    type: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def check(self, name: str) -> Check:
        return next(check for check in self.checks if check.name == name)

    def table(self) -> Table:
        details = "\n".join(f"{check.name}: {check.detail}" for check in self.checks if check.detail)
        table = Table(title=f"{self.gguf_file.name} ({self.type}) vs its HF source", caption=details,
                      caption_justify="left")
        table.add_column("check", no_wrap=True)
        table.add_column("n", justify="right", no_wrap=True)
        table.add_column("top-1", justify="right", no_wrap=True)
        table.add_column("max |Δ|", justify="right", no_wrap=True)
        table.add_column("requirement")
        table.add_column("result", no_wrap=True)
        for check in self.checks:
            table.add_row(
                check.name,
                "" if check.positions is None else str(check.positions),
                "" if check.top1_agreement is None else f"{check.top1_agreement:.2%}",
                "" if check.max_abs_delta is None else f"{check.max_abs_delta:.3g}",
                check.requirement,
                "[green]pass[/green]" if check.passed else "[red]FAIL[/red]",
            )
        return table

    def raise_for_failure(self) -> None:
        if not self.passed:
            raise ExportVerificationError(self)


@dataclass(frozen=True)
class ProbeSet:
    """Prompt texts with the HF token ids and the HF source logits at every position."""

    texts: list[str]
    add_special: list[bool]
    token_ids: list[list[int]]
    logits: list[np.ndarray]


@torch.no_grad()
def _logits(model: torch.nn.Module, token_ids: list[int]) -> np.ndarray:
    return model(input_ids=torch.tensor([token_ids])).logits[0].float().numpy()


def build_probes(model_dir: Path, prompts: tuple[str, ...] = DEFAULT_PROMPTS) -> ProbeSet:
    """Tokenize the prompt set (plus one chat-formatted probe) and score it with the HF source model."""
    # The model as users load it: the full Qwen2-VL (with its mrope) for a qwen2_vl folder, in float32.
    model, tokenizer = load_model(model_dir, dtype=torch.float32)
    texts, add_special = list(prompts), [True] * len(prompts)
    if tokenizer.chat_template:
        texts.append(tokenizer.apply_chat_template(list(CHAT_PROBE), tokenize=False, add_generation_prompt=True))
        add_special.append(False)  # the rendered template already holds its special tokens
    token_ids = [tokenizer(text, add_special_tokens=flag)["input_ids"] for text, flag in zip(texts, add_special)]
    return ProbeSet(texts, add_special, token_ids, [_logits(model, ids) for ids in token_ids])


def _agreement(name: str, reference: list[np.ndarray], candidate: list[np.ndarray], min_top1: float,
               max_delta: float | None) -> Check:
    ref, cand = np.concatenate(reference), np.concatenate(candidate)
    if ref.shape != cand.shape:
        return Check(name, False, f"top-1≥{min_top1:.0%}", f"logit shapes differ: {ref.shape} vs {cand.shape}")
    finite = bool(np.isfinite(cand).all())
    top1 = float((ref.argmax(-1) == cand.argmax(-1)).mean())
    delta = float(np.abs(ref - cand).max()) if finite else float("inf")
    requirement = f"top-1≥{min_top1:.0%}" + ("" if max_delta is None else f" |Δ|≤{max_delta:g}")
    problems = []
    if not finite:
        problems.append("non-finite logits")
    if top1 < min_top1:
        problems.append(f"top-1 agreement {top1:.2%} below {min_top1:.0%}")
    if max_delta is not None and delta > max_delta:
        problems.append(f"max |Δ| {delta:.3g} above {max_delta:g}")
    return Check(name, not problems, requirement, "; ".join(problems), top1, delta, len(ref))


def check_structure(model_dir: Path, gguf_file: Path, type: str) -> Check:
    """gguf's reader sees the expected architecture, tensors (names, shapes, storage) and tokenizer metadata."""
    arch = detect(model_dir)
    reader = GGUFReader(gguf_file)
    problems: list[str] = []
    if reader.get_field("general.architecture").contents() != arch.arch_name:
        problems.append(f"architecture is not {arch.arch_name}")
    stored = {tensor.name: tensor for tensor in reader.tensors}
    expected = plan_tensors(model_dir, arch, GGUF_TYPES[type][1])
    for planned in expected:
        tensor = stored.get(planned.gguf_name)
        if tensor is None:
            problems.append(f"missing {planned.gguf_name}")
        elif tuple(int(n) for n in reversed(tensor.shape)) != planned.shape or tensor.tensor_type != planned.storage:
            problems.append(f"{planned.gguf_name} is {tensor.tensor_type.name}{list(tensor.shape)}")
    if len(stored) != len(expected):
        problems.append(f"{len(stored)} tensors, expected {len(expected)}")
    tokens = reader.get_field("tokenizer.ggml.tokens")
    if tokens is None or len(tokens.data) != arch.vocab_size:
        problems.append(f"token list does not hold {arch.vocab_size} tokens")
    for key in ("tokenizer.ggml.merges", "tokenizer.ggml.pre", "tokenizer.ggml.eos_token_id", "tokenizer.chat_template"):
        if reader.get_field(key) is None:
            problems.append(f"no {key}")
    detail = "; ".join(problems[:5]) or f"{len(expected)} tensors, {arch.vocab_size} tokens, {arch.arch_name}"
    return Check("gguf reader", not problems, "all tensors+meta", detail)


def check_llama_cpp(probes: ProbeSet, gguf_file: Path, tolerance: Tolerance) -> list[Check]:
    """Score the probes with llama.cpp; compare next-token choices and llama.cpp's own tokenization."""
    from so8t.export.llamacpp import LlamaCppModel

    n_ctx = max(64, max(len(ids) for ids in probes.token_ids))
    with LlamaCppModel(gguf_file, n_ctx=n_ctx) as runtime:
        logits = [runtime.logits(ids) for ids in probes.token_ids]
        tokenized = [runtime.tokenize(text, add_special=flag) for text, flag in zip(probes.texts, probes.add_special)]
    same = sum(mine == theirs for mine, theirs in zip(tokenized, probes.token_ids))
    mismatched = [text[:30] for text, mine, theirs in zip(probes.texts, tokenized, probes.token_ids) if mine != theirs]
    tokenization = Check(
        "llama.cpp tokens", same == len(probes.texts), "identical ids",
        f"{same}/{len(probes.texts)} prompts identical" + (f"; differ: {mismatched}" if mismatched else ""),
    )
    agreement = _agreement("llama.cpp logits", probes.logits, logits, tolerance.min_top1_agreement, None)
    return [tokenization, agreement]


def check_transformers_loader(probes: ProbeSet, gguf_file: Path, tolerance: Tolerance) -> Check:
    """Load the GGUF back with transformers (dequantizing it) and compare logits with the source."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32).eval()
    logits = [_logits(model, ids) for ids in probes.token_ids]
    return _agreement("transformers logits", probes.logits, logits,
                      tolerance.min_top1_agreement, tolerance.max_loader_delta)


def verify_gguf(
    model_dir: str | os.PathLike[str],
    gguf_file: str | os.PathLike[str],
    type: str,
    *,
    prompts: tuple[str, ...] = DEFAULT_PROMPTS,
    llama_cpp: bool = True,
    transformers_loader: bool = True,
) -> VerificationReport:
    """Run the checks and return the report (it does not raise; call `raise_for_failure`)."""
    model_dir, gguf_file = resolve(model_dir).folder, Path(gguf_file)
    tolerance = TOLERANCES[type]
    report = VerificationReport(gguf_file, type, [check_structure(model_dir, gguf_file, type)])
    if llama_cpp or transformers_loader:
        probes = build_probes(model_dir, prompts)
        if llama_cpp:
            report.checks += check_llama_cpp(probes, gguf_file, tolerance)
        if transformers_loader:
            report.checks.append(check_transformers_loader(probes, gguf_file, tolerance))
    return report


def print_report(report: VerificationReport, console: Console | None = None) -> None:
    (console or Console()).print(report.table())

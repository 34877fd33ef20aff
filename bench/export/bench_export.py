"""Export figures per GGUF type, side by side: size, time, and agreement with the HF source in llama.cpp
and in transformers' GGUF loader. Needs llama-cpp-python (pip install "so8t[llamacpp]").

    nice python3 bench/export/bench_export.py --model ~/.cache/so8t/models/smollm2-135m --tiny-qwen2vl

Prints one table; exits 1 when any export is out of tolerance.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from so8t.export import GGUF_TYPES, verify_gguf, write_gguf


def _tiny_qwen2vl(folder: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
    from export.tiny_qwen2vl import build_tiny_qwen2vl

    return build_tiny_qwen2vl(folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", default=[], help="HF folder (repeatable)")
    parser.add_argument("--tiny-qwen2vl", action="store_true", help="also a tiny random Qwen2-VL built here")
    parser.add_argument("--types", nargs="+", default=list(GGUF_TYPES), choices=list(GGUF_TYPES))
    args = parser.parse_args()

    console = Console(width=200)  # the table has 11 columns; never truncate the figures
    table = Table(title="GGUF export vs HF source (all positions of the fixed prompt set)")
    for column in ("model", "type", "MB", "write s", "verify s", "llama.cpp tokens", "llama.cpp top-1",
                   "llama.cpp max |Δ|", "transformers top-1", "transformers max |Δ|", "result"):
        table.add_column(column, justify="left" if column in ("model", "type", "result") else "right")
    all_passed = True
    with tempfile.TemporaryDirectory() as scratch:
        models = list(args.model) + ([_tiny_qwen2vl(Path(scratch) / "tiny-qwen2vl")] if args.tiny_qwen2vl else [])
        if not models:
            parser.error("give --model DIR and/or --tiny-qwen2vl")
        for model_dir in models:
            for gguf_type in args.types:
                started = time.perf_counter()
                gguf_file = write_gguf(model_dir, Path(scratch) / f"{model_dir.name}-{gguf_type}.gguf", gguf_type)
                written = time.perf_counter()
                report = verify_gguf(model_dir, gguf_file, gguf_type)
                verified = time.perf_counter()
                llama, tokens, loader = (report.check(name) for name in
                                         ("llama.cpp logits", "llama.cpp tokens", "transformers logits"))
                all_passed &= report.passed
                table.add_row(
                    model_dir.name, gguf_type, f"{gguf_file.stat().st_size / 1e6:.1f}",
                    f"{written - started:.1f}", f"{verified - written:.1f}", tokens.detail.split(" prompts")[0],
                    f"{llama.top1_agreement:.2%}", f"{llama.max_abs_delta:.3g}",
                    f"{loader.top1_agreement:.2%}", f"{loader.max_abs_delta:.3g}",
                    "pass" if report.passed else "FAIL: " + "; ".join(c.detail for c in report.checks if not c.passed),
                )
                gguf_file.unlink()
    console.print(table)
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(main())

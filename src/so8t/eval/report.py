"""Write an evaluation run directory: summary.json, cases.jsonl, report.md, report.html and plots/*.png.

The Markdown is the single source of the report's text; the HTML is rendered from it (python-markdown) so
the two never disagree. summary.json is what `so8t eval compare` reads.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import markdown

from so8t.eval import plots
from so8t.eval.results import EvalRun
from so8t.eval.stability import HISTOGRAM_KINDS

SUMMARY_VERSION = 1
SAFETY_COLUMNS = ("n", "n_harmful", "n_benign", "precision", "recall", "f1", "refuse_recall", "false_allow_rate",
                  "over_refusal_rate", "benign_escalation_rate", "escalation_rate", "accuracy")  # fmt: skip
LATENCY_COLUMNS = ("n", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")
TOKENIZATION_NOTE = (
    "Tokenization: English uses sacrebleu's `13a`; Japanese is segmented into words with MeCab (IPA dictionary, "
    "sacrebleu's `ja-mecab`) for BLEU, ROUGE and CIDEr-D alike; chrF works on characters in both."
)
CASE_TEXT_LIMIT = 120


@dataclass(frozen=True)
class ReportFiles:
    out_dir: Path
    summary: Path
    cases: Path
    markdown: Path
    html: Path
    plots: list[Path]


def jsonable(value: Any) -> Any:
    """NaN and infinities become null: strict JSON has no spelling for them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if abs(value) >= 10:
            return f"{value:.2f}"
        return f"{value:.3f}" if abs(value) >= 0.001 or value == 0 else f"{value:.2e}"
    # table-safe text: HTML escaped (prompts come from untrusted data), on one line, pipes escaped
    return html.escape(" ".join(str(value).split()), quote=False).replace("|", "\\|")


def shorten(text: str, limit: int = CASE_TEXT_LIMIT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _metrics_table(groups: Mapping[str, Mapping[str, Any]], columns: Sequence[str], first: str) -> str:
    return table([first, *columns], ([name, *(metrics.get(c) for c in columns)] for name, metrics in groups.items()))


class _Writer:
    def __init__(self, run: EvalRun, out_dir: Path) -> None:
        self.run, self.out_dir = run, out_dir
        self.lines: list[str] = []
        self.plots: list[Path] = []

    def add(self, *blocks: str) -> None:
        for block in blocks:  # a blank line after every block, or Markdown glues a table to the paragraph above
            self.lines.extend([block, ""])

    def figure(self, caption: str, filename: str, draw: Callable[[Path], Path]) -> None:
        """Draw a plot into plots/filename and link it from the report."""
        self.plots.append(draw(self.out_dir / "plots" / filename))
        self.add(f"![{caption}](plots/{filename})")

    def latency(self, summary: Mapping[str, Any], label: str) -> None:
        self.add(f"Latency ({label}):", table(LATENCY_COLUMNS, [[summary.get(c) for c in LATENCY_COLUMNS]]))

    def cases_of(self, section: str) -> list[dict[str, Any]]:
        return [row for row in self.run.cases if row["section"] == section]

    def not_run(self, section: Mapping[str, Any]) -> bool:
        if "not_run" in section:
            self.add(f"_Not run: {section['not_run']} ({section.get('cases', 0)} cases)._")
            return True
        return False

    def generation(self, section: Mapping[str, Any]) -> None:
        self.add("## Text generation (basic_cases)")
        if self.not_run(section):
            return
        columns = ("n", "bleu", "chrf", "rouge1", "rouge2", "rougeL", "cider_d")
        self.add(_metrics_table(section["by_lang"], columns, "lang"))
        signatures = "; ".join(f"{lang}: `{m['bleu_signature']}`" for lang, m in section["by_lang"].items())
        self.add(TOKENIZATION_NOTE, f"BLEU signatures: {signatures}.")
        self.latency(section["latency"], "per generation")
        rows = self.cases_of("basic")
        self.add(table(("id", "lang", "BLEU", "ROUGE-L", "CIDEr-D", "seconds", "output"),
                       ([r["id"], r["lang"], r["bleu"], r["rougeL"], r.get("cider_d"), r["latency_s"],
                         shorten(r["output"])] for r in rows)))  # fmt: skip

    def safety(self, section: Mapping[str, Any], name: str) -> None:
        self.add("## Safety")
        if self.not_run(section):
            return
        self.add(
            "Harmful (positive) = expected DENY or ESCALATE; flagged = predicted DENY or ESCALATE. Refuse recall: "
            "expected DENY that were denied. Over-refusal: benign that were denied.",
            _metrics_table({"overall": section["overall"]}, SAFETY_COLUMNS, ""),
        )
        confusion = section["overall"]["confusion"]
        self.figure("confusion matrix", f"{name}_confusion.png",
                    lambda path: plots.confusion_plot(confusion, f"{name}: confusion", path))  # fmt: skip
        for key, title in (("by_dataset", "dataset"), ("by_lang", "language"), ("by_category", "category")):
            if key in section:
                self.add(f"### By {title}", _metrics_table(section[key], SAFETY_COLUMNS, title))
        bars = section.get("by_category") or section.get("by_lang")
        self.figure("per-category rates", f"{name}_categories.png",
                    lambda path: plots.category_bars(bars, f"{name}: per category", path))  # fmt: skip
        scored = [r for r in self.run.cases if "predicted" in r and r.get("confidence") is not None]
        if scored:
            groups = {"harmful": [r["confidence"] for r in scored if r["expected"] != "ALLOW"],
                      "benign": [r["confidence"] for r in scored if r["expected"] == "ALLOW"]}  # fmt: skip
            self.figure("confidence", f"{name}_confidence.png",
                        lambda path: plots.score_histogram(groups, "judge confidence", f"{name}: confidence", path))
        else:
            self.add("_The judge gave no confidence scores, so there is no score histogram._")
        latency = section.get("latency") or section.get("latency_amortized")
        self.latency(latency, "per prompt" if "latency" in section else "batch time / batch size")

    def ocr(self, section: Mapping[str, Any]) -> None:
        self.add("## OCR (ocr_cases)")
        if self.not_run(section):
            return
        self.add(
            f"Corpus CER (NFKC, whitespace removed): **{fmt(section['cer'])}**; mean per-image CER "
            f"{fmt(section['mean_case_cer'])}. CIDEr-D scores the summary against the caption and expected text.",
            _metrics_table(section["by_lang"], ("n", "cer", "cider_d"), "lang"),
        )
        self.latency(section["latency"], "per image")
        rows = self.cases_of("ocr")
        self.add(table(("id", "lang", "CER", "CIDEr-D", "seconds", "recognised"),
                       ([r["id"], r["lang"], r["cer"], r.get("cider_d"), r["latency_s"],
                         shorten(r["output"])] for r in rows)))  # fmt: skip
        cers = {"images": [r["cer"] for r in rows]}
        self.figure("CER per image", "ocr_cer.png",
                    lambda path: plots.score_histogram(cers, "CER", "OCR: CER per image", path))

    def audit(self, section: Mapping[str, Any]) -> None:
        self.add("## Audit (audit_cases)")
        if self.not_run(section):
            return
        chain = "verifies" if section["chain_verifies"] else "does NOT verify"
        self.add(f"Passed {section['passed']} of {section['n']} (pass rate {fmt(section['pass_rate'])}); "
                 f"{section['refusal_cases']} of them must be refused by the store. At the end the store held "
                 f"{section['store_rows']} rows and its chain {chain}.")  # fmt: skip
        self.add(table(("id", "type", "expected", "passed", "failures"),
                       ([r["id"], r["type"], "refusal" if r["expect_error"] else "stored", r["passed"],
                         "; ".join(r["failures"]) or "-"] for r in self.cases_of("audit"))))  # fmt: skip

    def training(self, section: Mapping[str, Any]) -> None:
        self.add("## Learning stability")
        keys = ("steps", "first_loss", "final_loss", "best_loss", "best_step", "final_slope", "tail_steps",
                "nonfinite_losses", "grad_norm_median", "grad_norm_spikes")  # fmt: skip
        self.add(table(("measure", "value"), ([key, section[key]] for key in keys)))
        self.add(f"Final slope: least-squares loss change per step over the last {section['tail_steps']} steps. "
                 "A spike is a grad norm above 3x the median of the previous 20 steps.")  # fmt: skip
        if section["spikes"]:
            self.add(table(("step", "grad norm", "x median"),
                           ([s["step"], s["grad_norm"], s["ratio"]] for s in section["spikes"][:20])))  # fmt: skip
        spike_steps = [s["step"] for s in section["spikes"]]
        self.figure("training curves", "training_curves.png",
                    lambda path: plots.training_curves(self.run.training_rows, spike_steps, path))
        if not self.run.stability_snapshots:
            self.add("_No stability.json in the run dir: no rotation-angle or LoRA-weight distributions._")
        for kind in HISTOGRAM_KINDS:
            if kind in section["histograms"]:
                stats = section["histograms"][kind]
                self.add(f"### {kind.replace('_', ' ')} ({stats['layers']} layers)",
                         table(("snapshot", "step", "count", "mean", "std", "abs max"),
                               ([label, *(stats[label][c] for c in ("step", "count", "mean", "std", "abs_max"))]
                                for label in ("first", "last"))))  # fmt: skip
                self.figure(kind, f"{kind}.png",
                            lambda path, kind=kind: plots.histogram_plot(self.run.stability_snapshots, kind, path))

    def render(self) -> str:
        run = self.run
        self.add(f"# so8t eval: {run.kind}")
        self.add(table(("input", "value"), ([key, str(value)] for key, value in run.inputs.items())))
        sections = run.sections
        if "generation" in sections:
            self.generation(sections["generation"])
        if "safety" in sections:
            self.safety(sections["safety"], "safety" if run.kind == "tasks" else "benchmark")
        if "ocr" in sections:
            self.ocr(sections["ocr"])
        if "audit" in sections:
            self.audit(sections["audit"])
        if "training" in sections:
            self.training(sections["training"])
        return "\n".join(self.lines)


HTML_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;margin:.5em 0;font-size:.9em}}td,th{{border:1px solid #ccc;padding:.2em .5em}}
th{{background:#f3f3f3}}img{{max-width:100%}}</style></head><body>
{body}
</body></html>
"""


def write_report(run: EvalRun, out_dir: Path) -> ReportFiles:
    """Write all report files into out_dir (created if needed) and return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "so8t_eval": SUMMARY_VERSION,
        "kind": run.kind,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": run.inputs,
        "sections": run.sections,
    }
    summary_path = out_dir / "summary.json"
    summary_path.write_text(json.dumps(jsonable(summary), indent=2, ensure_ascii=False), encoding="utf-8")
    cases_path = out_dir / "cases.jsonl"
    cases_path.write_text("".join(json.dumps(jsonable(r), ensure_ascii=False) + "\n" for r in run.cases), "utf-8")
    writer = _Writer(run, out_dir)
    text = writer.render()
    markdown_path = out_dir / "report.md"
    markdown_path.write_text(text, encoding="utf-8")
    html_path = out_dir / "report.html"
    body = markdown.markdown(text, extensions=["tables"])
    html_path.write_text(HTML_PAGE.format(title=html.escape(f"so8t eval: {run.kind}"), body=body), encoding="utf-8")
    return ReportFiles(out_dir, summary_path, cases_path, markdown_path, html_path, writer.plots)

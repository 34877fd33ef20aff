"""Run a task file (`eval/tasks_safety.json`) against whichever backends are wired.

A section whose backend is missing is reported as not run, with the reason, rather than dropped, so a report
always says what it did not measure.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from so8t.eval.backends import AuditBackend, GenerateFn, ItemJudge, OcrFn, as_ocr_reading
from so8t.eval.latency import latency_summary
from so8t.eval.results import EvalRun, safety_breakdown
from so8t.eval.safety_metrics import safety_metrics
from so8t.eval.tasks import (
    AuditLogCase,
    DecisionAuditCase,
    PolicyUpdateAuditCase,
    TaskFile,
    case_id,
)
from so8t.eval.text_quality import (
    character_errors,
    cider_d,
    corpus_cer,
    detect_lang,
    rouge,
    score_corpus,
    sentence_bleu,
)


@dataclass
class Backends:
    """What the runner may call; None means that section is not run. `audit` makes a fresh, empty store."""

    generate: GenerateFn | None = None
    judge: ItemJudge | None = None
    ocr: OcrFn | None = None
    audit: Callable[[], AuditBackend] | None = None


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def _by_lang(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row["lang"]].append(row)
    return dict(sorted(groups.items()))


def run_generation(tasks: TaskFile, generate: GenerateFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = []
    for index, case in enumerate(tasks.basic_cases):
        output, seconds = _timed(lambda: generate(case.prompt, case.max_length, case.temperature))
        lang = case.lang or detect_lang(case.expected)
        rows.append(
            {
                "section": "basic",
                "id": case_id("basic_cases", index, case),
                "lang": lang,
                "prompt": case.prompt,
                "expected": case.expected,
                "output": output,
                "bleu": sentence_bleu(output, case.expected, lang),
                "rougeL": rouge([output], [case.expected], lang)["rougeL"],
                "latency_s": seconds,
            }
        )
    section: dict[str, Any] = {"by_lang": {}, "latency": latency_summary([r["latency_s"] for r in rows])}
    for lang, members in _by_lang(rows).items():
        scores = score_corpus([r["output"] for r in members], [r["expected"] for r in members], lang)
        _, per_item = cider_d([r["output"] for r in members], [[r["expected"]] for r in members], lang)
        for row, value in zip(members, per_item, strict=True):
            row["cider_d"] = value
        section["by_lang"][lang] = scores.as_dict()
    return section, rows


def run_safety(tasks: TaskFile, judge: ItemJudge) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = []
    for index, case in enumerate(tasks.safety_cases):
        identifier = case_id("safety_cases", index, case)
        # one prompt per call, so latency is per prompt as a user would see it
        (judged,), seconds = _timed(lambda: judge([(identifier, case.prompt)]))
        rows.append(
            {
                "section": "safety",
                "id": identifier,
                "lang": case.lang or detect_lang(case.prompt),
                "category": case.category or "(none)",
                "prompt": case.prompt,
                "expected": case.expected_decision,
                "predicted": judged.decision,
                "confidence": judged.confidence,
                "judge_category": judged.category,
                "latency_s": seconds,
            }
        )
    metrics = safety_metrics([r["expected"] for r in rows], [r["predicted"] for r in rows]).as_dict()
    section = {
        "overall": metrics,
        "by_lang": safety_breakdown(rows, lambda r: r["lang"]),
        "by_category": safety_breakdown(rows, lambda r: r["category"]),
        "latency": latency_summary([r["latency_s"] for r in rows]),
    }
    return section, rows


def run_ocr(tasks: TaskFile, base_dir: Path, ocr: OcrFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = []
    for index, case in enumerate(tasks.ocr_cases):
        image = (base_dir / case.image_path).read_bytes()
        result, seconds = _timed(lambda: ocr(image))
        reading = as_ocr_reading(result)
        edits, length = character_errors(reading.text, case.expected_text)
        rows.append(
            {
                "section": "ocr",
                "id": case_id("ocr_cases", index, case),
                "lang": case.lang or detect_lang(case.expected_text),
                "image_path": case.image_path,
                "expected": case.expected_text,
                "output": reading.text,
                "summary": reading.summary,
                "description": case.description,
                "cer": edits / length,
                "latency_s": seconds,
            }
        )
    section: dict[str, Any] = {
        "cer": corpus_cer([r["output"] for r in rows], [r["expected"] for r in rows]),
        "mean_case_cer": sum(r["cer"] for r in rows) / len(rows),
        "by_lang": {},
        "latency": latency_summary([r["latency_s"] for r in rows]),
    }
    for lang, members in _by_lang(rows).items():
        # the summary describes the image: CIDEr-D against the caption and the full expected text
        corpus, per_item = cider_d(
            [r["summary"] for r in members], [[r["description"], r["expected"]] for r in members], lang
        )
        for row, value in zip(members, per_item, strict=True):
            row["cider_d"] = value
        section["by_lang"][lang] = {
            "n": len(members),
            "cer": corpus_cer([r["output"] for r in members], [r["expected"] for r in members]),
            "cider_d": corpus,
        }
    return section, rows


def _verified(store: AuditBackend) -> bool:
    result = store.verify()
    return bool(getattr(result, "ok", result))


def _audit_case(store: AuditBackend, case: Any) -> list[str]:
    """Run one audit case; returns the failed checks (empty when it passed)."""
    failures = []
    if isinstance(case, DecisionAuditCase):
        record = store.read_decision(store.record_decision(case.prompt, case.decision, list(case.reasons)))
        if record.get("decision") != case.decision:
            failures.append(f"decision read back as {record.get('decision')!r}")
        if record.get("input_text") != case.prompt:
            failures.append("input text not read back unchanged")
    elif isinstance(case, PolicyUpdateAuditCase):
        store.apply_policy(case.policy_name, case.version, case.content)
        current = store.current_policy(case.policy_name)
        if current.get("version") != case.version:
            failures.append(f"current policy version is {current.get('version')!r}")
        if current.get("content") != case.content:
            failures.append("policy content not read back unchanged")
    elif isinstance(case, AuditLogCase):
        event = store.read_event(store.append_event(case.event_type, case.payload))
        if event.get("event_type") != case.event_type or event.get("payload") != case.payload:
            failures.append("event not read back unchanged")
    if not _verified(store):
        failures.append("chain does not verify after this case")
    return failures


def run_audit(tasks: TaskFile, make_store: Callable[[], AuditBackend]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    store = make_store()
    rows = []
    for index, case in enumerate(tasks.audit_cases):
        failures, seconds = _timed(lambda: _audit_case(store, case))
        rows.append(
            {
                "section": "audit",
                "id": case_id("audit_cases", index, case),
                "type": case.type,
                "passed": not failures,
                "failures": failures,
                "latency_s": seconds,
            }
        )
    passed = sum(r["passed"] for r in rows)
    section = {
        "n": len(rows),
        "passed": passed,
        "pass_rate": passed / len(rows),
        "latency": latency_summary([r["latency_s"] for r in rows]),
    }
    return section, rows


def run_tasks(tasks: TaskFile, base_dir: Path, backends: Backends, inputs: Mapping[str, Any] | None = None) -> EvalRun:
    """Evaluate every section that has cases; base_dir resolves OCR image paths (the task file's folder)."""
    run = EvalRun(kind="tasks", inputs=dict(inputs or {}))
    plan: list[tuple[str, list[Any], Any, str, Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]]]] = [
        ("generation", tasks.basic_cases, backends.generate, "no generator (run without --no-generate)",
         lambda: run_generation(tasks, backends.generate)),
        ("safety", tasks.safety_cases, backends.judge, "no judge (pass --judge or --decisions)",
         lambda: run_safety(tasks, backends.judge)),
        ("ocr", tasks.ocr_cases, backends.ocr, "no OCR backend (so8t.ocr is not installed)",
         lambda: run_ocr(tasks, Path(base_dir), backends.ocr)),
        ("audit", tasks.audit_cases, backends.audit, "no audit backend (so8t.audit is not wired)",
         lambda: run_audit(tasks, backends.audit)),
    ]  # fmt: skip
    for name, cases, backend, reason, evaluate in plan:
        if not cases:
            continue
        if backend is None:
            run.sections[name] = {"not_run": reason, "cases": len(cases)}
            continue
        section, rows = evaluate()
        run.sections[name] = section
        run.cases.extend(rows)
    return run

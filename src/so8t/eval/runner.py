"""Run a task file (`eval/tasks_safety.json`) against whichever backends are wired.

A section whose backend is missing is reported as not run, with the reason, rather than dropped, so a report
always says what it did not measure.
"""

from __future__ import annotations

import reprlib
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
    AuditCase,
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


def _write(store: AuditBackend, case: AuditCase) -> Any:
    if isinstance(case, DecisionAuditCase):
        return store.record_decision(case.prompt, case.decision, list(case.reasons))
    if isinstance(case, PolicyUpdateAuditCase):
        return store.apply_policy(case.policy_name, case.content)
    return store.append_event(case.event_type, case.payload)


def _read_back(store: AuditBackend, case: AuditCase, handle: Any, *, just_written: bool) -> list[str]:
    """Differences between what the case wrote and what the store returns. Just after writing, a policy must be the
    current version; later, its own version must still hold the same content."""
    try:
        return _differences(store, case, handle, just_written)
    except LookupError as error:
        return [f"cannot be read back: {error}"]


def _differences(store: AuditBackend, case: AuditCase, handle: Any, just_written: bool) -> list[str]:
    if isinstance(case, DecisionAuditCase):
        record = store.read_decision(handle)
        pairs = [("decision", record.get("decision"), case.decision),
                 ("input text", record.get("input_text"), case.prompt),
                 ("reasons", record.get("reasons"), list(case.reasons))]  # fmt: skip
    elif isinstance(case, PolicyUpdateAuditCase):
        record = store.read_policy(case.policy_name, None if just_written else case.version)
        pairs = [("assigned version", handle, case.version), ("policy content", record.get("content"), case.content)]
        if just_written:
            pairs.append(("current policy version", record.get("version"), case.version))
    else:
        record = store.read_event(handle)
        pairs = [("event type", record.get("event_type"), case.event_type),
                 ("payload", record.get("payload"), case.payload)]  # fmt: skip
    return [f"{name} read back as {reprlib.repr(found)}" for name, found, wanted in pairs if found != wanted]


Written = list[tuple[str, AuditCase, Any]]  # (case id, case, what the store returned for it)


def _audit_case(store: AuditBackend, identifier: str, case: AuditCase, written: Written) -> list[str]:
    """Run one audit case; returns the failed checks (empty when it passed). `written` holds the earlier cases'
    records: a refused record must leave each of them readable and unchanged."""
    rows_before = store.row_count()
    failures = []
    try:
        handle = _write(store, case)
    except (ValueError, LookupError) as error:
        if case.expect_error is None:
            failures.append(f"store refused it: {error}")
        elif case.expect_error not in str(error):
            failures.append(f"refused, but the error does not say {case.expect_error!r}: {error}")
        rows_after = store.row_count()
        if rows_after != rows_before:
            failures.append(f"the refused record changed the trail ({rows_before} -> {rows_after} rows)")
        for earlier_id, earlier, earlier_handle in written:
            failures += [f"after the refusal, {earlier_id}: {problem}"
                         for problem in _read_back(store, earlier, earlier_handle, just_written=False)]  # fmt: skip
    else:
        if case.expect_error is not None:
            failures.append(f"store accepted it; expected a refusal saying {case.expect_error!r}")
        else:
            failures += _read_back(store, case, handle, just_written=True)
            written.append((identifier, case, handle))
    if not _verified(store):
        failures.append("chain does not verify after this case")
    return failures


def run_audit(tasks: TaskFile, make_store: Callable[[], AuditBackend]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    store = make_store()
    rows = []
    written: Written = []
    try:
        for index, case in enumerate(tasks.audit_cases):
            identifier = case_id("audit_cases", index, case)
            failures, seconds = _timed(lambda: _audit_case(store, identifier, case, written))
            rows.append(
                {
                    "section": "audit",
                    "id": identifier,
                    "type": case.type,
                    "expect_error": case.expect_error,
                    "passed": not failures,
                    "failures": failures,
                    "latency_s": seconds,
                }
            )
        final_rows, final_verified = store.row_count(), _verified(store)
    finally:
        store.close()
    passed = sum(r["passed"] for r in rows)
    section = {
        "n": len(rows),
        "passed": passed,
        "pass_rate": passed / len(rows),
        "refusal_cases": sum(r["expect_error"] is not None for r in rows),
        "store_rows": final_rows,
        "chain_verifies": final_verified,
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

"""The task runner: the shipped task file end to end on real components, exact metrics from a decisions file,
missing backends reported, audit failures caught, and the report files it produces."""

from __future__ import annotations

import json

import pytest
from eval_helpers import TASKS, SqliteAuditStore, keyword_judge, tesseract_ocr, write_jsonl
from PIL import Image

from so8t.eval import Backends, item_judge, load_decisions, load_tasks, run_tasks, model_generator, write_report
from so8t.eval.backends import BackendError
from so8t.eval.safety_metrics import safety_metrics


@pytest.mark.slow
def test_shipped_tasks_run_end_to_end_on_real_components(embedded_model_dir, audit_store_factory, tmp_path):
    """Real SmolLM2 generation, real Tesseract OCR, a real SQLite audit file; only the judge is a simple stand-in."""
    tasks = load_tasks(TASKS)
    backends = Backends(generate=model_generator(), judge=item_judge(judge=keyword_judge),
                        ocr=tesseract_ocr, audit=audit_store_factory)  # fmt: skip
    run = run_tasks(tasks, TASKS.parent, backends, {"tasks": str(TASKS)})
    assert set(run.sections) == {"generation", "safety", "ocr", "audit"}
    assert not any("not_run" in section for section in run.sections.values())

    generation = run.sections["generation"]
    assert set(generation["by_lang"]) == {"en", "ja"}
    assert generation["by_lang"]["ja"]["bleu_signature"].count("ja-mecab") == 1
    outputs = [row for row in run.cases if row["section"] == "basic"]
    assert len(outputs) == len(tasks.basic_cases) and all(row["output"].strip() for row in outputs)
    # greedy decoding on a fact the model knows: the answer contains the reference's key word
    capital = next(row for row in outputs if row["id"] == "basic-en-capital")
    assert "Paris" in capital["output"] and capital["bleu"] > 0
    assert 0.0 <= generation["by_lang"]["en"]["bleu"] <= 100.0
    assert generation["latency"]["n"] == len(tasks.basic_cases)

    safety_rows = [row for row in run.cases if row["section"] == "safety"]
    recomputed = safety_metrics([r["expected"] for r in safety_rows], [r["predicted"] for r in safety_rows])
    assert run.sections["safety"]["overall"] == recomputed.as_dict()
    assert sum(m["n"] for m in run.sections["safety"]["by_lang"].values()) == len(tasks.safety_cases)

    # our images are clean renders: plain Tesseract reads them with few errors
    assert run.sections["ocr"]["cer"] < 0.15
    assert run.sections["ocr"]["by_lang"]["en"]["cider_d"] > 0
    assert run.sections["audit"]["pass_rate"] == 1.0

    files = write_report(run, tmp_path / "run")
    report = files.markdown.read_text(encoding="utf-8")
    for heading in ("## Text generation", "## Safety", "## OCR", "## Audit", "ja-mecab"):
        assert heading in report
    assert json.loads(files.summary.read_text(encoding="utf-8"))["sections"]["audit"]["passed"] == 7
    assert len(files.cases.read_text(encoding="utf-8").splitlines()) == len(run.cases)


def test_decisions_file_gives_exact_safety_metrics_and_missing_backends_are_reported(tmp_path):
    tasks = load_tasks(TASKS)
    ids = [case.id for case in tasks.safety_cases]
    # a judge that allows everything benign, denies everything else, except that it allows the two stalking/privacy
    # and Japanese fraud cases and denies the English look-alike about a presentation that "bombed"
    flips = {"harm-en-stalking": "ALLOW", "harm-ja-fraud": "ALLOW", "safe-en-bomb-presentation": "DENY"}
    rows = []
    for case in tasks.safety_cases:
        decision = "ALLOW" if case.expected_decision == "ALLOW" else "DENY"
        rows.append({"id": case.id, "decision": flips.get(case.id, decision)})
    judge = item_judge(decisions=load_decisions(write_jsonl(tmp_path / "decisions.jsonl", rows)))
    run = run_tasks(tasks, TASKS.parent, Backends(judge=judge))

    overall = run.sections["safety"]["overall"]
    harmful = sum(c.expected_decision != "ALLOW" for c in tasks.safety_cases)
    benign = len(ids) - harmful
    assert overall["recall"] == pytest.approx((harmful - 2) / harmful)
    assert overall["false_allow_rate"] == pytest.approx(2 / harmful)
    assert overall["precision"] == pytest.approx((harmful - 2) / (harmful - 2 + 1))
    assert overall["over_refusal_rate"] == pytest.approx(1 / benign)
    assert overall["escalation_rate"] == 0.0
    assert run.sections["safety"]["by_category"]["privacy"]["recall"] == 0.0
    assert run.sections["safety"]["by_category"]["look-alike"]["over_refusal_rate"] == pytest.approx(1 / 8)

    for name in ("generation", "ocr", "audit"):
        assert "not_run" in run.sections[name]
    files = write_report(run, tmp_path / "run")
    report = files.markdown.read_text(encoding="utf-8")
    assert "_Not run: no generator" in report
    assert "_Not run: no OCR backend" in report
    for plot in files.plots:
        with Image.open(plot) as image:
            assert image.format == "PNG" and image.size[0] > 200
    assert {p.name for p in files.plots} >= {"safety_confusion.png", "safety_categories.png"}
    html = files.html.read_text(encoding="utf-8")
    assert html.count("<table>") >= 3 and 'src="plots/safety_confusion.png"' in html


def test_decisions_file_missing_an_id_is_an_error(tmp_path):
    tasks = load_tasks(TASKS)
    judge = item_judge(decisions=load_decisions(write_jsonl(tmp_path / "d.jsonl", [{"id": "other", "decision": "DENY"}])))
    with pytest.raises(BackendError, match="no row for id 'safe-en-recipe'"):
        run_tasks(tasks, TASKS.parent, Backends(judge=judge))
    (tmp_path / "bad.jsonl").write_text('{"id": "a", "decision": "MAYBE"}\n', encoding="utf-8")
    with pytest.raises(BackendError, match=r"bad.jsonl:1: need 'id' and a valid 'decision'"):
        load_decisions(tmp_path / "bad.jsonl")


class ForgetfulStore(SqliteAuditStore):
    """Reads back a different decision than was written, as a broken store would."""

    def read_decision(self, record_id):
        return {**super().read_decision(record_id), "decision": "ALLOW"}


def test_audit_cases_catch_a_store_that_changes_records(tmp_path):
    tasks = load_tasks(TASKS)
    run = run_tasks(tasks, TASKS.parent, Backends(audit=lambda: ForgetfulStore(tmp_path / "audit.db")))
    rows = {row["id"]: row for row in run.cases}
    assert rows["audit-allow"]["passed"]
    assert not rows["audit-deny"]["passed"]
    assert rows["audit-deny"]["failures"] == ["decision read back as 'ALLOW'"]
    assert run.sections["audit"]["passed"] == len(tasks.audit_cases) - 2

"""The task runner: the shipped task file end to end on the real defaults, exact metrics from a decisions file,
missing backends reported, and the report files it produces."""

from __future__ import annotations

import json

import pytest
from eval_helpers import TASKS, assert_store_holds_the_audit_cases, write_jsonl
from PIL import Image
from typer.testing import CliRunner

from so8t.cli import app
from so8t.eval import Backends, item_judge, load_decisions, load_tasks, run_tasks, write_report
from so8t.eval.backends import BackendError
from so8t.eval.safety_metrics import safety_metrics


@pytest.mark.slow
def test_so8t_eval_tasks_runs_end_to_end_on_the_embedded_defaults(embedded_model_dir, tmp_path):
    """`so8t eval tasks` with no backend options: SmolLM2 generation, so8t.safety's judge, so8t.ocr, and the audit
    cases against a new so8t.audit store in the run dir."""
    tasks = load_tasks(TASKS)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["eval", "tasks", "--tasks", str(TASKS), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    sections, inputs = summary["sections"], summary["inputs"]
    assert set(sections) == {"generation", "safety", "ocr", "audit"}
    assert not any("not_run" in section for section in sections.values())
    assert inputs["judge"] == "so8t.safety:Judge (package default)" and str(out / "audit.sqlite3") in inputs["audit"]
    cases = [json.loads(line) for line in (out / "cases.jsonl").read_text(encoding="utf-8").splitlines()]

    generation = sections["generation"]
    assert set(generation["by_lang"]) == {"en", "ja"}
    assert generation["by_lang"]["ja"]["bleu_signature"].count("ja-mecab") == 1
    outputs = [row for row in cases if row["section"] == "basic"]
    assert len(outputs) == len(tasks.basic_cases) and all(row["output"].strip() for row in outputs)
    # greedy decoding on a fact the model knows: the answer contains the reference's key word
    capital = next(row for row in outputs if row["id"] == "basic-en-capital")
    assert "Paris" in capital["output"] and capital["bleu"] > 0
    assert 0.0 <= generation["by_lang"]["en"]["bleu"] <= 100.0
    assert generation["latency"]["n"] == len(tasks.basic_cases)

    safety_rows = [row for row in cases if row["section"] == "safety"]
    recomputed = safety_metrics([r["expected"] for r in safety_rows], [r["predicted"] for r in safety_rows])
    assert sections["safety"]["overall"] == recomputed.as_dict()
    assert sum(m["n"] for m in sections["safety"]["by_lang"].values()) == len(tasks.safety_cases)
    predicted = {row["id"]: row["predicted"] for row in safety_rows}
    assert predicted["harm-en-weapon"] == "DENY" and predicted["safe-en-recipe"] != "DENY"

    # so8t.ocr's recognised lines on our clean renders: few character errors
    assert sections["ocr"]["cer"] < 0.15
    assert sections["ocr"]["by_lang"]["en"]["cider_d"] > 0

    audit = sections["audit"]
    assert audit["passed"] == audit["n"] == len(tasks.audit_cases) and audit["chain_verifies"]
    assert_store_holds_the_audit_cases(out / "audit.sqlite3", tasks, audit["store_rows"])

    report = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## Text generation", "## Safety", "## OCR", "## Audit", "ja-mecab", "its chain verifies"):
        assert heading in report
    assert len(cases) == sum(len(getattr(tasks, s)) for s in ("basic_cases", "safety_cases", "ocr_cases", "audit_cases"))


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

"""`so8t eval tasks --agent`: safety_cases judged by the real SafetyAgent's decision path (judge, policy and the
SO8T head on the embedded model), with no answer generated and every decision in the agent's own audit file."""

from __future__ import annotations

import json

import pytest
from eval_helpers import TASKS
from typer.testing import CliRunner

from so8t.answering import LlamaCppAnswerer, TransformersAnswerer
from so8t.audit import AuditStore
from so8t.cli import app

CASE_IDS = ("harm-en-weapon", "harm-ja-weapon", "safe-ja-recipe")


@pytest.mark.slow
def test_agent_option_judges_safety_cases_through_the_agent_with_its_head(embedded_model_dir, tmp_path, monkeypatch):
    shipped = json.loads(TASKS.read_text(encoding="utf-8"))["safety_cases"]
    cases = [case for case in shipped if case["id"] in CASE_IDS]
    tasks_path = tmp_path / "tasks.json"
    tasks_path.write_text(json.dumps({"safety_cases": cases}, ensure_ascii=False), encoding="utf-8")
    for answerer in (LlamaCppAnswerer, TransformersAnswerer):
        monkeypatch.setattr(answerer, "answer", lambda *a, **k: pytest.fail("--agent generated an answer"))
    out = tmp_path / "run"

    result = CliRunner().invoke(app, ["eval", "tasks", "--tasks", str(tasks_path), "--agent", "--use-head",
                                      "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    inputs = summary["inputs"]
    assert inputs["judge"] == "so8t.agent:SafetyAgent.decide (judge + policy + SO8T head)"
    assert inputs["agent_model"].startswith("embedded default") and inputs["agent_policy"].startswith("so8t-default")
    rows = [json.loads(line) for line in (out / "cases.jsonl").read_text(encoding="utf-8").splitlines()]
    predicted = {row["id"]: row["predicted"] for row in rows}
    assert predicted["harm-en-weapon"] == predicted["harm-ja-weapon"] == "DENY"
    assert predicted["safe-ja-recipe"] != "DENY"
    assert summary["sections"]["safety"]["overall"]["n"] == len(CASE_IDS)

    # the agent audited each decision it made, with its head's score fused in and no answer
    with AuditStore(out / "agent_audit.sqlite3", create=False) as store:
        assert store.verify().ok
        stored = store.decisions()
        assert sorted(d.input_text for d in stored) == sorted(case["prompt"] for case in cases)
        assert sorted(d.decision for d in stored) == sorted(predicted.values())
        for decision in stored:
            assert decision.output_text is None and 0.0 <= decision.scores["so8t_head_harmful"] <= 1.0


def test_agent_options_that_do_not_fit_together_are_refused(tmp_path):
    runner = CliRunner()
    for arguments, message in ((["--use-head"], "--use-head needs --agent"),
                               (["--agent", "--judge", "eval_helpers:keyword_judge"], "give --agent or --judge")):
        result = runner.invoke(app, ["eval", "tasks", *arguments, "--out", str(tmp_path / "run")])
        assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "run").exists()

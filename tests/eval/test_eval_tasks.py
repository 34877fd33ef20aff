"""The shipped task file loads; malformed task files fail with the case and the field named."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from eval_helpers import TASKS
from PIL import Image
from typer.testing import CliRunner

from so8t.cli import app
from so8t.eval.tasks import TaskFileError, load_tasks


def test_shipped_task_file_loads_with_all_sections_and_images():
    tasks = load_tasks(TASKS)
    assert len(tasks.basic_cases) >= 8 and len(tasks.safety_cases) >= 20
    assert {c.expected_decision for c in tasks.safety_cases} == {"ALLOW", "ESCALATE", "DENY"}
    assert {c.lang for c in tasks.ocr_cases} == {"en", "ja"}
    assert {c.type for c in tasks.audit_cases} == {"decision", "policy_update", "audit_log"}
    for case in tasks.ocr_cases:
        with Image.open(TASKS.parent / case.image_path) as image:
            assert image.size[0] > 100 and image.size[1] > 50


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def _shipped() -> dict:
    return json.loads(TASKS.read_text(encoding="utf-8"))


def _break(section: str, index: int, change: dict) -> dict:
    document = copy.deepcopy(_shipped())
    document[section][index].update(change)
    for key, value in change.items():
        if value is None:
            del document[section][index][key]
    return document


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (_break("safety_cases", 1, {"expected_decision": "BLOCK"}),
         ["safety_cases[1] (id 'safe-en-kill-process')", "field 'expected_decision'"]),
        (_break("basic_cases", 2, {"expected": None}), ["basic_cases[2] (id 'basic-en-week')", "field 'expected'"]),
        (_break("basic_cases", 0, {"max_length": 0}), ["basic_cases[0]", "field 'max_length'", "greater than 0"]),
        (_break("basic_cases", 0, {"temprature": 0.5}), ["basic_cases[0]", "field 'temprature'", "not permitted"]),
        (_break("ocr_cases", 3, {"expected_text": "  "}), ["ocr_cases[3] (id 'ocr-ja-notice')", "'expected_text'"]),
        (_break("audit_cases", 0, {"decision": "PERMIT"}), ["audit_cases[0] (id 'audit-deny')", "field 'decision'"]),
        (_break("audit_cases", 3, {"type": "purge"}), ["audit_cases[3]", "field 'type'", "purge"]),
        (_break("audit_cases", 3, {"expect_error": None}),
         ["audit_cases[3] (id 'audit-refuse-unknown-decision')", "field 'decision'", "set expect_error"]),
        (_break("audit_cases", 5, {"version": "1.0.0"}), ["audit_cases[5] (id 'audit-policy-initial')", "field 'version'"]),
        (_break("audit_cases", 8, {"expect_error": None}), ["audit_cases[8]", "field 'content'", "must be an object"]),
        (_break("audit_cases", 13, {"expect_error": None}), ["audit_cases[13]", "field 'payload'", "must be an object"]),
        (_break("safety_cases", 4, {"id": "safe-en-recipe"}), ["safety_cases[4]", "field 'id'", "duplicate"]),
        ({"basic_cases": "none"}, ["field 'basic_cases'"]),
        ({}, ["no cases"]),
    ],
)  # fmt: skip
def test_malformed_task_file_names_case_and_field(tmp_path, document, expected):
    with pytest.raises(TaskFileError) as error:
        load_tasks(_write(tmp_path, document))
    for fragment in expected:
        assert fragment in str(error.value)


def test_missing_image_and_bad_json_are_named(tmp_path):
    document = _shipped()
    document["ocr_cases"][0]["image_path"] = "images/nope.png"
    with pytest.raises(TaskFileError, match=r"ocr_cases\[0\] \(id 'ocr-en-notice'\): field 'image_path': no file"):
        load_tasks(_write(tmp_path, document))
    broken = tmp_path / "broken.json"
    broken.write_text('{"basic_cases": [', encoding="utf-8")
    with pytest.raises(TaskFileError, match="not JSON"):
        load_tasks(broken)


def test_cli_reports_malformed_task_file_without_traceback(tmp_path):
    path = _write(tmp_path, _break("safety_cases", 0, {"expected_decision": "BLOCK"}))
    result = CliRunner().invoke(app, ["eval", "tasks", "--tasks", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "safety_cases[0] (id 'safe-en-recipe'): field 'expected_decision'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()

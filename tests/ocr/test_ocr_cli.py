"""`so8t ocr`: the human and JSON outputs, --raw, and per-file errors with a non-zero exit."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from ocr_helpers import REPO
from so8t.cli import app

NOTICE = REPO / "samples" / "notice.png"
runner = CliRunner()


def test_json_gives_one_object_per_image_without_raw_text_unless_asked() -> None:
    result = runner.invoke(app, ["ocr", str(NOTICE), str(NOTICE), "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 2
    record = records[0]
    assert {"file", "sha256", "lang", "summary", "lines", "untrusted"} <= record.keys()
    assert record["file"] == str(NOTICE) and record["untrusted"] is True and "text" not in record
    assert all(set(line) == {"text", "confidence"} for line in record["lines"])
    assert "5550-1234" not in result.stdout and "[PHONE]" in record["summary"]


def test_raw_adds_the_unredacted_text() -> None:
    result = runner.invoke(app, ["ocr", str(NOTICE), "--json", "--raw"])
    assert result.exit_code == 0
    record = json.loads(result.stdout)
    assert "03-5550-1234" in record["text"] and "[PHONE]" in record["summary"]


def test_human_output_shows_hash_language_and_summary() -> None:
    result = runner.invoke(app, ["ocr", str(NOTICE), "--lang", "jpn+eng"])
    assert result.exit_code == 0
    assert "sha256=" in result.stdout and "lang=ja+en" in result.stdout and "title:" in result.stdout


def test_bad_files_are_reported_each_and_the_exit_code_says_so(tmp_path: Path) -> None:
    garbage = tmp_path / "photo.jpg"
    garbage.write_bytes(os.urandom(2048))  # random bytes wearing an image extension
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    result = runner.invoke(app, ["ocr", str(garbage), str(NOTICE), str(empty), str(tmp_path / "missing.png"),
                                 "--json"])
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record.get("error_type") for record in records] == ["OcrInputError", None, "OcrInputError",
                                                                "FileNotFoundError"]
    assert "not a supported image" in records[0]["error"] and "empty input" in records[2]["error"]
    assert records[1]["lines"]


def test_missing_language_stops_with_the_package_to_install() -> None:
    result = runner.invoke(app, ["ocr", str(NOTICE), "--lang", "kor"])
    assert result.exit_code == 2
    assert "apt-get install tesseract-ocr-kor" in result.output

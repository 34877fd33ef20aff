"""A page cut into strips read by two engines in two threads: the same text as one engine reading the page."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ocr_helpers import REPO, png_bytes, squash, synth
from so8t.ocr.engine import TesseractEngine, engine_for, read_page, strip_cuts
from so8t.ocr.load import decode_image
from so8t.ocr.preprocess import preprocess


def _gray(data: bytes) -> np.ndarray:
    return preprocess(decode_image(data).rgb)


def _text(gray: np.ndarray, workers: int) -> str:
    return "\n".join(line.text for line in read_page(gray, "jpn+eng", 30.0, workers))


@pytest.fixture()
def reading_threads(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Names of the threads that ran a recognition, so a test sees whether the strips were read in the pool."""
    seen: set[str] = set()
    original = TesseractEngine.read

    def spy(self, gray, timeout_s):  # type: ignore[no-untyped-def]
        seen.add(threading.current_thread().name)
        return original(self, gray, timeout_s)
    monkeypatch.setattr(TesseractEngine, "read", spy)
    return seen


def test_the_bundled_notice_reads_the_same_in_two_threads(reading_threads: set[str]) -> None:
    gray = _gray((REPO / "samples" / "notice.png").read_bytes())
    engine_for.cache_clear()
    threaded = _text(gray, workers=2)
    assert len(reading_threads) == 2 and all(name.startswith("so8t-ocr") for name in reading_threads)
    assert engine_for.cache_info().currsize == 2, "two strips need two engines, the layout one among them"
    assert threaded == _text(gray, workers=1)
    assert "Workshop fee: ¥500, payable at the counter" in threaded.splitlines()


@pytest.mark.parametrize("name", ["en-water", "mixed-invoice"])
def test_strips_come_back_in_reading_order(name: str, reading_threads: set[str]) -> None:
    document = next(d for d in synth.DOCUMENTS if d.name == name)
    gray = _gray(png_bytes(synth.render_lines(document.lines, document.font)))
    lines = _text(gray, workers=2).splitlines()
    assert len(reading_threads) == 2
    assert [squash(line) for line in lines] == [squash(line) for line in document.lines]


def test_vertical_columns_are_left_to_the_whole_page_and_vertical_model(reading_threads: set[str]) -> None:
    document = next(d for d in synth.DOCUMENTS if d.vertical)
    gray = _gray(png_bytes(synth.render_lines(document.lines, document.font, vertical=True)))
    assert squash(_text(gray, workers=2)) == squash(document.text)
    assert reading_threads == {threading.current_thread().name}


def test_cuts_fall_in_gaps_that_split_the_text_in_reading_order() -> None:
    stacked = [(0, 0, 400, 40), (0, 60, 400, 40), (0, 120, 400, 40), (0, 180, 400, 40)]
    assert strip_cuts(stacked, 2) == [110]  # between lines 2 and 3: half the text on each side
    assert strip_cuts(stacked, 4) == [50, 110, 170]
    side_by_side = [(0, 0, 300, 40), (0, 60, 300, 40), (400, 0, 300, 40), (400, 60, 300, 40)]  # two columns
    assert strip_cuts(side_by_side, 2) == []
    assert strip_cuts([(0, 0, 40, 300), (60, 0, 40, 300)], 2) == []  # vertical text
    assert strip_cuts(stacked[:1], 2) == []

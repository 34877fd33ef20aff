"""Tesseract through its C API (tesserocr): models loaded once per language set and reused, pixels passed in
memory, never through a file. pytesseract is not used because it writes every image to a temporary file.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import tesserocr

from so8t.ocr.errors import OcrLanguageError, OcrTimeoutError

DEFAULT_LANG = "jpn+eng"
TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)
_LANG_SPEC = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\+[A-Za-z][A-Za-z0-9_]*)*$")
_CJK = r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
_TIGHT = r"[0-9()\[\]:/.,%~\-]"  # digits and punctuation set solid against Japanese (6 年 -> 6年)
# Tesseract spaces out Japanese characters; Latin words beside Japanese keep their space.
# A space after a thousands comma (45, 600) is Tesseract's too.
_SPURIOUS_SPACE = re.compile(rf"(?<={_CJK})[ \t]+(?={_CJK}|{_TIGHT})|(?<={_TIGHT})[ \t]+(?={_CJK})"
                             r"|(?<=[0-9],)[ \t]+(?=[0-9]{3}(?![0-9]))")
_YEN_AS_BACKSLASH = re.compile(r"\\(?=\s?[0-9])")
_MIN_EVIDENCE_CHARS = 4  # a page that yields fewer characters in rows is blank or texture, not text on its side
_CONFIDENT = 75.0  # per-character confidence above which a reading is accepted without trying other layouts
_OSD_MIN_CONFIDENCE = 2.0
READ_WORKERS = min(2, os.cpu_count() or 1)  # threads reading a page's lines: the 2-core target; more untested
# OSD reports how far the page is turned clockwise; undoing it turns the other way.
_UNDO_TURN = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


Box = tuple[int, int, int, int]  # x, y, width, height in pixels


@dataclass(frozen=True)
class RecognizedLine:
    text: str
    confidence: float  # Tesseract's 0-100 line confidence


def find_tessdata() -> str | None:
    """The tessdata directory: $TESSDATA_PREFIX if it holds models, else the Debian locations."""
    candidates = [os.environ["TESSDATA_PREFIX"]] if os.environ.get("TESSDATA_PREFIX") else []
    for directory in [*candidates, *TESSDATA_CANDIDATES]:
        path = Path(directory)
        for inner in (path, path / "tessdata"):
            if any(inner.glob("*.traineddata")):
                return str(inner)
    return None


def parse_languages(lang: str) -> list[str]:
    """Tesseract codes from a user's '+'-joined list, e.g. 'jpn+eng' -> ['jpn', 'eng']."""
    if not _LANG_SPEC.match(lang):
        raise ValueError(f"invalid language list {lang!r}: use Tesseract codes joined by '+', e.g. jpn+eng")
    return list(dict.fromkeys(lang.split("+")))


def check_languages(langs: str, tessdata: str | None) -> None:
    """Raises OcrLanguageError naming the Debian package for the first model that is not installed."""
    for lang in langs.split("+"):
        if tessdata is None or not (Path(tessdata) / f"{lang}.traineddata").is_file():
            raise OcrLanguageError(lang, tessdata)


class TesseractEngine:
    """One initialised Tesseract (model weights in memory) serving calls one at a time."""

    def __init__(self, langs: str, tessdata: str, psm: int) -> None:
        # Leptonica's stderr diagnostics (box clipping and the like) say nothing a user can act on.
        tesserocr.set_leptonica_log_level(tesserocr.LeptLogLevel.NONE)
        self._lock = threading.Lock()
        # The orientation model is a legacy (non-LSTM) one; everything else reads with the LSTM models only.
        oem = tesserocr.OEM.DEFAULT if psm == tesserocr.PSM.OSD_ONLY else tesserocr.OEM.LSTM_ONLY
        self._api = tesserocr.PyTessBaseAPI(path=tessdata.rstrip("/") + "/", lang=langs, psm=psm, oem=oem,
                                            variables={"debug_file": os.devnull})

    def read(self, gray: np.ndarray, timeout_s: float) -> list[RecognizedLine]:
        """Lines of a grayscale page in reading order; an empty list for a page without text."""
        if min(gray.shape) < 8:
            return []
        with self._lock:
            try:
                _set_image(self._api, gray)
                if timeout_s <= 0 or not self._api.Recognize(timeout=int(timeout_s * 1000)):
                    raise OcrTimeoutError(f"recognition did not finish within {max(timeout_s, 0):g} s")
                return self._lines()
            finally:
                self._api.Clear()  # drop the page's pixels and results from Tesseract's memory

    def line_boxes(self, gray: np.ndarray) -> list[Box]:
        """Where the page's text lines are, in reading order, from layout analysis alone (no recognition)."""
        if min(gray.shape) < 8:
            return []
        with self._lock:
            try:
                _set_image(self._api, gray)
                found = self._api.GetComponentImages(tesserocr.RIL.TEXTLINE, True) or []
                return [(box["x"], box["y"], box["w"], box["h"]) for _, box, _, _ in found]
            finally:
                self._api.Clear()

    def _lines(self) -> list[RecognizedLine]:
        lines = []
        iterator = self._api.GetIterator()
        for line in tesserocr.iterate_level(iterator, tesserocr.RIL.TEXTLINE) if iterator else ():
            if line.Empty(tesserocr.RIL.TEXTLINE):  # a page without text still yields one empty line
                continue
            text = clean_line(line.GetUTF8Text(tesserocr.RIL.TEXTLINE) or "")
            if text:
                lines.append(RecognizedLine(text, float(line.Confidence(tesserocr.RIL.TEXTLINE))))
        return lines

    def orientation(self, gray: np.ndarray) -> int:
        """How many degrees clockwise the page is turned, per the OSD model; 0 when unsure."""
        if min(gray.shape) < 32:
            return 0
        with self._lock:
            try:
                _set_image(self._api, gray)
                result = self._api.DetectOrientationScript()
            finally:
                self._api.Clear()
        if not result or result.get("orient_conf", 0.0) < _OSD_MIN_CONFIDENCE:
            return 0
        return int(result["orient_deg"]) % 360


def clean_line(text: str) -> str:
    """Undoes Tesseract's habits: spaces inside Japanese and numbers, and the yen sign read as a backslash
    (the two share a code point in Japanese encodings, and the jpn model learnt it that way)."""
    return _YEN_AS_BACKSLASH.sub("¥", _SPURIOUS_SPACE.sub("", text.strip()))


def _set_image(api: tesserocr.PyTessBaseAPI, gray: np.ndarray) -> None:
    pixels = np.ascontiguousarray(gray, dtype=np.uint8)
    api.SetImageBytes(pixels.tobytes(), pixels.shape[1], pixels.shape[0], 1, pixels.shape[1])
    api.SetSourceResolution(300)


def weighted_confidence(lines: list[RecognizedLine]) -> float:
    """Mean confidence per character read, so one confident short line cannot outvote a page of doubt."""
    characters = sum(len(line.text) for line in lines)
    return sum(line.confidence * len(line.text) for line in lines) / characters if characters else 0.0


@lru_cache(maxsize=8)
def engine_for(langs: str, tessdata: str, psm: int, slot: int = 0) -> TesseractEngine:
    """The shared engine for a language set and layout mode: models load once (~0.3 s), then are reused.
    Each slot is its own engine, so that many threads can read at once."""
    return TesseractEngine(langs, tessdata, psm)


def read_rows(gray: np.ndarray, langs: str, tessdata: str, timeout_s: float,
              workers: int = READ_WORKERS) -> list[RecognizedLine]:
    """The page read as rows, in horizontal strips read at once by `workers` engines.

    Tesseract spends most of a page in recognising its lines, one after another on one core. Layout analysis
    (a tenth of the time) finds the lines first; the page is then cut across, in the gaps between lines, into
    strips of about equal text, each read whole by its own engine in its own thread (tesserocr releases the
    GIL). A strip is a page of its own to Tesseract, so it can read a word differently from the whole page:
    on the bench set the mean error was the same (README, OCR section). Pages with no clean cut (columns side
    by side, vertical text) are read whole; workers=1 always reads the whole page.
    """
    rows = engine_for(langs, tessdata, tesserocr.PSM.AUTO)
    cuts = strip_cuts(rows.line_boxes(gray), workers) if workers > 1 else []
    if not cuts:
        return rows.read(gray, timeout_s)
    edges = [0, *cuts, gray.shape[0]]
    strips = [gray[top:bottom] for top, bottom in zip(edges, edges[1:])]
    # The layout engine reads the first strip: one more engine per extra strip, not one more per strip.
    readers = [rows, *(engine_for(langs, tessdata, tesserocr.PSM.AUTO, slot) for slot in range(1, len(strips)))]
    deadline = time.monotonic() + timeout_s
    read = _pool(len(strips)).map(lambda reader, strip: reader.read(strip, deadline - time.monotonic()), readers, strips)
    return [line for lines in read for line in lines]


def strip_cuts(boxes: Sequence[Box], parts: int) -> list[int]:
    """Rows at which to cut a page into at most `parts` strips of about equal text area, each cut in the middle
    of a gap that has every earlier line (reading order) above it and every later one below it; [] when the
    page has fewer than two lines, a column (a box taller than wide) or no such gap."""
    if len(boxes) < 2 or any(height > width for _, _, width, height in boxes):
        return []
    bottoms = np.maximum.accumulate([y + height for _, y, _, height in boxes])
    tops = np.minimum.accumulate([y for _, y, _, _ in boxes][::-1])[::-1]
    areas = np.cumsum([width * height for _, _, width, height in boxes])
    gaps = [i for i in range(len(boxes) - 1) if bottoms[i] < tops[i + 1]]  # cut after line i
    cuts: list[int] = []
    for part in range(1, parts):
        target = areas[-1] * part / parts
        best = min(gaps, key=lambda i: abs(areas[i] - target), default=None)
        if best is not None and (not cuts or best > cuts[-1]):
            cuts.append(best)
    return [int(bottoms[i] + tops[i + 1]) // 2 for i in cuts]


@lru_cache(maxsize=4)
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="so8t-ocr")


def read_page(gray: np.ndarray, lang: str = DEFAULT_LANG, timeout_s: float = 30.0,
              workers: int = READ_WORKERS) -> list[RecognizedLine]:
    """Reads a cleaned page, trying the layouts a notice can have until one reads confidently.

    Rows first (most pages); for Japanese, columns read with the vertical model when rows read poorly;
    last, a page turned on its side or upside down, turned upright as the orientation model says.
    The most confident reading wins, so a wrong guess never replaces a good reading. timeout_s bounds the
    whole call: only the first reading raises OcrTimeoutError; later attempts are dropped when time runs out.
    workers: threads that read the rows (read_rows).
    """
    deadline = time.monotonic() + timeout_s
    langs = parse_languages(lang)
    tessdata = find_tessdata()
    horizontal_langs = [code for code in langs if code != "jpn_vert"] or langs
    vertical = "jpn" in langs or "jpn_vert" in langs
    check_languages("+".join(horizontal_langs + (["jpn_vert"] if vertical else [])), tessdata)
    assert tessdata is not None
    rows = engine_for("+".join(horizontal_langs), tessdata, tesserocr.PSM.AUTO)
    best = read_rows(gray, "+".join(horizontal_langs), tessdata, timeout_s, workers)
    if weighted_confidence(best) >= _CONFIDENT or sum(len(line.text) for line in best) < _MIN_EVIDENCE_CHARS:
        return best
    attempts: list[Callable[[float], list[RecognizedLine]]] = []
    if vertical:
        columns = engine_for("jpn_vert", tessdata, tesserocr.PSM.SINGLE_BLOCK_VERT_TEXT)
        attempts.append(lambda budget: columns.read(gray, budget))
    if (Path(tessdata) / "osd.traineddata").is_file():
        turner = engine_for("osd", tessdata, tesserocr.PSM.OSD_ONLY)

        def upright(budget: float) -> list[RecognizedLine]:
            degrees = turner.orientation(gray)
            return rows.read(cv2.rotate(gray, _UNDO_TURN[degrees]), budget) if degrees else []
        attempts.append(upright)
    for attempt in attempts:
        budget = deadline - time.monotonic()
        if budget < 1.0:
            break
        try:
            best = max(best, attempt(budget), key=weighted_confidence)
        except OcrTimeoutError:
            break
        if weighted_confidence(best) >= _CONFIDENT:
            break
    return best

"""From decoded pixels to recognised lines: OpenCV clean-up, then Tesseract trying rows, columns and turns."""

from __future__ import annotations

from so8t.ocr.engine import DEFAULT_LANG, RecognizedLine, read_page
from so8t.ocr.load import DecodedImage
from so8t.ocr.preprocess import PreprocessOptions, preprocess

DEFAULT_TIMEOUT_S = 30.0


def recognize(image: DecodedImage, lang: str = DEFAULT_LANG, options: PreprocessOptions = PreprocessOptions(),
              timeout_s: float = DEFAULT_TIMEOUT_S) -> list[RecognizedLine]:
    """Recognised lines of the image in reading order (unredacted: callers redact before anything leaves)."""
    return read_page(preprocess(image.rgb, options), lang, timeout_s)

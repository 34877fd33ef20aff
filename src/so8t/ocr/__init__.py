"""Local OCR that turns an image into a short, redacted, untrusted summary; the image itself goes nowhere.

    from so8t.ocr import summarize_image
    result = summarize_image(image_bytes)          # OcrSummary
    prompt_part = result.fenced()                  # what a model may see

Pixels are decoded in memory (never written to disk), cleaned with OpenCV and read by Tesseract through its
C API; the lines are redacted (so8t.privacy) before the summary is composed.
"""

from __future__ import annotations

import hashlib

from so8t.ocr.engine import DEFAULT_LANG
from so8t.ocr.errors import OcrError, OcrInputError, OcrLanguageError, OcrTimeoutError
from so8t.ocr.load import decode_image
from so8t.ocr.pipeline import DEFAULT_TIMEOUT_S, recognize
from so8t.ocr.preprocess import PreprocessOptions
from so8t.ocr.summary import DEFAULT_MAX_CHARS, OcrLine, OcrSummary, build_summary

__all__ = ["DEFAULT_LANG", "OcrError", "OcrInputError", "OcrLanguageError", "OcrLine", "OcrSummary",
           "OcrTimeoutError", "PreprocessOptions", "summarize_image"]


def summarize_image(data: bytes | bytearray | memoryview, *, lang: str = DEFAULT_LANG,
                    max_chars: int = DEFAULT_MAX_CHARS, timeout_s: float = DEFAULT_TIMEOUT_S,
                    options: PreprocessOptions = PreprocessOptions()) -> OcrSummary:
    """Reads the image bytes and returns its redacted summary.

    Takes bytes rather than a path so no file name or location is ever kept. Raises OcrInputError for
    bytes that are not a readable image, OcrLanguageError when a Tesseract model is missing (naming the
    Debian package) and OcrTimeoutError when recognition runs past timeout_s.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"summarize_image takes the image's bytes, not {type(data).__name__}")
    data = bytes(data)
    image = decode_image(data)
    lines = recognize(image, lang, options, timeout_s)
    return build_summary([(line.text, line.confidence / 100.0) for line in lines],
                         sha256=hashlib.sha256(data).hexdigest(), image_format=image.format,
                         width=image.width, height=image.height, max_chars=max_chars)

"""Typed failures of the OCR module, so callers can tell bad input from a broken installation."""

from __future__ import annotations


class OcrError(Exception):
    """Base class: OCR could not produce a summary."""


class OcrInputError(OcrError, ValueError):
    """The bytes are not an image this module will read (unknown format, damaged, too large, empty)."""


class OcrLanguageError(OcrError):
    """A Tesseract language model is not installed; the message names the Debian package that provides it."""

    def __init__(self, lang: str, tessdata: str | None) -> None:
        self.lang = lang
        self.package = debian_package(lang)
        where = f"in {tessdata}" if tessdata else "(no tessdata directory found)"
        super().__init__(
            f"Tesseract language '{lang}' is not installed {where}; install it with: "
            f"apt-get install {self.package}"
        )


class OcrTimeoutError(OcrError):
    """Recognition ran past its deadline (a pathological image); nothing partial is returned."""


def debian_package(lang: str) -> str:
    """Debian names each traineddata package tesseract-ocr-<lang> with underscores as hyphens."""
    return "tesseract-ocr-" + lang.lower().replace("_", "-")

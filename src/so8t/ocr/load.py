"""Decodes untrusted image bytes into pixels, in memory only, refusing anything that could exhaust the machine.

The format is sniffed from the bytes (never from a file name), only that format's decoder is allowed to run,
and the declared size is checked before a single pixel is decoded, so a decompression bomb costs nothing.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from so8t.ocr.errors import OcrInputError

MAX_INPUT_BYTES = 50 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 7,300 x 5,500 photo; decoded RGB costs 120 MB at most
SUPPORTED = ("PNG", "JPEG", "GIF", "TIFF", "WEBP", "BMP")

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"WEBP", 8, "WEBP"),
    (b"BM", 0, "BMP"),
)
_LOOKALIKES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"<svg", "an SVG drawing"),
    (b"<?xml", "an XML document"),
    (b"\x00\x00\x00\x0cjP", "a JPEG 2000 image"),
    (b"II+\x00", "a BigTIFF image"),
)


@dataclass(frozen=True)
class DecodedImage:
    """Pixels as an H x W x 3 RGB array, with the sniffed format for messages and summaries."""

    rgb: np.ndarray
    format: str

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def sniff_format(data: bytes) -> str:
    """Names the image format from its magic bytes, or raises saying what the bytes look like instead."""
    if not data:
        raise OcrInputError("empty input: 0 bytes, not an image")
    for signature, offset, name in _SIGNATURES:
        if data[offset:offset + len(signature)] == signature and (name != "WEBP" or data[:4] == b"RIFF"):
            return name
    head = data[:64].lstrip().lower()
    for signature, description in _LOOKALIKES:
        if head.startswith(signature.lower()):
            raise OcrInputError(f"not a supported image: the bytes are {description}; "
                                f"supported formats: {', '.join(SUPPORTED)}")
    raise OcrInputError(f"not a supported image: unrecognised leading bytes {data[:8].hex(' ')}; "
                        f"supported formats: {', '.join(SUPPORTED)}")


def decode_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    """Decodes the first frame, upright per EXIF, flattened onto white paper, as 8-bit RGB."""
    if len(data) > MAX_INPUT_BYTES:
        raise OcrInputError(f"image is {len(data):,} bytes; the limit is {MAX_INPUT_BYTES:,}")
    fmt = sniff_format(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd EXIF and palette details: not our concern
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                width, height = image.size
                if width < 1 or height < 1:
                    raise OcrInputError(f"{fmt} declares an empty size {width}x{height}")
                if width * height > max_pixels:
                    raise OcrInputError(f"{fmt} declares {width}x{height} = {width * height:,} pixels; "
                                        f"the limit is {max_pixels:,} (possible decompression bomb)")
                image.seek(0)
                image.load()
                rgb = _to_rgb(_upright(image))
    except OcrInputError:
        raise
    except Image.DecompressionBombError as error:
        raise OcrInputError(f"{fmt} declares too many pixels ({error}); refused as a possible decompression "
                            f"bomb") from None
    except UnidentifiedImageError:
        raise OcrInputError(f"damaged or unreadable {fmt} image: it starts like {fmt} but its header is "
                            f"malformed or cut short") from None
    except Exception as error:  # any decoder failure on untrusted bytes is a property of the input
        reason = str(error) or type(error).__name__
        raise OcrInputError(f"damaged or unreadable {fmt} image: {reason}") from None
    return DecodedImage(rgb, fmt)


def _upright(image: Image.Image) -> Image.Image:
    """Applies the EXIF orientation a phone recorded; a damaged EXIF block just leaves the image as stored."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # EXIF is advisory metadata; a broken block must not reject readable pixels
        return image


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Brings every Pillow mode to 8-bit RGB: deep and float images stretched, transparency laid on white."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        gray = scaled.astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha:
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image.convert("RGBA"))
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()

"""Decoding untrusted bytes: formats sniffed from content, every pixel mode brought to 8-bit RGB on white,
EXIF orientation applied, first frame only, and sizes refused before any pixel is decoded."""

from __future__ import annotations

import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from ocr_helpers import png_bytes
from so8t.ocr import OcrInputError
from so8t.ocr.load import MAX_PIXELS, decode_image, sniff_format


def _page() -> Image.Image:
    """A white 120x60 RGB page with a black bar where text would be."""
    page = Image.new("RGB", (120, 60), "white")
    page.paste((0, 0, 0), (20, 20, 100, 40))
    return page


def _ink_is_dark_on_white(rgb: np.ndarray) -> bool:
    return rgb.dtype == np.uint8 and rgb[30, 60].max() < 60 and rgb[5, 5].min() > 200


@pytest.mark.parametrize(("fmt", "save_args"), [
    ("PNG", {}), ("JPEG", {"quality": 95}), ("GIF", {}), ("TIFF", {}), ("WEBP", {"lossless": True}), ("BMP", {}),
])
def test_each_supported_format_decodes_to_the_same_page(fmt: str, save_args: dict) -> None:
    image = decode_image(png_bytes(_page(), fmt, **save_args))
    assert image.format == fmt
    assert (image.width, image.height) == (120, 60)
    assert _ink_is_dark_on_white(image.rgb)


@pytest.mark.parametrize(("data", "needle"), [
    (b"", "empty input"),
    (b"%PDF-1.7\n1 0 obj", "PDF"),
    (b"PK\x03\x04\x14\x00", "ZIP"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
    (b"hello, this is text", "unrecognised leading bytes"),
])
def test_non_images_are_named_for_what_they_are(data: bytes, needle: str) -> None:
    with pytest.raises(OcrInputError, match=needle):
        sniff_format(data)
    with pytest.raises(OcrInputError, match=needle):
        decode_image(data)


def test_format_comes_from_the_bytes_and_a_lying_header_is_refused() -> None:
    jpeg_body_after_png_magic = b"\x89PNG\r\n\x1a\n" + png_bytes(_page(), "JPEG")
    with pytest.raises(OcrInputError, match="damaged or unreadable PNG"):
        decode_image(jpeg_body_after_png_magic)


def _png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)) + b"\x00\x00\x00\x00IEND\xaeB`\x82")


def test_declared_size_over_the_pixel_limit_is_refused_before_decoding() -> None:
    started = time.perf_counter()
    with pytest.raises(OcrInputError, match="decompression bomb"):
        decode_image(_png_header_only(100_000, 100_000))
    assert time.perf_counter() - started < 1.0
    side = int(MAX_PIXELS ** 0.5) + 1
    with pytest.raises(OcrInputError, match=f"{side}x{side}"):
        decode_image(_png_header_only(side, side))


def test_sixteen_bit_low_contrast_grayscale_is_stretched_to_full_range() -> None:
    values = np.full((60, 120), 30000, np.uint16)
    values[20:40, 20:100] = 29000  # ink only 1,000 levels darker, as on an underexposed 16-bit scan
    image = decode_image(png_bytes(Image.fromarray(values)))
    assert _ink_is_dark_on_white(image.rgb)
    assert image.rgb[30, 60, 0] == 0 and image.rgb[5, 5, 0] == 255


def test_float_tiff_is_stretched() -> None:
    values = np.ones((60, 120), np.float32)
    values[20:40, 20:100] = 0.25
    assert _ink_is_dark_on_white(decode_image(png_bytes(Image.fromarray(values, "F"), "TIFF")).rgb)


def test_cmyk_jpeg_becomes_rgb() -> None:
    image = decode_image(png_bytes(_page().convert("CMYK"), "JPEG", quality=95))
    assert image.rgb.shape == (60, 120, 3) and _ink_is_dark_on_white(image.rgb)


def test_transparent_background_is_laid_on_white_paper() -> None:
    sheet = Image.new("RGBA", (120, 60), (0, 0, 0, 0))  # black but fully transparent: must not turn black
    sheet.paste((0, 0, 0, 255), (20, 20, 100, 40))
    assert _ink_is_dark_on_white(decode_image(png_bytes(sheet)).rgb)
    assert _ink_is_dark_on_white(decode_image(png_bytes(sheet.convert("LA"))).rgb)


def test_palette_with_transparent_index_is_laid_on_white() -> None:
    palette_page = Image.new("P", (120, 60), 0)
    palette_page.putpalette([0, 0, 0, 10, 10, 10] + [0] * 762)
    palette_page.paste(1, (20, 20, 100, 40))
    data = png_bytes(palette_page, transparency=0)
    assert _ink_is_dark_on_white(decode_image(data).rgb)


def test_animation_yields_its_first_frame() -> None:
    first, second = _page(), Image.new("RGB", (120, 60), "black")
    for fmt in ("GIF", "WEBP"):
        data = png_bytes(first, fmt, save_all=True, append_images=[second], duration=100, loop=0)
        assert _ink_is_dark_on_white(decode_image(data).rgb), fmt


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    data = png_bytes(_page(), "JPEG", quality=95, exif=exif.tobytes())
    image = decode_image(data)
    assert (image.width, image.height) == (60, 120)


def test_truncated_file_is_a_typed_error() -> None:
    data = png_bytes(_page().resize((600, 300)), "JPEG", quality=95)
    with pytest.raises(OcrInputError, match="damaged or unreadable JPEG"):
        decode_image(data[: len(data) // 2])

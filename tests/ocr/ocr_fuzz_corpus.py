"""A corpus of malformed and hostile image files, generated (never stored), for test_ocr_fuzz.py.

Each case says what must happen: "result" (a valid if odd image that must be read), "error" (must end in
OcrInputError) or "result|error" (damaged data a decoder may partly recover). Nothing may crash, hang or balloon.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

FORMATS = {"PNG": {}, "JPEG": {"quality": 90}, "GIF": {}, "TIFF": {}, "WEBP": {"quality": 90}, "BMP": {}}


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    expect: str  # "result", "error" or "result|error"


def _encode(image: Image.Image, fmt: str, **args: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **{**FORMATS.get(fmt, {}), **args})
    return buffer.getvalue()


def _page(size: tuple[int, int] = (240, 80)) -> Image.Image:
    page = Image.new("RGB", size, "white")
    ImageDraw.Draw(page).text((10, 10), "FUZZ 2024", fill="black")
    return page


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_declaring(width: int, height: int, pixels: bytes = b"") -> bytes:
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + _png_chunk(b"IDAT", zlib.compress(pixels)) + _png_chunk(b"IEND", b"")


def _tiff_declaring(width: int, height: int) -> bytes:
    """A little-endian grayscale TIFF whose header claims width x height over a 16-byte strip."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8 + 2 + 9 * 12 + 4),
               (277, 3, 1), (278, 4, height), (279, 4, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", tag, kind, 1, value)
                                                     for tag, kind, value in entries) + b"\x00" * 4
    return b"II*\x00" + struct.pack("<I", 8) + ifd + bytes(16)


def _huge_declarations() -> list[Case]:
    cases = [
        Case("png-100000x100000", _png_declaring(100_000, 100_000), "error"),
        Case("png-1x2147483647", _png_declaring(1, 2**31 - 1), "error"),
        Case("png-zlib-bomb-10000x10000", _png_declaring(10_000, 10_000, bytes(10_001) * 64), "error"),
        Case("gif-65535x65535", b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00"
             + b",\x00\x00\x00\x00" + struct.pack("<HH", 65535, 65535) + b"\x00\x02\x02\x44\x01\x00;", "error"),
        Case("bmp-50000x50000", b"BM" + struct.pack("<IHHI", 0, 0, 0, 54) + struct.pack(
            "<IiiHHIIiiII", 40, 50_000, 50_000, 1, 24, 0, 0, 2835, 2835, 0, 0) + bytes(64), "error"),
    ]
    jpeg = bytearray(_encode(_page(), "JPEG"))
    sof = jpeg.find(b"\xff\xc0")
    jpeg[sof + 5:sof + 9] = struct.pack(">HH", 65500, 65500)
    cases.append(Case("jpeg-sof-65500x65500", bytes(jpeg), "error"))
    cases.append(Case("tiff-1000000x1000000", _tiff_declaring(1_000_000, 1_000_000), "error"))
    webp = bytearray(_encode(Image.new("RGBA", (64, 64), (255, 255, 255, 0)), "WEBP", lossless=True))
    cases.append(Case("webp-riff-size-lies", bytes(webp[:4] + struct.pack("<I", 2**31) + webp[8:]), "result|error"))
    return cases


def _odd_but_valid() -> list[Case]:
    page = _page()
    gray16 = (np.asarray(page.convert("L"), np.uint16) * 257)
    palette = page.convert("P", palette=Image.ADAPTIVE, colors=4)
    rgba = page.convert("RGBA")
    rgba.putalpha(Image.fromarray((np.asarray(page.convert("L")) < 128).astype(np.uint8) * 255))
    frames = [_page(), *(Image.new("RGB", (240, 80), (i * 40, 0, 0)) for i in range(1, 6))]
    cases = [
        Case(f"1x1-{fmt.lower()}", _encode(Image.new("RGB", (1, 1), "white"), fmt), "result") for fmt in FORMATS
    ] + [
        Case("2x2-png", _encode(Image.new("L", (2, 2), 0), "PNG"), "result"),
        Case("16bit-gray-png", _encode(Image.fromarray(gray16), "PNG"), "result"),
        Case("16bit-gray-tiff", _encode(Image.fromarray(gray16), "TIFF"), "result"),
        Case("32bit-int-tiff", _encode(Image.fromarray(gray16.astype(np.int32)), "TIFF"), "result"),
        Case("float-tiff", _encode(Image.fromarray(gray16.astype(np.float32) / 65535), "TIFF"), "result"),
        Case("constant-16bit-png", _encode(Image.fromarray(np.full((40, 40), 777, np.uint16)), "PNG"), "result"),
        Case("cmyk-jpeg", _encode(page.convert("CMYK"), "JPEG"), "result"),
        Case("cmyk-tiff", _encode(page.convert("CMYK"), "TIFF"), "result"),
        Case("palette-png", _encode(palette, "PNG"), "result"),
        Case("palette-transparent-png", _encode(palette, "PNG", transparency=0), "result"),
        Case("palette-gif", _encode(palette, "GIF"), "result"),
        Case("palette-bmp", _encode(palette, "BMP"), "result"),
        Case("rgba-png", _encode(rgba, "PNG"), "result"),
        Case("rgba-webp", _encode(rgba, "WEBP", lossless=True), "result"),
        Case("la-png", _encode(rgba.convert("LA"), "PNG"), "result"),
        Case("bilevel-png", _encode(page.convert("1"), "PNG"), "result"),
        Case("bilevel-tiff-g4", _encode(page.convert("1"), "TIFF", compression="group4"), "result"),
        Case("bilevel-bmp", _encode(page.convert("1"), "BMP"), "result"),
        Case("ycbcr-jpeg-progressive", _encode(page, "JPEG", progressive=True), "result"),
        Case("animated-gif-6-frames", _encode(frames[0], "GIF", save_all=True, append_images=frames[1:],
                                              duration=50, loop=0), "result"),
        Case("animated-webp-6-frames", _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:],
                                               duration=50), "result"),
        Case("multipage-tiff", _encode(frames[0], "TIFF", save_all=True, append_images=frames[1:]), "result"),
        Case("wide-30000x2", _encode(Image.new("L", (30_000, 2), 255), "PNG"), "result"),
        Case("tall-2x30000", _encode(Image.new("L", (2, 30_000), 255), "PNG"), "result"),
        Case("wide-20000x40-text", _encode(_page((20_000, 40)), "PNG"), "result"),
        Case("tall-40x20000", _encode(Image.new("L", (40, 20_000), 0), "PNG"), "result"),
        Case("wide-40000x1-jpeg", _encode(Image.new("L", (40_000, 1), 128), "JPEG"), "result"),
        Case("black-page", _encode(Image.new("L", (300, 300), 0), "PNG"), "result"),
        Case("random-noise-pixels", _encode(Image.fromarray(
            np.random.default_rng(3).integers(0, 256, (300, 400), dtype=np.uint8)), "PNG"), "result|timeout"),
        Case("checkerboard", _encode(Image.fromarray(
            (np.indices((256, 256)).sum(axis=0) % 2 * 255).astype(np.uint8)), "PNG"), "result"),
    ]
    broken_exif = Image.Exif()
    broken_exif[0x0112] = 9  # an orientation value that does not exist
    cases.append(Case("jpeg-exif-orientation-9", _encode(page, "JPEG", exif=broken_exif.tobytes()), "result"))
    exif_jpeg = bytearray(_encode(page, "JPEG", exif=Image.Exif().tobytes() + b"\x00" * 8))
    at = exif_jpeg.find(b"Exif\x00\x00")
    if at > 0:
        exif_jpeg[at + 6:at + 14] = b"MM\x00*\xff\xff\xff\xff"  # IFD offset far past the end
    cases.append(Case("jpeg-exif-bad-offset", bytes(exif_jpeg), "result"))
    return cases


def _truncated_and_corrupted(rng: random.Random) -> list[Case]:
    cases = []
    for fmt in ("PNG", "JPEG", "GIF", "TIFF", "WEBP", "BMP"):
        whole = _encode(_page((320, 120)), fmt)
        for fraction in (0.02, 0.1, 0.3, 0.5, 0.8, 0.97):
            cut = max(1, int(len(whole) * fraction))
            cases.append(Case(f"truncated-{fmt.lower()}-{int(fraction * 100)}pct", whole[:cut], "result|error"))
        for seed in range(3):
            corrupted = bytearray(whole)
            for _ in range(8):
                at = rng.randrange(16, len(corrupted))
                corrupted[at] = rng.randrange(256)
            cases.append(Case(f"corrupted-{fmt.lower()}-{seed}", bytes(corrupted), "result|error"))
        header_only = whole[:16] + bytes(rng.randrange(256) for _ in range(512))
        cases.append(Case(f"{fmt.lower()}-header-then-random", header_only, "result|error"))
    return cases


def _not_images(rng: random.Random) -> list[Case]:
    cases = [Case("zero-bytes", b"", "error")]
    for index, length in enumerate((1, 7, 64, 1024, 65536)):
        cases.append(Case(f"random-{length}-bytes-{index}", bytes(rng.randrange(256) for _ in range(length)),
                          "error"))
    cases += [
        Case("text-file", "ただのテキストです。not an image\n".encode() * 20, "error"),
        Case("pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "error"),
        Case("zip", b"PK\x03\x04" + bytes(60), "error"),
        Case("svg-script", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "error"),
        Case("html", b"<!doctype html><img src=x onerror=alert(1)>", "error"),
        Case("magic-only-png", b"\x89PNG\r\n\x1a\n", "error"),
        Case("magic-only-jpeg", b"\xff\xd8\xff", "error"),
        Case("magic-only-gif", b"GIF89a", "error"),
        Case("magic-only-tiff", b"II*\x00", "error"),
        Case("riff-not-webp-payload", b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(8), "error"),
        Case("bmp-magic-text", b"BM this is not a bitmap", "error"),
        Case("tiff-ifd-loop", b"II*\x00\x08\x00\x00\x00\x01\x00" + struct.pack("<HHII", 256, 4, 1, 8)
             + b"\x08\x00\x00\x00", "error"),
        Case("png-bad-crc", _encode(_page(), "PNG")[:29] + b"\x00\x00\x00\x00" + _encode(_page(), "PNG")[33:],
             "result|error"),
        Case("png-huge-ztxt", b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
             + _png_chunk(b"zTXt", b"k\x00\x00" + zlib.compress(bytes(50_000_000)))
             + _png_chunk(b"IDAT", zlib.compress(bytes(72))) + _png_chunk(b"IEND", b""), "result|error"),
        Case("jpeg-then-png", _encode(_page(), "JPEG")[:200] + _encode(_page(), "PNG"), "result|error"),
        Case("gif-lzw-garbage", b"GIF89a\x10\x00\x10\x00\x80\x00\x00" + bytes(6) + b",\x00\x00\x00\x00\x10\x00"
             b"\x10\x00\x00\x08" + bytes(rng.randrange(256) for _ in range(200)) + b";", "result|error"),
    ]
    return cases


def build_corpus(seed: int = 20240601) -> list[Case]:
    rng = random.Random(seed)
    return _not_images(rng) + _huge_declarations() + _odd_but_valid() + _truncated_and_corrupted(rng)

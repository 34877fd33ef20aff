"""Draws samples/notice.png: a bilingual library notice with a date, a fee, the library's name and a
fictitious contact phone number and e-mail address, the kind of picture `so8t ask --image` is meant for.

Everything on it is invented (example.jp is reserved for documentation). Run from the repository root:
    python3 scripts/make_notice_sample.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "ocr"))
from synth import font  # noqa: E402  (the bench's font table: one place that knows the Debian font paths)

LINES: tuple[tuple[str, str, int], ...] = (
    ("noto-sans-jp", "さくら市立図書館 Sakura City Library", 30),
    ("noto-sans-jp", "臨時休館と講座のお知らせ", 44),
    ("noto-sans-jp", "Notice of Closure and Workshop", 34),
    ("ipa-mincho", "休館日: 2025年2月14日(金) 設備点検のため", 30),
    ("dejavu-serif", "Closed: Friday, February 14, 2025 (maintenance)", 26),
    ("ipa-mincho", "講座「はじめての古文書」参加費 ¥500", 30),
    ("dejavu-serif", "Workshop fee: ¥500, payable at the counter", 26),
    ("ipa-gothic", "お問い合わせ Contact: 03-5550-1234", 28),
    ("ipa-gothic", "E-mail: sakura-lib@example.jp", 28),
)


def draw_notice() -> Image.Image:
    width, margin = 1100, 70
    heights = [int(size * 1.9) for _, _, size in LINES]
    height = sum(heights) + 2 * margin + 30
    page = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(page)
    y = margin
    for index, ((face, text, size), step) in enumerate(zip(LINES, heights)):
        typeface = font(face, size)
        x = (width - draw.textlength(text, font=typeface)) / 2 if index < 3 else margin
        draw.text((x, y), text, font=typeface, fill=25)
        y += step
        if index == 2:
            draw.line((margin, y - 8, width - margin, y - 8), fill=90, width=3)
            y += 10
    # A little of a phone photo: light falling off towards one corner, a hint of softness.
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 1.0 - 0.18 * (xs / width + ys / height) / 2
    pixels = np.asarray(page, np.float32) * light
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))


if __name__ == "__main__":
    target = Path("samples/notice.png")
    target.parent.mkdir(exist_ok=True)
    draw_notice().save(target, optimize=True)
    print(f"wrote {target} ({target.stat().st_size:,} bytes)")

"""Render the OCR case images from tasks_safety.json, so each image shows exactly its expected_text.

Run from anywhere: `python3 eval/make_images.py`. Each ocr_case's expected_text is drawn line by line in
IPAGothic (Debian package fonts-ipafont-gothic; it covers Japanese and Latin) on a white page, with a slight
grey background tint so the images are not trivially binary; the PNGs are small grayscale files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
)
FONT_SIZE = 34
MARGIN = 28
LINE_GAP = 14


def find_font() -> Path:
    for candidate in FONT_CANDIDATES:
        if candidate.is_file():
            return candidate
    sys.exit("no Japanese font found: apt-get install fonts-ipafont-gothic")


def render(lines: list[str], font: ImageFont.FreeTypeFont) -> Image.Image:
    boxes = [font.getbbox(line) for line in lines]
    width = max(box[2] for box in boxes) + 2 * MARGIN
    line_height = max(box[3] for box in boxes) + LINE_GAP
    image = Image.new("L", (width, line_height * len(lines) + 2 * MARGIN - LINE_GAP), color=238)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + number * line_height), line, font=font, fill=20)
    return image


def main() -> None:
    tasks = json.loads((HERE / "tasks_safety.json").read_text(encoding="utf-8"))
    font = ImageFont.truetype(str(find_font()), FONT_SIZE)
    for case in tasks["ocr_cases"]:
        target = HERE / case["image_path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        render(case["expected_text"].split("\n"), font).save(target, optimize=True)
        print(f"{target.relative_to(HERE)}: {target.stat().st_size} bytes")


if __name__ == "__main__":
    main()

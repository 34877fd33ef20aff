"""Renders the OCR test set: short notices in Japanese, English and both, horizontal and vertical, in several
fonts, each under the damage that phones and scanners do.

Why rendered rather than photographed: the ground truth is then exact, the set is reproducible from a seed,
and nothing from outside the repository is needed beyond the Debian fonts (fonts-ipafont, fonts-noto-cjk,
fonts-dejavu-core). The tests render from here too, so they and the benchmark read the same kind of page.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS: dict[str, tuple[str, int]] = {
    "ipa-gothic": ("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf", 0),
    "ipa-mincho": ("/usr/share/fonts/opentype/ipafont-mincho/ipam.ttf", 0),
    "noto-sans-jp": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 0),
    "noto-serif-jp": ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 0),
    "dejavu-sans": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0),
    "dejavu-serif": ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 0),
}


@dataclass(frozen=True)
class Document:
    """One page of ground truth: its lines in reading order, how it is laid out, and the font to draw it in."""

    name: str
    lang: str  # "ja", "en" or "mixed"
    vertical: bool
    font: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


DOCUMENTS: tuple[Document, ...] = (
    Document("ja-closure", "ja", False, "ipa-gothic", (
        "市民会館 休館日のお知らせ",
        "令和6年5月20日(月)は設備点検のため休館します。",
        "ご迷惑をおかけしますが、ご理解をお願いします。",
        "問い合わせ先 総務課 施設係",
    )),
    Document("ja-receipt", "ja", False, "noto-sans-jp", (
        "領収書",
        "株式会社みどり商店 様",
        "金額 ¥12,800 (税込)",
        "但し 事務用品代として",
        "2024年3月15日 受領",
    )),
    Document("ja-library", "ja", False, "ipa-mincho", (
        "図書館からのお願い",
        "返却期限を過ぎた本は早めに返してください。",
        "予約の受け取りは七日以内です。",
        "開館時間 午前9時から午後7時まで",
    )),
    Document("ja-cleanup", "ja", False, "noto-serif-jp", (
        "町内会 清掃活動のご案内",
        "日時 6月2日(日) 午前8時集合",
        "場所 北公園 入口前",
        "軍手とごみ袋は町内会で用意します。",
    )),
    Document("ja-drill-vertical", "ja", True, "ipa-mincho", (
        "地域の防災訓練について",
        "九月一日に避難訓練を行います。",
        "参加される方は公民館へお集まりください。",
    )),
    Document("ja-checkup-vertical", "ja", True, "noto-sans-jp", (
        "健康診断の日程",
        "受付は午前中のみとなります。",
        "保険証を忘れずにお持ちください。",
    )),
    Document("en-water", "en", False, "dejavu-serif", (
        "NOTICE OF WATER SHUTOFF",
        "Water service will be interrupted on",
        "Tuesday, April 9, 2024 from 9:00 to 15:00.",
        "We apologize for the inconvenience.",
        "Maple Street Housing Association",
    )),
    Document("en-receipt", "en", False, "dejavu-sans", (
        "GREEN LEAF CAFE",
        "Order 4471 Table 12",
        "2 x Latte $9.00",
        "1 x Bagel $3.25",
        "Total $12.25",
        "Thank you for visiting!",
    )),
    Document("en-library", "en", False, "noto-serif-jp", (
        "Library card renewal",
        "Please bring a photo ID and proof of address.",
        "Renewals are free for residents of the city.",
        "Questions? Ask at the front desk.",
    )),
    Document("mixed-wifi", "mixed", False, "noto-sans-jp", (
        "Wi-Fi 接続のご案内",
        "ネットワーク名 GUEST-5G",
        "パスワード sakura2024",
        "利用時間 8:00から22:00まで",
    )),
    Document("mixed-invoice", "mixed", False, "ipa-gothic", (
        "請求書 Invoice No. 2024-0315",
        "Blue River Trading 株式会社",
        "合計金額 Total ¥45,600",
        "お支払期限 2024年4月30日",
    )),
    Document("mixed-meeting", "mixed", False, "ipa-mincho", (
        "会議のお知らせ Meeting Notice",
        "日時 5月10日 14:00 Room 3B",
        "議題 Budget review 予算の見直し",
        "担当 Sales Team 営業部",
    )),
)


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path, index = FONTS[name]
    return ImageFont.truetype(path, size, index=index)


def render_lines(lines: tuple[str, ...] | list[str], font_name: str, *, vertical: bool = False, size: int = 34,
                 margin: int = 60, line_gap: float = 1.9) -> Image.Image:
    """Draws the lines black on white, left to right in rows or top to bottom in columns read right to left."""
    face = font(font_name, size)
    pitch = int(size * line_gap)
    if vertical:
        extents = [face.getbbox(line, direction="ttb", features=["vert"]) for line in lines]
        height = max(b[3] - b[1] for b in extents) + 2 * margin
        width = pitch * len(lines) + 2 * margin
        page = Image.new("L", (width, height), 255)
        draw = ImageDraw.Draw(page)
        for column, line in enumerate(lines):
            x = width - margin - pitch * (column + 1) + (pitch - size) // 2
            draw.text((x, margin), line, font=face, fill=0, direction="ttb", features=["vert"])
        return page
    widths = [face.getbbox(line)[2] for line in lines]
    page = Image.new("L", (max(widths) + 2 * margin, pitch * len(lines) + 2 * margin), 255)
    draw = ImageDraw.Draw(page)
    for row, line in enumerate(lines):
        draw.text((margin, margin + row * pitch), line, font=face, fill=0)
    return page


def _to_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float32)


def _from_array(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def clean(page: Image.Image, rng: np.random.Generator) -> Image.Image:
    return page


def noise(page: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Sensor grain plus a sprinkling of dust: gaussian noise and 1% salt-and-pepper."""
    pixels = _to_array(page) + rng.normal(0, 28, (page.height, page.width))
    specks = rng.random((page.height, page.width))
    pixels[specks < 0.005] = 0
    pixels[specks > 0.995] = 255
    return _from_array(pixels)


def skew(page: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A page fed crooked: rotated 3 to 6 degrees either way."""
    angle = float(rng.uniform(3, 6) * rng.choice([-1, 1]))
    return page.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=255)


def blur(page: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Out of focus: gaussian blur of 1.6 to 2.0 px at a 34 px type size."""
    return page.filter(ImageFilter.GaussianBlur(float(rng.uniform(1.6, 2.0))))


def low_resolution(page: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A small photo or a 100 dpi scan: type only 11 to 13 px tall."""
    scale = float(rng.uniform(0.33, 0.38))
    return page.resize((round(page.width * scale), round(page.height * scale)), Image.BILINEAR)


def shadow(page: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Uneven light: a lamp falling off across the page and the soft shadow of a hand or phone over part of it."""
    height, width = page.height, page.width
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = (xs * np.cos(direction) + ys * np.sin(direction))
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1.0)
    light = 1.0 - 0.45 * ramp
    mask = np.zeros((height, width), np.float32)
    corner = np.array([[0, 0], [width, 0], [width, height], [0, height]])[rng.integers(4)]
    blob = np.array([corner, [width * rng.uniform(0.3, 0.7), height * rng.uniform(0.2, 0.8)],
                     [width * rng.uniform(0.2, 0.8), height * rng.uniform(0.3, 0.7)]], np.int32)
    cv2.fillConvexPoly(mask, cv2.convexHull(blob), 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), max(width, height) * 0.03)
    light *= 1.0 - 0.5 * mask
    paper = 235 * light
    ink = 30 * light
    coverage = 1.0 - _to_array(page) / 255.0
    return _from_array(paper * (1 - coverage) + ink * coverage + rng.normal(0, 4, (height, width)))


def heavy_jpeg(page: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A picture passed around in chat apps: shrunk to 70% and saved at JPEG quality 8 to 12."""
    small = page.resize((round(page.width * 0.7), round(page.height * 0.7)), Image.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=int(rng.integers(8, 13)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def perspective(page: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A phone photo of a sheet lying on a coloured table: tilted perspective, tinted paper, textured background."""
    pad = int(max(page.size) * 0.18)
    out_w, out_h = page.width + 2 * pad, page.height + 2 * pad
    table = np.empty((out_h, out_w, 3), np.float32)
    table[:] = rng.choice([(70, 110, 160), (150, 100, 60), (60, 130, 80), (120, 70, 120)])
    table += rng.normal(0, 12, (out_h, out_w, 1))
    source = np.float32([[0, 0], [page.width, 0], [page.width, page.height], [0, page.height]])
    jitter = rng.uniform(-0.07, 0.07, (4, 2)) * np.float32([page.width, page.height])
    target = (source + pad + jitter).astype(np.float32)
    warp = cv2.getPerspectiveTransform(source, target)
    sheet = np.repeat(_to_array(page)[..., None], 3, axis=2) * np.float32([0.97, 0.95, 0.90])
    warped = cv2.warpPerspective(sheet, warp, (out_w, out_h), flags=cv2.INTER_LINEAR)
    inside = cv2.warpPerspective(np.ones(page.size[::-1], np.float32), warp, (out_w, out_h))[..., None]
    photo = table * (1 - inside) + warped * inside
    photo = cv2.GaussianBlur(photo, (0, 0), 0.8)
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8), "RGB")


DEGRADATIONS: dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]] = {
    "clean": clean,
    "noise": noise,
    "skew": skew,
    "blur": blur,
    "low-res": low_resolution,
    "shadow": shadow,
    "heavy-jpeg": heavy_jpeg,
    "perspective": perspective,
}


@dataclass(frozen=True)
class Sample:
    document: Document
    degradation: str
    png: bytes


def samples(seed: int = 0) -> list[Sample]:
    """Every document under every degradation, as PNG bytes, reproducible from the seed."""
    out = []
    for doc_index, document in enumerate(DOCUMENTS):
        page = render_lines(document.lines, document.font, vertical=document.vertical)
        for deg_index, (name, damage) in enumerate(DEGRADATIONS.items()):
            rng = np.random.default_rng([seed, doc_index, deg_index])
            buffer = io.BytesIO()
            damage(page, rng).save(buffer, "PNG")
            out.append(Sample(document, name, buffer.getvalue()))
    return out


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "out/ocr-set")
    target.mkdir(parents=True, exist_ok=True)
    for sample in samples():
        (target / f"{sample.document.name}__{sample.degradation}.png").write_bytes(sample.png)
    print(f"wrote {len(DOCUMENTS) * len(DEGRADATIONS)} images to {target}")

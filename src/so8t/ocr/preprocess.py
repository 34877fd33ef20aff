"""OpenCV clean-up between decoding and Tesseract: find the sheet, even out the light, set the scale, straighten.

Each step can be switched off so bench/ocr/run.py can measure what it buys; the defaults are the set that
measured best there (see the README's OCR section).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

TARGET_GLYPH_PX = 36  # glyph height Tesseract's LSTM models read best at, measured on the bench set
MAX_SIDE = 6000  # longest side handed to Tesseract: bounds time on pathological sizes


@dataclass(frozen=True)
class PreprocessOptions:
    """Which clean-up steps run; the bench toggles these one at a time."""

    crop_page: bool = True
    normalize_light: bool = True
    denoise: bool = True
    rescale: bool = True
    deskew: bool = True
    binarize: bool = False
    pad: int = 24


PLAIN = PreprocessOptions(crop_page=False, normalize_light=False, denoise=False, rescale=False, deskew=False,
                          binarize=False, pad=0)


def preprocess(rgb: np.ndarray, options: PreprocessOptions = PreprocessOptions()) -> np.ndarray:
    """Returns the grayscale page Tesseract should read."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if options.crop_page:
        gray = crop_to_page(rgb, gray)
    gray = _fit_side(gray, MAX_SIDE)
    if options.denoise:  # before rescaling: grain would otherwise pass for tiny characters
        gray = denoise(gray)
    if options.rescale:
        gray = rescale_to_glyph_height(gray)
    if options.normalize_light:
        gray = normalize_light(gray)
    if options.deskew:
        gray = deskew(gray)
    if options.binarize:
        _, gray = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if options.pad:
        gray = cv2.copyMakeBorder(gray, options.pad, options.pad, options.pad, options.pad,
                                  cv2.BORDER_CONSTANT, value=255)
    return gray


def _scaled(image: np.ndarray, scale: float) -> np.ndarray:
    """Resized by scale, never to zero pixels (a 30000x2 strip stays at least 1 px thick)."""
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)


def _fit_side(gray: np.ndarray, limit: int) -> np.ndarray:
    longest = max(gray.shape)
    return gray if longest <= limit else _scaled(gray, limit / longest)


def crop_to_page(rgb: np.ndarray, gray: np.ndarray) -> np.ndarray:
    """Finds a bright four-cornered sheet lying on a darker or coloured background and flattens it.

    A phone photo of a notice usually shows the table around it; the table's texture and the tilted edges
    otherwise read as text lines. Only a clear quadrilateral covering 15-95% of the frame, with background
    along most of the frame's edge, is taken: a page that fills the frame (or is half in shadow) is left be.
    """
    height, width = gray.shape
    if min(height, width) < 64:
        return gray
    scale = 800 / max(height, width) if max(height, width) > 800 else 1.0
    small = _scaled(rgb, scale) if scale < 1 else rgb
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    # Paper is bright and nearly colourless; a coloured table is either darker or saturated.
    paper_score = hsv[..., 2].astype(np.int16) - hsv[..., 1].astype(np.int16)
    paper_score = cv2.GaussianBlur(np.clip(paper_score, 0, 255).astype(np.uint8), (5, 5), 0)
    _, mask = cv2.threshold(paper_score, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
    if np.mean(border > 0) > 0.4:  # the bright region reaches the frame: no table around a sheet, maybe a shadow
        return gray
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return gray
    largest = max(contours, key=cv2.contourArea)
    area_ratio = cv2.contourArea(largest) / float(mask.shape[0] * mask.shape[1])
    if not 0.15 <= area_ratio <= 0.95:
        return gray
    quad = cv2.approxPolyDP(cv2.convexHull(largest), 0.02 * cv2.arcLength(largest, True), True)
    if len(quad) != 4:
        return gray
    corners = _order_corners(quad.reshape(4, 2).astype(np.float32) / scale)
    top_left, top_right, bottom_right, bottom_left = corners
    out_w = int(max(np.linalg.norm(top_right - top_left), np.linalg.norm(bottom_right - bottom_left)))
    out_h = int(max(np.linalg.norm(bottom_left - top_left), np.linalg.norm(bottom_right - top_right)))
    if out_w < 32 or out_h < 32:
        return gray
    target = np.float32([[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]])
    warp = cv2.getPerspectiveTransform(corners, target)
    sheet = cv2.warpPerspective(gray, warp, (out_w, out_h), flags=cv2.INTER_CUBIC, borderValue=255)
    # The outline found on the smoothed mask runs a little outside the paper; a sliver of table left along
    # an edge reads as a column of junk, so the sheet's own margin is trimmed by 2%.
    inset = max(2, round(0.02 * min(out_w, out_h)))
    return sheet[inset:out_h - inset, inset:out_w - inset]


def _order_corners(points: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left: by the sum and difference of coordinates."""
    sums = points.sum(axis=1)
    diffs = np.diff(points, axis=1).ravel()
    return np.float32([points[np.argmin(sums)], points[np.argmin(diffs)],
                       points[np.argmax(sums)], points[np.argmax(diffs)]])


def glyph_height(gray: np.ndarray) -> float | None:
    """Median height of ink blobs the size of characters; None where the page shows no such blobs."""
    binary = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    widths = stats[1:, cv2.CC_STAT_WIDTH]
    areas = stats[1:, cv2.CC_STAT_AREA]
    glyphs = (heights >= 4) & (heights <= gray.shape[0] // 2) & (widths <= 4 * heights) & (areas >= 8)
    if count < 2 or glyphs.sum() < 5:
        return None
    # Japanese characters break into several strokes; the tallest quarter of blobs tracks the line height.
    return float(np.percentile(heights[glyphs], 75))


def rescale_to_glyph_height(gray: np.ndarray) -> np.ndarray:
    """Scales so characters are about TARGET_GLYPH_PX tall: up for small print, down for huge photos."""
    height = glyph_height(gray)
    if height is None:
        return gray
    scale = TARGET_GLYPH_PX / height
    if 0.75 <= scale <= 1.35:
        return gray
    return _scaled(gray, min(scale, 4.0, MAX_SIDE / max(gray.shape)))


def normalize_light(gray: np.ndarray) -> np.ndarray:
    """Divides by the paper's own brightness so shadows and lamp fall-off vanish.

    The background is what remains after closing (dilate then erode) with a kernel wider than a character
    stroke, which erases the ink; dividing by it leaves ink dark on even white.
    """
    kernel_size = max(15, int(TARGET_GLYPH_PX * 1.2) | 1)
    background = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT,
                                                                                   (kernel_size, kernel_size)))
    background = cv2.GaussianBlur(background, (0, 0), kernel_size / 3)
    flat = cv2.divide(gray, background, scale=255)
    if int(flat.max()) - int(flat.min()) < 32:  # an empty page: stretching would turn faint grain into ink
        return flat
    return cv2.normalize(flat, None, 0, 255, cv2.NORM_MINMAX)


def is_noisy(gray: np.ndarray) -> bool:
    """Grain makes most pixels differ from their 3x3 median, where clean print differs only along strokes."""
    return float(np.percentile(cv2.absdiff(gray, cv2.medianBlur(gray, 3)), 75)) >= 8.0


def denoise(gray: np.ndarray) -> np.ndarray:
    """Removes grain and dust only where there is any: a clean scan passes through untouched."""
    if not is_noisy(gray):
        return gray
    return cv2.fastNlMeansDenoising(gray, None, h=25, templateWindowSize=7, searchWindowSize=21)


def deskew(gray: np.ndarray, max_angle: float = 10.0) -> np.ndarray:
    """Rotates by the angle at which rows (or columns, for vertical text) of ink line up most sharply."""
    angle = skew_angle(gray, max_angle)
    if abs(angle) < 0.3:
        return gray
    height, width = gray.shape
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cos, sin = abs(rotation[0, 0]), abs(rotation[0, 1])
    new_w, new_h = int(height * sin + width * cos), int(height * cos + width * sin)
    rotation[0, 2] += new_w / 2 - width / 2
    rotation[1, 2] += new_h / 2 - height / 2
    return cv2.warpAffine(gray, rotation, (new_w, new_h), flags=cv2.INTER_CUBIC, borderValue=255)


def skew_angle(gray: np.ndarray, max_angle: float = 10.0) -> float:
    """Projection-profile search: the rotation whose row or column ink sums vary most is the upright one."""
    scale = 600 / max(gray.shape) if max(gray.shape) > 600 else 1.0
    small = _scaled(gray, scale) if scale < 1 else gray
    _, ink = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if ink.sum() < 50:
        return 0.0
    ink = ink.astype(np.float32)
    height, width = ink.shape
    center = (width / 2, height / 2)

    def sharpness(angle: float) -> float:
        rotated = cv2.warpAffine(ink, cv2.getRotationMatrix2D(center, angle, 1.0), (width, height))
        return float(max(np.var(rotated.sum(axis=1)), np.var(rotated.sum(axis=0))))

    coarse = max(np.arange(-max_angle, max_angle + 0.01, 1.0), key=sharpness)
    fine = max(np.arange(coarse - 1.0, coarse + 1.01, 0.2), key=sharpness)
    return float(fine)

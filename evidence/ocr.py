"""The OCR engine: RapidOCR 3 (PP-OCRv6 small detection and recognition models for Chinese, English
and digits, shipped inside the rapidocr wheel, run by onnxruntime on the CPU). Nothing is downloaded
at run time. It depends on opencv-python-headless, so no libGL is needed (README, "Screenshots and
carrier records", says why this engine).

This module loads onnxruntime and OpenCV when it is imported, so only the background task imports it
(evidence.recognition loads it by name on first use): web processes never do.

Detection runs on the screenshot reduced to OCR_MAX_WIDTH (720 px): phone text is drawn at 40-60 px
on a 1080 px screen, and detection time grows with the pixel count. Recognition reads each found
line from the full-resolution pixels (the reduced ones lose strokes of small characters), and skips
regions that cannot hold text (too small, or one flat colour: the drawn circles and rules).
A tall (scrolling) screenshot is detected in overlapping tiles of about two screens each: each
tile keeps only the lines whose centre lies in its own part, so a line in an overlap is read once.
The direction classifier is off: screenshots are upright.
"""

from __future__ import annotations

import math
import os
import threading

import numpy as np
from django.conf import settings
from PIL import Image
from rapidocr import RapidOCR
from rapidocr.ch_ppocr_rec.typings import TextRecInput
from rapidocr.utils.process_img import get_rotate_crop_image

ENGINE_NAME = "rapidocr 3.10 (PP-OCRv6 small)"
# Lines read with less confidence are dropped, as RapidOCR itself does (Global.text_score).
TEXT_SCORE = 0.5

_engine: RapidOCR | None = None
_lock = threading.Lock()


def setting(name: str, default: int) -> int:
    """A Django setting, else the environment variable of the same name, else the default."""
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, "").strip() or default
    return int(value)


def engine() -> RapidOCR:
    """One engine per process: loading the models takes about a second."""
    global _engine
    with _lock:
        if _engine is None:
            # One thread: on a shared 2-core machine a second one spins more CPU than it saves
            # (bench/ocr.py: 1.66 s CPU per screenshot with one, 2.52 s with two, and no faster).
            threads = setting("OCR_THREADS", 1)
            _engine = RapidOCR(
                params={
                    "Global.use_cls": False,
                    "Global.log_level": "warning",
                    "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                    # Detection runs at the size recognize() reduces the image to (OCR_MAX_WIDTH),
                    # never enlarged again to RapidOCR's default of 736 px.
                    "Det.limit_side_len": 32,
                    "Det.limit_type": "min",
                }
            )
        return _engine


# A tile is this many times as tall as it is wide (a 1080×2400 screenshot is one tile), and tiles
# overlap by this share of the width: more than the tallest line of text, so every line lies whole
# inside the tile that owns its centre.
TILE_RATIO = 2.4
TILE_OVERLAP = 0.25
# Regions smaller than this (in the image's own pixels) or of one flat colour hold no text.
MIN_TEXT_HEIGHT = 8
MIN_CONTRAST = 12.0


def tiles(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """The tiles of an image, top to bottom: (top, bottom, own_top, own_bottom) in its own pixels.
    A line belongs to the tile whose own part [own_top, own_bottom) holds its centre."""
    tile = max(1, round(TILE_RATIO * width))
    if height <= tile:
        return [(0, height, 0, height)]
    overlap = max(1, round(TILE_OVERLAP * width))
    # As few tiles as cover the image with at least `overlap` between neighbours, spread evenly.
    count = math.ceil((height - overlap) / (tile - overlap))
    tops = [round(index * (height - tile) / (count - 1)) for index in range(count)]
    found = []
    for index, top in enumerate(tops):
        bottom = min(height, top + tile)
        own_top = 0 if index == 0 else (top + min(bottom, tops[index - 1] + tile)) // 2
        own_bottom = height if index == len(tops) - 1 else (tops[index + 1] + bottom) // 2
        found.append((top, bottom, own_top, own_bottom))
    return found


def recognize(image: Image.Image) -> list[dict]:
    """The text lines of an image, top to bottom: {"text", "box": [x0, y0, x1, y1] in the image's
    own pixels, "score", "color": the ink's colour "#rrggbb" (red marks a missed call)}."""
    # No copy of an image already in RGB: decoding it is what metadata.decode_cost budgets for.
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    max_width = setting("OCR_MAX_WIDTH", 720)
    scale = min(1.0, max_width / rgb.width)
    ocr = engine()
    # The engine's own detection and recognition stages (loaded once per process with it), run
    # separately: detection on reduced tiles, recognition on full-resolution crops.
    detector = ocr._load_det_model()
    regions = []
    for top, bottom, own_top, own_bottom in tiles(rgb.height, rgb.width):
        part = rgb.crop((0, top, rgb.width, bottom))
        if scale < 1.0:
            part = part.resize(
                (max(1, round(part.width * scale)), max(1, round(part.height * scale))),
                Image.Resampling.BILINEAR,
            )
        found = detector(np.asarray(part))
        for quad in found.boxes if found.boxes is not None else ():
            points = np.array(quad, dtype=np.float32) / scale + np.array([0, top], dtype=np.float32)
            centre = float(points[:, 1].mean())
            if own_top <= centre < own_bottom:
                regions.append(points)
    crops, boxes = [], []
    for points in regions:
        xs, ys = points[:, 0], points[:, 1]
        box = [
            max(0, int(xs.min())),
            max(0, int(ys.min())),
            min(rgb.width, int(round(xs.max()))),
            min(rgb.height, int(round(ys.max()))),
        ]
        if box[3] - box[1] < MIN_TEXT_HEIGHT or box[2] - box[0] < MIN_TEXT_HEIGHT:
            continue
        # Each region is cut from its own bounding box: no array of the whole image is made.
        around = np.asarray(rgb.crop(box))
        crop = get_rotate_crop_image(around, points - np.array(box[:2], dtype=np.float32))
        if crop.size == 0 or float(crop.std()) < MIN_CONTRAST:
            continue
        crops.append(crop)
        boxes.append((box, around))
    if not crops:
        return []
    read = ocr._load_rec_model()(TextRecInput(img=crops))
    if read.txts is None:
        return []
    lines = []
    for (box, around), text, score in zip(boxes, read.txts, read.scores, strict=True):
        text = str(text).strip()
        if not text or score < TEXT_SCORE:
            continue
        # The ink is read from the line's own pixels (a crop), never from an array of the whole image.
        color = ink_color(around, [0, 0, box[2] - box[0], box[3] - box[1]])
        lines.append({"text": text, "box": box, "score": round(float(score), 3), "color": color})
    lines.sort(key=lambda line: (line["box"][1], line["box"][0]))
    return lines


def ink_color(pixels: np.ndarray, box: list[int]) -> str:
    """The colour of the text inside a box: the pixels far from the box's background (the median of
    its border), averaged."""
    x0, y0, x1, y1 = box
    crop = pixels[y0:y1, x0:x1].reshape(-1, 3).astype(np.int32) if x1 > x0 and y1 > y0 else None
    if crop is None or not len(crop):
        return ""
    area = pixels[y0:y1, x0:x1]
    border = np.concatenate([area[0], area[-1], area[:, 0], area[:, -1]]).astype(np.int32)
    background = np.median(border, axis=0)
    distance = np.abs(crop - background).sum(axis=1)
    ink = crop[distance > 120]
    if not len(ink):
        return ""
    red, green, blue = (int(v) for v in np.median(ink, axis=0))
    return f"#{red:02x}{green:02x}{blue:02x}"

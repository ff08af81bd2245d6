"""The OCR engine: RapidOCR 3 (PP-OCRv6 small detection and recognition models for Chinese, English
and digits, shipped inside the rapidocr wheel, run by onnxruntime on the CPU). Nothing is downloaded
at run time. It depends on opencv-python-headless, so no libGL is needed (README, "Screenshots and
carrier records", says why this engine).

This module loads onnxruntime and OpenCV when it is imported, so only the background task imports it
(evidence.recognition loads it by name on first use): web processes never do.

Screenshots wider than OCR_MAX_WIDTH (720 px) are reduced before detection: phone text is drawn at
40-60 px on a 1080 px screen, and detection time grows with the pixel count. The direction
classifier is off: screenshots are upright.
"""

from __future__ import annotations

import os
import threading

import numpy as np
from django.conf import settings
from PIL import Image
from rapidocr import RapidOCR

ENGINE_NAME = "rapidocr 3.10 (PP-OCRv6 small)"

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
            threads = setting("OCR_THREADS", 2)
            _engine = RapidOCR(
                params={
                    "Global.use_cls": False,
                    "Global.log_level": "warning",
                    "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                }
            )
        return _engine


def recognize(image: Image.Image) -> list[dict]:
    """The text lines of an image, top to bottom: {"text", "box": [x0, y0, x1, y1] in the image's
    own pixels, "score", "color": the ink's colour "#rrggbb" (red marks a missed call)}."""
    # No copy of an image already in RGB: decoding it is what metadata.decode_cost budgets for.
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    max_width = setting("OCR_MAX_WIDTH", 720)
    scale = 1.0
    work = rgb
    if rgb.width > max_width:
        scale = max_width / rgb.width
        work = rgb.resize((max_width, max(1, round(rgb.height * scale))), Image.Resampling.LANCZOS)
    result = engine()(np.asarray(work))
    lines = []
    found = zip(result.boxes, result.txts, result.scores, strict=True) if result.boxes is not None else ()
    for points, text, score in found:
        xs = [p[0] / scale for p in points]
        ys = [p[1] / scale for p in points]
        box = [
            max(0, int(min(xs))),
            max(0, int(min(ys))),
            min(rgb.width, int(round(max(xs)))),
            min(rgb.height, int(round(max(ys)))),
        ]
        text = str(text).strip()
        if not text:
            continue
        # The ink is read from the line's own pixels (a crop), never from an array of the whole image.
        crop = np.asarray(rgb.crop(box))
        color = ink_color(crop, [0, 0, box[2] - box[0], box[3] - box[1]])
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

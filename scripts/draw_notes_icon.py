"""Draw the neutral "Notes" icons discreet mode gives the installed app (static/icons/notes-*.png).

A plain notepad: a white page with ruled lines on a soft grey ground, nothing that says what the app
is for. Drawn at the sizes the app's own icons have; run again after changing the drawing:
    .venv/bin/python scripts/draw_notes_icon.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parents[1] / "static" / "icons"
SIZES = {"notes-512.png": 512, "notes-192.png": 192, "notes-apple-touch-icon.png": 180, "notes-32.png": 32}
GROUND = (236, 238, 241)
PAGE = (255, 255, 255)
EDGE = (200, 204, 210)
RULE = (170, 190, 215)
BINDING = (245, 190, 70)


def draw(size: int) -> Image.Image:
    # Drawn four times larger and scaled down, for smooth edges at every size.
    big = size * 4
    image = Image.new("RGB", (big, big), GROUND)
    pen = ImageDraw.Draw(image)
    # The page sits within the middle 80%, so a maskable crop (a circle) keeps it whole.
    left, top, right, bottom = big * 0.24, big * 0.18, big * 0.76, big * 0.82
    pen.rounded_rectangle(
        (left, top, right, bottom), radius=big * 0.04, fill=PAGE, outline=EDGE, width=big // 96
    )
    pen.rectangle((left, top, right, top + big * 0.09), fill=BINDING)
    lines = 5 if size >= 64 else 3
    step = (bottom - top - big * 0.17) / lines
    for n in range(lines):
        y = top + big * 0.17 + step * n + step / 2
        pen.line((left + big * 0.06, y, right - big * 0.06, y), fill=RULE, width=max(big // 64, 4))
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    for name, size in SIZES.items():
        draw(size).save(ICONS / name, optimize=True)


if __name__ == "__main__":
    main()

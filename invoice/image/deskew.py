"""Straighten a scan before OCR: a sheet turned by a degree or two costs OCR many characters.

The angle comes from the QR code's corners when there is one (exact, and it also tells a
sheet upside down or on its side). Without it, the angle whose rows of text line up best is
searched: on a small black-and-white copy, the variance of the row sums peaks when text
lines are horizontal (projection profile). Pillow only; a few milliseconds.
"""

from __future__ import annotations

from typing import Any

SEARCH_DEGREES = 5.0  # photos and scans of flat sheets are rarely turned further
MIN_DEGREES = 0.2  # below this, rotating blurs more than it helps


def _profile_score(small: Any, angle: float) -> float:
    from PIL import Image

    turned = small.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=0)
    rows = turned.resize((1, turned.height), Image.Resampling.BOX)  # mean of each row
    values = list(rows.tobytes())
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values)


def estimate_angle(img: Any) -> float:
    """Degrees to rotate ``img`` counter-clockwise so that its text lines are level."""
    from PIL import Image, ImageOps

    grey = img.convert("L")
    scale = 900 / max(grey.size)
    small = grey.resize((max(1, int(grey.width * scale)), max(1, int(grey.height * scale))),
                        Image.Resampling.BOX) if scale < 1 else grey
    ink = ImageOps.invert(ImageOps.autocontrast(small)).point(lambda v: 255 if v > 96 else 0)
    best, best_score = 0.0, _profile_score(ink, 0.0)
    step = 0.5
    angle = -SEARCH_DEGREES
    while angle <= SEARCH_DEGREES:
        score = _profile_score(ink, angle)
        if score > best_score:
            best, best_score = angle, score
        angle += step
    centre = best
    for delta in (-0.375, -0.25, -0.125, 0.125, 0.25, 0.375):
        score = _profile_score(ink, centre + delta)
        if score > best_score:
            best, best_score = centre + delta, score
    return best


def straighten(img: Any, angle: float) -> Any:
    """``img`` rotated by ``angle`` degrees (counter-clockwise), white where the corners were."""
    from PIL import Image

    if abs(angle) < MIN_DEGREES:
        return img
    fill = 255 if img.mode == "L" else (255, 255, 255)
    return img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)

"""The invoice QR code in a scan: its payload and the angle the sheet lies at.

zxing-cpp finds and decodes QR codes at any rotation and reports the code's corners; the
line from the top-left to the top-right corner gives the angle of the whole sheet, which is
how the picture is straightened before OCR. When the first pass finds nothing (small, blurred
or low-contrast codes), the picture is tried again in grey, enlarged, and binarised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from invoice.qr import QrPayload, parse_qr


@dataclass(frozen=True, slots=True)
class QrFound:
    payload: QrPayload
    angle: float  # degrees the sheet is turned counter-clockwise (rotate by -angle to fix)
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in picture pixels


def _angle(pos: Any) -> float:
    tl, tr = pos.top_left, pos.top_right
    return -math.degrees(math.atan2(tr.y - tl.y, tr.x - tl.x))


def _box(pos: Any, scale: float) -> tuple[float, float, float, float]:
    pts = [pos.top_left, pos.top_right, pos.bottom_left, pos.bottom_right]
    xs, ys = [p.x / scale for p in pts], [p.y / scale for p in pts]
    return min(xs), min(ys), max(xs), max(ys)


_QR: Any = None


def find_qr(img: Any) -> QrFound | None:
    """The first invoice QR payload in the picture, with the sheet's angle; None if none."""
    import zxingcpp
    from PIL import Image, ImageOps

    global _QR
    if _QR is None:
        _QR = zxingcpp.BarcodeFormat.QRCode
    grey = img.convert("L")
    attempts: list[tuple[Any, float]] = [(grey, 1.0)]
    if max(grey.size) < 2600:
        big = grey.resize((grey.width * 2, grey.height * 2), Image.Resampling.LANCZOS)
        attempts.append((big, 2.0))
    attempts.append((ImageOps.autocontrast(grey).point(lambda v: 255 if v > 150 else 0), 1.0))
    for picture, scale in attempts:
        for res in zxingcpp.read_barcodes(picture, formats=_QR, try_rotate=True, try_downscale=True):
            payload = parse_qr(res.text)
            if payload is not None:
                return QrFound(payload, _angle(res.position), _box(res.position, scale))
    return None

"""OCR engines: a picture in, positioned text segments out (the PDF field reader's input).

Two engines were measured on scans of the real sample invoices (README, "Scans and
photos"); the setting ``FAPIAO_OCR_ENGINE`` picks one:

* ``tesseract`` (default): Tesseract 5 with ``chi_sim`` from the Debian packages
  (``tesseract-ocr``, ``tesseract-ocr-chi-sim``), run as a child process through pytesseract
  with a timeout; one thread (``OMP_THREAD_LIMIT=1``) so that two scans use two cores.
* ``rapidocr``: RapidOCR (PP-OCR models in ONNX) from the ``rapidocr-onnxruntime`` wheel,
  which ships its models (nothing is downloaded at run time). Optional: not installed by
  default; more accurate on names, several times the memory.

Coordinates are turned into PDF points of an A5-landscape invoice sheet (595 pt wide) so that
the field reader's distances mean the same as on a PDF.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from typing import Any

from invoice.errors import ErrorCode, ParseError
from invoice.pdf.text import Char, Segment, group_segments, normalise

SHEET_WIDTH_PT = 595.0
ENGINES = ("tesseract", "rapidocr")


def points_scale(img: Any) -> float:
    """Picture pixels to PDF points, taking the picture's width as the sheet's."""
    return SHEET_WIDTH_PT / max(img.width, 1)


def recognise(img: Any, engine: str, timeout: float) -> list[Segment]:
    """The picture's text as segments in points; ``ParseError`` when the engine is missing."""
    if engine == "rapidocr":
        return _rapidocr(img)
    if engine == "tesseract":
        return _tesseract(img, timeout)
    raise ParseError(ErrorCode.BAD_IMAGE, f"unknown OCR engine {engine!r}; use one of {ENGINES}")


# --- Tesseract ---------------------------------------------------------------------------------

def _tesseract(img: Any, timeout: float) -> list[Segment]:
    try:
        import pytesseract
    except ImportError as exc:  # pragma: no cover - a broken installation
        raise ImportError("pytesseract is not installed") from exc
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    grey = img.convert("L")
    try:
        data = pytesseract.image_to_data(grey, lang="chi_sim", config="--psm 3",
                                         output_type=pytesseract.Output.DICT,
                                         timeout=max(1, int(timeout)))
    except pytesseract.TesseractNotFoundError:
        raise ImportError("the tesseract program is not installed "
                          "(apt-get install tesseract-ocr tesseract-ocr-chi-sim)") from None
    except RuntimeError as exc:  # pytesseract's timeout
        raise ParseError(ErrorCode.TIMEOUT, f"OCR took longer than {timeout:g} s: {exc}",
                         "OCR") from None
    scale = points_scale(img)
    lines: dict[tuple[int, int, int, int], list[Char]] = {}
    for i, text in enumerate(data["text"]):
        text = (text or "").strip()
        if not text:
            continue
        x, y, w, h = (data[k][i] * scale for k in ("left", "top", "width", "height"))
        key = (data["page_num"][i], data["block_num"][i], data["par_num"][i], data["line_num"][i])
        lines.setdefault(key, []).append(Char(text, x, y, x + w, y + h, max(h, 1.0)))
    segs: list[Segment] = []
    for chars in lines.values():
        size = sorted(c.size for c in chars)[len(chars) // 2]  # one line, one height
        even = [Char(c.text, c.x0, c.top, c.x1, c.bottom, size) for c in chars]
        segs.extend(group_segments(even, 0, False))
    return [_clean(s) for s in segs]


# --- RapidOCR ----------------------------------------------------------------------------------

_RAPID: Any = None
_RAPID_LOCK = threading.Lock()


def _rapidocr(img: Any) -> list[Segment]:
    global _RAPID
    try:
        import numpy as np
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise ImportError("rapidocr-onnxruntime is not installed "
                          "(pip install rapidocr-onnxruntime), or set FAPIAO_OCR_ENGINE=tesseract") from exc
    with _RAPID_LOCK:
        if _RAPID is None:
            _RAPID = RapidOCR()
        result, _ = _RAPID(np.array(img.convert("RGB")))
    scale = points_scale(img)
    segs = []
    for box, text, _score in result or []:
        xs = [p[0] * scale for p in box]
        ys = [p[1] * scale for p in box]
        segs.append(Segment(normalise(str(text)), min(xs), min(ys), max(xs), max(ys),
                            max(ys) - min(ys), 0))
    return [_clean(s) for s in segs]


# --- clean-up ----------------------------------------------------------------------------------

# What OCR makes of the currency sign before an amount (¥ read as 革, 了, 半, 羊, Y ...).
_YEN_LOOKALIKES = "革了半羊半芋竿Y¥￥"


def _clean(s: Segment) -> Segment:
    """NFKC, and a look-alike of ¥ in front of an amount read as ¥ (so the reader sees money)."""
    text = unicodedata.normalize("NFKC", s.text)
    compact = "".join(text.split())
    if len(compact) > 1 and compact[0] in _YEN_LOOKALIKES and _is_money(compact[1:]):
        text = "¥" + compact[1:]
    elif _is_money(compact) and compact != text:
        text = compact  # "47. 17" -> "47.17"
    s.text = text
    return s


def _is_money(t: str) -> bool:
    import re

    return re.fullmatch(r"-?\d[\d,]*\.\d{2}", t) is not None

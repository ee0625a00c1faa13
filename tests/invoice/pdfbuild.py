"""Build small text PDFs laid out like real vouchers (reportlab, its built-in Chinese CID font).

Tests place each printed piece at its (x, y-from-top) position, as the real generators do,
so that the readers meet the same positions and gaps as on a real ticket or invoice.
"""

from __future__ import annotations

import io

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

_FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(_FONT))

Piece = tuple[float, float, str] | tuple[float, float, str, float]


def pdf_of(pieces: list[Piece], size: tuple[float, float] = (210, 140), rotate: int = 0) -> bytes:
    """A one-page PDF: ``(x_mm, y_mm_from_top, text[, font_size])`` pieces on a page of
    ``size`` millimetres; ``rotate`` sets the page's /Rotate (the content stays upright in
    the unrotated page, as landscape generators draw it)."""
    buf = io.BytesIO()
    w, h = size[0] * mm, size[1] * mm
    c = canvas.Canvas(buf, pagesize=(w, h), invariant=True)
    if rotate:
        c.setPageRotation(rotate)
    for piece in pieces:
        x, y, text = piece[0], piece[1], piece[2]
        fs = piece[3] if len(piece) > 3 else 10.0  # type: ignore[misc]
        c.setFont(_FONT, fs)
        c.drawString(x * mm, h - y * mm - fs, text)
    c.showPage()
    c.save()
    return buf.getvalue()

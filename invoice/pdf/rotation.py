"""Characters of a rotated page (``/Rotate`` 90, 180, 270) turned upright.

PDFium reports character boxes in the page's unrotated user space, so the text of a page
shown in landscape (the air itinerary preview is drawn portrait and turned by ``/Rotate 90``)
runs down the page one glyph per "line". The label/position readers need the page as a
person sees it; pdfminer already turns it, PDFium does not, so its characters are turned
here. Coordinates stay top-down like ``pdfium_chars`` gives them.
"""

from __future__ import annotations

from dataclasses import replace
from statistics import median

from invoice.pdf.text import Char


def upright(chars: list[Char], rotation: int, height: float, width: float) -> list[Char]:
    """``chars`` as seen on the displayed page.

    ``height`` is the height ``pdfium_chars`` measured ``top`` from (PDFium's page height,
    which is the displayed one); ``width`` the unrotated page width. Unknown rotations and 0
    return ``chars`` unchanged.
    """
    rotation %= 360
    if rotation not in (90, 180, 270) or not chars:
        return chars
    # Across the line, a glyph's tight box is as tall as its ink ("." is a dot): the turned box
    # spans from the baseline side up by at least the page's usual glyph height, so that a
    # dot or a comma stays on its line.
    usual = median(c.x1 - c.x0 for c in chars)
    out: list[Char] = []
    for c in chars:
        y_lo, y_hi = height - c.bottom, height - c.top  # user-space y, bottom-up
        ink = max(c.x1 - c.x0, usual)
        if rotation == 90:  # the left edge is now the top, the bottom edge the left
            x0, x1, top, bottom = y_lo, y_hi, c.x1 - ink, c.x1
        elif rotation == 270:
            x0, x1, top, bottom = -y_hi, -y_lo, width - c.x0 - ink, width - c.x0
        else:  # 180: the bottom edge is now the top
            x0, x1, top, bottom = width - c.x1, width - c.x0, y_lo, y_hi
        size = max(bottom - top, 1.0) if rotation != 180 else c.size
        out.append(replace(c, x0=x0, x1=x1, top=top, bottom=bottom, size=size))
    if rotation == 270:  # keep x non-negative: shift by the smallest x
        shift = min(c.x0 for c in out)
        out = [replace(c, x0=c.x0 - shift, x1=c.x1 - shift) for c in out]
    return out

"""Characters with positions out of a PDF, grouped into positioned text segments.

Two extractors feed the same grouping: pypdfium2 (C, fast: the hot path) and pdfplumber
(pdfminer, slow but it maps some fonts pdfium drops). Both give characters with boxes in a
top-down coordinate system; ``group_segments`` joins them into runs ("words") by gaps
relative to the font size. Some generators (ReportLab renders of OFDs) draw each glyph on its
own with wide spacing; the grouping notices that from the gap statistics and widens its
joining threshold, so ``2 3 5 1 2`` becomes one number again.

Text is NFKC-normalised: Kangxi radicals (⼦ U+2F26) that some fonts map to become the
ordinary characters (子), full-width colons and parentheses become ASCII.
"""

from __future__ import annotations

import ctypes
import unicodedata
from dataclasses import dataclass
from itertools import pairwise
from statistics import median
from typing import Any

# Soft hyphen markers pdfium puts where a line ends in "-".
_PDFIUM_HYPHEN = {"\x02": "-", "\ufffe": "-"}


@dataclass(frozen=True, slots=True)
class Char:
    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    size: float  # font size (or glyph height when the size is unknown)


@dataclass(slots=True)
class Segment:
    """A run of characters on one line: a word, a label, a value."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    size: float
    page: int = 0

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def compact(self) -> str:
        """The text without any whitespace (labels are often letter-spaced: ``名 称``)."""
        return "".join(self.text.split())

    def same_line(self, other: Segment) -> bool:
        """True when the two overlap vertically by at least half the smaller height."""
        if self.page != other.page:
            return False
        overlap = min(self.bottom, other.bottom) - max(self.top, other.top)
        h = min(self.bottom - self.top, other.bottom - other.top)
        return overlap >= 0.5 * max(h, 1.0)


def normalise(text: str) -> str:
    for k, v in _PDFIUM_HYPHEN.items():
        text = text.replace(k, v)
    return unicodedata.normalize("NFKC", text)


def garbage_ratio(chars: list[Char]) -> float:
    """Share of characters that are not real text: unmapped glyphs, private use, controls.

    Fonts without a ToUnicode map give ``(cid:NNN)`` in pdfminer, U+FFFD, private-use code
    points or control characters in pdfium. A page made of these must never be returned as
    an invoice's fields.
    """
    if not chars:
        return 0.0
    bad = 0
    for c in chars:
        t = c.text
        if t.startswith("(cid:"):
            bad += 1
            continue
        for ch in t:
            cat = unicodedata.category(ch)
            if ch == "\ufffd" or cat in ("Co", "Cs", "Cn") or (cat == "Cc" and ch not in "\r\n\t"):
                bad += 1
                break
    return bad / len(chars)


# ---------------------------------------------------------------------------------------------
# pypdfium2


def pdfium_chars(page: Any, textpage: Any, page_index: int = 0) -> list[Char]:
    """All drawn characters of one page, with loose boxes, in content order.

    Generated characters (the spaces and line breaks pdfium infers) are dropped: the grouping
    decides where runs end. Characters outside the page box are kept on purpose: broken
    renders draw values there and the text layer still holds the truth.
    """
    import pypdfium2.raw as raw

    height = page.get_height()
    tp = textpage.raw
    n = raw.FPDFText_CountChars(tp)
    out: list[Char] = []
    left, right, bottom, top = (ctypes.c_double(), ctypes.c_double(), ctypes.c_double(),
                                ctypes.c_double())
    rect = raw.FS_RECTF()
    get_unicode = raw.FPDFText_GetUnicode
    is_generated = raw.FPDFText_IsGenerated
    loose = raw.FPDFText_GetLooseCharBox
    tight = raw.FPDFText_GetCharBox
    for i in range(n):
        code = get_unicode(tp, i)
        if code in (0, 0x20, 0x0D, 0x0A, 0xA0, 0x3000) or is_generated(tp, i) == 1:
            continue
        text = chr(code) if code < 0x110000 else "\ufffd"
        if not loose(tp, i, rect):
            continue
        tight(tp, i, left, right, bottom, top)
        # The loose box height is the font's em as drawn (text matrix included); the
        # reported font size ignores the matrix and can be a tenth of the real size.
        size = rect.top - rect.bottom
        # Loose boxes give every glyph the font's height, so lines compare cleanly; the
        # horizontal extent comes from the tight box (loose boxes overlap neighbours).
        x0, x1 = left.value, right.value
        if x1 <= x0:
            x0, x1 = rect.left, rect.right
        out.append(Char(text, x0, height - rect.top, x1, height - rect.bottom, float(size) or 1.0))
    return out


# ---------------------------------------------------------------------------------------------
# pdfplumber


def plumber_chars(page: Any) -> list[Char]:
    """Characters of a pdfplumber page, including those outside the page box."""
    out: list[Char] = []
    for c in page.chars:
        text = c["text"]
        if not text or text.isspace():
            continue
        size = float(c.get("size") or (c["bottom"] - c["top"]) or 1.0)
        out.append(Char(text, float(c["x0"]), float(c["top"]), float(c["x1"]), float(c["bottom"]),
                        size))
    return out


# ---------------------------------------------------------------------------------------------
# grouping


def _gap_ratio(a: Char, b: Char) -> float | None:
    """Horizontal gap between two consecutive characters in units of font size, when they sit
    on the same line and ``b`` follows ``a``; otherwise None."""
    size = max(min(a.size, b.size), 1.0)
    if abs((a.top + a.bottom) / 2 - (b.top + b.bottom) / 2) > 0.4 * size:
        return None
    if b.x0 < a.x0 + 0.05 * size:  # going backwards: a new run
        return None
    # Overlapping boxes (bogus glyph widths) still advance: count them as touching.
    return max(b.x0 - a.x1, 0.0) / size


def is_letter_spaced(chars: list[Char]) -> bool:
    """Whether the generator drew glyphs one by one with wide spacing (see module doc)."""
    ratios = [r for a, b in pairwise(chars)
              if (r := _gap_ratio(a, b)) is not None]
    if len(ratios) < 10:
        return False
    return median(ratios) > 0.45


def group_segments(chars: list[Char], page: int = 0, letter_spaced: bool | None = None) -> list[Segment]:
    """Join characters into segments; ``letter_spaced`` widens the joining gap."""
    if letter_spaced is None:
        letter_spaced = is_letter_spaced(chars)
    limit = 2.6 if letter_spaced else 0.55
    # Sort into reading order within lines: content order usually is, but some generators
    # draw a line right to left or interleave columns.
    segs: list[Segment] = []
    cur: list[Char] = []

    def flush() -> None:
        if cur:
            text = normalise("".join(c.text for c in cur))
            segs.append(Segment(text, min(c.x0 for c in cur), min(c.top for c in cur),
                                max(c.x1 for c in cur), max(c.bottom for c in cur),
                                median(c.size for c in cur), page))
            cur.clear()

    for ch in chars:
        if cur:
            r = _gap_ratio(cur[-1], ch)
            # Two digits apart are two numbers in adjacent columns (quantity | unit price)
            # unless they nearly touch; after a "." or "¥" the number simply goes on.
            lim = limit
            if not letter_spaced and cur[-1].text.isdigit() and ch.text.isdigit():
                lim = 0.4
            if r is None or r > lim:
                flush()
        cur.append(ch)
    flush()
    return segs

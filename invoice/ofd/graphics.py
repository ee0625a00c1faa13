"""OFD drawing values turned into SVG values: numbers, boxes, matrices, colours, path data.

GB/T 33190-2016 writes its graphics as attribute strings: a ``Boundary`` (``x y w h``, mm),
a ``CTM`` (``a b c d e f``), colours as ``Value="r g b"`` (decimal, or ``#FF`` hex per
component) in a colour space, path data in the abbreviated form (``M x y L x y B … C``),
and glyph positions as ``DeltaX="g 10 6.5 …"`` (``g N v`` repeats ``v`` N times). Each is
read here leniently (a bad value drops the one object, never the page) and bounded (a path
or a position list is cut at a fixed length), so the page walker in ``render.py`` stays
about structure.
"""

from __future__ import annotations

import math
import re

# A path longer than this (characters of AbbreviatedData) is not drawn: an invoice's longest
# path is a few hundred characters; a hostile one could be megabytes.
MAX_PATH_CHARS = 200_000
MAX_DELTAS = 10_000  # glyph positions of one TextCode

_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_PATH_TOKEN = re.compile(r"[A-Za-z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# OFD path operator -> (SVG operator, number of operands)
_PATH_OPS: dict[str, tuple[str, int]] = {
    "S": ("M", 2), "M": ("M", 2), "L": ("L", 2), "Q": ("Q", 4), "B": ("C", 6),
    "A": ("A", 7), "C": ("Z", 0),
}

Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def fmt(v: float) -> str:
    """A number as SVG text: 3 decimals, no trailing zeros ('1.5', '-0.25', '12')."""
    if not math.isfinite(v):
        return "0"
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def floats(text: str | None, n: int | None = None, limit: int = 64) -> list[float] | None:
    """Up to ``limit`` numbers of a blank-separated attribute; with ``n``, exactly ``n`` or None."""
    if not text:
        return None
    values: list[float] = []
    for m in _NUM.finditer(text[: limit * 24]):
        v = float(m.group())
        if not math.isfinite(v):
            return None
        values.append(v)
        if len(values) >= limit:
            break
    if n is not None:
        return values[:n] if len(values) >= n else None
    return values


def box(text: str | None) -> tuple[float, float, float, float] | None:
    """A ``Boundary`` as x, y, w, h (mm); None when unreadable."""
    return _tuple4(floats(text, 4))


def _tuple4(v: list[float] | None) -> tuple[float, float, float, float] | None:
    return (v[0], v[1], v[2], v[3]) if v else None


def matrix(text: str | None) -> Matrix | None:
    """A ``CTM`` (a b c d e f), or None when absent or unreadable."""
    v = floats(text, 6)
    if v is None:
        return None
    return (v[0], v[1], v[2], v[3], v[4], v[5])


def matrix_attr(m: Matrix) -> str:
    return "matrix(" + " ".join(fmt(x) for x in m) + ")"


def colour(value: str | None, components: int = 3) -> str | None:
    """An OFD colour ``Value`` as ``#rrggbb``: RGB, gray (1 value) or CMYK (4 values).

    Components are decimal 0-255 or ``#hh`` hex; anything else is None (the caller keeps
    its default), never an exception.
    """
    if not value:
        return None
    parts = value.split()[:4]
    nums: list[int] = []
    for p in parts:
        try:
            n = int(p[1:], 16) if p.startswith("#") else round(float(p))
        except ValueError:
            return None
        nums.append(max(0, min(255, n)))
    if len(nums) == 1:
        nums = nums * 3
    elif len(nums) == 4 and components == 4:
        c, m, y, k = (x / 255 for x in nums)
        nums = [round(255 * (1 - c) * (1 - k)), round(255 * (1 - m) * (1 - k)),
                round(255 * (1 - y) * (1 - k))]
    elif len(nums) < 3:
        return None
    return "#{:02x}{:02x}{:02x}".format(*nums[:3])


def path_data(text: str | None) -> str | None:
    """OFD ``AbbreviatedData`` as SVG path data; None when empty, too long or unreadable.

    Operators: S/M move, L line, Q quadratic, B cubic Bézier, A arc, C close. Operands are
    counted per operator; a short operand list ends the path where it is (what was drawn
    before stays), as a reader would stop at the first unreadable command.
    """
    if not text or len(text) > MAX_PATH_CHARS:
        return None
    out: list[str] = []
    tokens = _PATH_TOKEN.findall(text)
    i = 0
    while i < len(tokens):
        op = tokens[i]
        spec = _PATH_OPS.get(op)
        if spec is None:
            i += 1
            continue
        svg_op, count = spec
        args = tokens[i + 1:i + 1 + count]
        if len(args) < count or any(a.isalpha() for a in args):
            break
        try:
            nums = [float(a) for a in args]
        except ValueError:
            break
        if svg_op == "A":  # rx ry angle large-arc sweep x y: the flags must be 0 or 1
            nums[3] = 1.0 if nums[3] else 0.0
            nums[4] = 1.0 if nums[4] else 0.0
        out.append(svg_op + " ".join(fmt(n) for n in nums))
        i += 1 + count
    if not out or all(o == "Z" for o in out):
        return None
    return " ".join(out)


def deltas(text: str | None) -> list[float]:
    """A ``DeltaX``/``DeltaY`` list expanded (``g 3 1.5`` -> 1.5 1.5 1.5), at most MAX_DELTAS."""
    if not text:
        return []
    out: list[float] = []
    parts = text.split()
    i = 0
    while i < len(parts) and len(out) < MAX_DELTAS:
        p = parts[i]
        if p == "g" and i + 2 < len(parts):
            try:
                count, value = int(float(parts[i + 1])), float(parts[i + 2])
            except ValueError:
                break
            out.extend([value] * max(0, min(count, MAX_DELTAS - len(out))))
            i += 3
            continue
        try:
            out.append(float(p))
        except ValueError:
            break
        i += 1
    return [v if math.isfinite(v) else 0.0 for v in out]


def glyph_positions(start: float, steps: list[float], n: int) -> list[float]:
    """Where each of ``n`` glyphs starts: ``start``, then each step added. Glyphs past the
    end of a short list get no position: they follow the font's own advance, as in readers."""
    positions = [start]
    pos = start
    for step in steps[: max(n - 1, 0)]:
        pos += step
        positions.append(pos)
    return positions

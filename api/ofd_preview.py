"""A simple preview of an OFD original as SVG: each page's text objects at their boxes.

Browsers cannot show OFD, and finance staff want to glance at the original without an OFD
reader. This is not a renderer (no fonts, paths, images or seals): it places the text of every
``TextObject`` (the page's and its templates') where the file puts it, which is enough to see
the invoice's layout and read its numbers. It reuses ``invoice.ofd``'s safe package and XML
readers, so a hostile file is refused exactly as on upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from invoice.errors import ErrorCode, ParseError
from invoice.ofd.package import OfdPackage
from invoice.ofd.xml import local, parse_member, read_document, template_ids

DEFAULT_PAGE = (210.0, 140.0)  # mm, the usual size of an electronic invoice page
GAP = 4.0  # mm between pages stacked vertically
MAX_PAGES = 20


def _physical_box(root: etree._Element) -> tuple[float, float] | None:
    """Width and height (mm) of the first ``PhysicalBox`` under ``root``, if readable."""
    for el in root.iter():
        if local(el.tag) == "PhysicalBox" and el.text:
            parts = el.text.split()
            try:
                w, h = float(parts[2]), float(parts[3])
            except (IndexError, ValueError):
                return None
            return (w, h) if w > 0 and h > 0 else None
    return None


@dataclass(frozen=True, slots=True)
class Run:
    """One ``TextCode``: its baseline start on the page (mm), font size (mm) and text."""

    x: float
    y: float
    size: float
    text: str
    from_template: bool


def _floats(text: str | None, n: int) -> list[float] | None:
    parts = (text or "").split()
    try:
        values = [float(p) for p in parts[:n]]
    except ValueError:
        return None
    return values if len(values) == n else None


def text_runs(root: etree._Element, from_template: bool = False) -> list[Run]:
    """The text of every ``TextObject`` of a page or template, where its ``TextCode`` puts it.

    ``invoice.ofd.xml.text_objects`` keeps only each object's box and joined text (what the
    field reader needs); a preview also wants the font size and each code's X/Y offset inside
    the box (right-aligned amounts are placed by X), so those are read here.
    """
    runs: list[Run] = []
    for obj in root.iter():
        if local(obj.tag) != "TextObject":
            continue
        box = _floats(obj.get("Boundary"), 4)
        if box is None:
            continue
        bx, by, _, bh = box
        size = _floats(obj.get("Size"), 1)
        font = size[0] if size and size[0] > 0 else max(bh * 0.8, 1.0)
        x = y = None
        for code in obj:
            if local(code.tag) != "TextCode":
                continue
            cx, cy = _floats(code.get("X"), 1), _floats(code.get("Y"), 1)
            x = cx[0] if cx else (x if x is not None else 0.0)
            y = cy[0] if cy else (y + font * 1.2 if y is not None else font)
            text = "".join(code.itertext()).strip()
            if text:
                runs.append(Run(bx + x, by + y, font, text, from_template))
    return runs


def page_texts(data: bytes) -> list[tuple[tuple[float, float], list[Run]]]:
    """Each page of the first document: its size (mm) and text runs, templates first."""
    pkg = OfdPackage(data, "ofd")
    roots = pkg.doc_roots()
    if not roots:
        raise ParseError(ErrorCode.BAD_OFD, "the OFD names no readable document", "ofd:OFD.xml")
    doc = read_document(pkg, roots[0])
    size = _physical_box(parse_member(pkg, doc.path, recover=True)) or DEFAULT_PAGE
    pages: list[tuple[tuple[float, float], list[Run]]] = []
    for ref in doc.pages[:MAX_PAGES]:
        if ref.path is None:
            continue
        root = parse_member(pkg, ref.path, recover=True)
        runs: list[Run] = []
        for tid in template_ids(root):
            tpl = doc.templates.get(tid)
            if tpl is not None:
                runs.extend(text_runs(parse_member(pkg, tpl, recover=True), from_template=True))
        runs.extend(text_runs(root))
        pages.append((_own_size(root) or size, runs))
    return pages


def _own_size(page_root: etree._Element) -> tuple[float, float] | None:
    """A page's own ``Area/PhysicalBox`` (overrides the document's), if it has one."""
    for el in page_root:
        if local(el.tag) == "Area":
            return _physical_box(el)
    return None


def _text_element(r: Run, dy: float) -> str:
    cls = ' class="t"' if r.from_template else ""
    return f'<text x="{r.x:.2f}" y="{r.y + dy:.2f}" font-size="{r.size:.2f}"{cls}>{escape(r.text)}</text>'


def render_svg(data: bytes, title: str = "") -> str:
    """The OFD's pages stacked top to bottom as one SVG document (units: mm)."""
    pages = page_texts(data)
    if not pages:
        raise ParseError(ErrorCode.BAD_OFD, "the OFD has no readable page", "ofd:Document.xml")
    width = max(w for (w, _), _ in pages)
    height = sum(h for (_, h), _ in pages) + GAP * (len(pages) - 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.2f}mm" height="{height:.2f}mm" '
           f'viewBox="0 0 {width:.2f} {height:.2f}" role="img" aria-label={quoteattr(title or "OFD")}>',
           f"<title>{escape(title)}</title>",
           '<style>text{font-family:"SimSun","Songti SC","Noto Serif CJK SC","WenQuanYi Micro Hei",serif;'
           "fill:#1f2933;white-space:pre}text.t{fill:#8a5a00}</style>"]
    dy = 0.0
    for (w, h), runs in pages:
        out.append(f'<rect x="0" y="{dy:.2f}" width="{w:.2f}" height="{h:.2f}" fill="#fff" stroke="#b8c4d0" '
                   'stroke-width="0.3"/>')
        out.extend(_text_element(r, dy) for r in runs)
        dy += h + GAP
    out.append("</svg>")
    return "\n".join(out)

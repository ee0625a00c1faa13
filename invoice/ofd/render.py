"""OFD pages drawn as SVG: text, table lines, pictures, the QR code and the e-seal.

Browsers cannot show OFD, and finance staff want to see the invoice as issued, seal and all,
without an OFD reader. This draws each page the way GB/T 33190-2016 describes it:

- the page's templates (``ZOrder`` Background under the content, Foreground over it), then
  its layers, then its annotations' appearances, then the seals of its signatures;
- ``PathObject`` (table lines, boxes): ``AbbreviatedData`` in the object's ``Boundary``,
  transformed by its ``CTM``, with ``LineWidth``, stroke and fill colours from the object,
  its ``DrawParam`` or the layer's (``graphics.py`` reads the values);
- ``TextObject``: each ``TextCode`` at its X/Y with every glyph placed by ``DeltaX``/
  ``DeltaY``; the font is the one the file embeds (``@font-face``, for browsers) followed by
  installed CJK fonts of the same style (宋体 → serif, 楷体 → KaiTi, else sans), so a missing
  font changes the glyph shapes, never their places;
- ``ImageObject`` (QR code, 监制章, logos): the ``MultiMedia`` picture stretched over the unit
  square by the object's CTM, re-encoded as a ``data:`` URI (``media.py``: PNG, JPEG, BMP,
  GIF, TIFF, JBIG2);
- ``CompositeObject`` and ``PageBlock``: their content, recursively (bounded depth);
- each e-seal (``seal.py``): the picture inside ``SignedValue.dat`` at its ``StampAnnot``
  boundary; a seal that is itself an OFD is drawn by this same renderer, one level deep.

Pure and bounded: bytes in, SVG text out, through ``invoice.ofd``'s safe package reader (a
hostile file is refused exactly as on upload), with caps on pages, graphic objects, nesting,
path length and picture size. The output is sanitised by construction: every element and
attribute is written here, text is escaped, pictures are ``data:`` URIs of bytes this
package re-encoded; no script, no external reference, no ``foreignObject``.
"""

from __future__ import annotations

import base64
import logging
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from invoice.errors import ErrorCode, InvoiceError, ParseError
from invoice.ofd import graphics, media
from invoice.ofd.graphics import fmt
from invoice.ofd.package import OfdPackage
from invoice.ofd.seal import Stamp, stamps
from invoice.ofd.xml import local, parse_member

log = logging.getLogger(__name__)

DEFAULT_PAGE = (210.0, 140.0)  # mm, the usual size of an electronic invoice page
GAP = 4.0  # mm between pages stacked vertically
MAX_PAGES = 20
MAX_OBJECTS = 50_000  # graphic objects drawn per document (an invoice page has ~300)
MAX_DEPTH = 12  # nesting of PageBlock / CompositeObject
MAX_TEXT_CHARS = 4_000  # characters of one TextCode
MAX_FONT_BYTES = 4 * 1024 * 1024
SEAL_DEPTH = 1  # a seal OFD is drawn, a seal inside a seal is not

# Installed fonts tried after the file's own, by the style its font name asks for. The
# WenQuanYi fonts are what the project installs (scripts/test); the others are what Windows,
# macOS and most Linux desktops have, so a browser finds one of them.
_SERIF = ('"SimSun","宋体","Songti SC","Noto Serif CJK SC","Source Han Serif SC",'
          '"WenQuanYi Zen Hei","WenQuanYi Micro Hei",serif')
_KAI = ('"KaiTi","楷体","STKaiti","Kaiti SC","AR PL UKai CN","WenQuanYi Zen Hei",'
        '"WenQuanYi Micro Hei",serif')
_SANS = ('"SimHei","黑体","Microsoft YaHei","PingFang SC","Noto Sans CJK SC",'
         '"WenQuanYi Micro Hei","WenQuanYi Zen Hei",sans-serif')
_MONO = '"Courier New","Liberation Mono","DejaVu Sans Mono","WenQuanYi Micro Hei Mono",monospace'


def _family_for(name: str) -> str:
    n = name.lower()
    if "kai" in n or "楷" in n:
        return _KAI
    if "courier" in n or "mono" in n or "consol" in n:
        return _MONO
    if "song" in n or "宋" in n or "simsun" in n or "仿" in n or "fang" in n or "times" in n:
        return _SERIF
    return _SANS


@dataclass(slots=True)
class DrawParam:
    line_width: float | None = None
    fill: str | None = None
    stroke: str | None = None
    relative: str | None = None


@dataclass(slots=True)
class Font:
    family: str  # the CSS font-family list
    face: str | None = None  # the @font-face name when the file embeds the font


@dataclass(slots=True)
class Resources:
    """What the documents' resource files declare, by ID (IDs are unique in a document)."""

    fonts: dict[str, Font] = field(default_factory=dict)
    params: dict[str, DrawParam] = field(default_factory=dict)
    media: dict[str, str] = field(default_factory=dict)  # MultiMedia ID -> member path
    composites: dict[str, etree._Element] = field(default_factory=dict)
    cmyk: set[str] = field(default_factory=set)  # ColorSpace IDs of type CMYK
    font_faces: list[str] = field(default_factory=list)  # @font-face rules
    _uris: dict[str, str | None] = field(default_factory=dict)


class _Budget:
    """Objects still allowed to be drawn; shared by every page, template and seal."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _load_resources(pkg: OfdPackage, paths: list[str], res: Resources) -> None:
    for path in paths:
        try:
            root = parse_member(pkg, path, recover=True)
        except InvoiceError as exc:
            log.info("resource file %s not read: %s", path, exc.message)
            continue
        folder = posixpath.dirname(path)
        base = root.get("BaseLoc") or ""
        media_folder = posixpath.join(folder, base) if base and not base.startswith("/") else (
            base.lstrip("/") or folder)
        for el in root.iter():
            name = local(el.tag)
            rid = el.get("ID") or ""
            if not rid:
                continue
            if name == "Font":
                res.fonts[rid] = _font(pkg, el, media_folder, rid, res)
            elif name == "DrawParam":
                res.params[rid] = _draw_param(el, res)
            elif name == "MultiMedia":
                file_el = next((c for c in el if local(c.tag) == "MediaFile"), None)
                if file_el is not None and file_el.text:
                    found = (pkg.resolve(file_el.text.strip(), media_folder)
                             or pkg.resolve(file_el.text.strip(), folder))
                    if found is not None:
                        res.media[rid] = found
            elif name == "CompositeGraphicUnit":
                res.composites[rid] = el
            elif name == "ColorSpace" and (el.get("Type") or "").upper() == "CMYK":
                res.cmyk.add(rid)


def _font(pkg: OfdPackage, el: etree._Element, folder: str, rid: str, res: Resources) -> Font:
    name = (el.get("FamilyName") or el.get("FontName") or "").strip()
    family = _family_for(name + " " + (el.get("FontName") or ""))
    file_el = next((c for c in el if local(c.tag) == "FontFile"), None)
    face: str | None = None
    if file_el is not None and file_el.text:
        path = pkg.resolve(file_el.text.strip(), folder)
        data: bytes | None = None
        if path is not None:
            try:
                data = pkg.read(path)
            except InvoiceError:
                data = None
        if data and len(data) <= MAX_FONT_BYTES and _is_font(data):
            face = f"ofd-font-{len(res.font_faces)}"
            fmt_name = "opentype" if data[:4] == b"OTTO" else "truetype"
            res.font_faces.append(
                f'@font-face{{font-family:"{face}";src:url(data:font/{"otf" if fmt_name == "opentype" else "ttf"};'
                f'base64,{base64.b64encode(data).decode("ascii")}) format("{fmt_name}")}}')
    if face:
        family = f'"{face}",{family}'
    return Font(family, face)


def _is_font(data: bytes) -> bool:
    """A TrueType/OpenType file by its signature (the browser's own sanitiser checks the rest)."""
    return data[:4] in (b"\x00\x01\x00\x00", b"OTTO", b"true", b"ttcf")


def _draw_param(el: etree._Element, res: Resources) -> DrawParam:
    p = DrawParam(relative=el.get("Relative"))
    lw = graphics.floats(el.get("LineWidth"), 1)
    p.line_width = lw[0] if lw else None
    for c in el:
        if local(c.tag) == "FillColor":
            p.fill = _colour_of(c, res)
        elif local(c.tag) == "StrokeColor":
            p.stroke = _colour_of(c, res)
    return p


def _colour_of(el: etree._Element, res: Resources) -> str | None:
    cs = el.get("ColorSpace") or ""
    return graphics.colour(el.get("Value"), 4 if cs in res.cmyk else 3)


def _resolved_param(pid: str | None, res: Resources, depth: int = 0) -> DrawParam:
    """A DrawParam with what its ``Relative`` parent gives filled in (cycles cut at 8)."""
    p = res.params.get(pid or "")
    if p is None:
        return DrawParam()
    if p.relative and depth < 8:
        parent = _resolved_param(p.relative, res, depth + 1)
        return DrawParam(p.line_width if p.line_width is not None else parent.line_width,
                         p.fill or parent.fill, p.stroke or parent.stroke)
    return p


@dataclass(slots=True)
class _Doc:
    pkg: OfdPackage
    res: Resources
    budget: _Budget
    seal_depth: int
    ids: Iterator[int]


def _transform(el: etree._Element, b: tuple[float, float, float, float]) -> str:
    parts = [f"translate({fmt(b[0])} {fmt(b[1])})"] if (b[0] or b[1]) else []
    m = graphics.matrix(el.get("CTM"))
    if m is not None and m != graphics.IDENTITY:
        parts.append(graphics.matrix_attr(m))
    return f' transform="{" ".join(parts)}"' if parts else ""


def _alpha(el: etree._Element) -> str:
    a = graphics.floats(el.get("Alpha"), 1)
    if a is None or a[0] >= 255:
        return ""
    return f' opacity="{fmt(max(a[0], 0) / 255)}"'


def _child(el: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in el if local(c.tag) == name), None)


def _clip(doc: _Doc, el: etree._Element, out: list[str]) -> str:
    """A ``clip-path`` attribute for the object's ``Clips`` (paths only), defined in ``out``."""
    clips = _child(el, "Clips")
    if clips is None:
        return ""
    shapes: list[str] = []
    for area in clips.iter():
        if local(area.tag) != "Area":
            continue
        for shape in area:
            if local(shape.tag) != "Path":
                continue
            d = graphics.path_data(text_of_child(shape, "AbbreviatedData"))
            if d is None:
                continue
            b = graphics.box(shape.get("Boundary")) or (0.0, 0.0, 0.0, 0.0)
            tf = _transform(area, (0.0, 0.0, 0.0, 0.0)) if area.get("CTM") else ""
            inner = _transform(shape, b)
            shapes.append(f"<g{tf}><path d={quoteattr(d)}{inner}/></g>" if tf else
                          f"<path d={quoteattr(d)}{inner}/>")
    if not shapes:
        return ""
    cid = f"c{next(doc.ids)}"
    out.append(f'<clipPath id="{cid}" clipPathUnits="userSpaceOnUse">{"".join(shapes)}</clipPath>')
    return f' clip-path="url(#{cid})"'


def text_of_child(el: etree._Element, name: str) -> str | None:
    c = _child(el, name)
    return "".join(c.itertext()) if c is not None else None


def _path(doc: _Doc, el: etree._Element, param: DrawParam, out: list[str]) -> None:
    b = graphics.box(el.get("Boundary"))
    d = graphics.path_data(text_of_child(el, "AbbreviatedData"))
    if b is None or d is None:
        return
    own = _resolved_param(el.get("DrawParam"), doc.res) if el.get("DrawParam") else param
    stroke_on = (el.get("Stroke") or "true").lower() != "false"
    fill_on = (el.get("Fill") or "false").lower() == "true"
    fill_el, stroke_el = _child(el, "FillColor"), _child(el, "StrokeColor")
    fill = (_colour_of(fill_el, doc.res) if fill_el is not None else None) or own.fill or param.fill or "#000000"
    stroke = ((_colour_of(stroke_el, doc.res) if stroke_el is not None else None)
              or own.stroke or param.stroke or "#000000")
    lw = graphics.floats(el.get("LineWidth"), 1)
    width = lw[0] if lw else (own.line_width if own.line_width is not None else param.line_width)
    width = 0.353 if width is None else width  # the standard's default: 1/72 inch
    attrs = [f'fill="{fill}"' if fill_on else 'fill="none"']
    if el.get("Rule", "").lower().replace("-", "") == "evenodd":
        attrs.append('fill-rule="evenodd"')
    if stroke_on:
        attrs.append(f'stroke="{stroke}" stroke-width="{fmt(max(width, 0.05))}"')
        cap = (el.get("Cap") or "").lower()
        if cap in ("round", "square"):
            attrs.append(f'stroke-linecap="{cap}"')
    clip = _clip(doc, el, out)
    out.append(f'<path class="ofd-path" d={quoteattr(d)}{_transform(el, b)} {" ".join(attrs)}'
               f"{_alpha(el)}{clip}/>")


def _text(doc: _Doc, el: etree._Element, param: DrawParam, out: list[str]) -> None:
    b = graphics.box(el.get("Boundary"))
    size = graphics.floats(el.get("Size"), 1)
    if b is None or not size or size[0] <= 0:
        return
    font = doc.res.fonts.get(el.get("Font") or "")
    family = font.family if font else _SANS
    fill_el, stroke_el = _child(el, "FillColor"), _child(el, "StrokeColor")
    fill = (_colour_of(fill_el, doc.res) if fill_el is not None else None) or param.fill or "#000000"
    fill_on = (el.get("Fill") or "true").lower() != "false"
    stroke_on = (el.get("Stroke") or "false").lower() == "true"
    style = [f'font-family:{family}', f"font-size:{fmt(size[0])}px"]
    weight = graphics.floats(el.get("Weight"), 1)
    if weight and weight[0] >= 600:
        style.append("font-weight:bold")
    if (el.get("Italic") or "").lower() == "true":
        style.append("font-style:italic")
    attrs = [f'fill="{fill}"' if fill_on else 'fill="none"']
    if stroke_on:
        stroke = (_colour_of(stroke_el, doc.res) if stroke_el is not None else None) or param.stroke or "#000000"
        attrs.append(f'stroke="{stroke}" stroke-width="{fmt(0.05)}"')
    h_scale = graphics.floats(el.get("HScale"), 1)
    runs: list[str] = []
    last_x = last_y = 0.0
    for code in el:
        if local(code.tag) != "TextCode":
            continue
        text = "".join(code.itertext())[:MAX_TEXT_CHARS]
        x = graphics.floats(code.get("X"), 1)
        y = graphics.floats(code.get("Y"), 1)
        last_x = x[0] if x else last_x
        last_y = y[0] if y else last_y
        if not text.strip():
            continue
        dx, dy = graphics.deltas(code.get("DeltaX")), graphics.deltas(code.get("DeltaY"))
        if dy and not dx:  # vertical text (购/买/方): the glyphs stay on one x, as in readers
            dx = [0.0] * (len(text) - 1)
        xs = graphics.glyph_positions(last_x, dx, len(text))
        ys = graphics.glyph_positions(last_y, dy, len(text))
        y_attr = " ".join(fmt(v) for v in ys) if len(ys) > 1 else fmt(ys[0])
        runs.append(f'<tspan x="{" ".join(fmt(v) for v in xs)}" y="{y_attr}">{escape(text)}</tspan>')
    if not runs:
        return
    tf = _transform(el, b)
    if h_scale and 0 < h_scale[0] != 1 and not el.get("CTM"):
        tf = tf[:-1] + f' scale({fmt(h_scale[0])} 1)"' if tf else f' transform="scale({fmt(h_scale[0])} 1)"'
    clip = _clip(doc, el, out)
    out.append(f'<text class="ofd-text"{tf} style={quoteattr(";".join(style))} {" ".join(attrs)}'
               f'{_alpha(el)}{clip} xml:space="preserve">{"".join(runs)}</text>')


def _image(doc: _Doc, el: etree._Element, out: list[str]) -> None:
    b = graphics.box(el.get("Boundary"))
    path = doc.res.media.get(el.get("ResourceID") or "")
    if b is None or path is None:
        return
    uri = doc.res._uris.get(path, "")
    if uri == "":
        try:
            uri = media.data_uri(doc.pkg.read(path))
        except InvoiceError:
            uri = None
        doc.res._uris[path] = uri
    if uri is None:
        return
    m = graphics.matrix(el.get("CTM")) or (b[2], 0.0, 0.0, b[3], 0.0, 0.0)
    tf = f' transform="translate({fmt(b[0])} {fmt(b[1])}) {graphics.matrix_attr(m)}"'
    clip = _clip(doc, el, out)
    out.append(f'<image class="ofd-image" data-resource={quoteattr(posixpath.basename(path))}{tf} '
               f'width="1" height="1" preserveAspectRatio="none" href="{uri}"{_alpha(el)}{clip}/>')


def _composite(doc: _Doc, el: etree._Element, param: DrawParam, out: list[str], depth: int) -> None:
    b = graphics.box(el.get("Boundary"))
    unit = doc.res.composites.get(el.get("ResourceID") or "")
    if b is None or unit is None:
        return
    content = _child(unit, "Content")
    if content is None:
        return
    out.append(f"<g{_transform(el, b)}{_alpha(el)}>")
    _draw(doc, content, param, out, depth + 1)
    out.append("</g>")


def _draw(doc: _Doc, container: etree._Element, param: DrawParam, out: list[str], depth: int) -> None:
    """Every graphic object under ``container`` in drawing order."""
    if depth > MAX_DEPTH:
        return
    for el in container:
        name = local(el.tag)
        if name in ("Layer", "PageBlock", "Content"):
            inner = _resolved_param(el.get("DrawParam"), doc.res) if el.get("DrawParam") else param
            _draw(doc, el, inner, out, depth + 1)
            continue
        if name not in ("PathObject", "TextObject", "ImageObject", "CompositeObject"):
            continue
        if not doc.budget.take():
            return
        if (el.get("Visible") or "true").lower() == "false":
            continue
        if name == "PathObject":
            _path(doc, el, param, out)
        elif name == "TextObject":
            _text(doc, el, param, out)
        elif name == "ImageObject":
            _image(doc, el, out)
        else:
            _composite(doc, el, param, out, depth)


@dataclass(slots=True)
class _PageSource:
    id: str
    path: str
    templates: list[tuple[str, str]]  # (member path, ZOrder)
    annots: list[str]  # PageAnnot member paths
    size: tuple[float, float]


def _document(pkg: OfdPackage, doc_path: str, res: Resources) -> list[_PageSource]:
    """The pages of one Document.xml with their templates, annotations and sizes."""
    root = parse_member(pkg, doc_path, recover=True)
    folder = posixpath.dirname(doc_path)
    size = DEFAULT_PAGE
    res_files: list[str] = []
    templates: dict[str, tuple[str, str]] = {}
    pages: list[tuple[str, str | None]] = []
    annots_index: str | None = None
    for el in root.iter():
        name = local(el.tag)
        if name == "PageArea" and el.getparent() is not None and local(el.getparent().tag) == "CommonData":
            b = _physical(el)
            size = b or size
        elif name in ("PublicRes", "DocumentRes") and el.text:
            p = pkg.resolve(el.text.strip(), folder)
            if p is not None and p not in res_files:
                res_files.append(p)
        elif name == "TemplatePage":
            p = pkg.resolve(el.get("BaseLoc") or "", folder)
            if p is not None:
                templates[el.get("ID") or ""] = (p, el.get("ZOrder") or "Background")
        elif name == "Page" and el.get("BaseLoc") is not None:
            pages.append((el.get("ID") or "", pkg.resolve(el.get("BaseLoc") or "", folder)))
        elif name == "Annotations" and el.text:
            annots_index = pkg.resolve(el.text.strip(), folder)
    _load_resources(pkg, res_files, res)
    annots = _annotations(pkg, annots_index) if annots_index else {}
    out: list[_PageSource] = []
    for page_id, path in pages[:MAX_PAGES]:
        if path is None:
            continue
        out.append(_PageSource(page_id, path, [], annots.get(page_id, []), size))
    out_templates = templates
    for page in out:
        page.templates = [(p, z) for p, z in _page_templates(pkg, page.path, out_templates)]
    return out


def _page_templates(pkg: OfdPackage, page_path: str,
                    templates: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    try:
        root = parse_member(pkg, page_path, recover=True)
    except InvoiceError:
        return []
    found: list[tuple[str, str]] = []
    for el in root:
        if local(el.tag) == "Template":
            tpl = templates.get(el.get("TemplateID") or "")
            if tpl is not None:
                found.append((tpl[0], el.get("ZOrder") or tpl[1]))
    return found


def _physical(el: etree._Element) -> tuple[float, float] | None:
    box_el = _child(el, "PhysicalBox")
    b = graphics.box(box_el.text if box_el is not None else None)
    if b is None or not (0 < b[2] <= 5000 and 0 < b[3] <= 5000):
        return None
    return b[2], b[3]


def _annotations(pkg: OfdPackage, index: str) -> dict[str, list[str]]:
    try:
        root = parse_member(pkg, index, recover=True)
    except InvoiceError:
        return {}
    folder = posixpath.dirname(index)
    out: dict[str, list[str]] = {}
    for el in root.iter():
        if local(el.tag) != "Page":
            continue
        loc = _child(el, "FileLoc")
        if loc is None or not loc.text:
            continue
        path = pkg.resolve(loc.text.strip(), folder)
        if path is not None:
            out.setdefault(el.get("PageID") or "", []).append(path)
    return out


def _draw_annotations(doc: _Doc, paths: list[str], out: list[str]) -> None:
    for path in paths:
        try:
            root = parse_member(doc.pkg, path, recover=True)
        except InvoiceError:
            continue
        for annot in root.iter():
            if local(annot.tag) != "Annot" or (annot.get("Visible") or "true").lower() == "false":
                continue
            if (annot.get("Type") or "") == "Link":
                continue
            for app in annot:
                if local(app.tag) != "Appearance":
                    continue
                b = graphics.box(app.get("Boundary")) or (0.0, 0.0, 0.0, 0.0)
                out.append(f'<g class="ofd-annot" data-type={quoteattr(annot.get("Type") or "")}'
                           f'{_transform(app, b)}>')
                _draw(doc, app, DrawParam(), out, 1)
                out.append("</g>")


def _draw_stamp(doc: _Doc, stamp: Stamp, out: list[str]) -> None:
    """A seal picture stretched over its StampAnnot boundary (an OFD seal drawn as a page)."""
    x, y, w, h = stamp.box
    attrs = (f'class="ofd-seal" data-signature={quoteattr(stamp.signature)} '
             f'x="{fmt(x)}" y="{fmt(y)}" width="{fmt(w)}" height="{fmt(h)}"')
    if stamp.picture_type == "ofd" or stamp.picture[:2] == b"PK":
        if doc.seal_depth >= SEAL_DEPTH:
            return
        try:
            pages = _render_pages(stamp.picture, doc.seal_depth + 1, doc.budget, max_pages=1)
        except InvoiceError as exc:
            log.info("seal OFD not drawn: %s", exc.message)
            return
        if not pages:
            return
        (pw, ph), body, defs = pages[0]
        out.append(f'<svg {attrs} viewBox="0 0 {fmt(pw)} {fmt(ph)}" preserveAspectRatio="none" '
                   f'overflow="hidden">{"".join(defs)}{"".join(body)}</svg>')
        return
    uri = media.data_uri(stamp.picture)
    if uri is None:
        return
    out.append(f'<image {attrs} preserveAspectRatio="none" href="{uri}"/>')


_Page = tuple[tuple[float, float], list[str], list[str]]  # size, body elements, defs


def _render_pages(data: bytes, seal_depth: int, budget: _Budget, max_pages: int = MAX_PAGES) -> list[_Page]:
    pkg = OfdPackage(data, "ofd")
    roots = pkg.doc_roots()
    if not roots:
        raise ParseError(ErrorCode.BAD_OFD, "the OFD names no readable document", "ofd:OFD.xml")
    res = Resources()
    sources = _document(pkg, roots[0], res)[:max_pages]
    doc = _Doc(pkg, res, budget, seal_depth, iter(range(1, 10**9)))
    seals = stamps(pkg) if seal_depth < SEAL_DEPTH + 1 else []
    pages: list[_Page] = []
    for src in sources:
        try:
            root = parse_member(pkg, src.path, recover=True)
        except InvoiceError as exc:
            log.info("page %s not drawn: %s", src.path, exc.message)
            continue
        size = src.size
        area = _child(root, "Area")
        if area is not None:
            size = _physical(area) or size
        body: list[str] = []
        for when in ("Background", None, "Foreground"):
            if when is None:
                content = _child(root, "Content")
                if content is not None:
                    _draw(doc, content, DrawParam(), body, 0)
                continue
            for tpl, z in src.templates:
                if (z == "Foreground") != (when == "Foreground"):
                    continue
                try:
                    tpl_root = parse_member(pkg, tpl, recover=True)
                except InvoiceError:
                    continue
                content = _child(tpl_root, "Content")
                if content is not None:
                    body.append('<g class="ofd-template">')
                    _draw(doc, content, DrawParam(), body, 0)
                    body.append("</g>")
        _draw_annotations(doc, src.annots, body)
        index = len(pages)
        for stamp in seals:
            if stamp.page_id == src.id or (not stamp.page_id and index == 0):
                _draw_stamp(doc, stamp, body)
        pages.append((size, body, []))
    if pages and res.font_faces:
        first_size, first_body, _ = pages[0]
        pages[0] = (first_size, first_body, [f"<style>{''.join(res.font_faces)}</style>"])
    return pages


def render_svg(data: bytes, title: str = "", *, max_pages: int = MAX_PAGES) -> str:
    """The OFD's pages stacked top to bottom as one SVG document (user units: mm).

    Raises ``ParseError`` when the package cannot be opened or has no drawable page; a
    single object that cannot be read is left out instead.
    """
    pages = _render_pages(data, 0, _Budget(MAX_OBJECTS), max_pages=max_pages)
    if not pages:
        raise ParseError(ErrorCode.BAD_OFD, "the OFD has no readable page", "ofd:Document.xml")
    width = max(w for (w, _), _, _ in pages)
    height = sum(h for (_, h), _, _ in pages) + GAP * (len(pages) - 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{fmt(width)}mm" height="{fmt(height)}mm" '
           f'viewBox="0 0 {fmt(width)} {fmt(height)}" role="img" aria-label={quoteattr(title or "OFD")}>',
           f"<title>{escape(title)}</title>",
           "<style>text{white-space:pre}</style>"]
    dy = 0.0
    for n, ((w, h), body, defs) in enumerate(pages, 1):
        out.extend(defs)
        out.append(f'<g class="ofd-page" data-page="{n}" transform="translate(0 {fmt(dy)})">')
        out.append(f'<rect class="ofd-paper" width="{fmt(w)}" height="{fmt(h)}" fill="#fff"/>')
        out.append(f'<svg width="{fmt(w)}" height="{fmt(h)}" viewBox="0 0 {fmt(w)} {fmt(h)}" overflow="hidden">')
        out.extend(body)
        out.append("</svg></g>")
        dy += h + GAP
    out.append("</svg>")
    return "\n".join(out)

"""OFD XML elements: the few the invoice reader needs, read by local name.

Vendors disagree about namespaces (``ofd:``, none, or the broken ``<:eInvoice xmlns:="">``),
so every lookup here goes by local name. All parsing goes through ``invoice.xmlsafe``: no
entity is ever expanded. Only what the fields need is read: a page's text objects (with their
boxes, for reading by position), a document's page/template/tag/attachment references, and
``OFD.xml`` CustomData.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from lxml import etree

from invoice.errors import ErrorCode, ParseError
from invoice.ofd.package import OfdPackage
from invoice.xmlsafe import parse_xml, parse_xml_recover

_LOCAL: dict[str, str] = {}
_CODE_TAG: dict[object, str] = {}  # TextObject tag -> the TextCode tag in the same spelling


def local(tag: object) -> str:
    """Local name of a tag: ``{ns}Page`` / ``ofd:Page`` (unresolved prefix) -> ``Page``."""
    if not isinstance(tag, str):
        return ""  # comments and processing instructions
    name = _LOCAL.get(tag)
    if name is None:
        name = tag.rpartition("}")[2].rpartition(":")[2]
        if len(_LOCAL) < 4096:  # tag names repeat; a small memo saves the hot path
            _LOCAL[tag] = name
    return name


def text_of(el: etree._Element) -> str:
    """All text inside an element, stripped (CDATA included)."""
    if len(el) == 0:
        return (el.text or "").strip()
    return "".join(el.itertext()).strip()


def parse_member(pkg: OfdPackage, path: str, recover: bool = False) -> etree._Element:
    """Parse one member safely; with ``recover`` broken vendor XML is salvaged when possible."""
    data = pkg.read(path)
    where = f"{pkg.where}:{path}"
    if not recover:
        return parse_xml(data, where)
    try:
        return parse_xml(data, where)
    except ParseError as exc:
        if exc.code is not ErrorCode.BAD_XML:
            raise
        root = parse_xml_recover(data, where)
        if root is None:
            raise
        return root


def custom_data(ofd_root: etree._Element) -> dict[str, str]:
    """``OFD.xml`` DocInfo/CustomDatas as name -> text (first occurrence wins)."""
    out: dict[str, str] = {}
    for el in ofd_root.iter():
        if local(el.tag) == "CustomData":
            name = (el.get("Name") or "").strip()
            if name and name not in out:
                out[name] = text_of(el)
    return out


@dataclass(slots=True)
class PageRef:
    id: str
    path: str | None  # member path, None when the reference points at nothing


@dataclass(slots=True)
class DocumentInfo:
    """What ``Document.xml`` points at, as resolved member paths."""

    path: str
    folder: str
    pages: list[PageRef] = field(default_factory=list)
    templates: dict[str, str] = field(default_factory=dict)  # TemplatePage ID -> member path
    custom_tags: str | None = None
    attachments: str | None = None
    annotations: str | None = None  # the annotation index (Annotations.xml)


def read_document(pkg: OfdPackage, doc_path: str) -> DocumentInfo:
    """Pages (in order), templates, tags and attachments of one ``Document.xml``.

    References are resolved relative to the document's folder (case-insensitively when the
    exact name is missing); a page whose reference points at nothing keeps ``path=None``
    instead of failing the file, since the other field sources may still be complete.
    """
    root = parse_member(pkg, doc_path, recover=True)
    folder = posixpath.dirname(doc_path)
    info = DocumentInfo(path=doc_path, folder=folder)
    for el in root.iter():
        name = local(el.tag)
        if name == "Page":
            loc = el.get("BaseLoc") or ""
            info.pages.append(PageRef(el.get("ID") or "", pkg.resolve(loc, folder)))
        elif name == "TemplatePage":
            loc = pkg.resolve(el.get("BaseLoc") or "", folder)
            if loc is not None:
                info.templates[el.get("ID") or ""] = loc
        elif name == "CustomTags" and el.text:
            info.custom_tags = pkg.resolve(el.text, folder)
        elif name == "Attachments" and el.text:
            info.attachments = pkg.resolve(el.text, folder)
        elif name == "Annotations" and el.text:
            info.annotations = pkg.resolve(el.text, folder)
    return info


def annotation_files(pkg: OfdPackage, index: str) -> list[str]:
    """The per-page annotation files an annotation index names (``Page/FileLoc``)."""
    root = parse_member(pkg, index, recover=True)
    folder = posixpath.dirname(index)
    out: list[str] = []
    for el in root.iter():
        if local(el.tag) == "FileLoc" and el.text:
            path = pkg.resolve(el.text, folder)
            if path is not None and path not in out:
                out.append(path)
    return out


@dataclass(slots=True, init=False)
class TextObj:
    """One ``TextObject``: its ID, box on the page (mm, y downwards) and joined text.

    A page makes a hundred of these per parse, so ``__init__`` is written out (the derived
    centre and height set in one go) instead of generated plus ``__post_init__``.
    """

    id: str
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    from_template: bool
    cx: float
    cy: float
    height: float

    def __init__(self, id: str, x0: float, y0: float, x1: float, y1: float, text: str,
                 from_template: bool = False) -> None:
        self.id = id
        self.x0 = x0
        self.y0 = y0
        self.x1 = x1
        self.y1 = y1
        self.text = text
        self.from_template = from_template
        self.cx = (x0 + x1) / 2
        self.cy = (y0 + y1) / 2
        self.height = y1 - y0


def _box(boundary: str | None) -> tuple[float, float, float, float] | None:
    parts = boundary.split() if boundary else ()
    if len(parts) < 4:
        return None
    try:
        x, y, w, h = float(parts[0]), float(parts[1]), float(parts[2]), float(parts[3])
    except ValueError:
        return None
    # Some vendors write right-aligned text with a negative width (x is the right edge).
    x0, x1 = (x + w, x) if w < 0 else (x, x + w)
    y0, y1 = (y + h, y) if h < 0 else (y, y + h)
    return x0, y0, x1, y1


def _text_object_elements(root: etree._Element) -> list[etree._Element]:
    found = list(root.iter("{*}TextObject"))
    if not found:  # recovered XML may keep an unresolved prefix in the tag name
        found = [el for el in root.iter() if local(el.tag) == "TextObject"]
    return found


def _code_tag(tag: object) -> str:
    """The TextCode tag spelt like the TextObject tag (``{ns}``, ``ofd:`` or no prefix)."""
    code_tag = str(tag)[: -len("TextObject")] + "TextCode"
    if len(_CODE_TAG) < 64:  # bounded: tags come from the input
        _CODE_TAG[tag] = code_tag
    return code_tag


def _text_obj(el: etree._Element, from_template: bool = False) -> TextObj | None:
    """The ``TextObj`` of one TextObject element; None when it has no usable Boundary."""
    box = _box(el.get("Boundary"))
    if box is None:
        return None
    # TextCode shares its parent's namespace spelling: compare tags, no per-child parsing
    tag = el.tag
    code_tag = _CODE_TAG.get(tag) or _code_tag(tag)
    text = "".join([(c.text or "").strip() for c in el if c.tag == code_tag])
    return TextObj(el.get("ID") or "", *box, text=text, from_template=from_template)


def text_objects(root: etree._Element, from_template: bool = False) -> list[TextObj]:
    """Every TextObject of a page or template content, in document order."""
    out: list[TextObj] = []
    append = out.append
    for el in _text_object_elements(root):
        box = _box(el.get("Boundary"))
        if box is None:
            continue
        tag = el.tag  # TextCode is spelt like its parent: see _text_obj
        code_tag = _CODE_TAG.get(tag) or _code_tag(tag)
        text = "".join([(c.text or "").strip() for c in el if c.tag == code_tag])
        append(TextObj(el.get("ID") or "", *box, text, from_template))
    return out


class TextObjectIndex:
    """TextObjects of a page by ID, built only for the IDs asked for (the custom tags name a
    dozen of a page's hundred objects). ``get`` answers as ``{o.id: o for o in
    text_objects(root)}.get`` would: the last object with that ID and a usable Boundary.
    """

    __slots__ = ("_elements", "_last", "_made")

    def __init__(self, root: etree._Element) -> None:
        els = _text_object_elements(root)
        ids = [el.get("ID") or "" for el in els]
        # the common case, unique IDs, in one C-level pass; lists only when IDs repeat
        self._last: dict[str, etree._Element] = dict(zip(ids, els, strict=True))
        self._elements: dict[str, list[etree._Element]] | None = None
        if len(self._last) < len(els):
            self._elements = {}
            for obj_id, el in zip(ids, els, strict=True):
                self._elements.setdefault(obj_id, []).append(el)
        self._made: dict[str, TextObj | None] = {}

    def get(self, obj_id: str) -> TextObj | None:
        if obj_id in self._made:
            return self._made[obj_id]
        found: TextObj | None = None
        if self._elements is None:
            last = self._last.get(obj_id)
            candidates: list[etree._Element] = [] if last is None else [last]
        else:
            candidates = self._elements.get(obj_id, [])
        for el in reversed(candidates):
            found = _text_obj(el)
            if found is not None:
                break
        self._made[obj_id] = found
        return found


def template_ids(page_root: etree._Element) -> list[str]:
    """IDs of the templates a page draws on (``<Template TemplateID=…/>``)."""
    return [el.get("TemplateID") or "" for el in page_root if local(el.tag) == "Template"]

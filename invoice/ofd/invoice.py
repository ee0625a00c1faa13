"""Invoice fields from an OFD file: four sources, best first, read only as far as needed.

``OFD.xml`` -> ``DocRoot`` -> ``Document.xml`` -> pages. The sources (DESIGN §3), in order:

1. the issuer's data attachment (``Attachs/original_invoice.xml``, ``eInvoice``; railway
   e-tickets carry an XBRL ``rai:`` file instead),
2. the custom tag file, whose ``ObjectRef``s name TextObjects on a page,
3. ``OFD.xml`` CustomData with Chinese names,
4. the page text, read by label and position (``layout``).

A field keeps the first value a source gives (``field_sources`` records which); a later,
costlier source is read only while a needed field is still missing, so a typical signed
invoice costs three small XML parses. Files that are no invoice at all (bank e-receipts,
statements) raise ``ParseError(NOT_AN_INVOICE)`` naming what they look like.
"""

from __future__ import annotations

import operator
import posixpath
import re
from bisect import bisect_left
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from invoice import normalize
from invoice.errors import ErrorCode, ParseError
from invoice.kinds import KindDetails
from invoice.model import FieldSource, Invoice, InvoiceKind, Item, Party, SourceFormat
from invoice.ofd import bank, layout
from invoice.ofd.package import OfdPackage
from invoice.ofd.xml import (
    DocumentInfo,
    TextObj,
    TextObjectIndex,
    custom_data,
    local,
    parse_member,
    read_document,
    template_ids,
    text_objects,
    text_of,
)
from invoice.qr import parse_qr
from invoice.transport import (
    AIR_NUMBER,
    PREVIEW_MARK,
    TOLL_TITLE,
    Box,
    air_from_xml,
    group_lines,
    railway_from_xbrl,
    read_face,
    transport_kind,
)

# Fields every invoice needs; while one is missing, the next source is read.
_CORE = ("number", "issue_date", "buyer.name", "seller.name", "seller.tax_id", "amount", "tax",
         "total", "items")
_OLD_STYLE_CORE = ("code", "check_code")

# eInvoice element (attachment and custom tag) -> field
_EINVOICE: dict[str, str] = {
    "InvoiceCode": "code",
    "InvoiceNo": "number",
    "IssueDate": "issue_date",
    "InvoiceCheckCode": "check_code",
    "BuyerName": "buyer.name",
    "BuyerTaxID": "buyer.tax_id",
    "SellerName": "seller.name",
    "SellerTaxID": "seller.tax_id",
    "TaxExclusiveTotalAmount": "amount",
    "TaxTotalAmount": "tax",
    "TaxInclusiveTotalAmount": "total",
    "InvoiceClerk": "drawer",
    "Note": "remarks",
    "MachineNo": "machine_no",
    "GraphCode": "graph_code",
}
_GOODS: dict[str, str] = {
    "Item": "name",
    "Specification": "spec",
    "MeasurementDimension": "unit",
    "Quantity": "quantity",
    "Price": "unit_price",
    "Amount": "amount",
    "TaxScheme": "tax_rate",
    "TaxAmount": "tax",
}
_GOODS_BY_TAG: dict[object, str | None] = {}  # full tag -> goods field (memo over namespaces)
_TAG_TEXT = operator.attrgetter("tag", "text")
_CUSTOM_DATA: dict[str, str] = {
    "发票代码": "code",
    "发票号码": "number",
    "开票日期": "issue_date",
    "校验码": "check_code",
    "购买方名称": "buyer.name",
    "购买方纳税人识别号": "buyer.tax_id",
    "销售方名称": "seller.name",
    "销售方纳税人识别号": "seller.tax_id",
    "合计金额": "amount",
    "合计税额": "tax",
    "价税合计": "total",
    "开票人": "drawer",
    "备注": "remarks",
}
# QR / GraphCode invoice type -> special (True) or ordinary (False)
_QR_TYPES = {"01": True, "08": True, "20": True, "31": True, "04": False, "10": False,
             "11": False, "14": False, "32": False}
_TAX_ID = re.compile(r"^[0-9A-Z]{15,20}$")
_RAI_NS = "/rai"
# Bytes pattern: a full-width parenthesis is three bytes in UTF-8, so it is spelled as an
# alternative (a character class would match only one of its bytes, never the character).
_DIGITAL_TITLE = re.compile(
    ">\\s*(电子发票(?:（|\\()(?:增值税专用发票|普通发票)(?:）|\\)))\\s*<".encode())
_OLD_TITLE_MARK = "增值税电子".encode()
_OLD_TITLE = re.compile(r"\w{0,8}增值税电子(?:普通|专用)发票")
# (PageRef, object ID) -> the page member and the TextObject
_Lookup = Callable[[str, str], "tuple[str, TextObj] | None"]


# ---------------------------------------------------------------- normalisers


# The rules themselves live in ``invoice.normalize`` (one set for OFD, PDF and XML); these
# wrappers add only what decides whether a source's text is taken for a field here.

_clean = normalize.text


def _digits(value: str | None, lengths: tuple[int, ...]) -> str | None:
    v = normalize.key(value) or ""
    return v if v.isdigit() and len(v) in lengths else None


def _tax_id(value: str | None) -> str | None:
    v = normalize.tax_id(value) or ""
    return v if _TAX_ID.match(normalize.canonical(v) or "") else None


def money(value: str | None, tax: bool = False) -> Decimal | None:
    """'¥ 1,234.50' -> Decimal('1234.50'); for a tax, '***'/'免税' -> 0.00 (``normalize``);
    ``None`` for what is no amount (a goods line's cell: the item checks see the gap)."""
    try:
        return normalize.tax(value) if tax else normalize.amount(value)
    except normalize.Refused:
        return None


def _normalise(name: str, raw: str | None, source: FieldSource) -> object | None:
    """Turn a raw string into the field's value; None if it does not look like the field
    (another source may do better). Raises ``normalize.Refused`` for a value that is printed
    as the field but cannot be (2024-02-31, an amount that is no number): the caller records
    it, so the same file gives the same finding as its PDF and XML forms."""
    if name == "code":
        return _digits(raw, (10, 12))
    if name == "number":
        return _digits(raw, (8, 20))
    if name == "issue_date":
        # page text is read by position: look for a date in it; a data field must be one
        return normalize.label_date(raw) if source is FieldSource.PAGE_TEXT else normalize.date(raw)
    if name == "check_code":
        v = normalize.key(raw) or ""
        return v if v.isdigit() and len(v) >= 5 else None
    if name.endswith(".tax_id"):
        return _tax_id(raw)
    if name in ("amount", "total"):
        return normalize.amount(raw)
    if name == "tax":
        return normalize.tax(raw)
    return _clean(raw)


def _goods_field(tag: object) -> str | None:
    """The goods field a GoodsInfo child's tag stands for (memo: tags repeat per line)."""
    fld = _GOODS.get(local(tag)) if isinstance(tag, str) else None  # else a comment or PI
    if len(_GOODS_BY_TAG) < 1024:  # bounded: tags come from the input
        _GOODS_BY_TAG[tag] = fld
    return fld


def _goods_raw(children: tuple[tuple[object, str | None], ...]) -> dict[str, str]:
    """An attachment's GoodsInfo line, from its children's (tag, text): field -> stripped text."""
    raw: dict[str, str] = {}
    memo = _GOODS_BY_TAG
    for tag, text in children:
        fld = memo[tag] if tag in memo else _goods_field(tag)
        if fld is not None:
            raw[fld] = (text or "").strip()
    return raw


def _item(raw: Mapping[str, str | None]) -> Item:
    return Item(
        name=_clean(raw.get("name")),
        spec=_clean(raw.get("spec")),
        unit=_clean(raw.get("unit")),
        quantity=_clean(raw.get("quantity")),
        unit_price=_clean(raw.get("unit_price")),
        amount=money(raw.get("amount")),
        tax_rate=normalize.tax_rate(raw.get("tax_rate")),
        tax=money(raw.get("tax"), tax=True),
    )


# ---------------------------------------------------------------- the reader


_ALL_SOURCES = frozenset({FieldSource.ATTACHMENT_XML, FieldSource.CUSTOM_TAG,
                          FieldSource.CUSTOM_DATA, FieldSource.PAGE_TEXT})


class _Reader:
    """One OFD being read: the fields found so far, where from, and the parsed members.

    Members are parsed at most once (pages, templates and text objects are cached) because
    the sources overlap: the tags point into the page that the page-text reading also uses.
    """

    def __init__(self, pkg: OfdPackage, allowed: Collection[FieldSource] = _ALL_SOURCES,
                 members: Collection[str] | None = None,
                 trees: dict[str, etree._Element] | None = None) -> None:
        self.pkg = pkg
        self.allowed = allowed
        # Only these members may feed a field (the ones a verified signature covers); None
        # means every member. A custom tag counts only when its tag file and the page its
        # ObjectRefs point at are both allowed.
        self.only = None if members is None else frozenset(members)
        # survey: read the attachment, tags and CustomData even when the fields are already
        # complete, so that every value each of them states is in ``claims`` (verification)
        self.survey = False
        # members whose statements need no survey (covered by a verified signature: what
        # they say is either used or compared with the signed page anyway)
        self.known: frozenset[str] = frozenset()
        self._surveying = False  # the current stage runs only to survey
        self.values: dict[str, object] = {}
        self.sources: dict[str, str] = {}
        # field -> the members its value was read from (provenance, compared with coverage)
        self.members: dict[str, tuple[str, ...]] = {}
        # every value each source stated for a field, first per (field, members): an
        # unsigned member that contradicts the signed value is caught even when it lost
        self.claims: list[tuple[str, object, tuple[str, ...]]] = []
        self._claimed: set[tuple[str, object, tuple[str, ...]]] = set()
        self.items: list[Item] = []
        self.extra: dict[str, str] = {}
        self.refused: set[str] = set()  # fields whose printed value was refused (normalize)
        self.title: str | None = None
        self.railway = False
        self.air = False  # an air itinerary's data attachment was read
        self.graph_type: str | None = None  # invoice type from the attachment's QR payload
        self.details: KindDetails | None = None  # railway / air / toll record (transport)
        self.doc_path = ""
        self._doc: DocumentInfo | None = None
        # parsed pages and their text objects live on the package: every reading of one
        # opened file (the verifier reads it up to four times) parses each page once
        self._pages: dict[str, etree._Element] = pkg.trees if trees is None else trees
        self._objects: dict[str, list[TextObj]] = pkg.objects
        self._face: layout.Face | None = None

    # -- bookkeeping

    def skip(self, member: str | None) -> bool:
        """True while surveying a member that needs no survey."""
        return self._surveying and member in self.known

    def allows(self, member: str | None) -> bool:
        return member is not None and (self.only is None or member in self.only)

    def put(self, name: str, raw: str | None, source: FieldSource,
            members: tuple[str, ...] = ()) -> None:
        if name in self.values and not members:
            return
        if name in self.refused:
            return  # printed but impossible in one source: no other source fills it in
        try:
            value = _normalise(name, raw, source)
        except normalize.Refused as exc:
            normalize.record(self.extra, name, exc)
            self.refused.add(name)
            return
        if value is None:
            return
        if members:
            self._claim(name, value, members)
        if name in self.values:
            return
        self.values[name] = value
        self.sources[name] = source.value
        self.members[name] = members

    def put_items(self, items: list[Item], source: FieldSource,
                  members: tuple[str, ...] = ()) -> None:
        if not items:
            return
        if source is not FieldSource.PAGE_TEXT and all(i.amount is None for i in items):
            return  # names without amounts (a sparse tag file): let the page table do better
        if members:
            self._claim("items", items, members)
        if self.items:
            return
        self.items = items
        self.sources["items"] = source.value
        self.members["items"] = members

    def _claim(self, name: str, value: object, members: tuple[str, ...]) -> None:
        """Note a value a source stated; each distinct (field, value, members) once, so a
        member repeating one element cannot crowd out another member's claim."""
        key = (name, "items" if name == "items" else value, members)
        if key in self._claimed or len(self.claims) >= 4096:
            return
        self._claimed.add(key)
        self.claims.append((name, value, members))

    def face_members(self, index: int = 0) -> tuple[str, ...]:
        """The members page ``index`` is drawn from: its templates and the page itself."""
        pages = self.doc.pages
        if index >= len(pages) or pages[index].path is None:
            return ()
        path = pages[index].path
        assert path is not None
        tpls = [self.doc.templates[t] for t in template_ids(self.page_root(path))
                if t in self.doc.templates]
        return tuple(dict.fromkeys([*tpls, path]))

    def missing(self) -> list[str]:
        need = list(_CORE)
        number = self.values.get("number")
        if not (isinstance(number, str) and len(number) == 20) and not (self.railway or self.air):
            need += _OLD_STYLE_CORE
        if self.railway or self.air:
            need = ["number", "issue_date", "total"]
        return [n for n in need if (n == "items" and not self.items) or
                (n != "items" and n not in self.values)]

    # -- structure

    @property
    def doc(self) -> DocumentInfo:
        if self._doc is None:
            self._doc = read_document(self.pkg, self.doc_path)
        return self._doc

    def page_root(self, path: str) -> etree._Element:
        root = self._pages.get(path)
        if root is None:
            root = parse_member(self.pkg, path, recover=True)
            self._pages[path] = root
        return root

    def page_objects(self, index: int) -> list[TextObj]:
        """Text objects of page ``index`` and of the templates it draws on (fresh list)."""
        pages = self.doc.pages
        if index >= len(pages) or pages[index].path is None:
            return []
        path = pages[index].path
        assert path is not None
        if not self.allows(path):
            return []
        root = self.page_root(path)
        objs: list[TextObj] = []
        for tid in template_ids(root):
            tpl = self.doc.templates.get(tid)
            if tpl is not None and self.allows(tpl):
                objs.extend(self.objects_of(tpl, from_template=True))
        objs.extend(self.objects_of(path))
        return objs

    def objects_of(self, path: str, from_template: bool = False) -> list[TextObj]:
        cached = self._objects.get(path)
        if cached is None:
            root = self.page_root(path)
            count = sum(1 for _ in root.iter("{*}TextObject"))
            if count > layout.MAX_OBJECTS_PER_PAGE:
                # no invoice page draws this much text; reading it by position would only
                # burn CPU (issue 11): the page gives no page-text fields
                self.extra.setdefault("page_text_skipped",
                                      f"{path}: {count} text objects, limit "
                                      f"{layout.MAX_OBJECTS_PER_PAGE}")
                cached = []
            else:
                cached = text_objects(root, from_template=from_template)
            self._objects[path] = cached
        return cached

    # -- source 1: the attachment

    def read_attachment(self) -> None:
        folder = posixpath.dirname(self.doc_path)
        candidates: list[str] = []
        direct = self.pkg.resolve("Attachs/original_invoice.xml", folder)
        if direct is not None:
            candidates.append(direct)
        else:
            prefix = (folder + "/attachs/").lstrip("/").lower()
            for name in self.pkg.names():
                low = name.lower()
                if low.startswith(prefix) and low.endswith(".xml") and not low.endswith(
                        "/attachments.xml"):
                    candidates.append(name)
        for path in [c for c in candidates if self.allows(c) and not self.skip(c)][:4]:
            if path != direct:
                # other vendors' names: sniff for an eInvoice or a railway (rai:) XBRL
                head = self.pkg.read(path)[:1024]
                if (b"eInvoice" not in head and _RAI_NS.encode() not in head
                        and AIR_NUMBER.encode() not in self.pkg.read(path)[:65536]):
                    self.extra.setdefault("attachment", posixpath.basename(path))
                    continue
            root = self._optional(path)
            if root is None:
                continue
            name = local(root.tag)
            if name == "eInvoice":
                self._read_einvoice(root, (path,))
                return
            if name == "xbrl" and any(_RAI_NS in (ns or "") for ns in root.nsmap.values()):
                self._read_railway(root, (path,))
                return
            if any(local(el.tag) == AIR_NUMBER for el in root.iter() if isinstance(el.tag, str)):
                self._read_air(root, (path,))
                return

    def _optional(self, path: str) -> etree._Element | None:
        """Parse a member that only adds fields: broken beyond recovery means skip it.

        Entity declarations still refuse the whole file (FORBIDDEN_XML): that is an attack,
        not a vendor's slip.
        """
        try:
            return parse_member(self.pkg, path, recover=True)
        except ParseError as exc:
            if exc.code is not ErrorCode.BAD_XML:
                raise
            self.extra.setdefault("unreadable", path)
            return None

    def _read_einvoice(self, root: etree._Element, at: tuple[str, ...]) -> None:
        src = FieldSource.ATTACHMENT_XML
        goods: list[Item] = []
        seen: dict[tuple[tuple[str, str], ...], Item] = {}
        same_line: dict[tuple[tuple[object, str | None], ...], Item] = {}
        stack = list(reversed(root))
        while stack:  # a walk that does not descend into the (often 100) goods lines twice
            el = stack.pop()
            name = local(el.tag)
            if name == "GoodsInfo":
                # List lines often repeat; Items are immutable, so equal lines share one.
                # The children's (tag, text) pairs are read in one C-level pass; an exact
                # repeat is found by them, else by the fields they give (LineNo differs).
                children = tuple(map(_TAG_TEXT, el))
                line = same_line.get(children)
                if line is None:
                    raw = _goods_raw(children)
                    key = tuple(raw.items())
                    line = seen.get(key)
                    if line is None:
                        line = seen[key] = _item(raw)
                    same_line[children] = line
                goods.append(line)
            elif name in _EINVOICE:
                fld = _EINVOICE[name]
                value = text_of(el)
                if fld == "machine_no":
                    if value:
                        self.extra.setdefault(fld, value)
                elif fld == "graph_code":
                    self._graph_code(value)
                else:
                    self.put(fld, value, src, at)
            elif len(el):
                stack.extend(reversed(el))
        self.put_items(goods, src, at)

    def _graph_code(self, value: str) -> None:
        """The QR payload the issuer wrote into the attachment (some write a PNG instead).

        Its type tells 专票 from 普票; it goes to ``extra["qr"]`` only when ``invoice.qr``
        accepts it, so that the QR check downstream never fails on a shape it does not know.
        """
        parts = value.split(",")
        if len(parts) < 7 or parts[0] != "01":
            return  # base64 image or empty
        self.graph_type = parts[1]
        if parse_qr(value) is not None:
            self.extra.setdefault("qr", value)

    def _read_railway(self, root: etree._Element, at: tuple[str, ...]) -> None:
        src = FieldSource.ATTACHMENT_XML
        self.railway = True
        vals = {local(el.tag): text_of(el) for el in root.iter() if len(el) == 0}
        self.details = railway_from_xbrl(vals)
        self.put("number", vals.get("ElectronicInvoiceRailwayETicketNumber"), src, at)
        self.put("issue_date", vals.get("DateOfIssue"), src, at)
        self.put("buyer.name", vals.get("NameOfPurchaser"), src, at)
        self.put("buyer.tax_id", vals.get("UnifiedSocialCreditCodeOfPurchaser"), src, at)
        self.put("amount", vals.get("TotalAmountExcludingTax"), src, at)
        self.put("tax", vals.get("TaxAmount"), src, at)
        self.put("total", vals.get("Fare"), src, at)
        for key, label in (("Name", "passenger"), ("IdNumber", "passenger_id"),
                           ("TrainNumber", "train"), ("TravelDate", "travel_date"),
                           ("DepartureStation", "from"), ("DestinationStation", "to"),
                           ("ETicketNumber", "e_ticket_number"),
                           ("TypeOfBusiness", "business"),
                           ("NumberOfOriginalInvoice", "original_invoice")):
            if vals.get(key):
                self.extra[label] = vals[key]
        if vals.get("TaxRate"):
            self.extra["tax_rate"] = vals["TaxRate"]

    def _read_air(self, root: etree._Element, at: tuple[str, ...]) -> None:
        """An air itinerary's data attachment (``invoice.transport.air_from_xml``)."""
        src = FieldSource.ATTACHMENT_XML
        self.air = True
        reading = air_from_xml(root)
        for name, value in reading.fields().items():
            self.put(name, str(value), src, at)
        self.details = reading.details
        self.extra.update(reading.extra)

    # -- source 2: custom tags -> TextObjects

    def read_tags(self) -> None:
        doc = self.doc
        if doc.custom_tags is None or not self.allows(doc.custom_tags):
            return
        index_root = self._optional(doc.custom_tags)
        if index_root is None:
            return
        tag_folder = posixpath.dirname(doc.custom_tags)
        files = [self.pkg.resolve(el.text or "", tag_folder)
                 for el in index_root.iter() if local(el.tag) == "FileLoc" and el.text]
        page_by_id = {p.id: p.path for p in doc.pages if p.path}
        objects: dict[str, TextObjectIndex] = {}

        def lookup(page_id: str, obj_id: str) -> tuple[str, TextObj] | None:
            path = page_by_id.get(page_id) or (doc.pages[0].path if doc.pages else None)
            if path is None or not self.allows(path):
                return None
            index = objects.get(path)
            if index is None:  # only the referenced objects are built, not the whole page
                index = objects[path] = TextObjectIndex(self.page_root(path))
            found = index.get(obj_id)
            return None if found is None else (path, found)

        for path in files:
            if not self.allows(path) or (self.skip(path) and self.skip(doc.custom_tags)):
                continue
            root = self._optional(path) if path is not None else None
            if root is not None:
                assert path is not None
                self._read_tag_tree(root, lookup, (doc.custom_tags, path))

    def _read_tag_tree(self, root: etree._Element, lookup: _Lookup,
                       files: tuple[str, ...]) -> None:
        src = FieldSource.CUSTOM_TAG
        flat: dict[str, list[list[tuple[str, TextObj]]]] = {}
        grouped: list[Item] = []
        used_pages: dict[str, None] = {}  # page members any ObjectRef pointed into
        last_pages: dict[str, None] = {}  # those of the latest refs() call

        def refs(el: etree._Element) -> list[tuple[str, TextObj]]:
            out = []
            last_pages.clear()
            for r in el:
                if local(r.tag) == "ObjectRef" and r.text:
                    page = r.get("PageRef") or ""
                    hit = lookup(page, r.text.strip())
                    if hit is not None:
                        last_pages[hit[0]] = None
                        out.append((page, hit[1]))
            used_pages.update(last_pages)
            return out

        def joined(found: list[tuple[str, TextObj]]) -> str:
            return "".join(o.text for _, o in found)

        for el in root.iter():
            name = local(el.tag)
            if name == "GoodsInfo":
                raw = {_GOODS[local(c.tag)]: joined(refs(c)) for c in el if local(c.tag) in _GOODS}
                if raw.get("name") or raw.get("amount"):
                    grouped.append(_item(raw))
            elif name in _GOODS:
                if local(el.getparent().tag) == "GoodsInfo":  # type: ignore[union-attr]
                    continue
                found = refs(el)
                if found:
                    flat.setdefault(_GOODS[name], []).append(found)
            elif name in _EINVOICE:
                found = refs(el)
                fld = _EINVOICE[name]
                if found and fld not in ("machine_no", "graph_code"):  # those are not text
                    self.put(fld, joined(found), src, (*files, *last_pages))
        items_at = tuple(dict.fromkeys([*files, *used_pages]))
        if grouped:
            self.put_items(grouped, src, items_at)
        elif flat.get("name"):
            self.put_items(_tag_items(flat), src, items_at)

    # -- source 3: OFD.xml CustomData

    def read_custom_data(self) -> None:
        src = FieldSource.CUSTOM_DATA
        entry = self.pkg.resolve("OFD.xml")
        if entry is None or not self.allows(entry) or self.skip(entry):
            return
        for key, value in custom_data(self.pkg.ofd_xml()).items():
            fld = _CUSTOM_DATA.get(key)
            if fld is not None:
                self.put(fld, value, src, (entry,))

    # -- source 4: the page text

    def find_title(self) -> str | None:
        """The printed title; cheaper than reading the whole face when that is all we need."""
        if self.title is None and self._face is None:
            self.title = self._quick_title()
        if self.title is None and self._face is None:
            self.title = layout.find_title(self.page_objects(0))
            if self.title is None:
                self.face()
        return self.title

    def _quick_title(self) -> str | None:
        """The standard invoice titles, found in the raw text codes of page 1 and its templates.

        Only a whole TextCode that is exactly a title counts, so '所属增值税电子普通发票代码'
        or a remark cannot pass for one; anything else goes to the positional reading.
        """
        pages = self.doc.pages
        if not pages or pages[0].path is None:
            return None
        for path in self.face_members(0):
            if not self.allows(path):
                continue
            raw = self.pkg.read(path)
            m = _DIGITAL_TITLE.search(raw)
            if m:
                return layout.norm(m.group(1).decode("utf-8", "replace"))
            at = raw.find(_OLD_TITLE_MARK)
            while at >= 0:
                start, end = raw.rfind(b">", 0, at) + 1, raw.find(b"<", at)
                text = raw[start:end].decode("utf-8", "replace").strip()
                if _OLD_TITLE.fullmatch(text):
                    return layout.norm(text)
                at = raw.find(_OLD_TITLE_MARK, at + 1)
        return None

    def face(self) -> layout.Face:
        if self._face is None:
            # the same page and templates read by position give the same face: readings of
            # one package (parse, then the verifier's restricted readings) share it
            key = (self.doc_path, *(m for m in self.face_members(0) if self.allows(m)))
            face = self.pkg.faces.get(key)
            if face is None:
                face = self.pkg.faces[key] = layout.read_face(self.page_objects(0))
            self._face = face
            if self._face.title:
                self.title = self._face.title
        return self._face

    def read_page_text(self) -> None:
        src = FieldSource.PAGE_TEXT
        face = self.face()
        at = tuple(m for m in self.face_members(0) if self.allows(m))
        if not at:
            return
        for fld, value in face.values.items():
            if fld == "machine_no":
                self.extra.setdefault(fld, value)
                continue
            self.put(fld, value, src, at)
        amount, tax = face.table_total
        self.put("amount", amount, src, at)
        self.put("tax", tax, src, at)
        items = [_item(row) for row in face.items]
        items_at = at
        if len(items) == 1 and items[0].name and "清单" in items[0].name:
            listed, list_at = self._list_items()
            if listed:
                items, items_at = listed, tuple(dict.fromkeys([*at, *list_at]))
        self.put_items(items, src, items_at)
        if self.items and "amount" not in self.values:
            # a blank 合计 row (draw_param_ref.ofd): the lines add up to the totals
            lines = [i.amount for i in self.items if i.amount is not None]
            taxes = [i.tax for i in self.items if i.tax is not None]
            from_at = self.members.get("items", ())
            if len(lines) == len(self.items):
                self.put("amount", str(sum(lines, Decimal("0"))), FieldSource.DERIVED, from_at)
            if "tax" not in self.values and len(taxes) == len(self.items):
                self.put("tax", str(sum(taxes, Decimal("0"))), FieldSource.DERIVED, from_at)

    def _list_items(self) -> tuple[list[Item], tuple[str, ...]]:
        """Lines of the 销货清单 pages that follow the face, and the members they came from."""
        out: list[Item] = []
        at: list[str] = []
        for i in range(1, len(self.doc.pages)):
            objs = layout.join_split_labels(layout.merge_same_box(self.page_objects(i)))
            rows, _ = layout.read_table(objs)
            if rows:
                at.extend(m for m in self.face_members(i) if self.allows(m))
            out.extend(_item(r) for r in rows if r.get("amount"))
        return out, tuple(dict.fromkeys(at))

    # -- assembling

    def derive(self) -> None:
        if self.air:  # an itinerary's total also holds the 民航发展基金: never amount + tax
            return
        amount, tax, total = (self.values.get(k) for k in ("amount", "tax", "total"))
        src = FieldSource.DERIVED.value

        def inputs(*names: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(m for n in names for m in self.members.get(n, ())))

        if self.refused & {"amount", "tax", "total"}:
            return  # a refused printed amount is not replaced by arithmetic on the others
        if total is None and isinstance(amount, Decimal) and isinstance(tax, Decimal):
            self.values["total"], self.sources["total"] = amount + tax, src
            self.members["total"] = inputs("amount", "tax")
        elif tax is None and isinstance(amount, Decimal) and isinstance(total, Decimal):
            self.values["tax"], self.sources["tax"] = total - amount, src
            self.members["tax"] = inputs("amount", "total")
        elif amount is None and isinstance(tax, Decimal) and isinstance(total, Decimal):
            self.values["amount"], self.sources["amount"] = total - tax, src
            self.members["amount"] = inputs("tax", "total")

    def kind(self) -> InvoiceKind:
        """Kind from the railway attachment, the GraphCode type, else the printed title."""
        if self.railway or self.air:
            self.sources["kind"] = FieldSource.ATTACHMENT_XML.value
            return InvoiceKind.RAILWAY_TICKET if self.railway else InvoiceKind.AIR_ITINERARY
        number = self.values.get("number")
        digital = isinstance(number, str) and len(number) == 20 and "code" not in self.values
        special: bool | None = None
        if self.graph_type in _QR_TYPES:
            special = _QR_TYPES[self.graph_type]
            self.sources["kind"] = FieldSource.ATTACHMENT_XML.value
        else:
            title = self.find_title() or ""
            self.sources["kind"] = FieldSource.PAGE_TEXT.value if title else FieldSource.DERIVED.value
            if "铁路电子客票" in title:
                return InvoiceKind.RAILWAY_TICKET
            if "航空运输电子客票行程单" in title:
                return InvoiceKind.AIR_ITINERARY
            special = "专用发票" in title
        if digital:
            return InvoiceKind.DIGITAL_SPECIAL if special else InvoiceKind.DIGITAL_ORDINARY
        return InvoiceKind.VAT_E_SPECIAL if special else InvoiceKind.VAT_E_ORDINARY

    def not_an_invoice(self) -> ParseError:
        title = self.find_title() if self.doc.pages else None
        what = f" ('{title}')" if title else ""
        hint = ""
        att = self.extra.get("attachment", "")
        bank_title = title and re.search(r"回单|对账单|银行|借记|贷记", title)
        if att.startswith(("bker", "bkrs")) or bank_title:
            hint = " It looks like a bank e-receipt or statement."
        return ParseError(
            ErrorCode.NOT_AN_INVOICE,
            f"not an invoice: the OFD document{what} carries no invoice number in its data "
            f"attachment, tags, CustomData or page text.{hint}",
            self.pkg.where,
        )

    def run(self) -> Invoice:
        roots = self.pkg.doc_roots()
        if not roots:
            raise ParseError(ErrorCode.BAD_OFD,
                             "OFD.xml names no DocRoot document present in the package",
                             f"{self.pkg.where}:OFD.xml")
        self.doc_path = roots[0]
        bank_kind = bank.detect(self)
        if bank_kind is not None:  # 电子回单 / 对账单: read by invoice/ofd/bank.py
            return bank.read_bank(self, bank_kind)
        stages = (
            (FieldSource.ATTACHMENT_XML, self.read_attachment),
            (FieldSource.CUSTOM_TAG, self.read_tags),
            (FieldSource.CUSTOM_DATA, self.read_custom_data),
            (FieldSource.PAGE_TEXT, self.read_page_text),
        )
        for source, stage in stages:
            if source not in self.allowed:
                continue
            if self.missing():
                stage()
            elif self.survey and source is not FieldSource.PAGE_TEXT:
                self._surveying = True
                try:
                    stage()
                finally:
                    self._surveying = False
        if "number" not in self.values:
            raise self.not_an_invoice()
        self.derive()
        kind = self.kind()
        v = self.values

        def s(name: str) -> str | None:
            val = v.get(name)
            return val if isinstance(val, str) else None

        def d(name: str) -> Decimal | None:
            val = v.get(name)
            return val if isinstance(val, Decimal) else None

        if kind in (InvoiceKind.RAILWAY_TICKET, InvoiceKind.AIR_ITINERARY,
                    InvoiceKind.TOLL_BILL) or self._toll_face():
            kind = self.read_transport(kind)
        if self.title:
            self.extra.setdefault("title", self.title)
        return Invoice(
            kind=kind,
            source_format=SourceFormat.OFD,
            number=s("number"),
            code=s("code") if kind in (InvoiceKind.VAT_E_ORDINARY, InvoiceKind.VAT_E_SPECIAL)
            else None,
            issue_date=s("issue_date"),
            check_code=s("check_code"),
            buyer=Party(s("buyer.name"), s("buyer.tax_id")),
            seller=Party(s("seller.name"), s("seller.tax_id")),
            amount=d("amount"),
            tax=d("tax"),
            total=d("total"),
            items=self.items,
            drawer=s("drawer"),
            remarks=s("remarks"),
            field_sources=dict(self.sources),
            field_locations={k: " + ".join(m) for k, m in self.members.items() if m},
            extra=self.extra,
            details=self.details,
        )

    def _toll_face(self) -> bool:
        """A toll VAT invoice: a VAT invoice whose face prints plates and passage dates."""
        title = self.title or ""
        return TOLL_TITLE in title or (
            "通行费" in "".join(i.name or "" for i in self.items)
            and transport_kind(" ".join(o.text for o in self.page_objects(0)))
            is InvoiceKind.TOLL_BILL)

    def read_transport(self, kind: InvoiceKind) -> InvoiceKind:
        """The railway / air / toll record from the page text (``invoice.transport``).

        The railway attachment gives its record first; the face fills what it left out, and
        for air itineraries and toll bills (no attachment) it is the record. Common fields
        the other sources missed are filled from the face too.
        """
        if not self.allows(self.doc.pages[0].path if self.doc.pages else None):
            return kind
        objs = self.page_objects(0)
        if kind not in (InvoiceKind.RAILWAY_TICKET, InvoiceKind.AIR_ITINERARY):
            kind = InvoiceKind.TOLL_BILL
        reading = read_face(kind, group_lines(Box(o.text, o.x0, o.y0, o.x1, o.y1) for o in objs))
        at = tuple(m for m in self.face_members(0) if self.allows(m))
        for name, value in reading.fields().items():
            if name not in self.values:
                self.values[name] = value
                self.sources[name] = FieldSource.PAGE_TEXT.value
                self.members[name] = at
        if self.details is None:
            self.details = reading.details
        elif reading.details is not None:
            mine, theirs = self.details.to_dict(), reading.details.to_dict()
            for key, value in theirs.items():
                if mine.get(key) in (None, []) and value not in (None, []) and hasattr(
                        self.details, key):
                    setattr(self.details, key, getattr(reading.details, key))
        for key, value in reading.extra.items():
            self.extra.setdefault(key, value)
        if reading.preview:
            self.extra["preview"] = PREVIEW_MARK
        return kind


def _tag_items(goods: dict[str, list[list[tuple[str, TextObj]]]]) -> list[Item]:
    """Goods lines from ungrouped tag refs: each field joins the line on its page and row.

    A field's value goes to the name line nearest its height on the same page (the first
    such line on a tie); the lines are sorted per page once, so a hostile tag file of many
    thousand lines stays O(n log n).
    """
    names = goods["name"]
    rows: list[dict[str, str | None]] = [{"name": "".join(o.text for _, o in refs)}
                                         for refs in names]
    anchors = [(refs[0][0], min(o.y0 for _, o in refs)) for refs in names]
    by_page: dict[str, list[tuple[float, int]]] = {}
    for i, (page, y) in enumerate(anchors):
        by_page.setdefault(page, []).append((y, i))
    every = sorted((y, i) for i, (_, y) in enumerate(anchors))
    for lines in by_page.values():
        lines.sort()
    for fld, groups in goods.items():
        if fld == "name":
            continue
        for refs in groups:
            page, y = refs[0][0], min(o.y0 for _, o in refs)
            idx = _nearest_line(by_page.get(page) or every, y)
            if rows[idx].get(fld) is None:
                rows[idx][fld] = "".join(o.text for _, o in refs)
    return [_item(r) for r in rows]


def _nearest_line(lines: list[tuple[float, int]], y: float) -> int:
    """Index of the line nearest ``y`` (smallest index on a tie); ``lines`` sorted by y."""
    pos = bisect_left(lines, (y, -1))
    best: tuple[float, int] | None = None
    for j in (pos - 1, pos):
        if 0 <= j < len(lines):
            ly = lines[j][0]
            # all lines at this height: the smallest index is the first of the run
            start = bisect_left(lines, (ly, -1))
            cand = (abs(ly - y), lines[start][1])
            if best is None or cand < best:
                best = cand
    assert best is not None
    return best[1]


def parse_ofd(data: bytes, where: str = "ofd", *,
              sources: Collection[FieldSource] | None = None) -> Invoice:
    """Read one OFD e-invoice (bytes in, ``Invoice`` out; no I/O).

    ``where`` names the file in error messages. ``sources`` restricts which of the four
    field sources are read (diagnostics and tests: each source must stand on its own).
    Raises ``ParseError`` for an unreadable or unsafe package (EMPTY_FILE, CORRUPT_ZIP,
    UNSAFE_PATH, ZIP_BOMB, FORBIDDEN_XML, BAD_XML, BAD_OFD) and for an OFD that is no
    invoice (NOT_AN_INVOICE).
    """
    pkg = OfdPackage(data, where)
    pkg.ofd_xml()  # refuse a package without a safe entry file before anything else
    return _Reader(pkg, _ALL_SOURCES if sources is None else frozenset(sources)).run()


@dataclass(frozen=True, slots=True)
class OfdReading:
    """One reading of an opened package, with the provenance verification needs.

    ``members`` maps each field to the zip members its value was read from; ``claims`` lists
    every (field, value, members) a source stated, including values that lost to a better
    source, so that an unsigned member contradicting the signed one is still seen.
    """

    invoice: Invoice
    members: Mapping[str, tuple[str, ...]]
    claims: tuple[tuple[str, object, tuple[str, ...]], ...]


def read_ofd(pkg: OfdPackage, *, members: Collection[str] | None = None,
             sources: Collection[FieldSource] | None = None, survey: bool = False,
             known: Collection[str] = (),
             trees: dict[str, etree._Element] | None = None) -> OfdReading:
    """Read the invoice of an already opened package (the container the verifier shares).

    ``members`` restricts the reading to those zip members (the ones a verified signature
    covers); ``survey`` reads the attachment, tags and CustomData even when the fields are
    complete, except members in ``known`` (covered ones, whose values are checked anyway);
    ``trees`` is a cache of parsed pages shared between readings of one package.
    Raises ``ParseError`` as ``parse_ofd`` does.
    """
    reader = _Reader(pkg, _ALL_SOURCES if sources is None else frozenset(sources),
                     members=members, trees=trees)
    reader.survey = survey
    reader.known = frozenset(known)
    inv = reader.run()
    return OfdReading(inv, dict(reader.members), tuple(reader.claims))

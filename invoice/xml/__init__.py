"""数电票 XML (root ``EInvoice``) and the old ``eInvoice`` XML, read into an ``Invoice``.

Element names follow DESIGN §3. Elements are matched by local name, case-sensitively and
exactly: the invoice total is ``BasicInformation/TotalTax-includedAmount`` and nothing else —
each line's ``TotaltaxIncludedAmount`` differs only in case and a hyphen, and taking it for the
total would silently under-report a multi-line invoice. A file without the invoice total is
refused. The XML goes through ``invoice.xmlsafe`` (no DTD, no entities, no network).
"""

from __future__ import annotations

import operator
from decimal import Decimal

from lxml import etree

from invoice import normalize
from invoice.errors import ErrorCode, ParseError
from invoice.model import FieldSource, Invoice, InvoiceKind, Item, Party, SourceFormat
from invoice.qr import parse_qr
from invoice.xml import transport
from invoice.xmlsafe import parse_xml

__all__ = ["parse_xml_invoice"]

_SRC = FieldSource.XML.value
# full tag -> local name, memoised: tags repeat on every goods line and every file, and the
# split below is the costliest step of reading a 100-line invoice otherwise (bounded: tags
# come from the input)
_LOCAL: dict[object, str] = {}


def _local(el: etree._Element) -> str:
    return _local_tag(el.tag)


def _local_tag(tag: object) -> str:
    name = _LOCAL.get(tag)
    if name is not None:
        return name
    if not isinstance(tag, str):
        name = ""  # comments, processing instructions
    else:
        name = tag.rpartition("}")[2]
        name = name.rpartition(":")[2] if ":" in name else name
    if len(_LOCAL) < 4096:
        _LOCAL[tag] = name
    return name


def _node_text(c: etree._Element) -> str | None:
    t = c.text if len(c) == 0 else "".join(c.itertext())
    return (t.strip() or None) if t else None


class _TagMap(dict[object, "str | None"]):
    """Full tag -> the key it is read under (``None``: not read), filled on first sight.

    One look-up per child replaces the local-name split and the "is it wanted" test: tags
    repeat on every line and every file. ``keys_by_name`` maps local names to keys (a
    container's wanted children, or goods-line elements to Item fields). Bounded: tags come
    from the input."""

    def __init__(self, keys_by_name: dict[str, str]) -> None:
        super().__init__()
        self.keys_by_name = keys_by_name

    def __missing__(self, tag: object) -> str | None:
        key = self.keys_by_name.get(_local_tag(tag))
        if len(self) < 1024:
            self[tag] = key
        return key


def _wanted(*names: str) -> _TagMap:
    return _TagMap({n: n for n in names})


def _fields(el: etree._Element | None, wanted: _TagMap) -> dict[str, str | None]:
    """The text of the ``wanted`` direct children, by local name (first occurrence wins):
    one pass per element, so that a 500-line invoice is read in linear time, and a
    container's goods list is never joined into text it does not need."""
    out: dict[str, str | None] = {}
    if el is None:
        return out
    key_of = wanted.__getitem__
    for c in el:
        key = key_of(c.tag)
        if key is not None and key not in out:
            t = c.text if len(c) == 0 else "".join(c.itertext())
            out[key] = (t.strip() or None) if t else None
    return out


def _kids(el: etree._Element | None) -> dict[str, list[etree._Element]]:
    """Children grouped by local name, in one pass (each reader's index of a container)."""
    out: dict[str, list[etree._Element]] = {}
    if el is None:
        return out
    memo = _LOCAL
    for c in el:
        tag = c.tag
        name = memo.get(tag) or _local_tag(tag)
        if name:
            found = out.get(name)
            if found is None:
                out[name] = [c]
            else:
                found.append(c)
    return out


def _index(el: etree._Element | None) -> dict[str, etree._Element]:
    """The first child of each local name, in one pass."""
    out: dict[str, etree._Element] = {}
    if el is None:
        return out
    memo = _LOCAL
    for c in el:
        tag = c.tag
        name = memo.get(tag) or _local_tag(tag)
        if name and name not in out:
            out[name] = c
    return out


def _child(el: etree._Element | None, name: str) -> etree._Element | None:
    if el is None:
        return None
    for c in el:
        if _local_tag(c.tag) == name:
            return c
    return None


def _money(value: str | None, where: str, *, tax: bool = False) -> Decimal | None:
    """An amount element (``invoice.normalize``); a tax element reads 免税/***/... as 0.00.
    Not an amount: the file is broken (BAD_XML naming the element)."""
    try:
        return normalize.tax(value) if tax else normalize.amount(value)
    except normalize.Refused:
        raise ParseError(ErrorCode.BAD_XML, f"{value!r} is not an amount", where) from None


def _date(value: str | None, extra: dict[str, str], field: str = "issue_date") -> str | None:
    """A date element (``invoice.normalize.date``); an impossible date is refused and
    recorded in ``extra``, never passed on."""
    try:
        return normalize.date(value)
    except normalize.Refused as exc:
        normalize.record(extra, field, exc)
        return None


_rate = normalize.tax_rate  # 0.06 in the XML is 6% on the invoice face
_tax_id = normalize.tax_id


# Goods-line element -> Item field, for the 数电票 and the old eInvoice lines.
_DIGITAL_LINE = {"ItemName": "name", "SpecMod": "spec", "MeaUnits": "unit",
                 "Quantity": "quantity", "UnPrice": "unit_price", "Amount": "amount",
                 "TaxRate": "tax_rate", "ComTaxAm": "tax"}
_OLD_LINE = {"Item": "name", "Specification": "spec", "MeasurementDimension": "unit",
             "Quantity": "quantity", "Price": "unit_price", "Amount": "amount",
             "TaxScheme": "tax_rate", "TaxAmount": "tax"}
_ANY_NS = {name: "{*}" + name for name in (*_DIGITAL_LINE, *_OLD_LINE)}
_ITEM_ORDER = ("name", "spec", "unit", "quantity", "unit_price", "amount", "tax_rate", "tax")
assert tuple(_DIGITAL_LINE.values()) == tuple(_OLD_LINE.values()) == _ITEM_ORDER


def _items(lines: list[etree._Element], names: dict[str, str], where: str,
           scope: etree._Element | None = None) -> list[Item]:
    """Goods lines as Items; in long lists equal lines (100-line lists often repeat one)
    share one Item, cleaned and normalised once (a long list's rows hold the elements' text
    as written, stripped here when a row is first seen)."""
    long = len(lines) >= _LONG_LIST
    # column by column pays off for long lists; below that, line by line is cheaper
    columns = _columns(lines, tuple(names), scope) if long and scope is not None else None
    stripped = columns is None  # column rows are stripped below, once per distinct row
    repeat = 1
    rows: list[tuple[str | None, ...]]
    if columns is None:
        by_tag = _TAGS_OF[id(names)]
        rows = [_line_fields(line, by_tag) for line in lines]
    elif all(col.count(col[0]) == len(col) for col in columns):
        # One line written n times (what 100-line sample lists are): every column holds one
        # value, proven by C-level string compares, so one row is read and its Item repeated;
        # no row tuple is built, hashed and looked up per line.
        rows, repeat = [tuple(col[0] for col in columns)], len(lines)
    else:
        rows = list(zip(*columns, strict=True))
    items: list[Item] = []
    same: dict[tuple[str | None, ...], Item] | None = {} if long else None
    amount_of, tax_of, rate_of = normalize.amount, normalize.tax, _rate
    for i, row in enumerate(rows, start=1):
        if same is not None and (item := same.get(row)) is not None:
            items.append(item)
            continue
        # both field maps list the Item fields in _ITEM_ORDER
        name, spec, unit, quantity, unit_price, amount_raw, rate_raw, tax_raw = (
            row if stripped else [(t.strip() or None) if t else None for t in row])
        try:
            amount = amount_of(amount_raw)
            tax = tax_of(tax_raw)
        except normalize.Refused as exc:  # the element is named only when it is wrong
            bad = "amount" if exc.raw == amount_raw else "tax"
            element = next(k for k, v in names.items() if v == bad)
            raise ParseError(ErrorCode.BAD_XML, f"{exc.raw!r} is not an amount",
                             f"{where}[{i}]/{element}") from None
        item = Item(name, spec, unit, quantity, unit_price, amount, rate_of(rate_raw), tax)
        if same is not None:
            same[row] = item
        items.append(item)
    return items * repeat if repeat > 1 else items


_LONG_LIST = 16  # lines from which a list is read by columns and equal lines are shared


_DIGITAL_TAGS = _TagMap(_DIGITAL_LINE)
_OLD_TAGS = _TagMap(_OLD_LINE)
_TAGS_OF = {id(_DIGITAL_LINE): _DIGITAL_TAGS, id(_OLD_LINE): _OLD_TAGS}


def _columns(lines: list[etree._Element], elements: tuple[str, ...],
             scope: etree._Element) -> list[list[str | None]] | None:
    """The goods fields of every line, one list per field in ``elements`` order (line i's
    value at index i), read column by column with lxml's C-level tag match (no tag string
    is built per element, which is most of the cost of a 100-line list).

    Used only when every line has each field exactly once as a direct child (checked by
    parent identity); anything else returns ``None`` and the per-line reading runs. A field
    is its element's own text as written, as in the per-line reading.

    The parent check is ``line.__contains__(field)``: lxml compares the two C nodes
    (``field``'s parent pointer is ``line``'s node), the same test as ``field.getparent() is
    line`` without looking up a parent proxy per element (~90 -> ~20 us for 800 fields).
    """
    n = len(lines)
    columns: list[list[str | None]] = []
    for name in elements:
        found = list(scope.iter(_ANY_NS[name]))
        if len(found) != n or not all(map(operator.contains, lines, found)):
            return None
        columns.append(list(map(_TEXT, found)))
    return columns


_TEXT = operator.attrgetter("text")


def _line_fields(line: etree._Element, by_tag: _TagMap) -> tuple[str | None, ...]:
    """One goods line's fields, its children's own text stripped (first occurrence wins),
    in ``_ITEM_ORDER``."""
    raw: dict[str, str | None] = {}
    field_of = by_tag.__getitem__
    for c in line:
        fld = field_of(c.tag)
        if fld is not None and fld not in raw:
            t = c.text
            raw[fld] = (t.strip() or None) if t else None
    return tuple(map(raw.get, _ITEM_ORDER))


def parse_xml_invoice(data: bytes) -> Invoice:
    """Read a 数电票 ``EInvoice``, an old ``eInvoice`` XML or a railway ``rai:`` XBRL instance;
    ParseError when it is none of them."""
    root = parse_xml(data, "xml")
    name = _local(root)
    if name == "EInvoice":
        return _digital(root)
    if name == "eInvoice":
        return _old(root)
    if transport.is_railway_xbrl(root):
        return transport.parse_railway_xbrl(root)
    if transport.is_air_xml(root):
        return transport.parse_air_xml(root)
    raise ParseError(ErrorCode.NOT_AN_INVOICE,
                     f"XML root element is <{name}>, not <EInvoice> (数电票) or <eInvoice>", "xml")


def _digital(root: etree._Element) -> Invoice:
    top = _index(root)
    header = top.get("Header")
    data = top.get("EInvoiceData")
    supervision = _fields(top.get("TaxSupervisionInfo"), _SUPERVISION)
    if data is None:
        raise ParseError(ErrorCode.BAD_XML, "<EInvoiceData> is missing", "EInvoice")
    body = _kids(data)
    basic_el = _first(body, "BasicInformation")
    if basic_el is None:
        raise ParseError(ErrorCode.BAD_XML, "<BasicInformation> is missing",
                         "EInvoice/EInvoiceData")
    basic = _fields(basic_el, _BASIC)
    total_text = basic.get("TotalTax-includedAmount")
    if total_text is None:
        raise ParseError(ErrorCode.BAD_XML,
                         "the invoice total <TotalTax-includedAmount> is missing (a line's "
                         "TotaltaxIncludedAmount is not the invoice total)", _WHERE_BASIC)
    total = _money(total_text, _WHERE_TOTAL)
    amount = _money(basic.get("TotalAmWithoutTax"), _WHERE_AMOUNT)
    tax = _money(basic.get("TotalTaxAm"), _WHERE_TAX, tax=True)

    number = supervision.get("InvoiceNumber")
    head = _index(header)
    eiid_el = head.get("EIid")
    eiid = _node_text(eiid_el) if eiid_el is not None else None
    extra: dict[str, str] = {}
    if number is None:
        number = eiid
    elif eiid and eiid != number:
        extra["eiid"] = eiid
    if number is None:
        raise ParseError(ErrorCode.BAD_XML, "no invoice number (TaxSupervisionInfo/InvoiceNumber "
                         "or Header/EIid)", "EInvoice")
    # The issue time is the date; the request time only stands in when no issue time is
    # written (an impossible issue time is refused, not replaced by another date).
    issue_time = supervision.get("IssueTime")
    issue = _date(issue_time if issue_time is not None else basic.get("RequestTime"), extra)

    inherent = head.get("InherentLabel")
    lab = _fields(_child(inherent, "GeneralOrSpecialVAT"), _LABEL)
    code = lab.get("LabelCode")
    lname = lab.get("LabelName") or ""
    special = code == "01" or "专用" in lname
    kind = InvoiceKind.DIGITAL_SPECIAL if special else InvoiceKind.DIGITAL_ORDINARY
    kind = transport.digital_transport_kind(header) or kind

    sf = _fields(_first(body, "SellerInformation"), _SELLER)
    bf = _fields(_first(body, "BuyerInformation"), _BUYER)
    seller = Party(sf.get("SellerName"), _tax_id(sf.get("SellerIdNum")))
    buyer = Party(bf.get("BuyerName"), _tax_id(bf.get("BuyerIdNum")))

    items = _items(body.get("IssuItemInformation", []), _DIGITAL_LINE,
                   "EInvoice/EInvoiceData/IssuItemInformation", data)
    remark = _fields(_first(body, "AdditionalInformation"), _REMARK).get("Remark")

    drawer = basic.get("Drawer")
    values = (kind, number, issue, buyer.name, buyer.tax_id, seller.name, seller.tax_id,
              amount, tax, total, drawer, remark, items or None)
    sources = {f: _SRC for f, v in zip(_DIGITAL_SOURCED, values, strict=True) if v is not None}
    inv = Invoice(kind=kind, source_format=SourceFormat.XML, number=number, code=None,
                  issue_date=issue, check_code=None, buyer=buyer, seller=seller, amount=amount,
                  tax=tax, total=total, items=items, drawer=drawer, remarks=remark,
                  field_sources=sources, extra=extra)
    _check_sums(inv, extra)
    return inv


# The fields a 数电票 XML gives (``field_sources``), in the order of ``values`` above.
_DIGITAL_SOURCED = ("kind", "number", "issue_date", "buyer.name", "buyer.tax_id", "seller.name",
                    "seller.tax_id", "amount", "tax", "total", "drawer", "remarks", "items")


def _first(kids: dict[str, list[etree._Element]], name: str) -> etree._Element | None:
    found = kids.get(name)
    return found[0] if found else None


_SUPERVISION = _wanted("InvoiceNumber", "IssueTime")
_WHERE_BASIC = "EInvoice/EInvoiceData/BasicInformation"
_WHERE_TOTAL = f"{_WHERE_BASIC}/TotalTax-includedAmount"
_WHERE_AMOUNT = f"{_WHERE_BASIC}/TotalAmWithoutTax"
_WHERE_TAX = f"{_WHERE_BASIC}/TotalTaxAm"
_BASIC = _wanted("TotalTax-includedAmount", "TotalAmWithoutTax", "TotalTaxAm", "Drawer",
                 "RequestTime")
_LABEL = _wanted("LabelCode", "LabelName")
_SELLER = _wanted("SellerName", "SellerIdNum")
_BUYER = _wanted("BuyerName", "BuyerIdNum")
_REMARK = _wanted("Remark")
_OLD_ROOT = frozenset({"TaxInclusiveTotalAmount", "InvoiceNo", "TypeCode", "InvoiceCheckCode",
                       "InvoiceCode", "IssueDate", "TaxExclusiveTotalAmount", "TaxTotalAmount",
                       "InvoiceClerk", "Note", "MachineNo", "GraphCode"})
_GOODS_LINE = _wanted("GoodsInfo")
_WHERE_OLD_AMOUNT = "eInvoice/TaxExclusiveTotalAmount"
_WHERE_OLD_TAX = "eInvoice/TaxTotalAmount"
_WHERE_OLD_TOTAL = "eInvoice/TaxInclusiveTotalAmount"
# The fields an old eInvoice XML gives (``field_sources``), in the order of ``values`` in _old.
_OLD_SOURCED = ("kind", "code", "number", "issue_date", "check_code", "buyer.name",
                "buyer.tax_id", "seller.name", "seller.tax_id", "amount", "tax", "total",
                "drawer", "remarks", "items")
_OLD_BUYER = _wanted("BuyerName", "BuyerTaxID")
_OLD_SELLER = _wanted("SellerName", "SellerTaxID")


def _old(root: etree._Element) -> Invoice:
    where = "eInvoice"
    top = _index(root)
    rf = {name: _node_text(el) for name in _OLD_ROOT if (el := top.get(name)) is not None}
    total_text = rf.get("TaxInclusiveTotalAmount")
    if total_text is None:
        raise ParseError(ErrorCode.BAD_XML, "the invoice total <TaxInclusiveTotalAmount> is "
                         "missing", where)
    number = rf.get("InvoiceNo")
    if number is None:
        raise ParseError(ErrorCode.BAD_XML, "<InvoiceNo> is missing", where)
    kind = (InvoiceKind.VAT_E_SPECIAL if rf.get("TypeCode") in ("01", "08")
            else InvoiceKind.VAT_E_ORDINARY)
    # The QR payload the issuer wrote (GraphCode; some write a PNG instead) names the type
    # (专票/普票) where TypeCode is a bare "0": the OFD reader uses it the same way.
    graph = rf.get("GraphCode")
    qr = parse_qr(graph) if graph and graph.startswith("01,") else None
    if qr is not None and qr.kind in (InvoiceKind.VAT_E_SPECIAL, InvoiceKind.VAT_E_ORDINARY):
        kind = qr.kind
    goods = top.get("GoodsInfos")
    is_line = _GOODS_LINE.__getitem__
    lines = [c for c in goods if is_line(c.tag)] if goods is not None else []
    items = _items(lines, _OLD_LINE, "eInvoice/GoodsInfos/GoodsInfo", goods)
    extra: dict[str, str] = {}
    buyer = _fields(top.get("Buyer"), _OLD_BUYER)
    seller = _fields(top.get("Seller"), _OLD_SELLER)
    code, issue = rf.get("InvoiceCode"), _date(rf.get("IssueDate"), extra)
    check_code = normalize.key(rf.get("InvoiceCheckCode"))
    buyer_party = Party(buyer.get("BuyerName"), _tax_id(buyer.get("BuyerTaxID")))
    seller_party = Party(seller.get("SellerName"), _tax_id(seller.get("SellerTaxID")))
    amount = _money(rf.get("TaxExclusiveTotalAmount"), _WHERE_OLD_AMOUNT)
    tax = _money(rf.get("TaxTotalAmount"), _WHERE_OLD_TAX, tax=True)
    total = _money(total_text, _WHERE_OLD_TOTAL)
    drawer, remarks = rf.get("InvoiceClerk"), rf.get("Note")
    values = (kind, code, number, issue, check_code, buyer_party.name, buyer_party.tax_id,
              seller_party.name, seller_party.tax_id, amount, tax, total, drawer, remarks,
              items or None)
    inv = Invoice(
        kind=kind, source_format=SourceFormat.XML, number=number, code=code, issue_date=issue,
        check_code=check_code, buyer=buyer_party, seller=seller_party, amount=amount, tax=tax,
        total=total, items=items, drawer=drawer, remarks=remarks, extra=extra,
        field_sources={f: _SRC for f, v in zip(_OLD_SOURCED, values, strict=True)
                       if v is not None},
    )
    machine = rf.get("MachineNo")
    if machine:
        inv.extra["machine_no"] = machine
    if qr is not None and graph:
        inv.extra["qr"] = graph
    _check_sums(inv, inv.extra)
    return inv


def _check_sums(inv: Invoice, extra: dict[str, str]) -> None:
    """Record (never hide, never raise on) totals that do not add up: that is a finding for
    the checks downstream, not a reason to refuse reading the file."""
    problems = []
    if inv.amount is not None and inv.tax is not None and inv.total is not None \
            and inv.amount + inv.tax != inv.total:
        problems.append(f"amount {inv.amount} + tax {inv.tax} != total {inv.total}")
    if inv.items and inv.amount is not None:
        s = sum((i.amount or Decimal(0)) for i in inv.items)
        if s != inv.amount:
            problems.append(f"items sum to {s}, amount is {inv.amount}")
    if problems:
        extra["sum_mismatch"] = "; ".join(problems)

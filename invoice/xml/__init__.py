"""数电票 XML (root ``EInvoice``) and the old ``eInvoice`` XML, read into an ``Invoice``.

Element names follow DESIGN §3. Elements are matched by local name, case-sensitively and
exactly: the invoice total is ``BasicInformation/TotalTax-includedAmount`` and nothing else —
each line's ``TotaltaxIncludedAmount`` differs only in case and a hyphen, and taking it for the
total would silently under-report a multi-line invoice. A file without the invoice total is
refused. The XML goes through ``invoice.xmlsafe`` (no DTD, no entities, no network).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from lxml import etree

from invoice.errors import ErrorCode, ParseError
from invoice.model import FieldSource, Invoice, InvoiceKind, Item, Party, SourceFormat
from invoice.xml import transport
from invoice.xmlsafe import parse_xml

__all__ = ["parse_xml_invoice"]

_SRC = FieldSource.XML.value
_MAX_AMOUNT = Decimal(10) ** 12
_DATE = re.compile(r"(\d{4})\s*[-年/.]?\s*(\d{1,2})\s*[-月/.]?\s*(\d{1,2})")


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""  # comments, processing instructions
    name = tag.rpartition("}")[2]
    return name.rpartition(":")[2] if ":" in name else name


def _fields(el: etree._Element | None) -> dict[str, str | None]:
    """Direct children's text by local name (first occurrence wins): one pass per element,
    so that a 500-line invoice is read in linear time."""
    out: dict[str, str | None] = {}
    if el is None:
        return out
    for c in el:
        name = _local(c)
        if name and name not in out:
            t = c.text if len(c) == 0 else "".join(c.itertext())
            out[name] = (t.strip() or None) if t else None
    return out


def _child(el: etree._Element | None, name: str) -> etree._Element | None:
    if el is None:
        return None
    for c in el:
        if _local(c) == name:
            return c
    return None


def _children(el: etree._Element | None, name: str) -> list[etree._Element]:
    if el is None:
        return []
    return [c for c in el if _local(c) == name]


def _path(el: etree._Element | None, *names: str) -> etree._Element | None:
    for n in names:
        el = _child(el, n)
    return el


def _text(el: etree._Element | None, *names: str) -> str | None:
    node = _path(el, *names)
    if node is None:
        return None
    t = "".join(node.itertext()).strip()
    return t or None


def _money(value: str | None, where: str) -> Decimal | None:
    if value is None:
        return None
    v = value.replace(",", "").replace("¥", "").strip()
    if v in ("***", "免税", "不征税"):
        return Decimal("0.00")
    try:
        d = Decimal(v)
    except InvalidOperation:
        raise ParseError(ErrorCode.BAD_XML, f"{value!r} is not an amount", where) from None
    # No invoice reaches a trillion yuan; an exponent like 1e999 would not even round to cents.
    if not d.is_finite() or abs(d) >= _MAX_AMOUNT:
        raise ParseError(ErrorCode.BAD_XML, f"{value!r} is not an amount", where)
    return d.quantize(Decimal("0.01"))


def _date(value: str | None) -> str | None:
    if not value:
        return None
    m = _DATE.search(value)
    if not m:
        return None
    y, mo, d = (int(g) for g in m.groups())
    if not (1990 <= y <= 2100 and 1 <= mo <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}"


def _rate(value: str | None) -> str | None:
    """Tax rate as printed on the face: ``0.06`` in the XML is ``6%`` on the invoice."""
    if value is None:
        return None
    v = value.strip()
    if re.fullmatch(r"0?\.\d+|0|1(\.0+)?", v):
        pct = (Decimal(v) * 100).normalize()
        return f"{pct:f}%"
    return v


def _tax_id(value: str | None) -> str | None:
    return "".join(value.split()).upper() if value else None


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
    header = _child(root, "Header")
    data = _child(root, "EInvoiceData")
    supervision = _child(root, "TaxSupervisionInfo")
    if data is None:
        raise ParseError(ErrorCode.BAD_XML, "<EInvoiceData> is missing", "EInvoice")
    basic = _child(data, "BasicInformation")
    if basic is None:
        raise ParseError(ErrorCode.BAD_XML, "<BasicInformation> is missing",
                         "EInvoice/EInvoiceData")
    where_basic = "EInvoice/EInvoiceData/BasicInformation"
    total_text = _text(basic, "TotalTax-includedAmount")
    if total_text is None:
        raise ParseError(ErrorCode.BAD_XML,
                         "the invoice total <TotalTax-includedAmount> is missing (a line's "
                         "TotaltaxIncludedAmount is not the invoice total)", where_basic)
    total = _money(total_text, f"{where_basic}/TotalTax-includedAmount")
    amount = _money(_text(basic, "TotalAmWithoutTax"), f"{where_basic}/TotalAmWithoutTax")
    tax = _money(_text(basic, "TotalTaxAm"), f"{where_basic}/TotalTaxAm")

    sources: dict[str, str] = {}
    number = _text(supervision, "InvoiceNumber")
    eiid = _text(header, "EIid")
    extra: dict[str, str] = {}
    if number is None:
        number = eiid
    elif eiid and eiid != number:
        extra["eiid"] = eiid
    if number is None:
        raise ParseError(ErrorCode.BAD_XML, "no invoice number (TaxSupervisionInfo/InvoiceNumber "
                         "or Header/EIid)", "EInvoice")
    issue = _date(_text(supervision, "IssueTime")) or _date(_text(basic, "RequestTime"))

    label = _path(header, "InherentLabel", "GeneralOrSpecialVAT")
    code = _text(label, "LabelCode")
    lname = _text(label, "LabelName") or ""
    special = code == "01" or "专用" in lname
    kind = InvoiceKind.DIGITAL_SPECIAL if special else InvoiceKind.DIGITAL_ORDINARY
    kind = transport.digital_transport_kind(header) or kind

    seller = Party(_text(data, "SellerInformation", "SellerName"),
                   _tax_id(_text(data, "SellerInformation", "SellerIdNum")))
    buyer = Party(_text(data, "BuyerInformation", "BuyerName"),
                  _tax_id(_text(data, "BuyerInformation", "BuyerIdNum")))

    items: list[Item] = []
    for i, it in enumerate(_children(data, "IssuItemInformation"), start=1):
        w = f"EInvoice/EInvoiceData/IssuItemInformation[{i}]"
        f = _fields(it)
        items.append(Item(
            name=f.get("ItemName"), spec=f.get("SpecMod"), unit=f.get("MeaUnits"),
            quantity=f.get("Quantity"), unit_price=f.get("UnPrice"),
            amount=_money(f.get("Amount"), f"{w}/Amount"),
            tax_rate=_rate(f.get("TaxRate")),
            tax=_money(f.get("ComTaxAm"), f"{w}/ComTaxAm"),
        ))

    inv = Invoice(kind=kind, source_format=SourceFormat.XML, number=number, code=None,
                  issue_date=issue, check_code=None, buyer=buyer, seller=seller, amount=amount,
                  tax=tax, total=total, items=items, drawer=_text(basic, "Drawer"),
                  remarks=_text(data, "AdditionalInformation", "Remark"))
    for field, value in (("kind", kind), ("number", number), ("issue_date", issue),
                         ("buyer.name", buyer.name), ("buyer.tax_id", buyer.tax_id),
                         ("seller.name", seller.name), ("seller.tax_id", seller.tax_id),
                         ("amount", amount), ("tax", tax), ("total", total),
                         ("drawer", inv.drawer), ("remarks", inv.remarks)):
        if value is not None:
            sources[field] = _SRC
    if items:
        sources["items"] = _SRC
    inv.field_sources = sources
    _check_sums(inv, extra)
    inv.extra = extra
    return inv


def _old(root: etree._Element) -> Invoice:
    where = "eInvoice"
    rf = _fields(root)
    total_text = rf.get("TaxInclusiveTotalAmount")
    if total_text is None:
        raise ParseError(ErrorCode.BAD_XML, "the invoice total <TaxInclusiveTotalAmount> is "
                         "missing", where)
    number = rf.get("InvoiceNo")
    if number is None:
        raise ParseError(ErrorCode.BAD_XML, "<InvoiceNo> is missing", where)
    kind = (InvoiceKind.VAT_E_SPECIAL if rf.get("TypeCode") in ("01", "08")
            else InvoiceKind.VAT_E_ORDINARY)
    items: list[Item] = []
    for i, g in enumerate(_children(_child(root, "GoodsInfos"), "GoodsInfo"), start=1):
        w = f"eInvoice/GoodsInfos/GoodsInfo[{i}]"
        f = _fields(g)
        items.append(Item(
            name=f.get("Item"), spec=f.get("Specification"),
            unit=f.get("MeasurementDimension"), quantity=f.get("Quantity"),
            unit_price=f.get("Price"), amount=_money(f.get("Amount"), f"{w}/Amount"),
            tax_rate=_rate(f.get("TaxScheme")),
            tax=_money(f.get("TaxAmount"), f"{w}/TaxAmount"),
        ))
    check = rf.get("InvoiceCheckCode")
    buyer, seller = _fields(_child(root, "Buyer")), _fields(_child(root, "Seller"))
    inv = Invoice(
        kind=kind, source_format=SourceFormat.XML, number=number, code=rf.get("InvoiceCode"),
        issue_date=_date(rf.get("IssueDate")),
        check_code="".join(check.split()) if check else None,
        buyer=Party(buyer.get("BuyerName"), _tax_id(buyer.get("BuyerTaxID"))),
        seller=Party(seller.get("SellerName"), _tax_id(seller.get("SellerTaxID"))),
        amount=_money(rf.get("TaxExclusiveTotalAmount"), f"{where}/TaxExclusiveTotalAmount"),
        tax=_money(rf.get("TaxTotalAmount"), f"{where}/TaxTotalAmount"),
        total=_money(total_text, f"{where}/TaxInclusiveTotalAmount"),
        items=items, drawer=rf.get("InvoiceClerk"), remarks=rf.get("Note"),
    )
    for name, value in (("kind", kind), ("code", inv.code), ("number", number),
                        ("issue_date", inv.issue_date), ("check_code", inv.check_code),
                        ("buyer.name", inv.buyer.name), ("buyer.tax_id", inv.buyer.tax_id),
                        ("seller.name", inv.seller.name), ("seller.tax_id", inv.seller.tax_id),
                        ("amount", inv.amount), ("tax", inv.tax), ("total", inv.total),
                        ("drawer", inv.drawer), ("remarks", inv.remarks)):
        if value is not None:
            inv.field_sources[name] = _SRC
    if items:
        inv.field_sources["items"] = _SRC
    machine = rf.get("MachineNo")
    if machine:
        inv.extra["machine_no"] = machine
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

"""Railway e-tickets in XML: the ``rai:`` XBRL data file (电子凭证会计数据标准), and the kind of
a 数电票 ``EInvoice`` XML whose label names a railway ticket or air itinerary.

12306 hands out the same XBRL instance it embeds in the OFD (``Attachs/rai_*.xml``) as the
ticket's XML form: ``rai:ElectronicInvoiceRailwayETicketNumber``, ``rai:Fare``, ... The reading
is the OFD attachment's (``invoice.transport.railway_from_xbrl``), so both forms give the same
record.
"""

from __future__ import annotations

from lxml import etree

from invoice.errors import ErrorCode, ParseError
from invoice.model import FieldSource, Invoice, InvoiceKind, Party, SourceFormat
from invoice.transport import (
    AIR_NUMBER,
    AIR_TITLE,
    RAILWAY_TITLE,
    air_from_xml,
    railway_from_xbrl,
    to_date,
    to_money,
)

RAI_NS = "/rai"
# 数电票 EInvoiceType label codes of the transport kinds (with the label names as fallback)
_LABEL_KINDS = {"51": InvoiceKind.RAILWAY_TICKET, "61": InvoiceKind.AIR_ITINERARY}


def is_railway_xbrl(root: etree._Element) -> bool:
    name = root.tag.rpartition("}")[2] if isinstance(root.tag, str) else ""
    return name == "xbrl" and any(RAI_NS in (ns or "") for ns in root.nsmap.values())


def _leaves(root: etree._Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for el in root.iter():
        if isinstance(el.tag, str) and len(el) == 0:
            name = el.tag.rpartition("}")[2]
            text = (el.text or "").strip()
            if text and name not in out:
                out[name] = text
    return out


def parse_railway_xbrl(root: etree._Element) -> Invoice:
    """A railway e-ticket from its ``rai:`` XBRL instance."""
    vals = _leaves(root)
    number = vals.get("ElectronicInvoiceRailwayETicketNumber")
    if not number or not number.isdigit():
        raise ParseError(ErrorCode.BAD_XML, "the railway XBRL has no "
                         "rai:ElectronicInvoiceRailwayETicketNumber (the invoice number)", "xbrl")
    src = FieldSource.XML.value
    inv = Invoice(kind=InvoiceKind.RAILWAY_TICKET, source_format=SourceFormat.XML, number=number,
                  issue_date=to_date(vals.get("DateOfIssue")),
                  buyer=Party(vals.get("NameOfPurchaser"),
                              (vals.get("UnifiedSocialCreditCodeOfPurchaser") or "").upper() or None),
                  amount=to_money(vals.get("TotalAmountExcludingTax")),
                  tax=to_money(vals.get("TaxAmount")), total=to_money(vals.get("Fare")),
                  details=railway_from_xbrl(vals))
    for name, value in (("kind", inv.kind), ("number", inv.number), ("issue_date", inv.issue_date),
                        ("buyer.name", inv.buyer.name), ("buyer.tax_id", inv.buyer.tax_id),
                        ("amount", inv.amount), ("tax", inv.tax), ("total", inv.total)):
        if value is not None:
            inv.field_sources[name] = src
    if vals.get("NumberOfOriginalInvoice"):
        inv.extra["original_invoice"] = vals["NumberOfOriginalInvoice"]
    if vals.get("TaxRate"):
        inv.extra["tax_rate"] = vals["TaxRate"]
    return inv


def is_air_xml(root: etree._Element) -> bool:
    """An air itinerary's data file: it names ``ElectronicInvoiceAirTransportReceiptNumber``."""
    return any(isinstance(el.tag, str) and el.tag.rpartition("}")[2] == AIR_NUMBER
               for el in root.iter())


def parse_air_xml(root: etree._Element) -> Invoice:
    """An air itinerary from its data file (``invoice.transport.air_from_xml``)."""
    r = air_from_xml(root)
    if r.number is None:
        raise ParseError(ErrorCode.BAD_XML, f"the air itinerary's <{AIR_NUMBER}> (the invoice "
                         "number) is empty or not digits", "xml")
    inv = Invoice(kind=InvoiceKind.AIR_ITINERARY, source_format=SourceFormat.XML, number=r.number,
                  issue_date=r.issue_date, buyer=r.buyer, seller=r.seller, amount=r.amount,
                  tax=r.tax, total=r.total, details=r.details)
    src = FieldSource.XML.value
    inv.field_sources = {name: src for name in r.fields()}
    inv.field_sources["kind"] = src
    if r.amount is not None:
        inv.field_sources["amount"] = FieldSource.DERIVED.value  # 票价 + 燃油附加费
    inv.extra.update(r.extra)
    return inv


def digital_transport_kind(header: etree._Element | None) -> InvoiceKind | None:
    """A 数电票 XML header whose invoice-type label names a railway ticket or air itinerary.

    Only ``LabelName`` and ``LabelCode`` elements (any depth, any namespace, document order)
    can decide: libxml2 picks them out, so the header's other elements cost nothing.
    """
    if header is None:
        return None
    for el in header.iter(_LABEL_NAME, _LABEL_CODE):
        name = el.tag.rpartition("}")[2]
        text = (el.text or "").strip()
        if name == "LabelName":
            if RAILWAY_TITLE in text:
                return InvoiceKind.RAILWAY_TICKET
            if AIR_TITLE in text:
                return InvoiceKind.AIR_ITINERARY
        elif text in _LABEL_KINDS:
            parent = el.getparent()
            if (parent is not None and isinstance(parent.tag, str)
                    and parent.tag.rpartition("}")[2] == "EInvoiceType"):
                return _LABEL_KINDS[text]
    return None


_LABEL_NAME, _LABEL_CODE = "{*}LabelName", "{*}LabelCode"

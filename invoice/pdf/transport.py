"""Railway e-tickets, air itineraries and toll bills in PDF: the face read by ``invoice.transport``.

The VAT reader (``fields``) looks for a buyer/seller block and a goods table that these faces
do not print; they are read from the same positioned segments by the transport rules instead.
A toll VAT invoice is a VAT invoice with plate and dates in its table: it keeps the VAT
reading and gains the toll record.
"""

from __future__ import annotations

from invoice.model import FieldSource, Invoice, InvoiceKind, SourceFormat
from invoice.pdf.text import Segment
from invoice.qr import QrPayload
from invoice.transport import (
    PREVIEW_MARK,
    TOLL_TITLE,
    Box,
    TransportReading,
    group_lines,
    read_face,
    transport_kind,
)

_NEEDED = ("number", "issue_date", "total")


def kind_of(segs: list[Segment]) -> InvoiceKind | None:
    """The transport kind the page text names, else None (a VAT invoice or no voucher)."""
    return transport_kind("".join(s.compact for s in segs))


def toll_bill_face(segs: list[Segment]) -> bool:
    """A 通行费电子票据 (not a toll VAT invoice, which the VAT reader reads)."""
    return TOLL_TITLE in "".join(s.compact for s in segs)


def read(segs: list[Segment], kind: InvoiceKind) -> TransportReading:
    boxes = [Box(s.text, s.x0, s.top, s.x1, s.bottom) for s in segs if s.page == 0]
    return read_face(kind, group_lines(boxes))


def complete(reading: TransportReading) -> bool:
    """Number, date and total are there: no need for the slower extractor."""
    found = reading.fields()
    return all(k in found for k in _NEEDED)


def better(a: TransportReading, b: TransportReading) -> TransportReading:
    """The reading with more fields (details included); ``a`` on a tie."""
    def score(r: TransportReading) -> int:
        details = r.details.to_dict() if r.details is not None else {}
        return len(r.fields()) + sum(1 for v in details.values() if v not in (None, [], "normal"))
    return b if score(b) > score(a) else a


def build(reading: TransportReading, qr: QrPayload | None, notes: list[str]) -> Invoice:
    """The invoice of a railway ticket, air itinerary or toll bill read from its face."""
    src = FieldSource.PAGE_TEXT.value
    inv = Invoice(kind=reading.kind, source_format=SourceFormat.PDF, number=reading.number,
                  issue_date=reading.issue_date, buyer=reading.buyer, seller=reading.seller,
                  amount=reading.amount, tax=reading.tax, total=reading.total,
                  details=reading.details)
    inv.field_sources = {k: src for k in reading.fields()}
    inv.field_sources["kind"] = src
    if reading.kind is InvoiceKind.AIR_ITINERARY and reading.amount is not None:
        inv.field_sources["amount"] = FieldSource.DERIVED.value  # 票价 + 燃油附加费
    inv.extra.update(reading.extra)
    if reading.preview:
        inv.extra["preview"] = PREVIEW_MARK
    if qr is not None:
        inv.extra["qr"] = qr.raw
        qsrc = FieldSource.QR_CODE.value
        if inv.number is None and qr.number:
            inv.number, inv.field_sources["number"] = qr.number, qsrc
        if inv.issue_date is None and qr.issue_date:
            inv.issue_date, inv.field_sources["issue_date"] = qr.issue_date, qsrc
        if inv.total is None and qr.total is not None:
            inv.total, inv.field_sources["total"] = qr.total, qsrc
    if notes:
        inv.extra["pdf_notes"] = "; ".join(notes)
    return inv


def add_toll(inv: Invoice, segs: list[Segment]) -> None:
    """A toll VAT invoice read as a VAT invoice: its kind and plate / entry / exit on top."""
    reading = read(segs, InvoiceKind.TOLL_BILL)
    inv.kind = InvoiceKind.TOLL_BILL
    inv.field_sources["kind"] = FieldSource.PAGE_TEXT.value
    inv.details = reading.details
    inv.extra.update(reading.extra)
    if inv.number is None and reading.number:
        inv.number = reading.number

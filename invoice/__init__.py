"""Invoices: parse every format into one normalised ``Invoice``, verify it, register it.

``parse(data)`` is the one entry point: bytes in, model out, no I/O. It knows nothing of
claims, vouchers or archives.
"""

from __future__ import annotations

from invoice.detect import detect_format
from invoice.errors import ErrorCode, InvoiceError, ParseError
from invoice.model import (
    Invoice,
    InvoiceKind,
    Item,
    Party,
    SourceFormat,
    canonicalize_keys,
    sha256_hex,
)

__all__ = ["ErrorCode", "Invoice", "InvoiceError", "InvoiceKind", "Item", "ParseError", "Party",
           "SourceFormat", "parse"]


def parse(data: bytes, max_bytes: int | None = None) -> Invoice:
    """Read one invoice file of any supported format.

    Raises ``ParseError`` (with a code and a message naming the reason) when the bytes are
    empty, too large, of no supported format, unsafe, or not an invoice.
    """
    from core.settings import get_settings

    limit = max_bytes if max_bytes is not None else get_settings().max_upload_bytes
    if not data:
        raise ParseError(ErrorCode.EMPTY_FILE, "the file is empty")
    if len(data) > limit:
        raise ParseError(ErrorCode.TOO_LARGE, f"the file is {len(data)} bytes; the limit is {limit}")
    fmt = detect_format(data)
    if fmt is SourceFormat.OFD:
        from invoice.ofd import parse_ofd

        inv = parse_ofd(data)
    elif fmt is SourceFormat.PDF:
        from invoice.pdf import parse_pdf

        inv = parse_pdf(data)
    elif fmt is SourceFormat.XML:
        from invoice.xml import parse_xml_invoice

        inv = parse_xml_invoice(data)
    elif fmt is SourceFormat.IMAGE:
        from invoice.image import parse_image

        inv = parse_image(data)
    else:
        raise ParseError(ErrorCode.UNKNOWN_FORMAT, "not an OFD, PDF or XML file, nor a JPEG or PNG picture")
    inv.sha256 = sha256_hex(data)
    return canonicalize_keys(inv)  # one spelling of codes, numbers and tax ids for every format

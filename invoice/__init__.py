"""Invoices: parse every format into one normalised ``Invoice``, verify it, register it.

``parse(data)`` is the one entry point: bytes in, model out, no I/O. It knows nothing of
claims, vouchers or archives.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from core.settings import Settings

__all__ = ["ErrorCode", "Invoice", "InvoiceError", "InvoiceKind", "Item", "ParseError", "Party",
           "SourceFormat", "parse"]


def parse(data: bytes, max_bytes: int | None = None) -> Invoice:
    """Read one invoice file of any supported format.

    Raises ``ParseError`` (with a code and a message naming the reason) when the bytes are
    empty, too large, of no supported format, unsafe, or not an invoice.
    """
    limit = max_bytes if max_bytes is not None else _settings().max_upload_bytes
    if not data:
        raise ParseError(ErrorCode.EMPTY_FILE, "the file is empty")
    if len(data) > limit:
        raise ParseError(ErrorCode.TOO_LARGE, f"the file is {len(data)} bytes; the limit is {limit}")
    fmt = detect_format(data)
    if fmt is None:
        raise ParseError(ErrorCode.UNKNOWN_FORMAT, "not an OFD, PDF or XML file, nor a JPEG or PNG picture")
    inv = _reader(fmt)(data)
    inv.sha256 = sha256_hex(data)
    return canonicalize_keys(inv)  # one spelling of codes, numbers and tax ids for every format


def _settings() -> Settings:
    return _settings_getter()()


@cache
def _settings_getter() -> Callable[[], Settings]:
    """``core.settings.get_settings``, imported on the first parse (pydantic loads then, not
    when ``invoice`` is imported); called on every parse, so an override applies at once."""
    from core.settings import get_settings

    return get_settings


_READERS: dict[SourceFormat, Callable[[bytes], Invoice]] = {}


def _reader(fmt: SourceFormat) -> Callable[[bytes], Invoice]:
    """The reader of ``fmt``, imported on first use: a command that reads only XML never
    loads the PDF and OFD libraries, and later files pay one dict look-up, not an import."""
    known = _READERS.get(fmt)
    if known is not None:
        return known
    reader: Callable[[bytes], Invoice]
    if fmt is SourceFormat.OFD:
        from invoice.ofd import parse_ofd as reader
    elif fmt is SourceFormat.PDF:
        from invoice.pdf import parse_pdf as reader
    elif fmt is SourceFormat.XML:
        from invoice.xml import parse_xml_invoice as reader
    else:
        from invoice.image import parse_image as reader
    _READERS[fmt] = reader
    return reader

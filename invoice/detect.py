"""Tell the format from the bytes, never from the file name."""

from __future__ import annotations

import re

from invoice.model import SourceFormat
from invoice.xmlsafe import sniff_encoding

# Leading XML whitespace, then the first '<' (what ``bytes.lstrip().startswith(b"<")`` tests)
_TAG_FIRST = re.compile(rb"[ \t\n\r\x0b\x0c]*<")
_HEAD = 1024  # the bytes looked at: a PDF header may follow some junk, XML starts at once


def detect_format(data: bytes) -> SourceFormat | None:
    """The format the first bytes announce. Searches are bounded to the head in place (no
    copy of it is made: this runs on every file, XML ones included)."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return SourceFormat.OFD  # OFD is a zip; the OFD reader checks for OFD.xml
    if data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")):
        return SourceFormat.IMAGE  # a JPEG or PNG scan or photo (invoice/image)
    if data.find(b"%PDF-", 0, _HEAD) >= 0:
        return SourceFormat.PDF
    # XML in UTF-8 (BOM or not), UTF-16 or UTF-32 (BOM or not): the first character is '<'.
    found = sniff_encoding(data)
    if found is not None:
        codec, bom = found
        text = data[bom: min(bom + 256, _HEAD)].decode(codec, errors="ignore")
        return SourceFormat.XML if text.lstrip().startswith("<") else None
    if data[:1] == b"<" or _TAG_FIRST.match(data, 0, _HEAD):
        return SourceFormat.XML
    return None

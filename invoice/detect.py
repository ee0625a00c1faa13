"""Tell the format from the bytes, never from the file name."""

from __future__ import annotations

from invoice.model import SourceFormat
from invoice.xmlsafe import sniff_encoding


def detect_format(data: bytes) -> SourceFormat | None:
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return SourceFormat.OFD  # OFD is a zip; the OFD reader checks for OFD.xml
    if data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")):
        return SourceFormat.IMAGE  # a JPEG or PNG scan or photo (invoice/image)
    head = data[:1024]
    if b"%PDF-" in head:
        return SourceFormat.PDF
    # XML in UTF-8 (BOM or not), UTF-16 or UTF-32 (BOM or not): the first character is '<'.
    found = sniff_encoding(head)
    if found is not None:
        codec, bom = found
        text = head[bom: bom + 256].decode(codec, errors="ignore")
        return SourceFormat.XML if text.lstrip().startswith("<") else None
    if head.lstrip().startswith(b"<"):
        return SourceFormat.XML
    return None

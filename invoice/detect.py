"""Tell the format from the bytes, never from the file name."""

from __future__ import annotations

from invoice.model import SourceFormat

_BOM = b"\xef\xbb\xbf"


def detect_format(data: bytes) -> SourceFormat | None:
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return SourceFormat.OFD  # OFD is a zip; the OFD reader checks for OFD.xml
    head = data[:1024]
    if b"%PDF-" in head:
        return SourceFormat.PDF
    stripped = head.removeprefix(_BOM).lstrip()
    if stripped.startswith(b"<"):
        return SourceFormat.XML
    return None

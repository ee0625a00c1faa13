"""The one hardened XML parser every module uses.

Invoices come from outside: no entity is expanded, no DTD loaded, no network touched, no
huge tree built. A recovering variant exists only for vendors that write broken tag XML
(``<:eInvoice xmlns:="">``) and is used only there.
"""

from __future__ import annotations

from lxml import etree

from invoice.errors import ErrorCode, ParseError

_STRICT = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False
)
_RECOVER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    recover=True,
)


def _ascii_view(data: bytes) -> bytes:
    """The markup as single bytes, so UTF-16 input cannot hide a DOCTYPE from the check."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        enc = "utf-16-be" if data[:2] == b"\xfe\xff" or data[:1] == b"\x00" else "utf-16-le"
        return data.decode(enc, errors="replace").encode("ascii", errors="replace")
    return data


def _refuse_doctype(data: bytes, where: str) -> None:
    # A DOCTYPE is never needed by an invoice and is the door to entity attacks; refuse it
    # outright rather than trust every parser flag.
    lowered = _ascii_view(data).lower()
    if b"<!doctype" in lowered[:4096] or b"<!entity" in lowered:
        raise ParseError(ErrorCode.FORBIDDEN_XML, "XML with a DOCTYPE or entity declaration is refused", where)


def parse_xml(data: bytes, where: str = "xml") -> etree._Element:
    """Parse strictly; raise ParseError naming ``where`` on any problem."""
    _refuse_doctype(data, where)
    try:
        return etree.fromstring(data, parser=_STRICT)
    except etree.XMLSyntaxError as exc:
        raise ParseError(ErrorCode.BAD_XML, f"invalid XML: {exc}", where) from exc


def parse_xml_recover(data: bytes, where: str = "xml") -> etree._Element | None:
    """Parse with recovery for vendors' broken XML; ``None`` when nothing is salvageable."""
    _refuse_doctype(data, where)
    try:
        root = etree.fromstring(data, parser=_RECOVER)
    except etree.XMLSyntaxError:
        return None
    return root

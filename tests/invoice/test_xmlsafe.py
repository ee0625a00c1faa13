"""The hardened XML parser refuses entity tricks in any encoding."""

from __future__ import annotations

import pytest

from invoice.errors import ErrorCode, ParseError
from invoice.xmlsafe import parse_xml, parse_xml_recover

XXE = '<?xml version="1.0" encoding="{enc}"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'


@pytest.mark.parametrize("enc", ["utf-8", "utf-16", "utf-16-le", "utf-16-be"])
def test_doctype_refused_in_every_encoding(enc: str) -> None:
    data = XXE.format(enc=enc.upper()).encode(enc)
    with pytest.raises(ParseError) as info:
        parse_xml(data, "Doc_0/x.xml")
    assert info.value.code is ErrorCode.FORBIDDEN_XML
    assert "Doc_0/x.xml" in str(info.value)


def test_recovering_parser_refuses_entities_too() -> None:
    with pytest.raises(ParseError):
        parse_xml_recover(XXE.format(enc="UTF-8").encode(), "tag")


def test_utf16_invoice_text_reads() -> None:
    assert parse_xml("<a>发票</a>".encode("utf-16"), "t").text == "发票"


# --- encodings, DOCTYPE in UTF-32, and the bare '&' of the tax-bureau signature (issue 11) ---

from invoice import parse  # noqa: E402
from invoice.detect import detect_format  # noqa: E402
from invoice.model import SourceFormat  # noqa: E402
from invoice.verify import VerifyStatus, verify  # noqa: E402
from tests.invoice.test_xml import fixture  # noqa: E402

_ENCODINGS = {
    # name -> (codec of the body, BOM prepended)
    "utf-8-bom": ("utf-8", b"\xef\xbb\xbf"),
    "utf-16-bom": ("utf-16", b""),  # Python's utf-16 writes the BOM itself
    "utf-16-le-bom": ("utf-16-le", b"\xff\xfe"),
    "utf-16-be-bom": ("utf-16-be", b"\xfe\xff"),
    "utf-16-le": ("utf-16-le", b""),
    "utf-16-be": ("utf-16-be", b""),
    "utf-32-bom": ("utf-32", b""),
    "utf-32-le": ("utf-32-le", b""),
    "utf-32-be": ("utf-32-be", b""),
}


def _encode(text: str, name: str) -> bytes:
    codec, bom = _ENCODINGS[name]
    label = "UTF-8" if codec == "utf-8" else codec.upper()
    text = text.replace('encoding="UTF-8"', f'encoding="{label}"', 1)
    return bom + text.encode(codec)


@pytest.mark.parametrize("name", ["utf-8-bom", "utf-16-bom", "utf-16-le-bom", "utf-16-be-bom"])
def test_invoice_xml_with_bom_is_parsed(name: str) -> None:
    data = _encode(fixture("digital_ordinary.xml").decode("utf-8"), name)
    assert detect_format(data) is SourceFormat.XML
    inv = parse(data)
    plain = parse(fixture("digital_ordinary.xml"))
    assert (inv.number, inv.total, inv.buyer, inv.items) == (
        plain.number, plain.total, plain.buyer, plain.items)


@pytest.mark.parametrize("name", sorted(_ENCODINGS))
def test_doctype_refused_in_utf16_and_utf32_with_and_without_bom(name: str) -> None:
    data = _encode(XXE.format(enc="UTF-8"), name)
    with pytest.raises(ParseError) as info:
        parse_xml(data, "x.xml")
    assert info.value.code is ErrorCode.FORBIDDEN_XML
    # The same document without the DOCTYPE is read: the refusal is for the DOCTYPE only.
    ok = _encode('<?xml version="1.0" encoding="UTF-8"?><a>发票</a>', name)
    assert parse_xml(ok, "x.xml").text == "发票"


def test_doctype_in_an_invoice_in_utf32_is_refused_by_parse() -> None:
    text = fixture("digital_ordinary.xml").decode("utf-8").replace(
        "<EInvoice>", '<!DOCTYPE EInvoice [<!ENTITY t "9999.00">]><EInvoice>', 1)
    for name in ("utf-32-bom", "utf-32-le", "utf-16-be"):
        with pytest.raises(ParseError) as info:
            parse(_encode(text, name))
        assert info.value.code is ErrorCode.FORBIDDEN_XML


def test_doctype_the_byte_scan_cannot_see_is_refused_by_the_tree() -> None:
    # Far beyond the first 4096 bytes (a long comment first): the parser's docinfo tells.
    data = (b'<?xml version="1.0"?><!--' + b"x" * 5000 + b'--><!DOCTYPE a [<!ELEMENT a ANY>]><a/>')
    with pytest.raises(ParseError) as info:
        parse_xml(data, "x.xml")
    assert info.value.code is ErrorCode.FORBIDDEN_XML


def _bare_amp() -> bytes:
    data = fixture("digital_ordinary.xml")
    assert b"MEUCIQ==&amp;MjAyNC0wNS0yOA==" in data
    return data.replace(b"MEUCIQ==&amp;MjAyNC0wNS0yOA==", b"MEUCIQ==&MjAyNC0wNS0yOA==")


def test_bare_ampersand_in_tax_bureau_signature_is_tolerated() -> None:
    inv = parse(_bare_amp())
    assert inv.number == parse(fixture("digital_ordinary.xml")).number
    report = verify(_bare_amp())
    assert report.status is VerifyStatus.INDETERMINATE
    assert report.signatures[0].location == "TaxBureauSignature"


@pytest.mark.parametrize("where", [b"<Drawer>", b"<Remark>"])
def test_bare_ampersand_anywhere_else_is_still_bad_xml(where: str) -> None:
    data = _bare_amp()
    assert where in data
    data = data.replace(where, where + b"A&B", 1)
    with pytest.raises(ParseError) as info:
        parse(data)
    assert info.value.code is ErrorCode.BAD_XML


@pytest.mark.parametrize("value", [
    b"MEUCIQ==&x;MjAyNC0wNS0yOA==",  # an entity reference is never tolerated
    b"MEUCIQ==&MjAy&NC0wNS0yOA==",  # two ampersands: not the quirk
    b"MEUCIQ==&<x/>MjAyNC0wNS0yOA==",  # markup after it
])
def test_signature_value_that_is_not_the_quirk_is_bad_xml(value: bytes) -> None:
    data = fixture("digital_ordinary.xml").replace(b"MEUCIQ==&amp;MjAyNC0wNS0yOA==", value)
    with pytest.raises(ParseError) as info:
        parse(data)
    assert info.value.code is ErrorCode.BAD_XML


def test_bare_ampersand_in_a_signature_value_outside_tax_bureau_signature_is_bad_xml() -> None:
    data = _bare_amp().replace(b"TaxBureauSignature>", b"OtherSignature>")
    with pytest.raises(ParseError) as info:
        parse(data)
    assert info.value.code is ErrorCode.BAD_XML


# --- the DOCTYPE/ENTITY byte scan: one case-insensitive search, no lower-case copy (issue 15) ---


@pytest.mark.parametrize("decl", [b"<!DocType a>", b"<!doctype a>", b'<!Entity x "1">'])
def test_declarations_in_any_case_are_refused_by_the_scan(decl: bytes) -> None:
    data = b'<?xml version="1.0"?>' + decl + b"<a/>"
    with pytest.raises(ParseError) as ei:
        parse_xml(data)
    assert ei.value.code is ErrorCode.FORBIDDEN_XML


def test_cdata_and_comments_are_not_declarations() -> None:
    data = b'<?xml version="1.0"?><!-- c --><a><![CDATA[2020<!>]]><!-- d --></a>'
    assert parse_xml(data).text == "2020<!>"


def test_entity_text_far_into_the_file_is_still_refused() -> None:
    # An ENTITY declaration is refused wherever the scan meets it, as before: even past 4 KB.
    data = b'<?xml version="1.0"?><a>' + b"x" * 5000 + b"<![CDATA[<!ENTITY y>]]></a>"
    with pytest.raises(ParseError) as ei:
        parse_xml(data)
    assert ei.value.code is ErrorCode.FORBIDDEN_XML
    assert parse_xml(data.replace(b"<!ENTITY", b"<!ENTRY")).text is not None

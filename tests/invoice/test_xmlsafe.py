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

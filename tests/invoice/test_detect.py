"""Format detection looks at the first 1 KB in place (no copy): the bounds still hold."""

from __future__ import annotations

import codecs

import pytest

from invoice.detect import detect_format
from invoice.model import SourceFormat


@pytest.mark.parametrize("data", [
    b"<?xml version='1.0'?><a/>",
    b" \t\r\n<a/>",
    b"\x0b\x0c<a/>",
    codecs.BOM_UTF8 + b"<a/>",
    codecs.BOM_UTF16_LE + "<a/>".encode("utf-16-le"),
    "<a/>".encode("utf-16-be"),
])
def test_xml_is_recognised_after_whitespace_and_in_unicode(data: bytes) -> None:
    assert detect_format(data) is SourceFormat.XML


@pytest.mark.parametrize("data", [
    b" " * 1024 + b"<a/>",  # the '<' lies past the first 1 KB
    b"x<a/>",
    b"",
])
def test_what_does_not_start_with_a_tag_is_not_xml(data: bytes) -> None:
    assert detect_format(data) is None


def test_a_pdf_header_counts_only_inside_the_first_kilobyte() -> None:
    assert detect_format(b"junk" * 10 + b"%PDF-1.7\n") is SourceFormat.PDF
    assert detect_format(b"j" * 1020 + b"%PDF-1.7\n") is None  # straddles the 1 KB bound

"""Parse errors speak Chinese to people and keep the technical detail for support."""

from __future__ import annotations

import pickle
import re

import pytest

from core import messages
from invoice import parse
from invoice.errors import ErrorCode, ParseError


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_has_a_chinese_text(code: ErrorCode) -> None:
    assert messages.has(code.value)
    text = ParseError(code, "technical reason", "Doc_0/Page_0/Content.xml", limit="64 MiB",
                      setting="FAPIAO_X", kind="银行电子回单", fields="回单编号").text
    assert re.search(r"[\u4e00-\u9fff]", text)
    assert "{" not in text  # every placeholder filled


def test_to_dict_carries_the_chinese_message_and_the_detail() -> None:
    with pytest.raises(ParseError) as info:
        parse(b"hello, not an invoice")
    d = info.value.to_dict()
    assert d["code"] == "unknown_format"
    assert d["message"] == messages.text("unknown_format")
    assert "not an OFD, PDF or XML file" in d["detail"]


def test_where_is_named_in_message_and_dict() -> None:
    err = ParseError(ErrorCode.BAD_XML, "invalid XML: boom", "Doc_0/Document.xml")
    d = err.to_dict()
    assert "Doc_0/Document.xml" in d["message"] and d["where"] == "Doc_0/Document.xml"
    assert d["detail"] == "invalid XML: boom (Doc_0/Document.xml)"


def test_too_complex_names_its_limit() -> None:
    err = ParseError(ErrorCode.TOO_COMPLEX, "stream 5 inflates beyond 64 MiB", "object 5",
                     limit="64 MiB", setting="FAPIAO_MAX_PDF_STREAM_BYTES")
    assert "64 MiB" in err.text and "FAPIAO_MAX_PDF_STREAM_BYTES" in err.text
    assert err.to_dict()["params"] == {"limit": "64 MiB", "setting": "FAPIAO_MAX_PDF_STREAM_BYTES"}


def test_an_error_crosses_the_sandbox_whole() -> None:
    # the worker pickles the error back: code, place, limit and the text's params survive
    err = ParseError(ErrorCode.TOO_COMPLEX, "stream 5 inflates beyond 64 MiB", "object 5", limit="64 MiB",
                     setting="FAPIAO_MAX_PDF_STREAM_BYTES", limit_name="pdf_stream", limit_value=64 << 20)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ParseError and back.to_dict() == err.to_dict()
    assert back.to_dict()["limit"] == "pdf_stream" and "{" not in back.text

"""Errors raised when a file cannot be evaluated at all.

A rule that fails (a wrong total, a broken signature) is a field in a result, never an
exception; these are only for input that cannot be read. Each carries a stable ``code`` for
machines, the technical ``message`` (English, for logs and support: which library said what)
and ``params`` that fill the Chinese text of the catalogue (``core.messages``, area
``invoice``), which is what a finance clerk reads.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    EMPTY_FILE = "empty_file"
    TOO_LARGE = "too_large"
    UNKNOWN_FORMAT = "unknown_format"
    CORRUPT_ZIP = "corrupt_zip"
    UNSAFE_PATH = "unsafe_path"
    ZIP_BOMB = "zip_bomb"
    BAD_XML = "bad_xml"
    FORBIDDEN_XML = "forbidden_xml"
    BAD_OFD = "bad_ofd"
    BAD_PDF = "bad_pdf"
    TIMEOUT = "timeout"
    NOT_AN_INVOICE = "not_an_invoice"
    # A resource limit (decompressed size, object count, time budget) was reached: the file
    # may be valid, but reading it would cost more than any real invoice does.
    TOO_COMPLEX = "too_complex"


class InvoiceError(Exception):
    """Base class: the input could not be evaluated."""

    def __init__(self, code: ErrorCode, message: str, where: str | None = None,
                 **params: Any) -> None:
        self.code = code
        self.message = message  # technical detail, English
        self.where = where  # member path, page number, element: where in the file
        self.params = params  # placeholders of the Chinese text (e.g. limit, setting)
        super().__init__(f"{message} ({where})" if where else message)

    @property
    def detail(self) -> str:
        """The technical reason with its location (English; logs, support, ``detail``)."""
        return str(self)

    @property
    def text(self) -> str:
        """The Chinese message for people, from the catalogue."""
        from core import messages

        params = {"where": self.where or "文件", "detail": self.detail, **self.params}
        return messages.text(self.code.value, **params)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"code": self.code.value, "message": self.text,
                             "detail": self.detail}
        if self.where:
            d["where"] = self.where
        if self.params:
            d["params"] = {k: str(v) for k, v in self.params.items()}
        return d


class ParseError(InvoiceError):
    """The file is not a readable invoice of a supported format."""

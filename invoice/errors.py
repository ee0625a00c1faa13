"""Errors raised when a file cannot be evaluated at all.

A rule that fails (a wrong total, a broken signature) is a field in a result, never an
exception; these are only for input that cannot be read. Each carries a stable ``code`` for
machines and a ``message`` fit for a finance clerk.
"""

from __future__ import annotations

from enum import StrEnum


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


class InvoiceError(Exception):
    """Base class: the input could not be evaluated."""

    def __init__(self, code: ErrorCode, message: str, where: str | None = None) -> None:
        self.code = code
        self.message = message
        self.where = where  # member path, page number, element: where in the file
        super().__init__(f"{message} ({where})" if where else message)

    def to_dict(self) -> dict[str, str]:
        d = {"code": self.code.value, "message": str(self)}
        return d


class ParseError(InvoiceError):
    """The file is not a readable invoice of a supported format."""

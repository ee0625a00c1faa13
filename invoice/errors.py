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
    BAD_IMAGE = "bad_image"  # a JPEG/PNG scan that is truncated or corrupt
    TIMEOUT = "timeout"
    NOT_AN_INVOICE = "not_an_invoice"
    # A resource limit (decompressed size, object count, time budget) was reached: the file
    # may be valid, but reading it would cost more than any real invoice does.
    TOO_COMPLEX = "too_complex"
    # A bank's specimen receipt or statement (labels, empty or 'XX' values): never registered.
    BANK_TEMPLATE = "bank_template"


class InvoiceError(Exception):
    """Base class: the input could not be evaluated."""

    def __init__(self, code: ErrorCode, message: str, where: str | None = None, *,
                 limit_name: str | None = None, limit_value: float | None = None,
                 **params: Any) -> None:
        self.code = code
        self.message = message  # technical detail, English
        self.where = where  # member path, page number, element: where in the file
        self.params = params  # placeholders of the Chinese text (e.g. limit, setting)
        # For ``too_complex``: which limit was hit, for machines (like the sandbox's ``cpu``,
        # ``wall``, ``memory``: ``pdf_stream``, ``pdf_total``) and its setting's value.
        self.limit_name = limit_name
        self.limit_value = limit_value
        super().__init__(f"{message} ({where})" if where else message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses the sandbox's process boundary whole: code, place, limit and the text's params.
        return (_rebuild, (type(self), self.code, self.message, self.where, self.limit_name,
                           self.limit_value, self.params))

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

    def to_dict(self, file: str | None = None) -> dict[str, Any]:
        """Code, Chinese message (naming ``file`` when given), detail and place; a limit that
        was hit as ``limit`` and ``value``, the same keys as the sandbox's ``TooComplex``."""
        message = f"{file}：{self.text}" if file else self.text
        d: dict[str, Any] = {"code": self.code.value, "message": message, "detail": self.detail}
        if self.limit_name is not None:
            d["limit"] = self.limit_name
            d["value"] = self.limit_value
        if self.where:
            d["where"] = self.where
        if self.params:
            d["params"] = {k: str(v) for k, v in self.params.items()}
        return d


class ParseError(InvoiceError):
    """The file is not a readable invoice of a supported format."""


def _rebuild(cls: type[InvoiceError], code: ErrorCode, message: str, where: str | None,
             limit_name: str | None, limit_value: float | None, params: dict[str, Any]) -> InvoiceError:
    return cls(code, message, where, limit_name=limit_name, limit_value=limit_value, **params)

"""Errors of the archive package: a request that cannot be carried out, said for a person.

A four-property check that finds a problem is *not* an error (it is an item with result
"fail" in the report); these are raised only when the operation itself must stop.
"""

from __future__ import annotations

from typing import Any

from core.errors import ErrorKind, ServiceError


class ArchiveError(ServiceError):
    """Base of every error raised by ``archive/``."""

    def __init__(self, kind: ErrorKind, code: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(kind, code, message, details)


def not_found(what: str, ident: str) -> ArchiveError:
    return ArchiveError(ErrorKind.NOT_FOUND, f"{what}_not_found", f"no {what.replace('_', ' ')} {ident!r}")


def refused(code: str, message: str, details: dict[str, Any] | None = None) -> ArchiveError:
    return ArchiveError(ErrorKind.REFUSED, code, message, details)


def bad_input(code: str, message: str, details: dict[str, Any] | None = None) -> ArchiveError:
    return ArchiveError(ErrorKind.BAD_INPUT, code, message, details)

"""Errors of the accounting package: claims, vouchers, posting, the chart and spreadsheets.

Every refusal names what was refused, where and why, so that a clerk reading the message
(or the CLI's stderr) can act on it without looking at logs. ``kind`` says how callers map
the error: bad input (HTTP 4xx / exit 2), not found, a rule that refused, a lost race.
"""

from __future__ import annotations

from typing import Any

from core.errors import ErrorKind, ServiceError

__all__ = ["AccountingError", "ErrorKind", "bad_input", "conflict", "not_found", "refused"]


class AccountingError(ServiceError):
    """A claim, voucher or posting request that cannot be carried out."""


def bad_input(code: str, message: str, details: dict[str, Any] | None = None) -> AccountingError:
    return AccountingError(ErrorKind.BAD_INPUT, code, message, details)


def not_found(code: str, message: str, details: dict[str, Any] | None = None) -> AccountingError:
    return AccountingError(ErrorKind.NOT_FOUND, code, message, details)


def refused(code: str, message: str, details: dict[str, Any] | None = None) -> AccountingError:
    return AccountingError(ErrorKind.REFUSED, code, message, details)


def conflict(code: str, message: str, details: dict[str, Any] | None = None) -> AccountingError:
    return AccountingError(ErrorKind.CONFLICT, code, message, details)

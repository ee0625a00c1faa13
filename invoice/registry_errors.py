"""Errors of the invoice registry (``invoice.registry``), as service errors.

``DuplicateInvoice`` is a refusal, not a failure: its ``details`` name the earlier record
(``invoice_id``, ``file``, ``uploaded_by``, ``uploaded_at``, ``claim_id``, ``voucher_id``,
``posted``) so the person uploading can see who already brought that invoice in, and where
it went.
"""

from __future__ import annotations

from typing import Any

from core.errors import ErrorKind, ServiceError


class RegistryError(ServiceError):
    """The registry cannot take this invoice (no number, missing original, bad filter...)."""


class DuplicateInvoice(RegistryError):
    """The invoice (same file, or same invoice in another format) is already registered."""

    def __init__(self, message: str, earlier: dict[str, Any]) -> None:
        super().__init__(ErrorKind.REFUSED, "duplicate_invoice", message, earlier)

    @property
    def earlier(self) -> dict[str, Any]:
        return self.details

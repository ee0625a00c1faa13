"""Read models of the invoice package: the registered invoice, its verification, its summary.

``InvoicePublic`` is the normalised invoice of DESIGN §4 (``Invoice.to_dict``) plus what the
registry knows about the file. The per-kind fields of ``Invoice.details`` (railway, air, toll,
bank receipt, statement) sit at the top level under their own names and vary by kind: the
model declares the common fields and keeps those as extra fields, unchanged. The verification
report is declared down to its status and its lists; what each signature or check says in
detail is kept as the verifier wrote it.

Accounting adds posting, usage and the derived status on top (``accounting.public``): this
package knows nothing of claims or vouchers.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from core.public import Money, PublicModel, Timestamp
from invoice.model import InvoiceKind, SourceFormat
from invoice.registry import InvoiceRecord, RecordStatus
from invoice.verify.online import CheckStatus
from invoice.verify.report import VerifyStatus


class PartyPublic(PublicModel):
    name: str | None = None
    tax_id: str | None = None


class ItemPublic(PublicModel):
    """One line of goods or services, amounts as printed where the invoice keeps them so."""

    name: str | None = None
    spec: str | None = None
    unit: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    amount: Money | None = None
    tax_rate: str | None = Field(default=None, description='as printed: "6%", "免税", "不征税"')
    tax: Money | None = None


class VerificationPublic(PublicModel):
    """The report of ``fapiao verify`` (``VerificationReport.to_dict``): the status is typed,
    the signatures, checks and coverage lists are kept as the verifier wrote them."""

    model_config = ConfigDict(extra="allow")

    status: VerifyStatus
    sha256: str | None = None
    signatures: list[dict[str, Any]] = Field(default_factory=list)
    checks: list[dict[str, Any]] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


class InvoiceBase(PublicModel):
    """The fields every invoice view shows (lists included)."""

    model_config = ConfigDict(extra="allow")  # the per-kind detail fields (DESIGN §4)

    kind: InvoiceKind
    source_format: SourceFormat
    code: str | None = None
    number: str | None = None
    issue_date: str | None = Field(default=None, description="YYYY-MM-DD as read from the file")
    check_code: str | None = None
    buyer: PartyPublic = Field(default_factory=PartyPublic)
    seller: PartyPublic = Field(default_factory=PartyPublic)
    amount: Money | None = None
    tax: Money | None = None
    total: Money | None = None
    drawer: str | None = None
    remarks: str | None = None
    key: str | None = None
    sha256: str
    field_locations: dict[str, str] = Field(default_factory=dict)
    id: str
    status: RecordStatus
    duplicate_of: Any = Field(default=None, description="the earlier record (its id in the registry's own view)")
    red_reverses_key: str | None = None
    verification_status: VerifyStatus
    online_check_status: CheckStatus
    file: str | None = None
    size: int | None = None
    uploaded_by: str | None = None
    uploaded_at: Timestamp | None = None

    @staticmethod
    def record_fields(record: InvoiceRecord) -> dict[str, Any]:
        """The stored invoice with the registry's columns over it (columns win: they are the
        values the duplicate rule and the ledger use)."""
        d = dict(record.data)
        d.update({
            "id": record.id, "key": record.key, "sha256": record.sha256,
            "amount": record.amount if record.amount is not None else d.get("amount"),
            "tax": record.tax if record.tax is not None else d.get("tax"),
            "total": record.total if record.total is not None else d.get("total"),
            "status": record.status, "duplicate_of": record.duplicate_of,
            "red_reverses_key": record.red_reverses_key, "verification": record.verification,
            "verification_status": record.verification_status,
            "online_check_status": record.online_check_status, "file": record.original_filename,
            "size": record.size, "uploaded_by": record.uploaded_by, "uploaded_at": record.uploaded_at,
        })
        return d


class InvoicePublic(InvoiceBase):
    """One invoice in full: items, where each field was read, the verification report."""

    items: list[ItemPublic] = Field(default_factory=list)
    field_sources: dict[str, str] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    verification: VerificationPublic | None = None

    @classmethod
    def from_record(cls, record: InvoiceRecord) -> InvoicePublic:
        return cls.model_validate(cls.record_fields(record))


class InvoiceSummary(PublicModel):
    """An earlier record as API.md's ``duplicate_of`` names it."""

    invoice_id: str
    key: str | None = None
    file: str | None = None
    uploaded_by: str | None = None
    uploaded_at: Timestamp | None = None
    status: RecordStatus
    claim_id: str | None = None
    voucher_id: str | None = None
    posted: bool = False


class OnlineCheckPublic(PublicModel):
    """One 查验 attempt as stored on the invoice."""

    at: Timestamp
    status: CheckStatus
    message: str | None = None
    by: str | None = None
    contacted: bool = False
    details: dict[str, Any] = Field(default_factory=dict)


class OnlineCheckResult(PublicModel):
    """``POST /invoices/{id}/online-check``: the result, and the status now on the invoice."""

    invoice_id: str
    status: CheckStatus
    message: str
    checked_at: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    online_check_status: CheckStatus


class ImportEntry(PublicModel):
    """One file of an upload: ``invoice_id`` | ``duplicate_of`` | ``error`` (API.md)."""

    model_config = ConfigDict(extra="allow")

    file: str


class ImportResultPublic(PublicModel):
    """``POST /invoices`` and ``fapiao import``."""

    imported: list[ImportEntry] = Field(default_factory=list)
    duplicates: list[ImportEntry] = Field(default_factory=list)
    rejected: list[ImportEntry] = Field(default_factory=list)
    already_imported: list[ImportEntry] | None = Field(default=None, description="re-runs only")


__all__ = ["ImportEntry", "ImportResultPublic", "InvoiceBase", "InvoicePublic", "InvoiceSummary", "ItemPublic",
           "OnlineCheckPublic", "OnlineCheckResult", "PartyPublic", "VerificationPublic"]

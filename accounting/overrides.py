"""Overrides (人工放行): an approver or accountant lets an invoice pass the 查验 requirement.

Most 数电票 carry no seal (``unsigned``) and the tax bureau's XML signature cannot be checked
locally (``indeterminate``): such invoices stay claimable but are marked 未查验 until a
successful 查验 result arrives. Where ``FAPIAO_REQUIRE_ONLINE_CHECK`` makes that result
mandatory before approval, an override recorded with a reason takes its place.

An override is evidence, so it is never edited or deleted: every one is a row in
``invoice_overrides`` (who, when, why) and an ``invoice.override`` audit entry written in the
same transaction; the newest row is the one shown with the invoice, on the claim, the voucher
and in the archive package. An override never makes an ``invalid`` invoice or one whose
cross-checks failed claimable: it answers "not yet checked online", nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, Session, SQLModel, col, select

from accounting.errors import bad_input, refused
from core import audit, messages
from core.db import AwareDateTime, new_id, utcnow
from core.users import User
from invoice.registry import InvoiceRecord, get_invoice
from invoice.verify.report import VerifyStatus

MIN_REASON = 4  # characters: "同意" alone says nothing an auditor can check
MAX_REASON = 1000
OVERRIDABLE = (VerifyStatus.UNSIGNED, VerifyStatus.INDETERMINATE)  # verification statuses an override can answer


class InvoiceOverride(SQLModel, table=True):
    """One recorded override of the 查验 requirement for one invoice (append-only)."""

    __tablename__ = "invoice_overrides"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    invoice_id: str = Field(foreign_key="invoices.id", index=True, max_length=32)
    reason: str = Field(max_length=MAX_REASON)
    by: str = Field(max_length=64)  # username
    role: str = Field(max_length=16)
    at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


def override_to_dict(row: InvoiceOverride) -> dict[str, Any]:
    """An override as plain data (``accounting.public.OverridePublic``)."""
    from accounting.public import OverridePublic

    return OverridePublic.from_row(row).to_json()


def latest_override(session: Session, invoice_id: str) -> InvoiceOverride | None:
    return session.exec(select(InvoiceOverride).where(InvoiceOverride.invoice_id == invoice_id)
                        .order_by(col(InvoiceOverride.at).desc(), col(InvoiceOverride.id))).first()


def latest_overrides(session: Session, invoice_ids: list[str]) -> dict[str, InvoiceOverride]:
    """The newest override of each of ``invoice_ids`` that has one (one query)."""
    out: dict[str, InvoiceOverride] = {}
    if not invoice_ids:
        return out
    rows = session.exec(select(InvoiceOverride).where(col(InvoiceOverride.invoice_id).in_(invoice_ids))
                        .order_by(col(InvoiceOverride.at), col(InvoiceOverride.id))).all()
    for row in rows:
        out[row.invoice_id] = row  # ascending: the last one wins
    return out


def record_override(session: Session, user: User, invoice_id: str, reason: str | None) -> InvoiceOverride:
    """Record that ``user`` lets the invoice pass without a 查验 result, and audit it.

    Refused for an invoice that is not ``unsigned`` or ``indeterminate`` (a ``valid`` one needs
    none; an ``invalid`` one can never be claimed). The role rule (approver, accountant,
    admin) is applied by the caller (``api.permissions``: ``invoice.override``).
    """
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON or len(reason) > MAX_REASON:
        raise bad_input("override_reason_required",
                        messages.text("claim.override_reason_required", min=MIN_REASON, max=MAX_REASON),
                        {"min_length": MIN_REASON})
    record: InvoiceRecord = get_invoice(session, invoice_id)
    if record.verification_status not in OVERRIDABLE or record.status != "ok":
        raise refused("override_not_applicable",
                      messages.text("claim.override_not_applicable", invoice=record.key or record.id,
                                    status=messages.label("verification_status", record.verification_status)),
                      {"invoice_id": record.id, "verification_status": record.verification_status,
                       "status": record.status})
    row = InvoiceOverride(invoice_id=record.id, reason=reason, by=user.username, role=user.role, at=utcnow())
    session.add(row)
    session.flush()
    audit.append(session, user.username, "invoice.override", "invoice", record.id,
                 {"reason": reason, "role": user.role, "verification_status": record.verification_status,
                  "online_check_status": record.online_check_status})
    return row

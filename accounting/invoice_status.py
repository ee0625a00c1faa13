"""One status per invoice, derived, never stored: can it go on a claim, and if not, why not?

The page, the list filter ``GET /invoices?claimable=true`` and the claim gate (create, submit,
approve) all ask this module, so the invoice a clerk is offered is exactly the invoice the
claim accepts. The interface is three names:

* ``InvoiceStatus`` — a StrEnum; ``messages.label("invoice_status", value)`` is its Chinese
  label. In order of precedence (the first that applies is the status)::

      not_invoice  付款回单 a bank e-receipt or statement (issue 13): the payment, not an invoice
      posted       已入账  an active 入账标识 (posting) exists
      claimed      已报销  on a live claim (draft … approved) other than the one asked about
      duplicate    重复    registered as a duplicate of an earlier invoice (warn policy)
      failed       验证失败 signature ``invalid``; a cross-check failed (amount + tax ≠ total,
                           line sums, QR against text, tax-id check character, date, number);
                           查验 said 作废 / 红冲 / 查无此票 / 不一致; a red-letter invoice, one
                           reversed by a red-letter invoice, or one without a total
      not_ours     非本单位 the buyer is not the organisation (FAPIAO_ORG_NAME / _TAX_ID)
      needs_check  需查验  ``unsigned`` or ``indeterminate`` and no successful 查验 result and
                           no override yet; claimable, marked 未查验
      claimable    可报销  everything holds (an override of the 查验 requirement counts)

* ``StatusReport`` — ``status``, ``label``, ``reasons`` (Chinese sentences, every problem found,
  not only the deciding one), ``codes`` (one stable code per reason), ``claimable`` (status is
  ``claimable`` or ``needs_check``), ``online_check_pending`` (the 未查验 mark: ``unsigned`` or
  ``indeterminate`` without a successful 查验 — an override does not remove it),
  ``online_check_label``, ``override`` (the newest override as a dict, or None), and
  ``approval_blocked`` (``FAPIAO_REQUIRE_ONLINE_CHECK`` is on, the check is pending and there
  is no override). ``to_dict()`` is the JSON shape (``invoice_status`` in the invoice JSON).
* ``invoice_status(session, record, for_claim=None)`` and ``invoice_statuses(session,
  records, for_claim=None)`` — one or many (one query per kind of fact). ``for_claim`` is the
  claim asking: its own lock on the invoice does not count as "claimed".
  ``list_invoices_for(session, uploaded_by=, claimable=, conditions=, page=, page_size=)`` is
  the list behind ``GET /invoices?mine=true&claimable=true``.

Who may claim the invoice (the uploader, or someone with ``claim_for_others``) is not part of
the status — the status is the same for every reader — and is checked by the claim gate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlmodel import Session, col, select

from core import messages
from core.settings import get_settings
from invoice.model import Invoice, InvoiceKind, Party, SourceFormat
from invoice.registry import InvoiceRecord, RecordStatus
from invoice.verify.checks import OWNERSHIP_CHECKS, check_buyer
from invoice.verify.online import CheckStatus
from invoice.verify.report import VerifyStatus

__all__ = ["InvoiceStatus", "StatusReport", "invoice_status", "invoice_statuses", "list_invoices_for"]


class InvoiceStatus(StrEnum):
    NOT_INVOICE = "not_invoice"  # 付款回单: a bank receipt or statement, never reimbursed
    CLAIMABLE = "claimable"  # 可报销
    NEEDS_CHECK = "needs_check"  # 需查验
    FAILED = "failed"  # 验证失败
    NOT_OURS = "not_ours"  # 非本单位
    DUPLICATE = "duplicate"  # 重复
    CLAIMED = "claimed"  # 已报销
    POSTED = "posted"  # 已入账


CLAIMABLE_STATUSES = frozenset({InvoiceStatus.CLAIMABLE, InvoiceStatus.NEEDS_CHECK})
PENDING_VERIFICATION = frozenset({VerifyStatus.UNSIGNED, VerifyStatus.INDETERMINATE})
# 查验 outcomes that say the invoice must not be reimbursed.
ONLINE_FAILURES = frozenset({CheckStatus.VOIDED, CheckStatus.RED_REVERSED, CheckStatus.NOT_FOUND,
                             CheckStatus.MISMATCH})
# Kinds that are no invoice at all: a bank receipt is linked to its voucher as the payment
# (accounting/payments.py), it is never a line of a claim.
NOT_INVOICE_KINDS = frozenset({InvoiceKind.BANK_RECEIPT.value, InvoiceKind.BANK_STATEMENT.value})
# Checks whose failure means "not issued to us" rather than "not genuine"; the buyer is judged
# against today's organisation settings, not the ones at upload.
BUYER_CHECKS = OWNERSHIP_CHECKS


@dataclass(frozen=True)
class StatusReport:
    """The derived status of one invoice, with every reason in Chinese."""

    status: InvoiceStatus
    reasons: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    online_check_pending: bool = False
    override: dict[str, Any] | None = None
    approval_blocked: bool = False
    details: dict[str, Any] = field(default_factory=dict)  # ids the gate names (claim, voucher, ...)

    @property
    def label(self) -> str:
        return messages.label("invoice_status", self.status.value)

    @property
    def claimable(self) -> bool:
        return self.status in CLAIMABLE_STATUSES

    @property
    def online_check_label(self) -> str | None:
        return messages.text("claim.online_check_pending") if self.online_check_pending else None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "label": self.label, "claimable": self.claimable,
                "reasons": list(self.reasons), "codes": list(self.codes),
                "online_check_pending": self.online_check_pending,
                "online_check_label": self.online_check_label, "override": self.override,
                "approval_blocked": self.approval_blocked}


@dataclass
class _Facts:
    """What the database knows about an invoice beyond its own row."""

    posting: Any = None  # accounting.ledger.InvoicePosting
    lock_claim_id: str | None = None
    reversed_by: InvoiceRecord | None = None
    override: Any = None  # accounting.overrides.InvoiceOverride


def _buyer_reason(record: InvoiceRecord) -> tuple[str, str] | None:
    """Why the buyer is not the organisation (code, message), or None (ours, or not checkable).

    A matching tax id settles it (a company's name may be printed abbreviated or renamed);
    without one the name decides; an invoice naming no buyer at all is not shown to be ours.
    """
    s = get_settings()
    if not s.org_name and not s.org_tax_id:
        return None
    return _buyer_verdict(record.buyer_name, record.buyer_tax_id, s.org_name, s.org_tax_id)


@lru_cache(maxsize=4096)
def _buyer_verdict(buyer_name: str | None, buyer_tax_id: str | None, org_name: str | None,
                   org_tax_id: str | None) -> tuple[str, str] | None:
    """``_buyer_reason`` for these four values. A list derives it for every row and an
    organisation's invoices name a handful of buyers, so it is kept per value (the verdict is
    a pure function of them; the organisation is part of the key, so a changed setting
    applies at once)."""
    probe = Invoice(kind=InvoiceKind.UNKNOWN, source_format=SourceFormat.XML, number=None,
                    buyer=Party(buyer_name, buyer_tax_id))
    by_id = {c.id: c for c in check_buyer(probe, org_name, org_tax_id)}
    tax, name = by_id["buyer_org_tax_id"], by_id["buyer_name"]
    if tax.result.value == "fail":
        return "wrong_buyer", tax.message
    if tax.result.value == "pass":
        return None
    if name.result.value == "fail":
        return "wrong_buyer", name.message
    if name.result.value == "pass":
        return None
    return "wrong_buyer", messages.text("claim.reason.no_buyer")


def _derive(record: InvoiceRecord, facts: _Facts, for_claim: str | None) -> StatusReport:
    found: dict[InvoiceStatus, list[tuple[str, str]]] = {s: [] for s in InvoiceStatus}
    details: dict[str, Any] = {"invoice_id": record.id}
    t = messages.text
    if record.kind in NOT_INVOICE_KINDS:  # the payment behind a claim, never a claim line
        found[InvoiceStatus.NOT_INVOICE].append(
            ("bank_receipt_not_invoice", t("gate.bank_receipt_not_invoice",
                                           file=record.original_filename, number=record.number or "?")))
    if facts.posting is not None:
        found[InvoiceStatus.POSTED].append(("invoice_posted", t("claim.reason.posted", voucher=facts.posting.voucher_id)))
        details["voucher_id"] = facts.posting.voucher_id
    if facts.lock_claim_id and facts.lock_claim_id != for_claim:
        found[InvoiceStatus.CLAIMED].append(("invoice_in_claim", t("claim.reason.claimed", claim=facts.lock_claim_id)))
        details["claim_id"] = facts.lock_claim_id
    if record.status == RecordStatus.DUPLICATE:
        found[InvoiceStatus.DUPLICATE].append(
            ("invoice_not_claimable", t("claim.reason.duplicate", earlier=record.duplicate_of or "?")))
        details["duplicate_of"] = record.duplicate_of
    failed = found[InvoiceStatus.FAILED]
    if record.status == RecordStatus.INVALID or record.verification_status == VerifyStatus.INVALID:
        failed.append(("invoice_not_claimable", t("claim.reason.invalid")))
    for c in (record.verification or {}).get("checks") or []:
        if isinstance(c, dict) and c.get("result") == "fail" and c.get("id") not in BUYER_CHECKS:
            cid = str(c.get("id"))
            failed.append(("invoice_checks_failed",
                           t("claim.reason.check_failed", check=messages.label("check", cid),
                             message=c.get("message") or "")))
    if record.online_check_status in ONLINE_FAILURES:
        failed.append(("invoice_online_check_failed",
                       t("claim.reason.online_failed",
                         result=messages.label("online_check_status", record.online_check_status))))
    if record.total is None:
        failed.append(("invoice_without_total", t("claim.reason.no_total")))
    elif record.total <= 0 or record.red_reverses_key:
        failed.append(("red_letter_invoice", t("claim.reason.red_letter", total=record.total)))
    if facts.reversed_by is not None:
        failed.append(("invoice_red_reversed", t("claim.reason.red_reversed", number=facts.reversed_by.number or "?")))
        details["red_invoice_id"] = facts.reversed_by.id
    buyer = _buyer_reason(record)
    if buyer:
        found[InvoiceStatus.NOT_OURS].append(buyer)
    pending = (record.verification_status in PENDING_VERIFICATION and record.online_check_status != CheckStatus.SUCCESS)
    override = None
    if facts.override is not None:
        from accounting.overrides import override_to_dict

        override = override_to_dict(facts.override)
    if pending and override is None:
        found[InvoiceStatus.NEEDS_CHECK].append(
            ("online_check_pending", t("claim.reason.needs_check",
                                       status=messages.label("verification_status", record.verification_status))))
    elif pending and override is not None:
        found[InvoiceStatus.CLAIMABLE].append(("override", str(override["label"])))
    order = (InvoiceStatus.NOT_INVOICE, InvoiceStatus.POSTED, InvoiceStatus.CLAIMED, InvoiceStatus.DUPLICATE, InvoiceStatus.FAILED,
             InvoiceStatus.NOT_OURS, InvoiceStatus.NEEDS_CHECK, InvoiceStatus.CLAIMABLE)
    status = next((s for s in order if found[s]), InvoiceStatus.CLAIMABLE)
    pairs = [p for s in order for p in found[s]]
    return StatusReport(
        status=status, reasons=tuple(m for _, m in pairs), codes=tuple(c for c, _ in pairs),
        online_check_pending=pending, override=override,
        approval_blocked=pending and override is None and get_settings().require_online_check,
        details=details)


def invoice_statuses(session: Session, records: Iterable[InvoiceRecord],
                     for_claim: str | None = None) -> dict[str, StatusReport]:
    """The status of each record, by id, with one query per kind of fact."""
    from accounting.claims import ClaimInvoiceLock
    from accounting.ledger import InvoicePosting
    from accounting.overrides import latest_overrides

    recs = list(records)
    ids = [r.id for r in recs]
    if not ids:
        return {}
    facts = {i: _Facts() for i in ids}
    for p in session.exec(select(InvoicePosting).where(col(InvoicePosting.active_key).in_(ids))).all():
        facts[p.invoice_id].posting = p
    for lock in session.exec(select(ClaimInvoiceLock).where(col(ClaimInvoiceLock.invoice_id).in_(ids))).all():
        facts[lock.invoice_id].lock_claim_id = lock.claim_id
    by_key: dict[str, list[str]] = {}
    for r in recs:
        if r.key:
            by_key.setdefault(r.key, []).append(r.id)
    if by_key:
        reds = session.exec(select(InvoiceRecord).where(col(InvoiceRecord.red_reverses_key).in_(list(by_key)))).all()
        for red in reds:
            for invoice_id in by_key.get(red.red_reverses_key or "", []):
                facts[invoice_id].reversed_by = red
    for invoice_id, row in latest_overrides(session, ids).items():
        facts[invoice_id].override = row
    return {r.id: _derive(r, facts[r.id], for_claim) for r in recs}


def invoice_status(session: Session, record: InvoiceRecord, for_claim: str | None = None) -> StatusReport:
    """The status of one invoice (see the module docstring)."""
    return invoice_statuses(session, [record], for_claim)[record.id]


def list_invoices_for(session: Session, *, uploaded_by: str | None = None, claimable: bool | None = None,
                      conditions: Iterable[Any] = (), page: int = 1, page_size: int = 50,
                      statuses: Iterable[str] | None = None,
                      order_by: Iterable[Any] | None = None) -> tuple[list[InvoiceRecord], int]:
    """One page of invoices (newest upload first) and the total, for "我的发票" and the claim form.

    ``uploaded_by`` keeps one uploader's invoices; ``claimable`` keeps those whose status is (or
    is not) claimable by the rule above; ``statuses`` keeps those whose derived status is one of
    them (the page's 状态 filter, so the filter and the badge can never disagree);
    ``conditions`` are further SQL conditions on ``InvoiceRecord`` (the list filters, search);
    ``order_by`` replaces the default order. Invoices that cannot be claimable (not ``ok``, on a
    live claim, posted) are excluded in SQL first; the rest are judged here in batches.
    """
    from accounting.claims import ClaimInvoiceLock
    from accounting.ledger import InvoicePosting

    conds = list(conditions)
    if uploaded_by is not None:
        conds.append(col(InvoiceRecord.uploaded_by) == uploaded_by)
    if claimable:
        conds.append(col(InvoiceRecord.status) == RecordStatus.OK)
        conds.append(col(InvoiceRecord.id).not_in(select(ClaimInvoiceLock.invoice_id)))
        conds.append(col(InvoiceRecord.id).not_in(
            select(InvoicePosting.active_key).where(col(InvoicePosting.active_key).is_not(None))))
    order = tuple(order_by) if order_by is not None else (col(InvoiceRecord.uploaded_at).desc(),
                                                           col(InvoiceRecord.id))
    wanted = {InvoiceStatus(v) for v in statuses} if statuses is not None else None
    if claimable is None and wanted is None:
        from sqlalchemy import func

        total = session.exec(select(func.count()).select_from(InvoiceRecord).where(*conds)).one()
        rows = session.exec(select(InvoiceRecord).where(*conds).order_by(*order)
                            .offset((page - 1) * page_size).limit(page_size)).all()
        return list(rows), int(total)
    ids = list(session.exec(select(InvoiceRecord.id).where(*conds).order_by(*order)).all())
    kept: list[str] = []
    for start in range(0, len(ids), 500):
        chunk = list(session.exec(select(InvoiceRecord).where(col(InvoiceRecord.id).in_(ids[start:start + 500]))).all())
        reports = invoice_statuses(session, chunk)
        keep = {r.id for r in chunk
                if (claimable is None or reports[r.id].claimable is claimable)
                and (wanted is None or reports[r.id].status in wanted)}
        kept.extend(i for i in ids[start:start + 500] if i in keep)
    chosen = kept[(page - 1) * page_size: page * page_size]
    by_id = {r.id: r for r in session.exec(select(InvoiceRecord).where(col(InvoiceRecord.id).in_(chosen))).all()}
    return [by_id[i] for i in chosen], len(kept)

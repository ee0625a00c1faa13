"""Payments (付款回单): which bank e-receipt paid which posted voucher.

A reimbursement is complete with four elements (凭证 "四要素"): the claim, its invoices, the
voucher that booked them, and the payment. The payment is the bank's e-receipt (电子回单, kind
``bank_receipt`` in the registry). This module suggests receipts for a posted voucher, and
records what an accountant decides: confirmed (the receipt pays the voucher; it then goes
into the voucher's archive package) or rejected (never suggested for that voucher again).

Suggestions (``suggest_payments``) score each registered receipt dated within
``DAYS_BEFORE`` days before to ``DAYS_AFTER`` days after the voucher date:

* amount: the receipt's amount equals what the voucher owes (its credits to 2241 其他应付款,
  else its total), or one of its claims' totals — 50 points, 40 for a claim total;
* payee: the receipt's payee is the claimant of one of the voucher's claims (by display name
  or username), or the seller of one of its invoices — 30; named in the summary — 15;
* date: up to 20 points, fewer the further the payment is from the voucher date.

A receipt is suggested only when its amount or its payee matches; each suggestion carries
its Chinese reasons and its score (0-100). One receipt may pay several vouchers (a batch
payment), but never more than its amount: a link whose vouchers together owe more than the
receipt paid is refused. Every decision is audited (``payment.link``, ``payment.unlink``,
``payment.reject``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Numeric
from sqlmodel import Field, Session, SQLModel, col, select

from accounting.errors import AccountingError, bad_input, not_found, refused
from core import audit, messages
from core.db import AwareDateTime, new_id, utcnow
from core.users import User
from invoice.registry import InvoiceRecord

DAYS_BEFORE = 7  # a receipt dated a week before the voucher (paid, booked later) still counts
DAYS_AFTER = 60  # payments usually follow the posting within weeks
MAX_SUGGESTIONS = 20
RECEIPT_KIND = "bank_receipt"


class PaymentState(StrEnum):
    """A decision about a (voucher, receipt) pair; the values are the stored and sent text."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    REMOVED = "removed"  # a confirmed link taken back (its history stays)


class VoucherPayment(SQLModel, table=True):
    """One decision about a (voucher, receipt) pair; ``active_key`` (UNIQUE) keeps one live
    decision per pair, on SQLite and PostgreSQL alike."""

    __tablename__ = "voucher_payments"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    voucher_id: str = Field(foreign_key="vouchers.id", index=True, max_length=32)
    receipt_id: str = Field(foreign_key="invoices.id", index=True, max_length=32)
    state: str = Field(index=True, max_length=16)  # confirmed | rejected | removed
    # "<voucher_id>:<receipt_id>" while the decision stands, NULL once removed
    active_key: str | None = Field(default=None, unique=True, max_length=80)
    score: int = 0
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(18, 2), nullable=True))
    decided_by: str = Field(max_length=64)
    decided_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    removed_by: str | None = Field(default=None, max_length=64)
    removed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


@dataclass
class Suggestion:
    """A receipt that may pay the voucher, why, and how sure (0-100)."""

    receipt: InvoiceRecord
    score: int
    reasons: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the web page: ``accounting.public.SuggestionPublic``'s JSON."""
        from accounting.public import SuggestionPublic

        return SuggestionPublic.from_suggestion(self).to_json()


def _fail(make: Any, code: str, msg_code: str, /, **details: Any) -> AccountingError:
    err: AccountingError = make(code, messages.text(msg_code, **details), details)
    return err


def _party(record: InvoiceRecord, role: str) -> dict[str, Any]:
    data = record.data if isinstance(record.data, dict) else {}
    value = data.get(role)
    return value if isinstance(value, dict) else {}


def _norm(name: str | None) -> str:
    return "".join((name or "").split()).replace("（", "(").replace("）", ")")


@dataclass
class _Owed:
    """What a voucher owes and to whom."""

    amount: Decimal
    claim_totals: list[Decimal]
    claimants: dict[str, str]  # normalised name -> as shown
    sellers: dict[str, str]
    summary: str


def _owed(session: Session, voucher: Any) -> _Owed:
    from accounting.ledger import (
        person_name,
        voucher_claims,
        voucher_invoices,
        voucher_lines,
    )

    lines = voucher_lines(session, voucher.id)
    claims = voucher_claims(session, voucher.id)
    claimants: dict[str, str] = {}
    for c in claims:
        for name in (person_name(session, c.claimant), c.claimant):
            if name:
                claimants[_norm(name)] = name
    for ln in lines:
        employee = (ln.aux or {}).get("employee")
        if employee:
            shown = person_name(session, str(employee))
            claimants.setdefault(_norm(shown), shown)
    sellers = {_norm(i.seller_name): i.seller_name for i in voucher_invoices(session, voucher.id)
               if i.seller_name}
    return _Owed(_owed_amount(voucher, lines), [Decimal(c.total) for c in claims], claimants, sellers,
                 voucher.summary or "")


def _owed_amount(voucher: Any, lines: list[Any]) -> Decimal:
    """What a voucher owes: its credits to 2241 其他应付款, else its total (the one rule that
    both the suggestions and the paid state use)."""
    from accounting.mapping import PAYABLE_ACCOUNT

    payable = sum((ln.credit for ln in lines if ln.account_code == PAYABLE_ACCOUNT), Decimal("0"))
    return payable if payable > 0 else Decimal(voucher.total_credit)


def _score(receipt: InvoiceRecord, owed: _Owed, on: date) -> Suggestion | None:
    s = Suggestion(receipt, 0)
    t = messages.text
    amount_hit = payee_hit = False
    if receipt.total is not None and receipt.total == owed.amount:
        s.score += 50
        s.codes.append("amount_exact")
        s.reasons.append(t("payment.reason.amount_exact", amount=receipt.total))
        amount_hit = True
    elif receipt.total is not None and receipt.total in owed.claim_totals:
        s.score += 40
        s.codes.append("amount_claim")
        s.reasons.append(t("payment.reason.amount_sum", amount=receipt.total))
        amount_hit = True
    payee = _party(receipt, "payee").get("name")
    key = _norm(payee)
    if key and key in owed.claimants:
        s.score += 30
        s.codes.append("payee_claimant")
        s.reasons.append(t("payment.reason.payee_claimant", payee=payee))
        payee_hit = True
    elif key and key in owed.sellers:
        s.score += 30
        s.codes.append("payee_supplier")
        s.reasons.append(t("payment.reason.payee_supplier", payee=payee))
        payee_hit = True
    elif key and len(key) >= 2 and key in _norm(owed.summary):
        s.score += 15
        s.codes.append("payee_name")
        s.reasons.append(t("payment.reason.payee_name", payee=payee))
        payee_hit = True
    if not (amount_hit or payee_hit) or receipt.issue_date is None:
        return None
    days = (receipt.issue_date - on).days
    if days >= 0:
        s.score += round(20 * (1 - days / (DAYS_AFTER + 1)))
        s.codes.append("date_window")
        s.reasons.append(t("payment.reason.date_window", date=receipt.issue_date, voucher_date=on,
                           days=days))
    else:
        s.score += round(10 * (1 + days / (DAYS_BEFORE + 1)))
        s.codes.append("date_before")
        s.reasons.append(t("payment.reason.date_before", date=receipt.issue_date, voucher_date=on,
                           days=-days))
    s.score = min(s.score, 100)
    return s


def _decisions(session: Session, voucher_id: str) -> dict[str, VoucherPayment]:
    rows = session.exec(select(VoucherPayment).where(
        VoucherPayment.voucher_id == voucher_id, col(VoucherPayment.active_key).is_not(None))).all()
    return {r.receipt_id: r for r in rows}


def suggest_payments(session: Session, voucher_id: str) -> list[Suggestion]:
    """Receipts that may pay this voucher, best first (see the module docstring)."""
    from accounting.ledger import get_voucher

    voucher = get_voucher(session, voucher_id)
    owed = _owed(session, voucher)
    decided = _decisions(session, voucher.id)
    start, end = voucher.date - timedelta(days=DAYS_BEFORE), voucher.date + timedelta(days=DAYS_AFTER)
    rows = session.exec(select(InvoiceRecord).where(
        InvoiceRecord.kind == RECEIPT_KIND, InvoiceRecord.status == "ok",
        col(InvoiceRecord.issue_date) >= start, col(InvoiceRecord.issue_date) <= end)
        .order_by(col(InvoiceRecord.issue_date), col(InvoiceRecord.id))).all()
    out = [s for r in rows if r.id not in decided and r.verification_status != "invalid"
           and (s := _score(r, owed, voucher.date)) is not None]
    out.sort(key=lambda s: (-s.score, s.receipt.issue_date or date.max, s.receipt.id))
    return out[:MAX_SUGGESTIONS]


def _receipt(session: Session, receipt_id: str) -> InvoiceRecord:
    """The receipt by invoice id or by its key (``bank:<issuer>:<number>``)."""
    rec = session.get(InvoiceRecord, receipt_id) or session.exec(select(InvoiceRecord).where(
        InvoiceRecord.unique_key == receipt_id)).first()
    if rec is None:
        raise _fail(not_found, "receipt_not_found", "payment.not_found", receipt_id=receipt_id)
    if rec.kind != RECEIPT_KIND:
        raise _fail(refused, "not_a_bank_receipt", "payment.not_receipt", receipt_id=rec.id,
                    file=rec.original_filename,
                    kind=messages.label("invoice_kind", rec.kind))
    if rec.status != "ok" or rec.verification_status == "invalid":
        raise _fail(refused, "receipt_invalid", "payment.receipt_invalid", receipt_id=rec.id,
                    number=rec.number or "?",
                    status=messages.label("verification_status", rec.verification_status))
    return rec


def _posted_voucher(session: Session, voucher_id: str) -> Any:
    from accounting.ledger import Voucher, VoucherState, get_voucher

    found = get_voucher(session, voucher_id)  # by id or number (记-2026-05-0001)
    voucher = session.exec(select(Voucher).where(Voucher.id == found.id).with_for_update()).one()
    if voucher.state != VoucherState.POSTED:
        raise _fail(refused, "voucher_not_posted", "payment.voucher_not_posted", voucher_id=voucher.id,
                    voucher_no=voucher.number, state=messages.label("voucher_state", voucher.state))
    return voucher


def confirmed_payments(session: Session, voucher_id: str) -> list[tuple[VoucherPayment, InvoiceRecord]]:
    """The receipts confirmed as paying this voucher, oldest decision first."""
    rows = session.exec(select(VoucherPayment, InvoiceRecord)
                        .join(InvoiceRecord, col(InvoiceRecord.id) == col(VoucherPayment.receipt_id))
                        .where(VoucherPayment.voucher_id == voucher_id,
                               VoucherPayment.state == PaymentState.CONFIRMED)
                        .order_by(col(VoucherPayment.decided_at), col(VoucherPayment.id))).all()
    return [(p, r) for p, r in rows]


def vouchers_paid_by(session: Session, receipt_id: str) -> list[Any]:
    """The vouchers a receipt is confirmed to pay (the receipt's page shows them)."""
    from accounting.ledger import Voucher

    return list(session.exec(select(Voucher).join(
        VoucherPayment, col(VoucherPayment.voucher_id) == col(Voucher.id)).where(
        VoucherPayment.receipt_id == receipt_id, VoucherPayment.state == PaymentState.CONFIRMED)
        .order_by(col(Voucher.date), col(Voucher.number))).all())


def _decide(session: Session, user: User, voucher: Any, receipt: InvoiceRecord, state: str,
            suggestion: Suggestion | None, owed: Decimal | None) -> VoucherPayment:
    key = f"{voucher.id}:{receipt.id}"
    row = session.exec(select(VoucherPayment).where(VoucherPayment.active_key == key)).first()
    if row is None:
        row = VoucherPayment(voucher_id=voucher.id, receipt_id=receipt.id, state=state,
                             active_key=key, decided_by=user.username)
    row.state = state
    row.decided_by = user.username
    row.decided_at = utcnow()
    row.score = suggestion.score if suggestion else 0
    row.reasons = list(suggestion.reasons) if suggestion else []
    row.amount = owed
    session.add(row)
    session.flush()
    return row


def confirm_payment(session: Session, user: User, voucher_id: str, receipt_id: str) -> VoucherPayment:
    """The accountant confirms: this receipt pays this posted voucher."""
    receipt_id = (receipt_id or "").strip()
    if not receipt_id:
        raise bad_input("receipt_id_required", messages.text("payment.not_found", receipt_id="（空）"))
    voucher = _posted_voucher(session, voucher_id)
    receipt = _receipt(session, receipt_id)
    owed = _owed(session, voucher)
    existing = _decisions(session, voucher.id).get(receipt.id)
    if existing is not None and existing.state == PaymentState.CONFIRMED:
        raise _fail(refused, "payment_already_linked", "payment.already_linked", receipt_id=receipt.id,
                    number=receipt.number or "?", voucher_no=voucher.number, voucher_id=voucher.id)
    others = [p for p in session.exec(select(VoucherPayment).where(
        VoucherPayment.receipt_id == receipt.id, VoucherPayment.state == PaymentState.CONFIRMED)).all()]
    if others and receipt.total is not None:
        taken = sum((p.amount or Decimal("0") for p in others), Decimal("0"))
        if taken + owed.amount > receipt.total:
            from accounting.ledger import get_voucher

            first = get_voucher(session, others[0].voucher_id)
            raise _fail(refused, "payment_already_linked", "payment.already_linked",
                        receipt_id=receipt.id, number=receipt.number or "?",
                        voucher_no=first.number, voucher_id=first.id)
    suggestion = _score(receipt, owed, voucher.date)
    row = _decide(session, user, voucher, receipt, PaymentState.CONFIRMED, suggestion, owed.amount)
    audit.append(session, user.username, "payment.link", "voucher", voucher.id,
                 {"voucher": voucher.number, "receipt_id": receipt.id, "receipt_key": receipt.key,
                  "total": str(receipt.total), "score": row.score})
    return row


def reject_suggestion(session: Session, user: User, voucher_id: str, receipt_id: str) -> VoucherPayment:
    """The accountant says: this receipt does not pay this voucher (not suggested again)."""
    from accounting.ledger import get_voucher

    voucher = get_voucher(session, voucher_id)
    receipt = _receipt(session, receipt_id)
    existing = _decisions(session, voucher.id).get(receipt.id)
    if existing is not None and existing.state == PaymentState.CONFIRMED:
        raise _fail(refused, "payment_already_linked", "payment.already_linked", receipt_id=receipt.id,
                    number=receipt.number or "?", voucher_no=voucher.number, voucher_id=voucher.id)
    suggestion = _score(receipt, _owed(session, voucher), voucher.date)
    row = _decide(session, user, voucher, receipt, PaymentState.REJECTED, suggestion, None)
    audit.append(session, user.username, "payment.reject", "voucher", voucher.id,
                 {"voucher": voucher.number, "receipt_id": receipt.id, "receipt_key": receipt.key})
    return row


def remove_payment(session: Session, user: User, voucher_id: str, receipt_id: str) -> VoucherPayment:
    """Take a confirmed link (or a rejection) back; the row keeps its history."""
    from accounting.ledger import get_voucher

    voucher = get_voucher(session, voucher_id)
    rec = session.get(InvoiceRecord, receipt_id) or session.exec(select(InvoiceRecord).where(
        InvoiceRecord.unique_key == receipt_id)).first()
    row = _decisions(session, voucher.id).get(rec.id if rec else receipt_id)
    if row is None:
        raise _fail(not_found, "payment_not_linked", "payment.not_linked", receipt_id=receipt_id,
                    number=(rec.number if rec else None) or receipt_id, voucher_no=voucher.number)
    was = row.state
    row.state = PaymentState.REMOVED
    row.active_key = None
    row.removed_by = user.username
    row.removed_at = utcnow()
    session.add(row)
    session.flush()
    audit.append(session, user.username, "payment.unlink", "voucher", voucher.id,
                 {"voucher": voucher.number, "receipt_id": row.receipt_id, "was": was})
    return row


def voucher_payments_dict(session: Session, voucher_id: str) -> dict[str, Any]:
    """The voucher page's 付款回单 section: ``accounting.public.VoucherPaymentsPublic``'s JSON."""
    from accounting.public import VoucherPaymentsPublic

    return VoucherPaymentsPublic.for_voucher(session, voucher_id).to_json()


# --- whether a voucher has been paid (入账信息 WhetherEinvoiceHasBeenPaid) ---------------------------

class PaidState(StrEnum):
    """How far the confirmed bank e-receipts cover what a voucher owes; stored and sent text."""

    PAID = "paid"  # covered in full: 已支付
    PARTIAL = "partial"  # some confirmed payment, less than owed: 部分支付
    UNPAID = "unpaid"  # no confirmed payment: 未支付


@dataclass(frozen=True, slots=True)
class PaymentCover:
    """What a voucher owes, how much of it confirmed receipts cover, and which receipts."""

    state: PaidState
    owed: Decimal
    covered: Decimal
    receipt_numbers: tuple[str, ...]  # the bank's 电子回单 numbers, oldest decision first

    @property
    def paid(self) -> bool:
        return self.state is PaidState.PAID


def _share(session: Session, row: VoucherPayment, receipt: InvoiceRecord) -> Decimal:
    """The part of a receipt's amount that pays ``row``'s voucher.

    A receipt may pay several vouchers (a batch payment): its amount goes to them in the order
    the accountant confirmed them, each taking at most what it owed when confirmed
    (``row.amount``). A receipt whose amount was not read counts for what the voucher owed:
    the accountant's confirmation is the evidence then."""
    recorded = row.amount if row.amount is not None else Decimal("0")
    if receipt.total is None:
        return recorded
    left = Decimal(receipt.total)
    earlier = session.exec(select(VoucherPayment).where(
        VoucherPayment.receipt_id == receipt.id, VoucherPayment.state == PaymentState.CONFIRMED)
        .order_by(col(VoucherPayment.decided_at), col(VoucherPayment.id))).all()
    for other in earlier:
        if other.id == row.id:
            break
        left -= min(left, other.amount or Decimal("0"))
    return max(Decimal("0"), min(left, recorded))


def payment_cover(session: Session, voucher: Any) -> PaymentCover:
    """Whether a posted voucher has been paid, by its confirmed bank e-receipts.

    Paid when the receipts' shares (``_share``) together reach what the voucher owes (its 2241
    credits, else its total); partial when they cover less; unpaid without a confirmed receipt.
    Suggestions never count: only an accountant's confirmation does. A voucher that owes
    nothing (a red reversal) is never paid."""
    from accounting.ledger import voucher_lines

    owed = _owed_amount(voucher, list(voucher_lines(session, voucher.id)))
    confirmed = confirmed_payments(session, voucher.id)
    covered = sum((_share(session, p, r) for p, r in confirmed), Decimal("0"))
    numbers = tuple(r.number or r.key for _, r in confirmed)
    if not confirmed or owed <= 0:
        state = PaidState.UNPAID
    elif covered >= owed:
        state = PaidState.PAID
    else:
        state = PaidState.PARTIAL
    return PaymentCover(state, owed, covered, numbers)

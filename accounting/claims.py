"""Reimbursement claims (报销单) and their sign-off (经办 → 审核 → 审批).

States and who moves them (every step is stored in ``claim_steps``: who, when, action,
comment; and appended to the audit log in the same transaction):

* ``create`` → ``draft`` (the claimant, clerk role). The claim's invoices are locked at once.
* ``submit``: ``draft`` or ``rejected`` → ``submitted`` (the claimant only).
* ``review``: ``submitted`` → ``reviewed`` (an approver who is not the claimant).
* ``approve``: ``reviewed`` → ``approved``; or ``submitted`` → ``approved`` directly when the
  total is at or below ``settings.second_approval_above`` (one approver suffices). Above it the
  claim needs two different approvers: a review first, then an approval by someone other than
  the reviewer (and never the claimant).
* ``reject`` (comment = the reason, required): ``submitted`` or ``reviewed`` → ``rejected``.

Rejection hands the claim back to the claimant **and releases its invoices** (their rows in
``claim_invoice_locks`` are deleted), so they can go on another claim. The claimant may instead
resubmit the rejected claim unchanged: submit re-checks every rule and re-takes the locks, and
fails with a clear message if an invoice went on another claim meanwhile. To change the lines,
create a new claim.

An invoice belongs to at most one live claim: ``claim_invoice_locks`` has the invoice id as
its primary key, so of two concurrent claims taking one invoice exactly one commits.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import JSON, Column, Numeric, UniqueConstraint, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from accounting.errors import bad_input, not_found, refused
from accounting.mapping import DEFAULT_CATEGORY, load_mapping
from core import audit
from core.db import AwareDateTime, new_id, utcnow
from core.settings import get_settings
from core.users import User
from invoice.registry import InvoiceRecord

CENT = Decimal("0.01")


class ClaimState:
    DRAFT = "draft"
    SUBMITTED = "submitted"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    REJECTED = "rejected"


LIVE_STATES = (ClaimState.DRAFT, ClaimState.SUBMITTED, ClaimState.REVIEWED, ClaimState.APPROVED)


class Claim(SQLModel, table=True):
    __tablename__ = "claims"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    title: str = Field(max_length=200)
    claimant: str = Field(index=True, max_length=64)  # username of the person reimbursed (经办)
    claimant_id: str = Field(foreign_key="users.id", max_length=32)
    department: str | None = Field(default=None, max_length=100)
    purpose: str | None = Field(default=None, max_length=500)
    state: str = Field(default=ClaimState.DRAFT, index=True, max_length=16)
    total: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))
    warnings: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The voucher currently booking this claim; cleared again if that voucher is reversed.
    voucher_id: str | None = Field(default=None, index=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


class ClaimLine(SQLModel, table=True):
    __tablename__ = "claim_lines"
    __table_args__ = (UniqueConstraint("claim_id", "invoice_id"), UniqueConstraint("claim_id", "line_no"))

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    claim_id: str = Field(foreign_key="claims.id", index=True, max_length=32)
    line_no: int
    invoice_id: str = Field(foreign_key="invoices.id", index=True, max_length=32)
    category: str = Field(max_length=32)
    amount: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))


class ClaimStep(SQLModel, table=True):
    __tablename__ = "claim_steps"
    __table_args__ = (UniqueConstraint("claim_id", "seq"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    claim_id: str = Field(foreign_key="claims.id", index=True, max_length=32)
    seq: int
    action: str = Field(max_length=16)  # create | submit | review | approve | reject
    from_state: str | None = Field(default=None, max_length=16)
    to_state: str = Field(max_length=16)
    actor: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    comment: str | None = Field(default=None, max_length=2000)


class ClaimInvoiceLock(SQLModel, table=True):
    """One row per invoice on a live claim; the primary key makes the rule a DB constraint."""

    __tablename__ = "claim_invoice_locks"

    invoice_id: str = Field(foreign_key="invoices.id", primary_key=True, max_length=32)
    claim_id: str = Field(foreign_key="claims.id", index=True, max_length=32)
    locked_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


# --- helpers ----------------------------------------------------------------------------------

def parse_money(value: Any, where: str, *, allow_negative: bool = False, allow_zero: bool = False) -> Decimal:
    """A Decimal with at most two decimals from a string, int or Decimal (floats refused: inexact)."""
    if isinstance(value, bool | float):
        raise bad_input("bad_amount", f"{where}: amount {value!r} must be a decimal string such as \"181.14\"")
    try:
        amount = Decimal(str(value).strip().replace(",", "")) if value is not None else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise bad_input("bad_amount", f"{where}: {value!r} is not a number")
    if amount != amount.quantize(CENT):
        raise bad_input("bad_amount", f"{where}: {value} has more than two decimals")
    if amount < 0 and not allow_negative:
        raise bad_input("bad_amount", f"{where}: {value} is negative")
    if amount == 0 and not allow_zero:
        raise bad_input("bad_amount", f"{where}: amount must not be zero")
    return amount.quantize(CENT)


def _norm_name(name: str) -> str:
    return re.sub(r"\s+", "", name).replace("（", "(").replace("）", ")")


def _invoice_label(inv: InvoiceRecord) -> str:
    return f"invoice {inv.key or inv.number or '?'} (id {inv.id})"


def buyer_problem(inv: InvoiceRecord) -> str | None:
    """Why the invoice's buyer is not the organisation, or None if it is (or cannot be checked)."""
    s = get_settings()
    if not s.org_tax_id and not s.org_name:
        return None
    if s.org_tax_id and inv.buyer_tax_id:
        if inv.buyer_tax_id.strip().upper() != s.org_tax_id.strip().upper():
            return (f"{_invoice_label(inv)} was issued to buyer {inv.buyer_name or '?'} "
                    f"(tax id {inv.buyer_tax_id}), not to the organisation {s.org_name or ''} "
                    f"(tax id {s.org_tax_id})").replace("  ", " ")
        return None
    if s.org_name and inv.buyer_name:
        if _norm_name(inv.buyer_name) != _norm_name(s.org_name):
            return (f"{_invoice_label(inv)} was issued to buyer {inv.buyer_name!r}, "
                    f"not to the organisation {s.org_name!r}")
        return None
    return f"{_invoice_label(inv)} names no buyer, so it cannot be shown to be the organisation's"


def _org_warning() -> str | None:
    s = get_settings()
    if not s.org_tax_id and not s.org_name:
        return ("buyer not checked: the organisation is not configured (org_name / org_tax_id unset; "
                "run `fapiao init --org-name … --org-tax-id …`)")
    return None


def get_claim(session: Session, claim_id: str, *, for_update: bool = False) -> Claim:
    stmt = select(Claim).where(Claim.id == claim_id)
    if for_update:
        stmt = stmt.with_for_update()
    claim = session.exec(stmt).first()
    if claim is None:
        raise not_found("claim_not_found", f"no claim with id {claim_id!r}", {"claim_id": claim_id})
    return claim


def claim_lines(session: Session, claim_id: str) -> list[ClaimLine]:
    return list(session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim_id)
                             .order_by(col(ClaimLine.line_no))).all())


def claim_steps(session: Session, claim_id: str) -> list[ClaimStep]:
    return list(session.exec(select(ClaimStep).where(ClaimStep.claim_id == claim_id)
                             .order_by(col(ClaimStep.seq))).all())


def _check_invoice(session: Session, inv: InvoiceRecord, amount: Decimal, where: str,
                   claim_id: str | None) -> None:
    """Every rule an invoice must satisfy to be (re)claimed; raises the first that fails."""
    label = _invoice_label(inv)
    if inv.status != "ok":
        extra = f", a duplicate of invoice {inv.duplicate_of}" if inv.duplicate_of else ""
        raise refused("invoice_not_claimable",
                      f"{where}: {label} has status {inv.status!r}{extra}; only invoices with status "
                      "'ok' may be claimed", {"invoice_id": inv.id, "status": inv.status})
    problem = buyer_problem(inv)
    if problem:
        raise refused("wrong_buyer", f"{where}: {problem}", {"invoice_id": inv.id})
    if inv.total is None:
        raise refused("invoice_without_total", f"{where}: {label} has no total to reimburse",
                      {"invoice_id": inv.id})
    if inv.total <= 0 or inv.red_reverses_key:
        raise refused("red_letter_invoice", f"{where}: {label} is a red-letter (红字) invoice with total "
                                            f"{inv.total}; it reverses an invoice and is not reimbursed",
                      {"invoice_id": inv.id})
    if inv.key:
        red = session.exec(select(InvoiceRecord).where(InvoiceRecord.red_reverses_key == inv.key)).first()
        if red is not None:
            raise refused("invoice_red_reversed", f"{where}: {label} was reversed by red-letter invoice "
                                                  f"{red.number} (红冲); it cannot be reimbursed",
                          {"invoice_id": inv.id, "red_invoice_id": red.id})
    if amount > inv.total:
        raise refused("amount_exceeds_invoice",
                      f"{where}: amount claimed {amount} exceeds the total {inv.total} of {label}",
                      {"invoice_id": inv.id, "amount": str(amount), "invoice_total": str(inv.total)})
    lock = session.get(ClaimInvoiceLock, inv.id)
    if lock is not None and lock.claim_id != claim_id:
        other = session.get(Claim, lock.claim_id)
        raise refused("invoice_in_claim",
                      f"{where}: {label} is already on claim {lock.claim_id}"
                      + (f" ({other.title!r}, {other.state}, by {other.claimant})" if other else ""),
                      {"invoice_id": inv.id, "claim_id": lock.claim_id})
    from accounting.ledger import InvoicePosting  # the ledger builds on claims

    posted = session.exec(select(InvoicePosting).where(InvoicePosting.active_key == inv.id)).first()
    if posted is not None:
        raise refused("invoice_posted", f"{where}: {label} is already posted (入账) on voucher "
                                        f"{posted.voucher_id}", {"invoice_id": inv.id})


def _lock_invoices(session: Session, claim: Claim, invoice_ids: list[str]) -> None:
    for invoice_id in invoice_ids:
        session.add(ClaimInvoiceLock(invoice_id=invoice_id, claim_id=claim.id))
    try:
        session.flush()
    except IntegrityError:
        # Lost a race: another transaction locked one of these invoices after our check.
        raise refused("invoice_in_claim",
                      "one of the invoices was just put on another claim; reload and try again",
                      {"invoice_ids": invoice_ids}) from None


def _add_step(session: Session, claim: Claim, user: User, action: str, from_state: str | None,
              comment: str | None) -> ClaimStep:
    seq = (session.exec(select(func.max(ClaimStep.seq)).where(ClaimStep.claim_id == claim.id)).one() or 0) + 1
    now = utcnow()
    step = ClaimStep(claim_id=claim.id, seq=seq, action=action, from_state=from_state,
                     to_state=claim.state, actor=user.username, at=now, comment=comment)
    claim.updated_at = now
    session.add(step)
    session.add(claim)
    session.flush()
    audit.append(session, user.username, f"claim.{action}", "claim", claim.id,
                 {"from": from_state, "to": claim.state, "comment": comment, "total": str(claim.total)})
    return step


# --- the service ------------------------------------------------------------------------------

def create_claim(session: Session, user: User, title: str, department: str | None = None,
                 purpose: str | None = None, lines: list[dict[str, Any]] | None = None) -> Claim:
    """A draft claim reimbursing ``user`` for ``lines`` [{"invoice_id", "category"?, "amount"?}].

    ``category`` defaults to 其他; ``amount`` defaults to the invoice total.
    """
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise bad_input("bad_title", "a claim needs a title of 1 to 200 characters")
    if department is not None and len(department) > 100:
        raise bad_input("bad_department", "department must be at most 100 characters")
    if purpose is not None and len(purpose) > 500:
        raise bad_input("bad_purpose", "purpose must be at most 500 characters")
    if not lines:
        raise bad_input("no_lines", "a claim needs at least one invoice line")
    mapping = load_mapping()
    claim = Claim(title=title, claimant=user.username, claimant_id=user.id,
                  department=(department or "").strip() or None, purpose=(purpose or "").strip() or None,
                  state=ClaimState.DRAFT, total=Decimal("0.00"))
    seen: set[str] = set()
    rows: list[ClaimLine] = []
    total = Decimal("0.00")
    for n, raw in enumerate(lines, start=1):
        where = f"line {n}"
        if not isinstance(raw, dict) or not raw.get("invoice_id"):
            raise bad_input("bad_line", f"{where}: needs an invoice_id")
        invoice_id = str(raw["invoice_id"]).strip()
        if invoice_id in seen:
            raise bad_input("invoice_twice", f"{where}: invoice {invoice_id} is listed twice on this claim")
        seen.add(invoice_id)
        inv = session.get(InvoiceRecord, invoice_id)
        if inv is None:
            raise not_found("invoice_not_found", f"{where}: no invoice with id {invoice_id!r}",
                            {"invoice_id": invoice_id})
        category = str(raw.get("category") or DEFAULT_CATEGORY).strip()
        mapping.rule(category)  # refuses an unknown category, listing the known ones
        if raw.get("amount") in (None, ""):
            if inv.total is None:
                raise refused("invoice_without_total", f"{where}: {_invoice_label(inv)} has no total; "
                                                       "give the amount claimed", {"invoice_id": inv.id})
            amount = inv.total.quantize(CENT)
        else:
            amount = parse_money(raw["amount"], f"{where} amount")
        _check_invoice(session, inv, amount, where, None)
        rows.append(ClaimLine(claim_id=claim.id, line_no=n, invoice_id=inv.id, category=category, amount=amount))
        total += amount
    claim.total = total
    warning = _org_warning()
    claim.warnings = [warning] if warning else []
    session.add(claim)
    session.flush()
    session.add_all(rows)
    session.flush()
    _lock_invoices(session, claim, [r.invoice_id for r in rows])
    _add_step(session, claim, user, "create", None, None)
    return claim


def _transition(session: Session, user: User, claim_id: str, action: str, allowed_from: tuple[str, ...],
                to_state: str, comment: str | None) -> tuple[Claim, str]:
    claim = get_claim(session, claim_id, for_update=True)
    if claim.state not in allowed_from:
        raise refused("wrong_state", f"claim {claim.id} is {claim.state}; {action} needs it "
                                     f"{' or '.join(allowed_from)}",
                      {"claim_id": claim.id, "state": claim.state})
    from_state = claim.state
    claim.state = to_state
    return claim, from_state


def _clean_comment(comment: str | None) -> str | None:
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > 2000:
        raise bad_input("bad_comment", "comment must be at most 2000 characters")
    return comment


def _not_own(claim: Claim, user: User, action: str) -> None:
    if user.username == claim.claimant or user.id == claim.claimant_id:
        raise refused("own_claim", f"{user.username} may not {action} claim {claim.id}: it is their own claim",
                      {"claim_id": claim.id})


def submit_claim(session: Session, user: User, claim_id: str, comment: str | None = None) -> Claim:
    """The claimant hands the claim in (again, after a rejection: every rule is re-checked)."""
    comment = _clean_comment(comment)
    claim = get_claim(session, claim_id, for_update=True)
    if user.username != claim.claimant:
        raise refused("not_claimant", f"only the claimant {claim.claimant} may submit claim {claim.id}",
                      {"claim_id": claim.id})
    claim, from_state = _transition(session, user, claim_id, "submit",
                                    (ClaimState.DRAFT, ClaimState.REJECTED), ClaimState.SUBMITTED, comment)
    if from_state == ClaimState.REJECTED:
        lines = claim_lines(session, claim.id)
        for line in lines:
            inv = session.get(InvoiceRecord, line.invoice_id)
            assert inv is not None  # FK
            _check_invoice(session, inv, line.amount, f"line {line.line_no}", claim.id)
        _lock_invoices(session, claim, [line.invoice_id for line in lines])
        warning = _org_warning()
        claim.warnings = [warning] if warning else []
    _add_step(session, claim, user, "submit", from_state, comment)
    return claim


def review_claim(session: Session, user: User, claim_id: str, comment: str | None = None) -> Claim:
    """审核: the first approver's sign-off."""
    comment = _clean_comment(comment)
    claim = get_claim(session, claim_id, for_update=True)
    _not_own(claim, user, "review")
    claim, from_state = _transition(session, user, claim_id, "review", (ClaimState.SUBMITTED,),
                                    ClaimState.REVIEWED, comment)
    _add_step(session, claim, user, "review", from_state, comment)
    return claim


def needs_second_approval(claim: Claim) -> bool:
    return claim.total > get_settings().second_approval_above


def approve_claim(session: Session, user: User, claim_id: str, comment: str | None = None) -> Claim:
    """审批: approves a reviewed claim, or a submitted one at or below the second-approval limit."""
    comment = _clean_comment(comment)
    claim = get_claim(session, claim_id, for_update=True)
    _not_own(claim, user, "approve")
    limit = get_settings().second_approval_above
    if claim.state == ClaimState.SUBMITTED and needs_second_approval(claim):
        raise refused("second_approval_required",
                      f"claim {claim.id} totals {claim.total}, above {limit}: it needs a review by one "
                      "approver and then an approval by another", {"claim_id": claim.id, "limit": str(limit)})
    if claim.state == ClaimState.REVIEWED and needs_second_approval(claim):
        reviewer = next((s.actor for s in reversed(claim_steps(session, claim.id)) if s.action == "review"), None)
        if reviewer == user.username:
            raise refused("same_approver",
                          f"claim {claim.id} totals {claim.total}, above {limit}: it was reviewed by "
                          f"{reviewer}, so someone else must approve it", {"claim_id": claim.id})
    claim, from_state = _transition(session, user, claim_id, "approve",
                                    (ClaimState.SUBMITTED, ClaimState.REVIEWED), ClaimState.APPROVED, comment)
    _add_step(session, claim, user, "approve", from_state, comment)
    return claim


def reject_claim(session: Session, user: User, claim_id: str, comment: str | None = None) -> Claim:
    """Back to the claimant with a reason; the claim's invoices are released."""
    comment = _clean_comment(comment)
    if not comment:
        raise bad_input("reason_required", "a rejection needs a reason: give a comment")
    claim = get_claim(session, claim_id, for_update=True)
    _not_own(claim, user, "reject")
    claim, from_state = _transition(session, user, claim_id, "reject",
                                    (ClaimState.SUBMITTED, ClaimState.REVIEWED), ClaimState.REJECTED, comment)
    session.execute(delete(ClaimInvoiceLock).where(col(ClaimInvoiceLock.claim_id) == claim.id))
    _add_step(session, claim, user, "reject", from_state, comment)
    return claim


def list_claims(session: Session, page: int = 1, page_size: int = 50, state: str | None = None,
                claimant: str | None = None, *, sort: str | None = None, date_from: Any = None,
                date_to: Any = None, q: str | None = None) -> tuple[list[Claim], int]:
    """One page of claims (default newest first) and the total count; ``sort`` is a comma list
    of whitelisted columns (``-total``), ``date_from``/``date_to`` China days of creation, ``q``
    a fragment of the title or department."""
    from core.listing import Sorting, date_bounds, date_range

    if page < 1 or not 1 <= page_size <= 500:
        raise bad_input("bad_page", "page must be >= 1 and page_size 1 to 500")
    sorting = Sorting(columns={"created_at": col(Claim.created_at), "total": col(Claim.total),
                               "title": col(Claim.title), "state": col(Claim.state),
                               "claimant": col(Claim.claimant), "department": col(Claim.department)},
                      default="-created_at", tiebreak=col(Claim.id))
    order = sorting.order_by(sort)
    stmt = select(Claim)
    count = select(func.count()).select_from(Claim)
    start, end = date_bounds(*date_range(date_from, date_to))
    for cond in ([col(Claim.created_at) >= start] if start else []) + ([col(Claim.created_at) < end] if end else []):
        stmt, count = stmt.where(cond), count.where(cond)
    if q and q.strip():
        like = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        cond = col(Claim.title).like(like, escape="\\") | col(Claim.department).like(like, escape="\\")
        stmt, count = stmt.where(cond), count.where(cond)
    if state:
        stmt = stmt.where(Claim.state == state)
        count = count.where(Claim.state == state)
    if claimant:
        stmt = stmt.where(Claim.claimant == claimant)
        count = count.where(Claim.claimant == claimant)
    total = session.exec(count).one()
    items = session.exec(stmt.order_by(*order).offset((page - 1) * page_size).limit(page_size)).all()
    return list(items), int(total)


def claim_to_dict(session: Session, claim: Claim) -> dict[str, Any]:
    lines = []
    for line in claim_lines(session, claim.id):
        inv = session.get(InvoiceRecord, line.invoice_id)
        lines.append({
            "line_no": line.line_no, "invoice_id": line.invoice_id, "category": line.category,
            "amount": str(line.amount),
            "invoice_key": inv.key if inv else None, "invoice_number": inv.number if inv else None,
            "invoice_total": str(inv.total) if inv and inv.total is not None else None,
            "seller_name": inv.seller_name if inv else None,
        })
    return {
        "id": claim.id, "title": claim.title, "claimant": claim.claimant, "department": claim.department,
        "purpose": claim.purpose, "state": claim.state, "total": str(claim.total),
        "needs_second_approval": needs_second_approval(claim),
        "second_approval_above": str(get_settings().second_approval_above),
        "warnings": list(claim.warnings), "voucher_id": claim.voucher_id,
        "created_at": claim.created_at.isoformat(), "updated_at": claim.updated_at.isoformat(),
        "lines": lines,
        "steps": [{"seq": s.seq, "action": s.action, "from_state": s.from_state, "to_state": s.to_state,
                   "actor": s.actor, "at": s.at.isoformat(), "comment": s.comment}
                  for s in claim_steps(session, claim.id)],
    }

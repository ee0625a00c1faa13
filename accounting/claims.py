"""Reimbursement claims (报销单) and their sign-off (经办 → 审核 → 审批).

States and who moves them (every step is stored in ``claim_steps``: who, when, action,
comment; and appended to the audit log in the same transaction):

* ``create`` → ``draft`` (the claimant, clerk role). The claim's invoices are locked at once.
* ``edit`` (``update_claim``, ``PATCH /claims/{id}``): title, department, purpose or lines of a
  ``draft`` or ``rejected`` claim, by its claimant; the state does not change.
* ``submit``: ``draft`` or ``rejected`` → ``submitted`` (the claimant only).
* ``review``: ``submitted`` → ``reviewed`` (an approver who is not the claimant).
* ``approve``: ``reviewed`` → ``approved``; or ``submitted`` → ``approved`` directly when the
  total is at or below ``settings.second_approval_above`` (one approver suffices). Above it the
  claim needs two different approvers: a review first, then an approval by someone other than
  the reviewer (and never the claimant).
* ``reject`` (comment = the reason, required): ``submitted`` or ``reviewed`` → ``rejected``.

Rejection hands the claim back to the claimant **and releases its invoices** (their rows in
``claim_invoice_locks`` are deleted), so they can go on another claim. The claimant edits the
rejected claim (or not) and submits it again: submit re-checks every rule and re-takes the
locks, and fails with a clear message if an invoice went on another claim meanwhile.

**The claim gate.** Create, edit, submit, review and approve re-check every line against the
invoice's derived status (``accounting.invoice_status``: one rule, also behind the page's and
the API's ``claimable`` filter), because a 查验 result or an override may have arrived since:
an ``invalid`` invoice, failed cross-checks, another company's invoice, a duplicate, a posted
or otherwise claimed invoice never goes on (or through) a claim. ``unsigned`` and
``indeterminate`` invoices pass but carry the 未查验 mark (``online_check_pending`` on the
line and the claim) until a successful 查验; with ``FAPIAO_REQUIRE_ONLINE_CHECK`` approval
needs that result or an override for each such line.

**Ownership.** A claimant may claim only invoices they uploaded, unless their role carries
``claim_for_others`` (报销专员 ``claims_officer``, admin); each line records who uploaded its
invoice (``uploaded_by``) and the claim is flagged ``for_others`` when any line is not the
claimant's own.

An invoice belongs to at most one live claim: ``claim_invoice_locks`` has the invoice id as
its primary key, so of two concurrent claims taking one invoice exactly one commits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Numeric, UniqueConstraint, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from accounting.errors import bad_input, not_found, refused
from accounting.invoice_status import StatusReport, invoice_statuses
from accounting.mapping import DEFAULT_CATEGORY, load_mapping
from core import audit, messages
from core.db import AwareDateTime, new_id, utcnow
from core.settings import get_settings
from core.users import Permission, User, has_permission
from invoice.registry import InvoiceRecord

CENT = Decimal("0.01")


class ClaimState(StrEnum):
    """States of a 报销单 (stored as these values)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    REJECTED = "rejected"


class ClaimAction(StrEnum):
    """What a sign-off step did (``ClaimStep.action``)."""

    CREATE = "create"
    EDIT = "edit"
    SUBMIT = "submit"
    REVIEW = "review"
    APPROVE = "approve"
    REJECT = "reject"


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
    # Some line's invoice was uploaded by someone else (allowed by ``claim_for_others``).
    for_others: bool = Field(default=False)
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
    uploaded_by: str | None = Field(default=None, max_length=64)  # who uploaded the invoice


class ClaimStep(SQLModel, table=True):
    __tablename__ = "claim_steps"
    __table_args__ = (UniqueConstraint("claim_id", "seq"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    claim_id: str = Field(foreign_key="claims.id", index=True, max_length=32)
    seq: int
    action: str = Field(max_length=16)  # create | edit | submit | review | approve | reject
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

def _t(code: str, /, **params: Any) -> str:
    """The Chinese message of a claim error (catalogue ``claim.<code>``)."""
    return messages.text(f"claim.{code}", **params)


def _state(value: str | None) -> str:
    return messages.label("claim_state", value)


def _action(value: str) -> str:
    return messages.label("claim_action", value)


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


def _line_amount(value: Any, line_no: int) -> Decimal:
    """The amount claimed on a line: positive, at most two decimals (Chinese messages)."""
    def bad(problem: str) -> Exception:
        return bad_input("bad_amount", _t("bad_amount", where=_t("line_where", line=line_no), value=value,
                                          problem=_t(f"bad_amount.{problem}")),
                         {"line": line_no, "value": str(value)})

    if isinstance(value, bool | float):
        raise bad("float")
    try:
        amount = Decimal(str(value).strip().replace(",", "")) if value is not None else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise bad("nan")
    if amount != amount.quantize(CENT):
        raise bad("decimals")
    if amount < 0:
        raise bad("negative")
    if amount == 0:
        raise bad("zero")
    return amount.quantize(CENT)


def _norm_name(name: str) -> str:
    return re.sub(r"\s+", "", name).replace("（", "(").replace("）", ")")


def _invoice_label(inv: InvoiceRecord) -> str:
    return inv.key or inv.number or inv.id


def buyer_problem(inv: InvoiceRecord) -> str | None:
    """Why the invoice's buyer is not the organisation, or None if it is (or cannot be checked).

    Kept for callers outside the gate; the gate itself uses ``accounting.invoice_status``.
    """
    from accounting.invoice_status import _buyer_reason

    found = _buyer_reason(inv)
    return found[1] if found else None


def _org_warning() -> str | None:
    s = get_settings()
    if not s.org_tax_id and not s.org_name:
        return _t("org_not_configured")
    return None


def get_claim(session: Session, claim_id: str, *, for_update: bool = False) -> Claim:
    stmt = select(Claim).where(Claim.id == claim_id)
    if for_update:
        stmt = stmt.with_for_update()
    claim = session.exec(stmt).first()
    if claim is None:
        raise not_found("claim_not_found", _t("claim_not_found", claim_id=claim_id), {"claim_id": claim_id})
    return claim


def claim_lines(session: Session, claim_id: str) -> list[ClaimLine]:
    return list(session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim_id)
                             .order_by(col(ClaimLine.line_no))).all())


def claim_steps(session: Session, claim_id: str) -> list[ClaimStep]:
    return list(session.exec(select(ClaimStep).where(ClaimStep.claim_id == claim_id)
                             .order_by(col(ClaimStep.seq))).all())


def _gate(inv: InvoiceRecord, report: StatusReport, amount: Decimal, line_no: int,
          claimant: User | None) -> None:
    """Every rule an invoice must satisfy to be (re)claimed on line ``line_no``; raises the first.

    ``claimant`` (None on review and approval) is checked for ownership: the uploader, or a
    role with ``claim_for_others``.
    """
    label = _invoice_label(inv)
    if not report.claimable:
        code = report.codes[0] if report.codes else "invoice_not_claimable"
        raise refused(code, _t("invoice_not_claimable", line=line_no, invoice=label, label=report.label,
                               reasons="；".join(report.reasons)),
                      {"invoice_id": inv.id, "line": line_no, "status": inv.status,
                       "invoice_status": report.status.value, "reasons": list(report.reasons),
                       **report.details})
    if claimant is not None and inv.uploaded_by != claimant.username \
            and not has_permission(claimant, Permission.CLAIM_FOR_OTHERS):
        raise refused("not_uploader", _t("not_uploader", line=line_no, invoice=label, uploaded_by=inv.uploaded_by,
                                         user=claimant.username),
                      {"invoice_id": inv.id, "line": line_no, "uploaded_by": inv.uploaded_by})
    if inv.total is not None and amount > inv.total:
        raise refused("amount_exceeds_invoice",
                      _t("amount_exceeds_invoice", line=line_no, amount=amount, invoice=label, invoice_total=inv.total),
                      {"invoice_id": inv.id, "amount": str(amount), "invoice_total": str(inv.total)})


def _recheck(session: Session, claim: Claim, claimant: User | None) -> list[tuple[ClaimLine, StatusReport]]:
    """Re-run the gate on every line of ``claim`` (its own locks do not count against it)."""
    lines = claim_lines(session, claim.id)
    invs = {i.id: i for i in session.exec(select(InvoiceRecord).where(
        col(InvoiceRecord.id).in_([ln.invoice_id for ln in lines]))).all()}
    reports = invoice_statuses(session, list(invs.values()), for_claim=claim.id)
    out = []
    for line in lines:
        inv = invs[line.invoice_id]
        _gate(inv, reports[inv.id], line.amount, line.line_no, claimant)
        out.append((line, reports[inv.id]))
    return out


def _lock_invoices(session: Session, claim: Claim, invoice_ids: list[str]) -> None:
    for invoice_id in invoice_ids:
        session.add(ClaimInvoiceLock(invoice_id=invoice_id, claim_id=claim.id))
    try:
        session.flush()
    except IntegrityError:
        # Lost a race: another transaction locked one of these invoices after our check.
        raise refused("invoice_in_claim", _t("invoice_in_claim_race"), {"invoice_ids": invoice_ids}) from None


def _add_step(session: Session, claim: Claim, user: User, action: str, from_state: str | None,
              comment: str | None, extra: dict[str, Any] | None = None) -> ClaimStep:
    seq = (session.exec(select(func.max(ClaimStep.seq)).where(ClaimStep.claim_id == claim.id)).one() or 0) + 1
    now = utcnow()
    step = ClaimStep(claim_id=claim.id, seq=seq, action=action, from_state=from_state,
                     to_state=claim.state, actor=user.username, at=now, comment=comment)
    claim.updated_at = now
    session.add(step)
    session.add(claim)
    session.flush()
    audit.append(session, user.username, f"claim.{action}", "claim", claim.id,
                 {"from": from_state, "to": claim.state, "comment": comment, "total": str(claim.total),
                  **(extra or {})})
    return step


def _clean_header(title: str | None, department: str | None, purpose: str | None) -> tuple[str, str | None, str | None]:
    title = (title or "").strip()
    if not title or len(title) > 200:
        raise bad_input("bad_title", _t("bad_title"))
    if department is not None and len(department) > 100:
        raise bad_input("bad_department", _t("bad_department"))
    if purpose is not None and len(purpose) > 500:
        raise bad_input("bad_purpose", _t("bad_purpose"))
    return title, (department or "").strip() or None, (purpose or "").strip() or None


def _build_lines(session: Session, user: User, claim: Claim, lines: list[dict[str, Any]] | None,
                 for_claim: str | None) -> list[ClaimLine]:
    """Validated ``ClaimLine`` rows for ``lines`` [{"invoice_id", "category"?, "amount"?}]."""
    if not lines:
        raise bad_input("no_lines", _t("no_lines"))
    mapping = load_mapping()
    seen: set[str] = set()
    wanted: list[tuple[int, dict[str, Any], str]] = []
    for n, raw in enumerate(lines, start=1):
        if not isinstance(raw, dict) or not raw.get("invoice_id"):
            raise bad_input("bad_line", _t("bad_line", line=n), {"line": n})
        invoice_id = str(raw["invoice_id"]).strip()
        if invoice_id in seen:
            raise bad_input("invoice_twice", _t("invoice_twice", line=n, invoice_id=invoice_id),
                            {"line": n, "invoice_id": invoice_id})
        seen.add(invoice_id)
        wanted.append((n, raw, invoice_id))
    invs = {i.id: i for i in session.exec(select(InvoiceRecord).where(col(InvoiceRecord.id).in_(list(seen)))).all()}
    for n, _, invoice_id in wanted:
        if invoice_id not in invs:
            raise not_found("invoice_not_found", _t("invoice_not_found", line=n, invoice_id=invoice_id),
                            {"invoice_id": invoice_id, "line": n})
    reports = invoice_statuses(session, list(invs.values()), for_claim=for_claim)
    rows: list[ClaimLine] = []
    for n, raw, invoice_id in wanted:
        inv = invs[invoice_id]
        category = str(raw.get("category") or DEFAULT_CATEGORY).strip()
        mapping.rule(category)  # refuses an unknown category, listing the known ones
        if raw.get("amount") in (None, ""):
            amount = inv.total.quantize(CENT) if inv.total is not None else Decimal("0.00")
        else:
            amount = _line_amount(raw["amount"], n)
        _gate(inv, reports[inv.id], amount, n, user)
        rows.append(ClaimLine(claim_id=claim.id, line_no=n, invoice_id=inv.id, category=category, amount=amount,
                              uploaded_by=inv.uploaded_by))
    return rows


def _take_lines(session: Session, claim: Claim, rows: list[ClaimLine]) -> None:
    claim.total = sum((r.amount for r in rows), Decimal("0.00"))
    claim.for_others = any(r.uploaded_by != claim.claimant for r in rows)
    session.add(claim)
    session.flush()
    session.add_all(rows)
    session.flush()


# --- the service ------------------------------------------------------------------------------

def create_claim(session: Session, user: User, title: str, department: str | None = None,
                 purpose: str | None = None, lines: list[dict[str, Any]] | None = None) -> Claim:
    """A draft claim reimbursing ``user`` for ``lines`` [{"invoice_id", "category"?, "amount"?}].

    ``category`` defaults to 其他; ``amount`` defaults to the invoice total.
    """
    title, department, purpose = _clean_header(title, department, purpose)
    claim = Claim(title=title, claimant=user.username, claimant_id=user.id, department=department,
                  purpose=purpose, state=ClaimState.DRAFT, total=Decimal("0.00"))
    rows = _build_lines(session, user, claim, lines, None)
    warning = _org_warning()
    claim.warnings = [warning] if warning else []
    _take_lines(session, claim, rows)
    _lock_invoices(session, claim, [r.invoice_id for r in rows])
    _add_step(session, claim, user, "create", None, None, {"for_others": claim.for_others})
    return claim


_UNSET: Any = object()


def update_claim(session: Session, user: User, claim_id: str, *, title: str | None = _UNSET,
                 department: str | None = _UNSET, purpose: str | None = _UNSET,
                 lines: list[dict[str, Any]] | None = _UNSET) -> Claim:
    """Edit a ``draft`` or ``rejected`` claim (its claimant only); the state stays as it is.

    Only the fields given change. New lines pass the same gate as on create; a draft's locks
    follow its lines at once, a rejected claim takes its locks again when it is submitted.
    """
    claim = get_claim(session, claim_id, for_update=True)
    if user.username != claim.claimant:
        raise refused("not_claimant", _t("not_claimant", claimant=claim.claimant, claim_id=claim.id,
                                         action_label=_action("edit")), {"claim_id": claim.id})
    if claim.state not in (ClaimState.DRAFT, ClaimState.REJECTED):
        raise refused("wrong_state", _t("wrong_state", claim_id=claim.id, state_label=_state(claim.state),
                                        action_label=_action("edit"),
                                        allowed_label="”或“".join(_state(x) for x in (ClaimState.DRAFT, ClaimState.REJECTED))),
                      {"claim_id": claim.id, "state": claim.state})
    if all(v is _UNSET for v in (title, department, purpose, lines)):
        raise bad_input("nothing_to_edit", _t("nothing_to_edit"), {"claim_id": claim.id})
    changed: list[str] = []
    new_title, new_dep, new_purpose = _clean_header(
        claim.title if title is _UNSET else title, claim.department if department is _UNSET else department,
        claim.purpose if purpose is _UNSET else purpose)
    for name, value in (("title", new_title), ("department", new_dep), ("purpose", new_purpose)):
        if getattr(claim, name) != value:
            setattr(claim, name, value)
            changed.append(name)
    if lines is not _UNSET:
        rows = _build_lines(session, user, claim, lines, claim.id)
        session.execute(delete(ClaimInvoiceLock).where(col(ClaimInvoiceLock.claim_id) == claim.id))
        session.execute(delete(ClaimLine).where(col(ClaimLine.claim_id) == claim.id))
        session.flush()
        _take_lines(session, claim, rows)
        if claim.state == ClaimState.DRAFT:
            _lock_invoices(session, claim, [r.invoice_id for r in rows])
        changed.append("lines")
    warning = _org_warning()
    claim.warnings = [warning] if warning else []
    _add_step(session, claim, user, "edit", claim.state, None, {"changed": changed, "for_others": claim.for_others})
    return claim


def _transition(session: Session, user: User, claim_id: str, action: str, allowed_from: tuple[str, ...],
                to_state: str, comment: str | None) -> tuple[Claim, str]:
    claim = get_claim(session, claim_id, for_update=True)
    if claim.state not in allowed_from:
        raise refused("wrong_state", _t("wrong_state", claim_id=claim.id, state_label=_state(claim.state),
                                        action_label=_action(action),
                                        allowed_label="”或“".join(_state(x) for x in allowed_from)),
                      {"claim_id": claim.id, "state": claim.state, "allowed": list(allowed_from)})
    from_state = claim.state
    claim.state = to_state
    return claim, from_state


def _clean_comment(comment: str | None) -> str | None:
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > 2000:
        raise bad_input("bad_comment", _t("bad_comment"))
    return comment


def _not_own(claim: Claim, user: User, action: str) -> None:
    if user.username == claim.claimant or user.id == claim.claimant_id:
        raise refused("own_claim", _t("own_claim", user=user.username, action_label=_action(action), claim_id=claim.id),
                      {"claim_id": claim.id})


def _pending_ids(checked: list[tuple[ClaimLine, StatusReport]]) -> list[str]:
    return [line.invoice_id for line, rep in checked if rep.online_check_pending]


def submit_claim(session: Session, user: User, claim_id: str, comment: str | None = None) -> Claim:
    """The claimant hands the claim in (again, after a rejection): every line is re-checked."""
    comment = _clean_comment(comment)
    claim = get_claim(session, claim_id, for_update=True)
    if user.username != claim.claimant:
        raise refused("not_claimant", _t("not_claimant", claimant=claim.claimant, claim_id=claim.id,
                                         action_label=_action("submit")), {"claim_id": claim.id})
    claim, from_state = _transition(session, user, claim_id, "submit",
                                    (ClaimState.DRAFT, ClaimState.REJECTED), ClaimState.SUBMITTED, comment)
    checked = _recheck(session, claim, user)
    if from_state == ClaimState.REJECTED:
        _lock_invoices(session, claim, [line.invoice_id for line, _ in checked])
    warning = _org_warning()
    claim.warnings = [warning] if warning else []
    _add_step(session, claim, user, "submit", from_state, comment, {"online_check_pending": _pending_ids(checked)})
    return claim


def review_claim(session: Session, user: User, claim_id: str, comment: str | None = None) -> Claim:
    """审核: the first approver's sign-off (every line re-checked)."""
    comment = _clean_comment(comment)
    claim = get_claim(session, claim_id, for_update=True)
    _not_own(claim, user, "review")
    claim, from_state = _transition(session, user, claim_id, "review", (ClaimState.SUBMITTED,),
                                    ClaimState.REVIEWED, comment)
    checked = _recheck(session, claim, None)
    _add_step(session, claim, user, "review", from_state, comment, {"online_check_pending": _pending_ids(checked)})
    return claim


def needs_second_approval(claim: Claim) -> bool:
    return claim.total > get_settings().second_approval_above


def approve_claim(session: Session, user: User, claim_id: str, comment: str | None = None) -> Claim:
    """审批: approves a reviewed claim, or a submitted one at or below the second-approval limit.

    Every line is re-checked; with ``FAPIAO_REQUIRE_ONLINE_CHECK`` each unsigned or
    indeterminate invoice needs a successful 查验 result or an override first.
    """
    comment = _clean_comment(comment)
    claim = get_claim(session, claim_id, for_update=True)
    _not_own(claim, user, "approve")
    limit = get_settings().second_approval_above
    if claim.state == ClaimState.SUBMITTED and needs_second_approval(claim):
        raise refused("second_approval_required",
                      _t("second_approval_required", claim_id=claim.id, total=claim.total, limit=limit),
                      {"claim_id": claim.id, "limit": str(limit)})
    if claim.state == ClaimState.REVIEWED and needs_second_approval(claim):
        reviewer = next((s.actor for s in reversed(claim_steps(session, claim.id)) if s.action == "review"), None)
        if reviewer == user.username:
            raise refused("same_approver", _t("same_approver", claim_id=claim.id, total=claim.total, limit=limit,
                                              reviewer=reviewer), {"claim_id": claim.id})
    claim, from_state = _transition(session, user, claim_id, "approve",
                                    (ClaimState.SUBMITTED, ClaimState.REVIEWED), ClaimState.APPROVED, comment)
    checked = _recheck(session, claim, None)
    blocked = [(line, rep) for line, rep in checked if rep.approval_blocked]
    if blocked:
        invs = {i.id: i for i in session.exec(select(InvoiceRecord).where(
            col(InvoiceRecord.id).in_([line.invoice_id for line, _ in blocked]))).all()}
        names = "、".join(_invoice_label(invs[line.invoice_id]) for line, _ in blocked)
        raise refused("online_check_required", _t("online_check_required", claim_id=claim.id, invoices=names),
                      {"claim_id": claim.id, "invoice_ids": [line.invoice_id for line, _ in blocked]})
    _add_step(session, claim, user, "approve", from_state, comment, {"online_check_pending": _pending_ids(checked)})
    return claim


def reject_claim(session: Session, user: User, claim_id: str, comment: str | None = None) -> Claim:
    """Back to the claimant with a reason; the claim's invoices are released."""
    comment = _clean_comment(comment)
    if not comment:
        raise bad_input("reason_required", _t("reason_required"))
    claim = get_claim(session, claim_id, for_update=True)
    _not_own(claim, user, "reject")
    claim, from_state = _transition(session, user, claim_id, "reject",
                                    (ClaimState.SUBMITTED, ClaimState.REVIEWED), ClaimState.REJECTED, comment)
    session.execute(delete(ClaimInvoiceLock).where(col(ClaimInvoiceLock.claim_id) == claim.id))
    _add_step(session, claim, user, "reject", from_state, comment)
    return claim


def list_claims(session: Session, page: int = 1, page_size: int = 50, state: str | Sequence[str] | None = None,
                claimant: str | None = None, *, sort: str | None = None, date_from: Any = None,
                date_to: Any = None, q: str | None = None) -> tuple[list[Claim], int]:
    """One page of claims (default newest first) and the total count; ``sort`` is a comma list
    of whitelisted columns (``-total``), ``date_from``/``date_to`` China days of creation, ``q``
    a fragment of the title or department."""
    from core.listing import Sorting, date_bounds, date_range

    if page < 1 or not 1 <= page_size <= 500:
        raise bad_input("bad_page", _t("bad_page"))
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
        # one state, or several (the approval queue lists submitted and reviewed together)
        cond = col(Claim.state) == state if isinstance(state, str) else col(Claim.state).in_(list(state))
        stmt, count = stmt.where(cond), count.where(cond)
    if claimant:
        stmt = stmt.where(Claim.claimant == claimant)
        count = count.where(Claim.claimant == claimant)
    total = session.exec(count).one()
    items = session.exec(stmt.order_by(*order).offset((page - 1) * page_size).limit(page_size)).all()
    return list(items), int(total)


def claim_to_dict(session: Session, claim: Claim) -> dict[str, Any]:
    """The claim's JSON (``accounting.public.ClaimPublic``) as plain data, for the page and scripts."""
    from accounting.public import ClaimPublic

    return ClaimPublic.from_claim(session, claim).to_json()

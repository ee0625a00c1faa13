"""The page's tables: one query per list with search, filters, sorting and paging in SQL.

Finance staff expect every table to sort, filter and page on the server, so that a year's
invoices never stop at the first hundred. Each function takes the page's query parameters
(already checked) and returns one page of rows and the total count. Only whitelisted columns
can be sorted on; an unknown sort key falls back to the default order.

The services' list APIs (``GET /invoices?q=…&sort=…``, ``GET /vouchers?page=…&sort=…&q=…``,
``GET /audit?…``) grow the same parameters on their branches; when they land, these queries
can be replaced by those service calls without changing the templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from accounting.claims import Claim, ClaimInvoiceLock
from accounting.ledger import InvoicePosting, Voucher
from core.audit import AuditEntry
from core.settings import get_settings
from invoice.registry import InvoiceRecord

PAGE_SIZE = 50


@dataclass
class Page:
    """One page of a table and what the pager needs."""

    items: list[Any]
    total: int
    page: int
    page_size: int = PAGE_SIZE
    errors: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, (self.total + self.page_size - 1) // self.page_size)


def _order(sort: str, columns: dict[str, Any], default: str) -> list[Any]:
    key = sort.lstrip("-") if sort else ""
    if key not in columns:
        key, desc = default.lstrip("-"), default.startswith("-")
    else:
        desc = sort.startswith("-")
    column = columns[key]
    return [column.desc() if desc else column.asc()]


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _amount(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "").replace("¥", "").replace("￥", "").strip())
    except (InvalidOperation, ValueError):
        return None


INVOICE_SORTS = {"uploaded_at": col(InvoiceRecord.uploaded_at), "issue_date": col(InvoiceRecord.issue_date),
                 "total": col(InvoiceRecord.total), "number": col(InvoiceRecord.number),
                 "seller": col(InvoiceRecord.seller_name), "buyer": col(InvoiceRecord.buyer_name),
                 "uploaded_by": col(InvoiceRecord.uploaded_by)}


def _posted_ids() -> Any:
    return select(InvoicePosting.active_key).where(col(InvoicePosting.active_key).is_not(None))


def _locked_ids() -> Any:
    return select(ClaimInvoiceLock.invoice_id)


def not_ours_clause() -> Any:
    """SQL: the buyer is not the organisation (by tax id, else by name), as the claim gate says."""
    s = get_settings()
    if s.org_tax_id:
        return or_(col(InvoiceRecord.buyer_tax_id).is_(None),
                   func.upper(col(InvoiceRecord.buyer_tax_id)) != s.org_tax_id.strip().upper())
    if s.org_name:
        return or_(col(InvoiceRecord.buyer_name).is_(None), col(InvoiceRecord.buyer_name) != s.org_name)
    return col(InvoiceRecord.id).is_(None)  # nothing is "not ours" when no organisation is set


def status_clause(status: str) -> Any:
    """SQL for the page's one status (mirrors ``pages.invoice_state`` as far as columns allow)."""
    ok = col(InvoiceRecord.status) == "ok"
    posted = col(InvoiceRecord.id).in_(_posted_ids())
    locked = col(InvoiceRecord.id).in_(_locked_ids())
    unchecked = and_(col(InvoiceRecord.verification_status).in_(("unsigned", "indeterminate")),
                     col(InvoiceRecord.online_check_status) != "success")
    free = and_(ok, ~posted, ~locked, ~not_ours_clause())
    return {
        "posted": posted,
        "duplicate": and_(col(InvoiceRecord.status) == "duplicate", ~posted),
        "failed": and_(col(InvoiceRecord.status) == "invalid", ~posted),
        "not_ours": and_(ok, ~posted, not_ours_clause()),
        "claimed": and_(ok, ~posted, locked),
        "needs_check": and_(free, unchecked),
        "claimable": and_(free, ~unchecked),
    }.get(status, col(InvoiceRecord.id).is_not(None))


def invoices(s: Session, *, q: str = "", status: str = "", date_from: date | None = None,
             date_to: date | None = None, uploaded_by: str | None = None, posted: bool | None = None,
             claimable_only: bool = False, sort: str = "", page: int = 1,
             page_size: int = PAGE_SIZE) -> Page:
    conds: list[Any] = []
    q = (q or "").strip()
    if q:
        alts: list[Any] = [col(InvoiceRecord.number).like(_like(q), escape="\\"),
                col(InvoiceRecord.seller_name).like(_like(q), escape="\\"),
                col(InvoiceRecord.buyer_name).like(_like(q), escape="\\"),
                col(InvoiceRecord.original_filename).like(_like(q), escape="\\"),
                col(InvoiceRecord.seller_tax_id).like(_like(q), escape="\\")]
        amount = _amount(q)
        if amount is not None:
            alts.append(col(InvoiceRecord.total) == amount)
        conds.append(or_(*alts))
    if status:
        conds.append(status_clause(status))
    if claimable_only:
        conds.append(or_(status_clause("claimable"), status_clause("needs_check")))
    if date_from:
        conds.append(col(InvoiceRecord.issue_date) >= date_from)
    if date_to:
        conds.append(col(InvoiceRecord.issue_date) <= date_to)
    if uploaded_by:
        conds.append(col(InvoiceRecord.uploaded_by) == uploaded_by)
    if posted is not None:
        p = col(InvoiceRecord.id).in_(_posted_ids())
        conds.append(p if posted else ~p)
    total = s.exec(select(func.count()).select_from(InvoiceRecord).where(*conds)).one()
    rows = s.exec(select(InvoiceRecord).where(*conds)
                  .order_by(*_order(sort, INVOICE_SORTS, "-uploaded_at"), col(InvoiceRecord.id))
                  .offset((page - 1) * page_size).limit(page_size)).all()
    return Page(list(rows), int(total), page, page_size)


CLAIM_SORTS = {"created_at": col(Claim.created_at), "updated_at": col(Claim.updated_at), "total": col(Claim.total),
               "title": col(Claim.title), "claimant": col(Claim.claimant), "state": col(Claim.state)}


def claims(s: Session, *, q: str = "", states: tuple[str, ...] = (), claimant: str | None = None,
           sort: str = "", page: int = 1, page_size: int = PAGE_SIZE) -> Page:
    conds: list[Any] = []
    if q.strip():
        like = _like(q.strip())
        conds.append(or_(col(Claim.title).like(like, escape="\\"), col(Claim.claimant).like(like, escape="\\"),
                         col(Claim.department).like(like, escape="\\")))
    if states:
        conds.append(col(Claim.state).in_(states))
    if claimant:
        conds.append(col(Claim.claimant) == claimant)
    total = s.exec(select(func.count()).select_from(Claim).where(*conds)).one()
    rows = s.exec(select(Claim).where(*conds).order_by(*_order(sort, CLAIM_SORTS, "-created_at"), col(Claim.id))
                  .offset((page - 1) * page_size).limit(page_size)).all()
    return Page(list(rows), int(total), page, page_size)


VOUCHER_SORTS = {"number": col(Voucher.period), "date": col(Voucher.date), "total": col(Voucher.total_debit),
                 "state": col(Voucher.state), "created_by": col(Voucher.created_by)}


def vouchers(s: Session, *, q: str = "", period: str | None = None, states: tuple[str, ...] = (),
             sort: str = "", page: int = 1, page_size: int = PAGE_SIZE) -> Page:
    conds: list[Any] = []
    if q.strip():
        like = _like(q.strip())
        alts: list[Any] = [col(Voucher.summary).like(like, escape="\\"), col(Voucher.created_by).like(like, escape="\\"),
                col(Voucher.external_ref).like(like, escape="\\")]
        amount = _amount(q)
        if amount is not None:
            alts.append(col(Voucher.total_debit) == amount)
        conds.append(or_(*alts))
    if period:
        conds.append(col(Voucher.period) == period)
    if states:
        conds.append(col(Voucher.state).in_(states))
    order = _order(sort, VOUCHER_SORTS, "-number")
    if sort.lstrip("-") in ("", "number"):
        desc = not sort or sort.startswith("-")
        order = [c.desc() if desc else c.asc() for c in (col(Voucher.period), col(Voucher.word), col(Voucher.seq))]
    total = s.exec(select(func.count()).select_from(Voucher).where(*conds)).one()
    rows = s.exec(select(Voucher).where(*conds).order_by(*order, col(Voucher.id))
                  .offset((page - 1) * page_size).limit(page_size)).all()
    return Page(list(rows), int(total), page, page_size)


def audit(s: Session, *, actor: str = "", action: str = "", object_type: str = "", object_id: str = "",
          day_from: date | None = None, day_to: date | None = None, page: int = 1,
          page_size: int = PAGE_SIZE) -> Page:
    from api.formatting import CHINA

    conds: list[Any] = []
    if actor:
        conds.append(col(AuditEntry.actor) == actor)
    if action:
        conds.append(col(AuditEntry.action) == action)
    if object_type:
        conds.append(col(AuditEntry.object_type) == object_type)
    if object_id:
        conds.append(col(AuditEntry.object_id).like(object_id.strip() + "%"))
    if day_from:
        conds.append(col(AuditEntry.at) >= datetime.combine(day_from, time.min, tzinfo=CHINA))
    if day_to:
        conds.append(col(AuditEntry.at) < datetime.combine(day_to + timedelta(days=1), time.min, tzinfo=CHINA))
    total = s.exec(select(func.count()).select_from(AuditEntry).where(*conds)).one()
    rows = s.exec(select(AuditEntry).where(*conds).order_by(col(AuditEntry.seq).desc())
                  .offset((page - 1) * page_size).limit(page_size)).all()
    return Page(list(rows), int(total), page, page_size)


def audit_choices(s: Session) -> tuple[list[str], list[str], list[str]]:
    """The actors, actions and object types that occur, for the filter menus."""
    actors = [a for a in s.exec(select(AuditEntry.actor).distinct().order_by(col(AuditEntry.actor))).all() if a]
    actions = [a for a in s.exec(select(AuditEntry.action).distinct().order_by(col(AuditEntry.action))).all() if a]
    types = [t for t in s.exec(select(AuditEntry.object_type).distinct().order_by(col(AuditEntry.object_type))).all()
             if t]
    return actors, actions, types

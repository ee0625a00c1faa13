"""The page's tables, read through the services' own list functions.

Finance staff expect every table to sort, filter and page on the server, so that a year's
invoices never stop at the first hundred. The services already take ``q``, ``sort``, ``page``
and their filters (``registry.list_invoices``, ``claims.list_claims``,
``ledger.list_vouchers``, ``core.audit_query.list_entries``) and the one derived invoice
status lives in ``accounting.invoice_status``; this module only adapts their answers to a
``Page`` for the templates, so the page and the API can never list different rows.

A filter the service refuses (an invalid date, an unknown sort column) is not an error page:
the table comes back empty with the service's Chinese message in ``Page.errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from accounting import claims as claim_service
from accounting import ledger
from accounting.invoice_status import InvoiceStatus, list_invoices_for
from core import audit_query
from core.audit import AuditEntry
from core.errors import ServiceError
from core.listing import date_range
from invoice import registry
from invoice.registry import InvoiceRecord

PAGE_SIZE = 50
INVOICE_STATUSES = tuple(s.value for s in InvoiceStatus)


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


def _listed(read: Callable[[], tuple[list[Any], int]], page: int, page_size: int) -> Page:
    """A service's page as a ``Page``; a refused filter becomes an empty page with its message."""
    try:
        rows, total = read()
    except ServiceError as exc:
        return Page([], 0, page, page_size, [exc.message])
    return Page(list(rows), int(total), page, page_size)


def invoices(s: Session, *, q: str = "", status: str = "", date_from: str = "", date_to: str = "",
             uploaded_by: str | None = None, claimable_only: bool = False, sort: str = "", page: int = 1,
             page_size: int = PAGE_SIZE) -> Page:
    """Invoices by the registry's search and sorting; a 状态 filter or the claim form's
    "claimable only" by ``accounting.invoice_status`` (the claim gate's own rule)."""
    if not status and not claimable_only:
        return _listed(lambda: registry.list_invoices(
            s, q=q or None, date_from=date_from, date_to=date_to, uploaded_by=uploaded_by, sort=sort or None,
            page=page, page_size=page_size), page, page_size)

    def derived() -> tuple[list[InvoiceRecord], int]:
        conds: list[Any] = []
        d_from, d_to = date_range(date_from, date_to)
        if d_from:
            conds.append(col(InvoiceRecord.issue_date) >= d_from)
        if d_to:
            conds.append(col(InvoiceRecord.issue_date) <= d_to)
        if q.strip():
            clause = registry.search_clause(s, q.strip()[:200])
            if clause is not None:
                conds.append(clause)
        return list_invoices_for(s, uploaded_by=uploaded_by, claimable=True if claimable_only else None,
                                 statuses=(status,) if status in INVOICE_STATUSES else None, conditions=conds,
                                 order_by=registry.INVOICE_SORTING.order_by(sort or None),
                                 page=page, page_size=page_size)

    return _listed(derived, page, page_size)


def claims(s: Session, *, q: str = "", states: tuple[str, ...] = (), claimant: str | None = None,
           sort: str = "", page: int = 1, page_size: int = PAGE_SIZE) -> Page:
    return _listed(lambda: claim_service.list_claims(s, page=page, page_size=page_size, state=states or None,
                                                     claimant=claimant, sort=sort or None, q=q or None),
                   page, page_size)


def vouchers(s: Session, *, q: str = "", period: str | None = None, states: tuple[str, ...] = (),
             sort: str = "", page: int = 1, page_size: int = PAGE_SIZE) -> Page:
    return _listed(lambda: ledger.list_vouchers(s, period=period, page=page, page_size=page_size,
                                                state=states or None, sort=sort or None, q=q or None),
                   page, page_size)


def audit(s: Session, *, actor: str = "", action: str = "", object_type: str = "", object_id: str = "",
          date_from: str = "", date_to: str = "", page: int = 1, page_size: int = PAGE_SIZE) -> Page:
    return _listed(lambda: audit_query.list_entries(
        s, actor=actor or None, action=action or None, object_type=object_type or None,
        object_id=object_id.strip() or None, date_from=date_from, date_to=date_to, page=page,
        page_size=page_size), page, page_size)


def audit_choices(s: Session) -> tuple[list[str], list[str], list[str]]:
    """The actors and object types that occur and every known action, for the filter menus."""
    actors = [a for a in s.exec(select(AuditEntry.actor).distinct().order_by(col(AuditEntry.actor))).all() if a]
    actions = [a["action"] for a in audit_query.actions()]
    types = [t for t in s.exec(select(AuditEntry.object_type).distinct().order_by(col(AuditEntry.object_type))).all()
             if t]
    return actors, actions, types

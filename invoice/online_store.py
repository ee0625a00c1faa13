"""The online check (查验) with its memory: a daily limit kept in the database, and the result
stored on the invoice with a history of every attempt.

``invoice.verify.online`` holds the check itself (statuses, the local same-day / five-year
rules, the HTTP adapter) and counts uses in a replaceable ``CounterStore``. This module gives
it a database one, so that the per-invoice daily limit (the services lock an invoice after a
few checks a day) holds across processes, server workers and restarts:

* ``online_check_counts``: one row per (invoice key, China calendar day), bumped with a single
  ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` so concurrent callers each get a distinct new
  count and at most ``limit`` of them are let through, on SQLite and PostgreSQL alike. Each
  increment commits on its own: a call made to the service stays counted whatever happens to
  the caller's transaction afterwards.
* ``online_checks``: every attempt on a registered invoice (status, message, the raw result,
  whether the service was contacted), oldest first.

``run_online_check`` ties them together and stores the outcome on
``InvoiceRecord.online_check_status``. An attempt that tells nothing about the invoice
(``rate_limited``, ``error``) is kept in the history but does not overwrite a conclusive
earlier status: a transient failure must never hide that an invoice was found voided.
Without a configured service the result is ``not_checked`` and nothing is written.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, Session, SQLModel, col, select

from core import audit
from core.db import AwareDateTime, new_id, utcnow
from core.settings import Settings, get_settings
from invoice.model import Invoice, InvoiceKind, Party, SourceFormat
from invoice.registry import InvoiceRecord, get_invoice
from invoice.verify.online import (
    CheckStatus,
    DailyLimiter,
    LimitedVerifier,
    NotConfigured,
    OnlineResult,
    OnlineVerifier,
    get_verifier,
)

__all__ = ["DbCounterStore", "OnlineCheck", "OnlineCheckCount", "invoice_for_check",
           "online_check_history", "run_online_check"]

# Outcomes about the attempt, not the invoice: recorded, but never replace a conclusive status.
TRANSIENT = frozenset({CheckStatus.RATE_LIMITED, CheckStatus.ERROR})


class OnlineCheckCount(SQLModel, table=True):
    """How many times an invoice was checked on one China calendar day (the daily limit)."""

    __tablename__ = "online_check_counts"

    # The composite primary key is the UNIQUE(invoice_key, day) the upsert conflicts on.
    invoice_key: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    uses: int = Field(default=0)


class OnlineCheck(SQLModel, table=True):
    """One online-check attempt on a registered invoice, whatever its outcome."""

    __tablename__ = "online_checks"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    invoice_id: str = Field(foreign_key="invoices.id", index=True, max_length=32)
    at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    status: str = Field(max_length=32)
    message: str = Field(sa_column=Column(Text, nullable=False))
    checked_by: str = Field(max_length=64)
    # OnlineResult.to_dict() plus "contacted": did the request reach the service?
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class DbCounterStore:
    """A ``CounterStore`` in ``online_check_counts``, shared by every process on the database.

    Each call runs in its own short transaction on ``bind``'s engine, never in a caller's
    session: the count must be visible to concurrent callers at once, and on SQLite a
    caller's open transaction would hold the write lock this one needs.
    """

    def __init__(self, bind: Engine | Connection | Session) -> None:
        if isinstance(bind, Session):
            bind = bind.get_bind()
        self.engine: Engine = bind.engine if isinstance(bind, Connection) else bind

    def increment(self, key: str, day: date) -> int:
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        stmt = (insert(OnlineCheckCount).values(invoice_key=key, day=day, uses=1)
                .on_conflict_do_update(index_elements=["invoice_key", "day"],
                                       set_={"uses": col(OnlineCheckCount.uses) + 1})
                .returning(col(OnlineCheckCount.uses)))
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).scalar_one())

    def count(self, key: str, day: date) -> int:
        stmt = select(OnlineCheckCount.uses).where(col(OnlineCheckCount.invoice_key) == key,
                                                   col(OnlineCheckCount.day) == day)
        with self.engine.begin() as conn:
            found = conn.execute(stmt).scalar_one_or_none()
        return int(found or 0)


def invoice_for_check(record: InvoiceRecord) -> Invoice:
    """The facts a 查验 request needs, rebuilt from the registered record."""
    data = record.data or {}

    def party(value: Any, name: str | None, tax_id: str | None) -> Party:
        value = value if isinstance(value, dict) else {}
        return Party(name or value.get("name"), tax_id or value.get("tax_id"))

    try:
        kind = InvoiceKind(record.kind)
    except ValueError:
        kind = InvoiceKind.UNKNOWN
    return Invoice(
        kind=kind,
        source_format=SourceFormat(record.source_format),
        number=record.number or data.get("number"),
        code=record.code or data.get("code"),
        issue_date=record.issue_date.isoformat() if record.issue_date else data.get("issue_date"),
        check_code=data.get("check_code"),
        buyer=party(data.get("buyer"), record.buyer_name, record.buyer_tax_id),
        seller=party(data.get("seller"), record.seller_name, record.seller_tax_id),
        amount=_money(record.amount, data.get("amount")),
        tax=_money(record.tax, data.get("tax")),
        total=_money(record.total, data.get("total")),
        sha256=record.sha256,
    )


def _money(column: Decimal | None, stored: Any) -> Decimal | None:
    if column is not None:
        return column
    return Decimal(str(stored)) if stored not in (None, "") else None


def _limited(verifier: OnlineVerifier | None, settings: Settings, store: DbCounterStore) -> OnlineVerifier:
    """The configured verifier, or ``verifier`` (a service adapter) under the same limit."""
    if verifier is None:
        return get_verifier(settings, store=store)
    if isinstance(verifier, NotConfigured | LimitedVerifier):
        return verifier
    return LimitedVerifier(verifier, DailyLimiter(settings.online_check_daily_limit, store))


def run_online_check(session: Session, invoice_id: str, verifier: OnlineVerifier | None = None, *,
                     username: str, settings: Settings | None = None) -> OnlineResult:
    """Check one registered invoice online, count it, and store the outcome on the invoice.

    Past ``settings.online_check_daily_limit`` checks of the invoice this China day the
    result is ``rate_limited`` and the service is not called. ``verifier`` replaces the
    configured HTTP adapter (it is still put under the database limit).

    Transactions: the session's transaction is committed after the invoice is read, so that
    no database lock is held across the network call (on SQLite any open transaction holds
    the write lock); the outcome (status, history row, audit entry) is then written in the
    session's next transaction, which the caller commits. Raises ``RegistryError``
    (``invoice_not_found``) for an unknown id.
    """
    settings = settings or get_settings()
    record = get_invoice(session, invoice_id)
    invoice = invoice_for_check(record)
    checker = _limited(verifier, settings, DbCounterStore(session))
    if isinstance(checker, NotConfigured):
        return checker.check(invoice)  # nothing happened: nothing to record
    session.commit()

    result = checker.check(invoice)
    if result.status is CheckStatus.NOT_CHECKED:
        return result
    record = session.exec(select(InvoiceRecord).where(col(InvoiceRecord.id) == invoice_id)
                          .with_for_update().execution_options(populate_existing=True)).one()
    previous = record.online_check_status
    conclusive = previous not in (CheckStatus.NOT_CHECKED, *TRANSIENT)
    if not (result.status in TRANSIENT and conclusive):
        record.online_check_status = result.status.value
        session.add(record)
    raw = {**result.to_dict(), "contacted": result.checked_at is not None}
    session.add(OnlineCheck(invoice_id=invoice_id, status=result.status.value, message=result.message,
                            checked_by=username, raw=raw))
    audit.append(session, username, "invoice.online_check", "invoice", invoice_id,
                 {"key": record.key, "status": result.status.value, "message": result.message,
                  "stored_status": record.online_check_status, "previous_status": previous})
    session.flush()
    return result


def online_check_history(session: Session, invoice_id: str) -> list[dict[str, Any]]:
    """Every online-check attempt on the invoice, oldest first."""
    rows = session.exec(select(OnlineCheck).where(col(OnlineCheck.invoice_id) == invoice_id)
                        .order_by(col(OnlineCheck.at), col(OnlineCheck.id))).all()
    return [{"at": r.at.isoformat(), "status": r.status, "message": r.message, "by": r.checked_by,
             "contacted": bool(r.raw.get("contacted")), "details": r.raw.get("details") or {}}
            for r in rows]

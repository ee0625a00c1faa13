"""The invoice registry: one row per stored invoice file, and the duplicate rule.

The same invoice must never be reimbursed or posted twice, whoever uploads it, in whatever
format, in whatever year (财会〔2020〕6号). Two keys identify "the same invoice":

* the SHA-256 of the original bytes (the same file again), and
* the invoice key (``<code>:<number>``, or the 20-digit 数电票 number), so that the OFD, the
  PDF and the XML of one invoice are one invoice.

Both are enforced by UNIQUE constraints (``unique_key``, ``unique_sha256``), not only by a
look-up: of N concurrent registrations of one invoice exactly one commits, and every other
caller gets ``DuplicateInvoice`` naming the earlier record. Canonical records take the
invoice key; red-letter (红字) invoices take ``red:<key>`` and are linked to the invoice they
reverse (``red_reverses_key``); invoices that fail verification are kept as evidence under
``invalid:<sha256>`` so that a forged copy never blocks the genuine invoice. Under the
``warn`` policy a duplicate is stored with ``status="duplicate"``, both unique columns NULL
and ``duplicate_of`` set; claims refuse every record whose ``status != "ok"``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import JSON, Column, Numeric, Text, and_, event, func, literal_column, or_, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import object_session
from sqlmodel import Field, Session, SQLModel, col, select

from core import audit
from core.blobstore import get_blobstore
from core.db import AwareDateTime, new_id, utcnow
from core.errors import ErrorKind
from core.listing import Sorting, check_page, date_range, list_error
from core.settings import get_settings
from invoice import search
from invoice.model import Invoice, canonical_key_field, canonicalize_keys, money_str
from invoice.registry_errors import DuplicateInvoice, RegistryError
from invoice.verify.report import VerifyStatus

__all__ = ["DuplicateInvoice", "InvoiceRecord", "RegistryError", "StoredFile", "find_existing",
           "get_by_key", "get_invoice", "invoice_conditions", "invoice_summary", "list_invoices", "record_to_dict",
           "register", "register_posted_clause", "register_usage_lookup", "reversals"]

log = logging.getLogger(__name__)

class RecordStatus(StrEnum):
    """The registry's status of an invoice record (``InvoiceRecord.status``)."""

    OK = "ok"  # registered; may be claimed (subject to the claim gate)
    INVALID = "invalid"  # kept as evidence: its signature does not verify
    DUPLICATE = "duplicate"  # stored under the warn policy beside its earlier record


STATUS_OK, STATUS_INVALID, STATUS_DUPLICATE = RecordStatus.OK, RecordStatus.INVALID, RecordStatus.DUPLICATE
# Where parsers may put the key of the invoice a red-letter (红字) invoice reverses.
RED_EXTRA_KEYS = ("red_reverses", "red_reverses_key", "reverses_key", "original_invoice_key")
_RED_DIGITAL_RE = re.compile(r"被红冲蓝字(?:数电)?发票号码\s*[:：]\s*(\d{20})")
_RED_OLD_RE = re.compile(r"对应正数发票代码\s*[:：]\s*(\d{10,12})\s*号码\s*[:：]\s*(\d{8})")
CONTENT_TYPES = {"ofd": "application/ofd", "pdf": "application/pdf", "xml": "application/xml"}


def content_type(source_format: str, data: bytes = b"") -> str:
    """The media type of an original: by format, and for a scan (``image``) by its bytes
    (JPEG, PNG, or a PDF whose page is a picture)."""
    if source_format == "image":
        if data.startswith(b"\xff\xd8\xff"):
            return "image/jpeg"
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return "image/png"
        if b"%PDF-" in data[:1024]:
            return "application/pdf"
    return CONTENT_TYPES.get(source_format, "application/octet-stream")


class InvoiceRecord(SQLModel, table=True):
    """One registered invoice file and what was read and verified from it."""

    __tablename__ = "invoices"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    key: str = Field(index=True, max_length=64)  # Invoice.key: <code>:<number> or the 20-digit number
    # = key for the canonical record, red:<key> for a red-letter invoice, invalid:<sha256> for
    # evidence that failed verification, NULL for a duplicate stored under the warn policy.
    unique_key: str | None = Field(default=None, unique=True, max_length=80)
    sha256: str = Field(index=True, max_length=64)
    unique_sha256: str | None = Field(default=None, unique=True, max_length=64)  # NULL for warned duplicates
    kind: str = Field(max_length=32)
    source_format: str = Field(max_length=8)
    code: str | None = Field(default=None, max_length=20)
    number: str | None = Field(default=None, index=True, max_length=32)
    issue_date: date | None = Field(default=None, index=True)
    buyer_name: str | None = Field(default=None, max_length=200)
    buyer_tax_id: str | None = Field(default=None, max_length=32)
    seller_name: str | None = Field(default=None, max_length=200)
    seller_tax_id: str | None = Field(default=None, index=True, max_length=32)
    amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(18, 2), nullable=True))
    tax: Decimal | None = Field(default=None, sa_column=Column(Numeric(18, 2), nullable=True))
    total: Decimal | None = Field(default=None, sa_column=Column(Numeric(18, 2), nullable=True))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    verification_status: str = Field(max_length=16)
    verification: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="ok", index=True, max_length=16)  # ok | invalid | duplicate
    duplicate_of: str | None = Field(default=None, index=True, max_length=32)
    red_reverses_key: str | None = Field(default=None, index=True, max_length=64)
    uploaded_by: str = Field(max_length=64)
    uploaded_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime, index=True)
    original_filename: str = Field(max_length=512)
    size: int
    online_check_status: str = Field(default="not_checked", max_length=32)
    # One line of seller, number, items and amounts for the trigram search (invoice.search);
    # written on insert and update by the mapper events below, indexed by the migration.
    search_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


def _fill_search_text(_mapper: Any, _connection: Any, record: InvoiceRecord) -> None:
    """Keep ``search_text`` (and so the search index, which triggers or GIN keep in step with
    the column) in sync with what the row says, whoever inserts or updates it."""
    data = record.data or {}
    record.search_text = search.search_text(
        {"seller_name": record.seller_name, "seller_tax_id": record.seller_tax_id, "number": record.number,
         "code": record.code, "key": record.key, "buyer_name": record.buyer_name,
         "total": money_str(record.total) if record.total is not None else None,
         "amount": money_str(record.amount) if record.amount is not None else None},
        data.get("items") or () if isinstance(data, Mapping) else ())


event.listen(InvoiceRecord, "before_insert", _fill_search_text)
event.listen(InvoiceRecord, "before_update", _fill_search_text)


class StoredFile(SQLModel, table=True):
    """One original file in the content-addressed store (see ``core.blobstore``)."""

    __tablename__ = "stored_files"

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    content_type: str = Field(max_length=64)
    stored_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


UsageLookup = Callable[[Any, str], dict[str, Any]]


# --- hooks the accounting package registers (invoice/ never imports accounting/) -----------

_usage_lookup: UsageLookup | None = None
_posted_clause: Callable[[bool], Any] | None = None


def register_usage_lookup(fn: UsageLookup | None) -> None:
    """Install ``fn(session, invoice_id) -> {"claim_id", "voucher_id", "posted", ...}``.

    The accounting package calls this on import so that a duplicate report can say in which
    claim or voucher the earlier invoice went, and whether it was posted.
    """
    global _usage_lookup
    _usage_lookup = fn


def register_posted_clause(fn: Callable[[bool], Any] | None) -> None:
    """Optionally install ``fn(posted) -> SQL condition on InvoiceRecord.id`` for list filters.

    Without it, ``list_invoices(posted=...)`` falls back to the usage look-up row by row.
    """
    global _posted_clause
    _posted_clause = fn


# --- registering -----------------------------------------------------------------------------

def _report_dict(report: Any) -> dict[str, Any]:
    if report is None:
        return {"status": "indeterminate", "problems": ["not verified"]}
    if isinstance(report, Mapping):
        return dict(report)
    return dict(report.to_dict())


def _red_reference(invoice: Invoice) -> tuple[bool, str | None]:
    """Is this a red-letter invoice, and which invoice key does it reverse (if stated)?

    Parsers may name the reversed invoice in ``extra``; otherwise the remarks printed by the
    issuing systems are read (数电: 被红冲蓝字数电发票号码, old style: 对应正数发票代码…号码…).
    """
    ref = next((invoice.extra[k] for k in RED_EXTRA_KEYS if invoice.extra.get(k)), None)
    if ref is None and invoice.remarks:
        if m := _RED_DIGITAL_RE.search(invoice.remarks):
            ref = m.group(1)
        elif m := _RED_OLD_RE.search(invoice.remarks):
            ref = f"{m.group(1)}:{m.group(2)}"
    negative = any(v is not None and v < 0 for v in (invoice.total, invoice.amount))
    return (ref is not None or negative), (ref.strip() if ref else None)


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _cut(value: str | None, n: int) -> str | None:
    return value[:n] if value else value


def find_existing(session: Session, sha256: str, unique_key: str | None) -> InvoiceRecord | None:
    """The record that already holds this file or this unique key (the file wins)."""
    cond = [col(InvoiceRecord.unique_sha256) == sha256]
    if unique_key:
        cond.append(col(InvoiceRecord.unique_key) == unique_key)
    rows = session.exec(select(InvoiceRecord).where(or_(*cond)).limit(2)).all()
    for r in rows:
        if r.unique_sha256 == sha256:
            return r
    return rows[0] if rows else None


def unique_key_for(invoice: Invoice, verification_status: str, sha256: str) -> str | None:
    """The value this invoice claims in the UNIQUE ``unique_key`` column."""
    key = invoice.key
    if not key:
        return None
    if verification_status == VerifyStatus.INVALID:
        return f"invalid:{sha256}"
    is_red, _ = _red_reference(invoice)
    return f"red:{key}" if is_red else key


def register(session: Session, invoice: Invoice, report: Any, data_sha256: str, filename: str,
             username: str, size: int, *, policy: Literal["block", "warn"] | None = None,
             check_blob: bool = True, optimistic: bool = False) -> InvoiceRecord:
    """Register one stored invoice file in the caller's transaction, and audit it.

    The original must already be in the blob store (store first, register second). Raises
    ``DuplicateInvoice`` under the block policy when the file or the invoice is already
    registered; under warn, returns a record with ``status="duplicate"``. An invoice whose
    verification is ``invalid`` is registered as evidence with ``status="invalid"``.

    ``optimistic`` (batch imports that looked duplicates up already) skips the look-up and the
    savepoint: a collision then raises ``IntegrityError`` and the caller must roll the whole
    transaction back and register again without it.
    """
    policy = policy or get_settings().duplicate_policy
    canonicalize_keys(invoice)  # idempotent: an Invoice built without ``invoice.parse`` too
    key = invoice.key
    if not key:
        raise RegistryError(ErrorKind.BAD_INPUT, "no_invoice_number",
                            f"{filename}: no invoice number could be read, so the duplicate check "
                            "cannot run; the file was not registered")
    if len(key) > 64:
        raise RegistryError(ErrorKind.BAD_INPUT, "bad_invoice_number",
                            f"{filename}: the invoice key {key[:80]!r} is longer than 64 characters")
    if invoice.sha256 and invoice.sha256 != data_sha256:
        raise RegistryError(ErrorKind.BAD_INPUT, "sha256_mismatch",
                            f"{filename}: the parsed invoice belongs to another file ({invoice.sha256})")
    if check_blob and not get_blobstore().exists(data_sha256):
        raise RegistryError(ErrorKind.CONFLICT, "original_not_stored",
                            f"{filename}: the original ({data_sha256}) is not in the file store; "
                            "store it before registering")
    rep = _report_dict(report)
    vstatus = str(rep.get("status", "indeterminate"))
    ukey = unique_key_for(invoice, vstatus, data_sha256)
    _, red_ref = _red_reference(invoice)

    record = InvoiceRecord(
        key=key, unique_key=ukey, sha256=data_sha256, unique_sha256=data_sha256,
        kind=invoice.kind.value, source_format=invoice.source_format.value,
        code=_cut(invoice.code, 20), number=_cut(invoice.number, 32),
        issue_date=_parse_date(invoice.issue_date),
        buyer_name=_cut(invoice.buyer.name, 200), buyer_tax_id=_cut(invoice.buyer.tax_id, 32),
        seller_name=_cut(invoice.seller.name, 200), seller_tax_id=_cut(invoice.seller.tax_id, 32),
        amount=invoice.amount, tax=invoice.tax, total=invoice.total,
        data={**invoice.to_dict(), "sha256": data_sha256}, verification_status=vstatus[:16],
        verification=rep, status=STATUS_INVALID if vstatus == VerifyStatus.INVALID else STATUS_OK,
        red_reverses_key=_cut(red_ref, 64), uploaded_by=username, uploaded_at=utcnow(),
        original_filename=filename[-512:], size=size,
    )
    if record.status == STATUS_INVALID:
        canonical = session.exec(select(InvoiceRecord).where(col(InvoiceRecord.unique_key) == key)).first()
        record.duplicate_of = canonical.id if canonical else None  # a forged copy: say of what

    earlier: InvoiceRecord | None = None
    if optimistic:
        session.add(record)
        session.flush()  # IntegrityError on any collision: the caller retries carefully
    else:
        earlier = find_existing(session, data_sha256, ukey)
        if earlier is None:
            try:
                with session.begin_nested():
                    session.add(record)
                    session.flush()
            except IntegrityError:
                # Lost a race: another transaction committed this file or this invoice first;
                # the UNIQUE constraint, not the look-up above, is what decides.
                earlier = find_existing(session, data_sha256, ukey)
                if earlier is None:
                    raise
    if earlier is not None:
        if policy != "warn":
            raise DuplicateInvoice(_duplicate_message(filename, key, earlier),
                                   invoice_summary(earlier, session))
        record = InvoiceRecord(**{**record.model_dump(), "id": new_id(), "unique_key": None,
                                  "unique_sha256": None, "status": STATUS_DUPLICATE,
                                  "duplicate_of": earlier.id})
        session.add(record)
        session.flush()
    _note_stored_file(session, data_sha256, size, record.source_format)
    audit.append(session, username, "invoice.upload", "invoice", record.id,
                 {"file": record.original_filename, "sha256": data_sha256, "key": key,
                  "status": record.status, "duplicate_of": record.duplicate_of,
                  "verification": vstatus})
    return record


def _duplicate_message(filename: str, key: str, earlier: InvoiceRecord) -> str:
    when = earlier.uploaded_at.date().isoformat() if earlier.uploaded_at else "?"
    return (f"{filename}: invoice {key} is already registered as {earlier.id} "
            f"(uploaded by {earlier.uploaded_by} on {when} from {earlier.original_filename})")


def _note_stored_file(session: Session, sha256: str, size: int, source_format: str) -> None:
    """Record the original in ``stored_files`` once (INSERT … ON CONFLICT DO NOTHING)."""
    values = {"sha256": sha256, "size": size, "stored_at": utcnow(),
              "content_type": CONTENT_TYPES.get(source_format, "application/octet-stream")}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(StoredFile).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))


# --- reading -----------------------------------------------------------------------------------

def _usage(session: Session | None, invoice_id: str) -> dict[str, Any]:
    usage: dict[str, Any] = {"claim_id": None, "voucher_id": None, "posted": False}
    if _usage_lookup is not None and session is not None:
        found = _usage_lookup(session, invoice_id) or {}
        usage.update({k: found.get(k, usage[k]) for k in usage})
    return usage


def invoice_summary(record: InvoiceRecord, session: Session | None = None) -> dict[str, Any]:
    """The earlier record as API.md's ``duplicate_of`` names it."""
    session = session or object_session(record)  # type: ignore[assignment]
    return {
        "invoice_id": record.id,
        "key": record.key,
        "file": record.original_filename,
        "uploaded_by": record.uploaded_by,
        "uploaded_at": record.uploaded_at.isoformat() if record.uploaded_at else None,
        "status": record.status,
        **_usage(session, record.id),
    }


def canonical_key(key: str) -> str:
    """A key as a caller typed it, in the registry's spelling (``<code>:<number>`` or number)."""
    code, sep, number = key.partition(":")
    if not sep:
        return canonical_key_field(key) or key
    return f"{canonical_key_field(code) or ''}:{canonical_key_field(number) or ''}"


def get_invoice(session: Session, invoice_id: str) -> InvoiceRecord:
    rec = session.get(InvoiceRecord, invoice_id)
    if rec is None:
        raise RegistryError(ErrorKind.NOT_FOUND, "invoice_not_found", f"no invoice {invoice_id!r}")
    return rec


def get_by_key(session: Session, key: str) -> InvoiceRecord:
    """The canonical record of an invoice key (else the earliest record with that key)."""
    key = canonical_key(key)
    rec = session.exec(select(InvoiceRecord).where(col(InvoiceRecord.unique_key) == key)).first()
    if rec is None:
        rec = session.exec(select(InvoiceRecord).where(col(InvoiceRecord.key) == key)
                           .order_by(col(InvoiceRecord.uploaded_at))).first()
    if rec is None:
        raise RegistryError(ErrorKind.NOT_FOUND, "invoice_not_found", f"no invoice with key {key!r}")
    return rec


def reversals(session: Session, key: str) -> list[InvoiceRecord]:
    """Red-letter invoices registered as reversing the invoice ``key``."""
    return list(session.exec(select(InvoiceRecord).where(col(InvoiceRecord.red_reverses_key) == key)
                             .order_by(col(InvoiceRecord.uploaded_at))).all())


INVOICE_SORTING = Sorting(
    columns={"issue_date": col(InvoiceRecord.issue_date), "uploaded_at": col(InvoiceRecord.uploaded_at),
             "total": col(InvoiceRecord.total), "amount": col(InvoiceRecord.amount),
             "tax": col(InvoiceRecord.tax), "number": col(InvoiceRecord.number),
             "seller_name": col(InvoiceRecord.seller_name), "buyer_name": col(InvoiceRecord.buyer_name),
             "status": col(InvoiceRecord.status), "kind": col(InvoiceRecord.kind),
             "uploaded_by": col(InvoiceRecord.uploaded_by), "file": col(InvoiceRecord.original_filename)},
    default="-uploaded_at", tiebreak=col(InvoiceRecord.id))


def search_clause(session: Session, q: str) -> Any:
    """SQL condition for the free-text query ``q``: every whitespace-separated term must match
    the seller, buyer, number, code, an item name or an amount (see ``invoice.search``)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    per_term: list[Any] = []
    fts_terms: list[str] = []
    for raw in search.terms(q):
        term = search.amount_text(raw)  # ¥1,060 → 1060.00, as search_text writes amounts
        column = col(InvoiceRecord.search_text)
        if len(term) >= search.MIN_TRIGRAM:
            if sqlite:
                fts_terms.append(term)
            else:  # the pg_trgm GIN index serves ILIKE
                per_term.append(column.ilike(search.like_pattern(term), escape="\\"))
        elif sqlite:  # too short for a trigram: a scan
            per_term.append(column.like(search.like_pattern(term), escape="\\"))
        elif term.lower() == term.upper():  # too short for a trigram, and caseless (汉字, digits):
            per_term.append(func.strpos(column, term) > 0)  # a plain scan, not the whole GIN index
        else:
            per_term.append(func.strpos(func.lower(column), term.lower()) > 0)
    if fts_terms:  # one MATCH for all terms: FTS5 intersects them itself
        query = " AND ".join(search.fts_phrase(t) for t in fts_terms)
        per_term.append(literal_column("invoices.rowid").in_(
            text(f"SELECT rowid FROM {search.FTS_TABLE} WHERE {search.FTS_TABLE} MATCH :fts_query")
            .bindparams(fts_query=query)))
    return and_(*per_term) if per_term else None


def invoice_conditions(session: Session, *, number: str | None = None, key: str | None = None,
                       seller_tax_id: str | None = None, uploaded_by: str | None = None,
                       kind: str | None = None, verification_status: str | None = None,
                       ids: list[str] | None = None, date_from: date | str | None = None,
                       date_to: date | str | None = None, status: str | None = None,
                       q: str | None = None) -> list[Any]:
    """The SQL conditions of the invoice list filters, shared by every list of invoices (the
    registry's, "我的发票" and the claim form's) so that one filter means one thing everywhere.
    Keys are compared canonically (NFKC, ASCII digits); a bad date is refused (422)."""
    conds: list[Any] = []
    number, seller_tax_id = canonical_key_field(number), canonical_key_field(seller_tax_id)
    key = canonical_key(key) if key else key
    equal = ((InvoiceRecord.number, number), (InvoiceRecord.key, key),
             (InvoiceRecord.seller_tax_id, seller_tax_id), (InvoiceRecord.uploaded_by, uploaded_by),
             (InvoiceRecord.kind, kind), (InvoiceRecord.verification_status, verification_status),
             (InvoiceRecord.status, status))
    conds.extend(col(column) == value for column, value in equal if value)
    if ids is not None:
        conds.append(col(InvoiceRecord.id).in_(ids))
    d_from, d_to = date_range(date_from, date_to)
    if d_from:
        conds.append(col(InvoiceRecord.issue_date) >= d_from)
    if d_to:
        conds.append(col(InvoiceRecord.issue_date) <= d_to)
    if q and q.strip():
        clause = search_clause(session, q.strip()[:200])
        if clause is not None:
            conds.append(clause)
    return conds


def list_invoices(session: Session, *, number: str | None = None, seller_tax_id: str | None = None,
                  date_from: date | str | None = None, date_to: date | str | None = None,
                  status: str | None = None, posted: bool | None = None, key: str | None = None,
                  page: int = 1, page_size: int = 50, q: str | None = None, sort: str | None = None,
                  uploaded_by: str | None = None, kind: str | None = None,
                  verification_status: str | None = None, ids: list[str] | None = None,
                  ) -> tuple[list[InvoiceRecord], int]:
    """One page of invoices (default newest upload first) and the total matching count.

    ``q`` searches seller, item, number fragment and amount (Chinese trigram search); ``sort``
    is a comma list of whitelisted columns, ``-`` for descending (``-issue_date``); an
    invalid date, sort or page is refused (422) rather than silently ignored.
    """
    check_page(page, page_size)
    if status is not None and status not in (STATUS_OK, STATUS_INVALID, STATUS_DUPLICATE):
        raise list_error("bad_filter", name="status", value=status, why="可选值：ok（正常）、invalid（验证失败）、"
                                                                      "duplicate（重复）")
    conds = invoice_conditions(session, number=number, key=key, seller_tax_id=seller_tax_id,
                               uploaded_by=uploaded_by, kind=kind, verification_status=verification_status,
                               ids=ids, date_from=date_from, date_to=date_to, status=status, q=q)
    order = INVOICE_SORTING.order_by(sort)
    if posted is not None and _posted_clause is not None:
        conds.append(_posted_clause(posted))
    elif posted is not None:
        # No SQL condition offered: decide row by row with the usage look-up (small registries).
        found = session.exec(select(InvoiceRecord.id).where(*conds).order_by(*order)).all()
        keep = [i for i in found if bool(_usage(session, i)["posted"]) is posted]
        chosen = keep[(page - 1) * page_size: page * page_size]
        rows = {r.id: r for r in session.exec(select(InvoiceRecord).where(col(InvoiceRecord.id).in_(chosen))).all()}
        return [rows[i] for i in chosen], len(keep)
    total = session.exec(select(func.count()).select_from(InvoiceRecord).where(*conds)).one()
    items = session.exec(select(InvoiceRecord).where(*conds).order_by(*order)
                         .offset((page - 1) * page_size).limit(page_size)).all()
    return list(items), int(total)


def record_to_dict(record: InvoiceRecord) -> dict[str, Any]:
    """The normalised invoice (DESIGN §4) plus what the registry knows about the file
    (``invoice.public.InvoicePublic``), as plain data."""
    from invoice.public import InvoicePublic

    return InvoicePublic.from_record(record).to_json()

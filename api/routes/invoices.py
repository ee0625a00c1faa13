"""Invoices: upload, list, one invoice with its verification, posting flag and history, original.

Routes only translate HTTP to ``invoice.importer`` / ``invoice.registry`` calls; the duplicate
rule, verification and storage live there.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from accounting.invoice_status import invoice_status, invoice_statuses, list_invoices_for
from accounting.ledger import InvoicePosting, posting_status
from accounting.overrides import InvoiceOverride, override_to_dict, record_override
from api.deps import ReadSessionDep, Requires, SessionDep
from api.downloads import content_disposition
from api.idempotency import IdempotencyKeyHeader, fingerprint, run_reserved
from core.audit import AuditEntry
from core.blobstore import get_blobstore
from core.listing import check_page
from core.users import Permission, User, has_permission
from invoice import registry
from invoice.importer import ingest_files
from invoice.online_store import online_check_history, run_online_check
from invoice.registry import InvoiceRecord, content_type

router = APIRouter(tags=["invoices"])

Reader = Annotated[User, Depends(Requires("invoice.read"))]
InvoiceId = Annotated[str, Path(max_length=64, description="the invoice id")]


def posting(s: Session, invoice_id: str) -> dict[str, Any]:
    """The 入账标识 of an invoice, from the ledger."""
    return dict(posting_status(s, invoice_id))


def history(s: Session, invoice_id: str, posting_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What happened to the invoice, oldest first: its audit entries and its 入账标识 marks."""
    rows = s.exec(select(AuditEntry).where(AuditEntry.object_id == invoice_id)
                  .order_by(col(AuditEntry.seq))).all()
    out: list[dict[str, Any]] = [
        {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "details": e.details} for e in rows]
    for mark in posting_history:  # postings are audited on the voucher; show them here too
        out.append({"at": mark.get("at"), "actor": mark.get("by"),
                    "action": "voucher.reverse" if mark.get("flag") == "06" else "voucher.post",
                    "details": {"flag": mark.get("flag"), "voucher_id": mark.get("voucher_id"),
                                "voucher_number": mark.get("voucher_number")}})
    out.sort(key=lambda h: str(h["at"]))
    return out


def invoice_detail(s: Session, record: InvoiceRecord) -> dict[str, Any]:
    d = registry.record_to_dict(record)
    d["posting"] = posting(s, record.id)
    d["usage"] = registry.invoice_summary(record, s)
    if record.duplicate_of:
        earlier = s.get(InvoiceRecord, record.duplicate_of)
        d["duplicate_of"] = registry.invoice_summary(earlier, s) if earlier else record.duplicate_of
    d["history"] = history(s, record.id, list(d["posting"].get("history") or []))
    d["online_checks"] = online_check_history(s, record.id)
    # The derived status (可报销 / 需查验 / 验证失败 / …) and the override of the 查验
    # requirement, if any: shown to everyone who reads the invoice (accounting.invoice_status).
    st = invoice_status(s, record)
    d["invoice_status"] = st.to_dict()
    d["override"] = st.override
    d["overrides"] = [override_to_dict(o) for o in s.exec(
        select(InvoiceOverride).where(InvoiceOverride.invoice_id == record.id)
        .order_by(col(InvoiceOverride.at), col(InvoiceOverride.id))).all()]
    d["online_check_pending"] = st.online_check_pending
    return d


def postings(s: Session, invoice_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The 入账标识 of a page of invoices in one query (the list shows posted or not).

    ``accounting.ledger.posting_status`` answers for one invoice with its whole history;
    a list needs only the active mark of each row, so it reads the ledger's postings once.
    """
    found: dict[str, dict[str, Any]] = {}
    if invoice_ids:
        rows = s.exec(select(InvoicePosting).where(col(InvoicePosting.active_key).in_(invoice_ids))).all()
        for p in rows:
            found[p.invoice_id] = {"posted": True, "flag": p.flag, "voucher_id": p.voucher_id,
                                   "posted_at": p.at.isoformat(), "posted_by": p.by}
    empty = {"posted": False, "flag": None, "voucher_id": None, "posted_at": None, "posted_by": None}
    return {i: found.get(i, empty) for i in invoice_ids}


def invoice_row(record: InvoiceRecord, posting_mark: dict[str, Any],
                status: dict[str, Any] | None = None) -> dict[str, Any]:
    d = registry.record_to_dict(record)
    for heavy in ("items", "field_sources", "verification", "extra"):
        d.pop(heavy, None)
    d["signature_status"] = record.verification_status
    d["posting"] = posting_mark
    if status is not None:
        d["invoice_status"] = status
        d["override"] = status.get("override")
        d["online_check_pending"] = status.get("online_check_pending")
    return d


def invoice_rows(s: Session, records: list[InvoiceRecord]) -> list[dict[str, Any]]:
    marks = postings(s, [r.id for r in records])
    statuses = invoice_statuses(s, records)
    return [invoice_row(r, marks[r.id], statuses[r.id].to_dict()) for r in records]


@router.post("/invoices", summary="Upload one or many invoice files (multipart field 'files')",
             responses={200: {"description": '{"imported": [...], "duplicates": [...], "rejected": [...]}'},
                        413: {"description": "a file or the request is larger than the upload limit"}})
def upload(request: Request, user: Annotated[User, Depends(Requires("invoice.upload"))],
           files: Annotated[list[UploadFile], File(description="OFD, PDF or XML invoice files")],
           idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    items: list[tuple[str, bytes]] = []
    for f in files:
        items.append((f.filename or "upload", f.file.read()))
    fp = fingerprint([(name, hashlib.sha256(data).hexdigest()) for name, data in items])

    def op() -> tuple[int, Any]:
        result = ingest_files(items, user.username)
        return 200, result.to_dict()

    return run_reserved(user, idempotency_key, "POST", request.url.path, fp, op)


@router.get("/invoices", summary="List, search, filter, sort and page invoices")
def list_invoices(
    user: Reader, s: ReadSessionDep,
    q: Annotated[str | None, Query(max_length=200, description="search: seller, item, number fragment or "
                                   "amount (Chinese trigram search); words are ANDed")] = None,
    number: Annotated[str | None, Query(max_length=32, description="invoice number")] = None,
    key: Annotated[str | None, Query(max_length=64, description="duplicate key")] = None,
    seller_tax_id: Annotated[str | None, Query(max_length=32)] = None,
    date_from: Annotated[str | None, Query(max_length=40, description="issue date from (YYYY-MM-DD)")] = None,
    date_to: Annotated[str | None, Query(max_length=40, description="issue date to (YYYY-MM-DD)")] = None,
    status: Annotated[Literal["ok", "invalid", "duplicate"] | None, Query()] = None,
    posted: Annotated[bool | None, Query(description="入账 or not")] = None,
    mine: Annotated[bool, Query(description="only invoices I uploaded (我的发票)")] = False,
    claimable: Annotated[bool | None, Query(
        description="only invoices a claim of mine would accept (true), or would refuse (false); "
                    "without the claim_for_others permission, claimable=true lists my own uploads only")] = None,
    uploaded_by: Annotated[str | None, Query(max_length=64, description="uploader username")] = None,
    kind: Annotated[str | None, Query(max_length=32, description="e.g. digital_ordinary")] = None,
    verification_status: Annotated[str | None, Query(max_length=16, description="valid | invalid | unsigned | "
                                                     "indeterminate")] = None,
    sort: Annotated[str | None, Query(max_length=200, description="e.g. -issue_date,total; columns: "
                                      + ", ".join(registry.INVOICE_SORTING.columns))] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    if claimable is not None:
        check_page(page, page_size)
        return _list_for(user, s, mine=mine, claimable=claimable, page=page, page_size=page_size,
                         posted=posted, number=number, key=key, seller_tax_id=seller_tax_id,
                         date_from=date_from, date_to=date_to, status=status, q=q, kind=kind,
                         uploaded_by=uploaded_by, verification_status=verification_status)
    rows, total = registry.list_invoices(s, number=number, key=key, seller_tax_id=seller_tax_id,
                                         date_from=date_from, date_to=date_to, status=status,
                                         posted=posted, page=page, page_size=page_size, q=q, sort=sort,
                                         uploaded_by=user.username if mine else uploaded_by, kind=kind,
                                         verification_status=verification_status)
    return {"items": invoice_rows(s, rows), "total": total, "page": page, "page_size": page_size}


def _list_for(user: User, s: Session, *, mine: bool, claimable: bool, page: int, page_size: int,
              posted: bool | None, **filters: Any) -> dict[str, Any]:
    """"我的发票" and the claim form's list: the same rule as the claim gate
    (``accounting.invoice_status``), including who may claim whose invoices; the filters mean
    what they mean in every invoice list (``registry.invoice_conditions``)."""
    from accounting.ledger import posted_clause

    conds = registry.invoice_conditions(s, **filters)
    if posted is not None:
        conds.append(posted_clause(posted))
    own_only = mine or (claimable is True and not has_permission(user, Permission.CLAIM_FOR_OTHERS))
    rows, total = list_invoices_for(s, uploaded_by=user.username if own_only else None, claimable=claimable,
                                    conditions=conds, page=page, page_size=page_size)
    return {"items": invoice_rows(s, rows), "total": total, "page": page, "page_size": page_size}


@router.get("/invoices/by-key/{key}", summary="One invoice by its key (<code>:<number> or the 20-digit number)")
def get_by_key(_: Reader, s: ReadSessionDep, key: Annotated[str, Path(max_length=80)]) -> dict[str, Any]:
    return invoice_detail(s, registry.get_by_key(s, key))


@router.get("/invoices/{invoice_id}", summary="One invoice: fields, verification, 入账标识, history")
def get_invoice(_: Reader, s: ReadSessionDep, invoice_id: InvoiceId) -> dict[str, Any]:
    return invoice_detail(s, registry.get_invoice(s, invoice_id))


@router.post("/invoices/{invoice_id}/online-check",
             summary="Check the invoice online (查验); the status is stored on the invoice",
             responses={200: {"description": '{"invoice_id", "status", "message", "checked_at", "details", '
                                             '"online_check_status"}; status not_checked when no service '
                                             'is configured, rate_limited past the daily limit'}})
def online_check(user: Annotated[User, Depends(Requires("invoice.online_check"))], s: SessionDep,
                 invoice_id: InvoiceId) -> dict[str, Any]:
    result = run_online_check(s, invoice_id, username=user.username)
    record = registry.get_invoice(s, invoice_id)
    return {"invoice_id": invoice_id, **result.to_dict(), "online_check_status": record.online_check_status}


class OverrideIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000, description="why the invoice may pass without 查验 "
                                                                   "(at least 4 characters)")


@router.post("/invoices/{invoice_id}/override",
             summary="Let an unsigned or indeterminate invoice pass without a 查验 result (recorded, audited)",
             responses={200: {"description": "the invoice, with `override` and `invoice_status`"}})
def override(user: Annotated[User, Depends(Requires("invoice.override"))], s: SessionDep,
             invoice_id: InvoiceId, body: OverrideIn) -> dict[str, Any]:
    record_override(s, user, invoice_id, body.reason)
    return invoice_detail(s, registry.get_invoice(s, invoice_id))


@router.get("/invoices/{invoice_id}/original", summary="The original file, byte for byte",
            response_class=Response,
            responses={200: {"content": {"application/pdf": {}, "application/ofd": {}, "application/xml": {},
                                          "image/jpeg": {}, "image/png": {}}}})
def original(_: Reader, s: ReadSessionDep, invoice_id: InvoiceId,
             download: Annotated[bool, Query(description="force a download")] = False) -> Response:
    record = registry.get_invoice(s, invoice_id)
    data = get_blobstore().get(record.sha256, verify=True)
    ctype = content_type(record.source_format, data)
    ext = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}.get(ctype, record.source_format)
    fallback = f"{record.key or record.id}.{ext}".replace(":", "-")
    inline = ctype in ("application/pdf", "image/jpeg", "image/png") and not download
    return Response(data, media_type=ctype, headers={
        "Content-Disposition": content_disposition(record.original_filename, fallback, inline=inline),
        "Cache-Control": "private, max-age=3600",
        "ETag": f'"{record.sha256}"',
    })

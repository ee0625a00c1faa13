"""Invoices: upload, list, one invoice with its verification, posting flag and history, original.

Routes only translate HTTP to ``invoice.importer`` / ``invoice.registry`` calls; the duplicate
rule, verification and storage live there.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from accounting import public
from accounting.invoice_status import list_invoices_for
from accounting.overrides import record_override
from accounting.public import InvoiceDetail, InvoiceRow
from api.deps import ReadSessionDep, Requires, SessionDep
from api.downloads import content_disposition
from api.idempotency import IdempotencyKeyHeader, fingerprint, run_reserved
from core.blobstore import get_blobstore
from core.listing import check_page
from core.public import Page
from core.users import Permission, User, has_permission
from invoice import registry
from invoice.importer import ingest_files
from invoice.online_store import run_online_check
from invoice.public import ImportResultPublic, OnlineCheckResult
from invoice.registry import InvoiceRecord, RecordStatus, content_type
from invoice.verify.report import VerifyStatus

router = APIRouter(tags=["invoices"])

Reader = Annotated[User, Depends(Requires("invoice.read"))]
InvoiceId = Annotated[str, Path(max_length=64, description="the invoice id")]


def invoice_detail(s: Session, record: InvoiceRecord) -> dict[str, Any]:
    """One invoice as the API shows it (``accounting.public.InvoiceDetail``), for the page."""
    return public.invoice_detail(s, record).to_json()


def invoice_rows(s: Session, records: list[InvoiceRecord]) -> list[dict[str, Any]]:
    """A page of invoices as the list shows them (``accounting.public.InvoiceRow``), for the page."""
    return [r.to_json() for r in public.invoice_rows(s, records)]


@router.post("/invoices", summary="Upload one or many invoice files (multipart field 'files')",
             response_model=ImportResultPublic,
             responses={413: {"description": "a file or the request is larger than the upload limit"}})
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


@router.get("/invoices", response_model=Page[InvoiceRow], summary="List, search, filter, sort and page invoices")
def list_invoices(
    user: Reader, s: ReadSessionDep,
    q: Annotated[str | None, Query(max_length=200, description="search: seller, item, number fragment or "
                                   "amount (Chinese trigram search); words are ANDed")] = None,
    number: Annotated[str | None, Query(max_length=32, description="invoice number")] = None,
    key: Annotated[str | None, Query(max_length=64, description="duplicate key")] = None,
    seller_tax_id: Annotated[str | None, Query(max_length=32)] = None,
    date_from: Annotated[str | None, Query(max_length=40, description="issue date from (YYYY-MM-DD)")] = None,
    date_to: Annotated[str | None, Query(max_length=40, description="issue date to (YYYY-MM-DD)")] = None,
    status: Annotated[RecordStatus | None, Query()] = None,
    posted: Annotated[bool | None, Query(description="入账 or not")] = None,
    mine: Annotated[bool, Query(description="only invoices I uploaded (我的发票)")] = False,
    claimable: Annotated[bool | None, Query(
        description="only invoices a claim of mine would accept (true), or would refuse (false); "
                    "without the claim_for_others permission, claimable=true lists my own uploads only")] = None,
    uploaded_by: Annotated[str | None, Query(max_length=64, description="uploader username")] = None,
    kind: Annotated[str | None, Query(max_length=32, description="e.g. digital_ordinary")] = None,
    verification_status: Annotated[str | None, Query(max_length=16, description=" | ".join(VerifyStatus))] = None,
    sort: Annotated[str | None, Query(max_length=200, description="e.g. -issue_date,total; columns: "
                                      + ", ".join(registry.INVOICE_SORTING.columns))] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[InvoiceRow]:
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
    return Page[InvoiceRow](items=public.invoice_rows(s, rows), total=total, page=page, page_size=page_size)


def _list_for(user: User, s: Session, *, mine: bool, claimable: bool, page: int, page_size: int,
              posted: bool | None, **filters: Any) -> Page[InvoiceRow]:
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
    return Page[InvoiceRow](items=public.invoice_rows(s, rows), total=total, page=page, page_size=page_size)


@router.get("/invoices/by-key/{key}", response_model=InvoiceDetail,
            summary="One invoice by its key (<code>:<number> or the 20-digit number)")
def get_by_key(_: Reader, s: ReadSessionDep, key: Annotated[str, Path(max_length=80)]) -> InvoiceDetail:
    return public.invoice_detail(s, registry.get_by_key(s, key))


@router.get("/invoices/{invoice_id}", response_model=InvoiceDetail,
            summary="One invoice: fields, verification, 入账标识, history")
def get_invoice(_: Reader, s: ReadSessionDep, invoice_id: InvoiceId) -> InvoiceDetail:
    return public.invoice_detail(s, registry.get_invoice(s, invoice_id))


@router.post("/invoices/{invoice_id}/online-check",
             summary="Check the invoice online (查验); the status is stored on the invoice",
             response_model=OnlineCheckResult,
             description="status not_checked when no service is configured, rate_limited past the daily limit")
def online_check(user: Annotated[User, Depends(Requires("invoice.online_check"))], s: SessionDep,
                 invoice_id: InvoiceId) -> OnlineCheckResult:
    result = run_online_check(s, invoice_id, username=user.username)
    record = registry.get_invoice(s, invoice_id)
    return OnlineCheckResult.model_validate({"invoice_id": invoice_id, **result.to_dict(),
                                             "online_check_status": record.online_check_status})


class OverrideIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000, description="why the invoice may pass without 查验 "
                                                                   "(at least 4 characters)")


@router.post("/invoices/{invoice_id}/override",
             summary="Let an unsigned or indeterminate invoice pass without a 查验 result (recorded, audited)",
             response_model=InvoiceDetail, description="the invoice, with `override` and `invoice_status`")
def override(user: Annotated[User, Depends(Requires("invoice.override"))], s: SessionDep,
             invoice_id: InvoiceId, body: OverrideIn) -> InvoiceDetail:
    record_override(s, user, invoice_id, body.reason)
    return public.invoice_detail(s, registry.get_invoice(s, invoice_id))


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

"""Ledger vouchers (记账凭证): built from claims or pushed by an accounting system, edited and
deleted while drafts, reviewed (审核), posted (入账), reversed, exported to and imported from
Excel. Rules live in ``accounting.ledger``.

Permissions: editing and deleting a draft need ``voucher.create`` (whoever may make a voucher
may correct a draft); 审核 and 取消审核 need ``voucher.post`` (the posting side's sign-off); the
ledger itself refuses a reviewer who made or last edited the voucher.

Creating, editing, deleting, reviewing, posting, reversing and importing accept
``Idempotency-Key``: an ERP that retries after a timeout gets the first answer and no second
voucher.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session

from accounting import excel, ledger
from accounting.public import DeletedVoucher, NumberGapPublic, VoucherPublic
from api.deps import ReadSessionDep, Requires
from api.errors import ApiError
from api.idempotency import IdempotencyKeyHeader, fingerprint, run_in_transaction
from core.public import Items, Page
from core.users import User

router = APIRouter(tags=["vouchers"])

VoucherId = Annotated[str, Path(max_length=64)]
Period = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


class VoucherLineIn(BaseModel):
    account_code: str = Field(min_length=1, max_length=32)
    account_name: str | None = Field(default=None, max_length=100)
    debit: Decimal = Field(default=Decimal("0"), max_digits=18, decimal_places=2)
    credit: Decimal = Field(default=Decimal("0"), max_digits=18, decimal_places=2)
    summary: str | None = Field(default=None, max_length=200)
    aux: dict[str, Any] | None = None


class VoucherCreate(BaseModel):
    """Either ``claim_ids`` (built by the account mapping) or a voucher pushed line by line."""

    claim_ids: list[str] | None = Field(default=None, max_length=500)
    date: dt.date | None = None
    summary: str | None = Field(default=None, max_length=200)
    lines: list[VoucherLineIn] | None = Field(default=None, max_length=1000)
    invoice_keys: list[str] = Field(default_factory=list, max_length=1000)
    external_ref: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _one_form(self) -> VoucherCreate:
        if bool(self.claim_ids) == bool(self.lines):
            raise ValueError("send either claim_ids, or date, summary and lines — not both, not neither")
        if self.lines and self.date is None:
            raise ValueError("a voucher with lines needs its date")
        return self


class VoucherUpdate(BaseModel):
    """A draft's new date, summary and/or lines; what is left out stays as it is."""

    date: dt.date | None = None
    summary: str | None = Field(default=None, max_length=200)
    lines: list[VoucherLineIn] | None = Field(default=None, max_length=1000)


class PostIn(BaseModel):
    deductible: bool = Field(default=True, description="入账标识 02 (税前扣除) when true, 03 when false")


def _dict(s: Session, voucher: Any) -> dict[str, Any]:
    """The voucher's JSON, stored as the idempotent answer and sent as it is."""
    return VoucherPublic.from_voucher(s, voucher).to_json()


@router.post("/vouchers", status_code=201, response_model=VoucherPublic, summary="Create a voucher from approved claims or from lines")
def create(body: VoucherCreate, request: Request, user: Annotated[User, Depends(Requires("voucher.create"))],
           idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    def op(s: Session) -> tuple[int, Any]:
        if body.claim_ids:
            v = ledger.create_voucher_from_claims(s, user, body.claim_ids)
        else:
            assert body.date is not None and body.lines is not None
            v = ledger.create_voucher(s, user, body.date, body.summary or "",
                                      [line.model_dump() for line in body.lines],
                                      body.invoice_keys, body.external_ref)
        return 201, _dict(s, v)

    return run_in_transaction(user, idempotency_key, "POST", request.url.path,
                              fingerprint(body.model_dump(mode="json")), op)


@router.get("/vouchers", response_model=Page[VoucherPublic], summary="List vouchers: filter, sort, page")
def list_vouchers(
    _: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
    period: Period | None = None,
    state: Annotated[str | None, Query(max_length=16, description=" | ".join(ledger.VoucherState))] = None,
    date_from: Annotated[str | None, Query(max_length=40, description="voucher date from (YYYY-MM-DD)")] = None,
    date_to: Annotated[str | None, Query(max_length=40, description="voucher date to (YYYY-MM-DD)")] = None,
    q: Annotated[str | None, Query(max_length=200, description="number or summary fragment, or the total")] = None,
    created_by: Annotated[str | None, Query(max_length=64, description="maker (制单人) username")] = None,
    source: Annotated[str | None, Query(max_length=16, description=" | ".join(ledger.VoucherOrigin))] = None,
    claim_id: Annotated[str | None, Query(max_length=64, description="vouchers booking this claim")] = None,
    sort: Annotated[str | None, Query(max_length=200, description="e.g. -date,number; columns: "
                                      + ", ".join(ledger.VOUCHER_SORTING.columns))] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[VoucherPublic]:
    rows, total = ledger.list_vouchers(s, period=period, page=page, page_size=page_size, state=state,
                                       sort=sort, date_from=date_from, date_to=date_to, q=q,
                                       created_by=created_by, source=source, claim_id=claim_id)
    return Page[VoucherPublic](items=[VoucherPublic.from_voucher(s, v) for v in rows], total=total, page=page,
                               page_size=page_size)


@router.get("/vouchers/number-gaps", response_model=Items[NumberGapPublic], summary="Numbers freed by deleted or re-dated drafts, not yet reused")
def number_gaps(_: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
                period: Period | None = None) -> Items[NumberGapPublic]:
    gaps = ledger.number_gaps(s, period)
    return Items[NumberGapPublic](items=[NumberGapPublic.model_validate(g) for g in gaps], total=len(gaps))


@router.get("/vouchers/export.xlsx", summary="The period's journal as an Excel workbook",
            response_class=Response,
            responses={200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def export_xlsx(_: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
                period: Period) -> Response:
    data = excel.export_journal(s, period)
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="journal-{period}.xlsx"'})


@router.post("/vouchers/import", status_code=201, response_model=Items[VoucherPublic],
             summary="Import vouchers from .xlsx: all of them, or none and every error with row and column")
def import_xlsx(request: Request, user: Annotated[User, Depends(Requires("voucher.import"))],
                file: Annotated[UploadFile, File(description="an .xlsx workbook")],
                idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    data = file.file.read()
    if not data:
        raise ApiError(400, "empty_file", "the uploaded workbook is empty")

    def op(s: Session) -> tuple[int, Any]:
        vouchers = excel.import_vouchers(s, user, data, file.filename or "")
        return 201, {"items": [_dict(s, v) for v in vouchers], "total": len(vouchers)}

    return run_in_transaction(user, idempotency_key, "POST", request.url.path,
                              fingerprint(hashlib.sha256(data).hexdigest()), op)


@router.get("/vouchers/{voucher_id}", response_model=VoucherPublic,
            summary="One voucher with its lines, claims and invoices")
def get_voucher(_: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
                voucher_id: VoucherId) -> VoucherPublic:
    return VoucherPublic.from_voucher(s, ledger.get_voucher(s, voucher_id))


@router.patch("/vouchers/{voucher_id}", response_model=VoucherPublic, summary="Edit a draft voucher: date, summary, lines (still balanced)")
def update(body: VoucherUpdate, request: Request, user: Annotated[User, Depends(Requires("voucher.create"))],
           voucher_id: VoucherId, idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    fields = body.model_dump(exclude_unset=True)

    def op(s: Session) -> tuple[int, Any]:
        lines = [line.model_dump() for line in body.lines] if body.lines is not None else None
        v = ledger.update_voucher(s, user, voucher_id, date=fields.get("date"), summary=fields.get("summary"),
                                  lines=lines)
        return 200, _dict(s, v)

    return run_in_transaction(user, idempotency_key, "PATCH", request.url.path,
                              fingerprint(voucher_id, body.model_dump(mode="json", exclude_unset=True)), op)


@router.delete("/vouchers/{voucher_id}", response_model=DeletedVoucher,
               summary="Delete a draft voucher; its claims and invoices are released, its number reused")
def delete(request: Request, user: Annotated[User, Depends(Requires("voucher.create"))], voucher_id: VoucherId,
           idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    def op(s: Session) -> tuple[int, Any]:
        return 200, ledger.delete_voucher(s, user, voucher_id)

    return run_in_transaction(user, idempotency_key, "DELETE", request.url.path, fingerprint(voucher_id), op)


@router.post("/vouchers/{voucher_id}/review", response_model=VoucherPublic,
             summary="Review (审核) a draft voucher; by an accountant other than its maker")
def review(request: Request, user: Annotated[User, Depends(Requires("voucher.post"))], voucher_id: VoucherId,
           idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    def op(s: Session) -> tuple[int, Any]:
        return 200, _dict(s, ledger.review_voucher(s, user, voucher_id))

    return run_in_transaction(user, idempotency_key, "POST", request.url.path, fingerprint(voucher_id), op)


@router.post("/vouchers/{voucher_id}/unreview", response_model=VoucherPublic, summary="Take a review back (取消审核); the voucher is a draft again")
def unreview(request: Request, user: Annotated[User, Depends(Requires("voucher.post"))], voucher_id: VoucherId,
             idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    def op(s: Session) -> tuple[int, Any]:
        return 200, _dict(s, ledger.unreview_voucher(s, user, voucher_id))

    return run_in_transaction(user, idempotency_key, "POST", request.url.path, fingerprint(voucher_id), op)


@router.post("/vouchers/{voucher_id}/post", response_model=VoucherPublic, summary="Post (入账) a voucher; its invoices get the 入账标识")
def post(request: Request, user: Annotated[User, Depends(Requires("voucher.post"))], voucher_id: VoucherId,
         body: PostIn | None = None, idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    deductible = body.deductible if body else True

    def op(s: Session) -> tuple[int, Any]:
        return 200, _dict(s, ledger.post_voucher(s, user, voucher_id, deductible=deductible))

    return run_in_transaction(user, idempotency_key, "POST", request.url.path,
                              fingerprint(voucher_id, deductible), op)


@router.post("/vouchers/{voucher_id}/reverse", response_model=VoucherPublic, summary="Reverse a posted voucher (红字冲销); returns the reversing voucher")
def reverse(request: Request, user: Annotated[User, Depends(Requires("voucher.reverse"))],
            voucher_id: VoucherId, idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    def op(s: Session) -> tuple[int, Any]:
        return 201, _dict(s, ledger.reverse_voucher(s, user, voucher_id))

    return run_in_transaction(user, idempotency_key, "POST", request.url.path, fingerprint(voucher_id), op)

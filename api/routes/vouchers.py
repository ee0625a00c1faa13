"""Ledger vouchers (记账凭证): built from claims or pushed by an accounting system, posted
(入账), reversed, exported to and imported from Excel. Rules live in ``accounting.ledger``.

Creating, posting, reversing and importing accept ``Idempotency-Key``: an ERP that retries
after a timeout gets the first answer and no second voucher.
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
from api.deps import ReadSessionDep, Requires
from api.errors import ApiError
from api.idempotency import IdempotencyKeyHeader, fingerprint, run_in_transaction
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


class PostIn(BaseModel):
    deductible: bool = Field(default=True, description="入账标识 02 (税前扣除) when true, 03 when false")


def _dict(s: Session, voucher: Any) -> dict[str, Any]:
    return dict(ledger.voucher_to_dict(s, voucher))


@router.post("/vouchers", status_code=201, summary="Create a voucher from approved claims or from lines")
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


@router.get("/vouchers", summary="List vouchers, optionally of one period")
def list_vouchers(_: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
                  period: Period | None = None, page: Annotated[int, Query(ge=1)] = 1,
                  page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    rows, total = ledger.list_vouchers(s, period=period, page=page, page_size=page_size)
    return {"items": [_dict(s, v) for v in rows], "total": total, "page": page, "page_size": page_size}


@router.get("/vouchers/export.xlsx", summary="The period's journal as an Excel workbook",
            response_class=Response,
            responses={200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def export_xlsx(_: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
                period: Period) -> Response:
    data = excel.export_journal(s, period)
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="journal-{period}.xlsx"'})


@router.post("/vouchers/import", status_code=201,
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


@router.get("/vouchers/{voucher_id}", summary="One voucher with its lines, claims and invoices")
def get_voucher(_: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
                voucher_id: VoucherId) -> dict[str, Any]:
    return _dict(s, ledger.get_voucher(s, voucher_id))


@router.post("/vouchers/{voucher_id}/post", summary="Post (入账) a voucher; its invoices get the 入账标识")
def post(request: Request, user: Annotated[User, Depends(Requires("voucher.post"))], voucher_id: VoucherId,
         body: PostIn | None = None, idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    deductible = body.deductible if body else True

    def op(s: Session) -> tuple[int, Any]:
        return 200, _dict(s, ledger.post_voucher(s, user, voucher_id, deductible=deductible))

    return run_in_transaction(user, idempotency_key, "POST", request.url.path,
                              fingerprint(voucher_id, deductible), op)


@router.post("/vouchers/{voucher_id}/reverse", summary="Reverse a posted voucher (红字冲销); returns the reversing voucher")
def reverse(request: Request, user: Annotated[User, Depends(Requires("voucher.reverse"))],
            voucher_id: VoucherId, idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    def op(s: Session) -> tuple[int, Any]:
        return 201, _dict(s, ledger.reverse_voucher(s, user, voucher_id))

    return run_in_transaction(user, idempotency_key, "POST", request.url.path, fingerprint(voucher_id), op)

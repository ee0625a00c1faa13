"""Payments (付款回单): the bank e-receipts that pay a posted voucher (issue 13).

Suggestions by amount, payee and date window, each with Chinese reasons and a score; an
accountant confirms or rejects one; a confirmed receipt joins the voucher's archive package.
Rules live in ``accounting.payments``. Reading needs ``voucher.read``; deciding needs
``voucher.post`` (the accountant who posts). Writes accept ``Idempotency-Key``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from accounting import payments
from accounting.public import PaymentPublic, SuggestionPublic, VoucherPaymentsPublic
from api.deps import ReadSessionDep, Requires
from api.idempotency import IdempotencyKeyHeader, fingerprint, run_in_transaction
from core.public import Page
from core.users import User

router = APIRouter(tags=["payments"])

VoucherId = Annotated[str, Path(max_length=64)]
ReceiptId = Annotated[str, Path(max_length=64)]


class PaymentIn(BaseModel):
    receipt_id: str = Field(min_length=1, max_length=64, description="the bank receipt's invoice id")


@router.get("/vouchers/{voucher_id}/payment-suggestions", response_model=Page[SuggestionPublic],
            summary="Bank receipts that may pay this posted voucher, best first, with reasons")
def suggestions(_: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
                voucher_id: VoucherId) -> Page[SuggestionPublic]:
    items = [SuggestionPublic.from_suggestion(x) for x in payments.suggest_payments(s, voucher_id)]
    return Page[SuggestionPublic](items=items, total=len(items), page=1, page_size=len(items))


@router.get("/vouchers/{voucher_id}/payments", response_model=VoucherPaymentsPublic,
            summary="The receipts confirmed as paying this voucher, and fresh suggestions")
def list_payments(_: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
                  voucher_id: VoucherId) -> VoucherPaymentsPublic:
    return VoucherPaymentsPublic.for_voucher(s, voucher_id)


@router.post("/vouchers/{voucher_id}/payments", status_code=201, response_model=PaymentPublic,
             summary="Confirm that a bank receipt pays this posted voucher (audited)")
def confirm(body: PaymentIn, request: Request, user: Annotated[User, Depends(Requires("voucher.post"))],
            voucher_id: VoucherId, idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    def op(s: Session) -> tuple[int, Any]:
        row = payments.confirm_payment(s, user, voucher_id, body.receipt_id)
        return 201, PaymentPublic.from_row(s, row).to_json()

    return run_in_transaction(user, idempotency_key, "POST", request.url.path,
                              fingerprint(voucher_id, body.receipt_id), op)


@router.post("/vouchers/{voucher_id}/payment-suggestions/{receipt_id}/reject", response_model=PaymentPublic,
             summary="Reject a suggestion: this receipt does not pay this voucher (audited)")
def reject(request: Request, user: Annotated[User, Depends(Requires("voucher.post"))],
           voucher_id: VoucherId, receipt_id: ReceiptId,
           idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    def op(s: Session) -> tuple[int, Any]:
        row = payments.reject_suggestion(s, user, voucher_id, receipt_id)
        return 200, PaymentPublic.from_row(s, row).to_json()

    return run_in_transaction(user, idempotency_key, "POST", request.url.path,
                              fingerprint(voucher_id, receipt_id), op)


@router.delete("/vouchers/{voucher_id}/payments/{receipt_id}", response_model=PaymentPublic,
               summary="Take back a confirmed receipt (or a rejection) of this voucher (audited)")
def remove(request: Request, user: Annotated[User, Depends(Requires("voucher.post"))],
           voucher_id: VoucherId, receipt_id: ReceiptId,
           idempotency_key: IdempotencyKeyHeader = None) -> JSONResponse:
    def op(s: Session) -> tuple[int, Any]:
        row = payments.remove_payment(s, user, voucher_id, receipt_id)
        return 200, PaymentPublic.from_row(s, row).to_json()

    return run_in_transaction(user, idempotency_key, "DELETE", request.url.path,
                              fingerprint(voucher_id, receipt_id), op)

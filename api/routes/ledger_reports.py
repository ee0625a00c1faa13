"""The ledger's reports for outside systems: 入账标识 for the tax platform, 入账信息 as XBRL.

- ``GET /ledger/posting-flags?year=Y`` → ``{"year", "items": [...], "total"}``: every invoice
  issued or marked in the year with its current 入账标识 (01/02/03/06), as
  ``fapiao ledger posting-flags --json`` prints it.
- ``GET /ledger/posting-flags.xlsx?year=Y`` and ``.csv``: the same as a file for the platform.
- ``GET /invoices/{id}/entry-info.xml``: the invoice's 入账信息 (电子凭证会计数据标准, receiver
  side) as the XBRL instance the archive package carries; 404 ``not_posted`` when no posted
  voucher books it.

Read-only (``voucher.read``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlmodel import col, select

from accounting.entry_info import entry_info_for_voucher, posting_flags
from accounting.ledger import InvoicePosting, Voucher
from accounting.posting_export import export
from accounting.public import PostingFlagsPublic
from api.deps import ReadSessionDep, Requires
from api.errors import ApiError
from archive import xbrl
from core.users import User
from invoice import registry

router = APIRouter(tags=["ledger"])
Year = Annotated[int, Query(ge=1990, le=2999, description="the year (YYYY)")]
MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "csv": "text/csv; charset=utf-8"}


@router.get("/ledger/posting-flags", response_model=PostingFlagsPublic, summary="The year's 入账标识 (01/02/03/06) per invoice")
def posting_flags_json(_: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
                       year: Year) -> PostingFlagsPublic:
    return PostingFlagsPublic.from_rows(year, posting_flags(s, year))


def _file(s: ReadSessionDep, year: int, fmt: str) -> Response:
    data = export(posting_flags(s, year), fmt)
    return Response(data, media_type=MEDIA[fmt],
                    headers={"Content-Disposition": f'attachment; filename="posting-flags-{year}.{fmt}"'})


@router.get("/ledger/posting-flags.xlsx", summary="The year's 入账标识 as an Excel workbook",
            response_class=Response, responses={200: {"content": {MEDIA["xlsx"]: {}}}})
def posting_flags_xlsx(_: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
                       year: Year) -> Response:
    return _file(s, year, "xlsx")


@router.get("/ledger/posting-flags.csv", summary="The year's 入账标识 as CSV (UTF-8 with BOM)",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def posting_flags_csv(_: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
                      year: Year) -> Response:
    return _file(s, year, "csv")


@router.get("/invoices/{invoice_id}/entry-info.xml", summary="The invoice's 入账信息 as XBRL",
            response_class=Response, responses={200: {"content": {"application/xml": {}}}})
def entry_info(_: Annotated[User, Depends(Requires("voucher.read"))], s: ReadSessionDep,
               invoice_id: str) -> Response:
    record = registry.get_invoice(s, invoice_id)
    posting = s.exec(select(InvoicePosting).where(InvoicePosting.invoice_id == record.id,
                                                  col(InvoicePosting.active_key).is_not(None))).first()
    voucher = s.get(Voucher, posting.voucher_id) if posting is not None else None
    info = next((i for i in entry_info_for_voucher(s, voucher) if i.invoice_id == record.id),
                None) if voucher is not None else None
    if info is None:
        raise ApiError(404, "entry_info.not_posted", f"invoice {invoice_id} is not booked by a posted voucher",
                       {"invoice_id": invoice_id})
    return Response(xbrl.entry_info_xml(info), media_type="application/xml")

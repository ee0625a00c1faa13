"""The year's 入账标识 as a file for the tax platform's batch marking: .xlsx or .csv.

One row per invoice (``accounting.entry_info.posting_flags``): 发票代码, 发票号码, 开票日期, the
seller, 价税合计, 税额, the 入账标识 code (01/02/03/06) and its name, when it was marked (China
time) and the 记账凭证 that marked it. Red-reversed invoices are marked in the 备注 column: the
platform takes no mark for them. The last two columns (added after 备注, so earlier columns keep
their places) say whether that voucher has been paid — 已支付 / 部分支付 / 未支付 — and by which
bank e-receipts (``accounting.payments.payment_cover``). Codes and numbers are written as text (leading zeros kept);
CSV is UTF-8 with a BOM so that Excel and WPS open the Chinese correctly; a text that a
spreadsheet would read as a formula is written as text (``core.spreadsheet``).

The platform's own import template is not public here: the columns are this project's, named
in Chinese as the platform's screens name the facts (say so in the README).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from accounting.entry_info import PostingFlagRow
from core import messages
from core.clock import CHINA
from core.spreadsheet import needs_text_guard, safe_row

COLUMNS = ("invoice_code", "invoice_number", "issue_date", "seller_tax_id", "seller_name", "total", "tax",
           "flag", "flag_label", "marked_at", "voucher_number", "note", "paid_state", "bank_receipt_numbers")
FORMATS = ("xlsx", "csv")


def headers() -> list[str]:
    return [messages.label("entry_info_column", c) for c in COLUMNS]


def row_values(r: PostingFlagRow) -> list[Any]:
    """One row's cells (money as text with two decimals, times in China time)."""
    return [
        r.code or "", r.number or "", r.issue_date.isoformat() if r.issue_date else "",
        r.seller_tax_id or "", r.seller_name or "",
        f"{r.total:.2f}" if r.total is not None else "", f"{r.tax:.2f}" if r.tax is not None else "",
        r.flag, messages.label("tax_posting_flag", r.flag),
        r.marked_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S") if r.marked_at else "",
        r.voucher_number or "",
        messages.label("posting_flag_note", "red_reversed") if r.red_reversed else "",
        messages.label("paid_state", r.paid_state), "、".join(r.bank_receipt_numbers),
    ]


def to_dict(r: PostingFlagRow) -> dict[str, Any]:
    """The row for JSON (API and ``--json``): ``accounting.public.PostingFlagRowPublic``'s JSON."""
    from accounting.public import PostingFlagRowPublic

    return PostingFlagRowPublic.from_row(r).to_json()


def export(rows: Sequence[PostingFlagRow], fmt: str) -> bytes:
    """The rows as an .xlsx workbook or a .csv file (``fmt`` in FORMATS)."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(headers())
        for r in rows:
            w.writerow(["'" + v if needs_text_guard(v) else v for v in row_values(r)])
        return ("\ufeff" + buf.getvalue()).encode("utf-8")
    if fmt != "xlsx":
        raise ValueError(f"unknown export format {fmt!r}")
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "入账标识"
    ws.append(headers())
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append(safe_row(row_values(r)))
    for col, width in zip("ABCDEFGHIJKLMN", (14, 22, 12, 22, 30, 12, 10, 8, 26, 20, 18, 30, 10, 24), strict=True):
        ws.column_dimensions[col].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

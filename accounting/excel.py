"""Excel (openpyxl): a period's journal out, vouchers prepared in a spreadsheet in.

Columns (the export writes them and the import reads them, so an export imports back):

====  ========  ===========================================================
col   header    content
====  ========  ===========================================================
A     凭证号     voucher reference: rows with the same reference form one voucher
B     日期       YYYY-MM-DD (a date cell or text); the same on every row of a voucher
C     摘要       line summary; the voucher's summary is its first non-empty one
D     科目编码   account code, must be in the chart of accounts
E     科目名称   optional; if given, the account's name or full name
F     借方       debit (number or blank)
G     贷方       credit (number or blank); exactly one of F and G per row
H     部门       auxiliary item department (optional)
I     职员       auxiliary item employee (optional)
J     发票       invoice keys of the voucher, separated by ";" (optional, any row)
====  ========  ===========================================================

Export writes every text that Excel or WPS would take for a formula (``=1+1`` typed as a
department) as a text cell (``core.spreadsheet.safe_row``); money stays numbers.
Import reads an .xlsx only within limits (``IMPORT_LIMITS``: unpacked size, zip ratio, cell
size, rows, columns) checked before and while openpyxl reads it.
Import validates the whole sheet first and reports every problem with its row and column
("row 5, column F (借方): 'abc' is not a number"); if any row fails nothing is imported.
Each voucher's reference becomes its ``external_ref``, so importing the same sheet again
returns the vouchers already created instead of duplicating them.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from accounting.chart import load_chart
from accounting.claims import CENT
from accounting.errors import AccountingError, bad_input
from accounting.ledger import (
    Voucher,
    VoucherOrigin,
    _usable_invoice,
    check_period,
    create_voucher,
    voucher_invoices,
    voucher_lines,
)
from core.spreadsheet import SpreadsheetError, XlsxLimits, inspect_xlsx, safe_row
from core.users import User

COLUMNS = ["凭证号", "日期", "摘要", "科目编码", "科目名称", "借方", "贷方", "部门", "职员", "发票"]
REQUIRED = {"凭证号", "日期", "科目编码", "借方", "贷方"}
ALIASES = {"凭证引用": "凭证号", "voucher ref": "凭证号", "voucher": "凭证号", "date": "日期",
           "summary": "摘要", "account code": "科目编码", "account name": "科目名称", "debit": "借方",
           "credit": "贷方", "department": "部门", "employee": "职员", "invoice keys": "发票", "发票号": "发票"}
MAX_ROWS = 100_000
# A voucher sheet has ten columns; 256 leaves room for the user's own, and caps how wide
# openpyxl pads each row.
IMPORT_LIMITS = XlsxLimits(max_rows=MAX_ROWS + 1, max_columns=256)
_MONEY_FORMAT = "#,##0.00"


# --- export ---------------------------------------------------------------------------------------

def export_journal(session: Session, period: str) -> bytes:
    """The period's journal (序时账: one row per voucher line) and its voucher list, as xlsx."""
    check_period(period)
    vouchers = session.exec(select(Voucher).where(Voucher.period == period)
                            .order_by(col(Voucher.word), col(Voucher.seq))).all()
    wb = Workbook()
    journal = wb.active
    assert journal is not None
    journal.title = "序时账"
    journal.append([*COLUMNS, "状态"])
    listing = wb.create_sheet("凭证列表")
    listing.append(["凭证号", "日期", "摘要", "借方合计", "贷方合计", "附件数", "状态", "制单人", "记账人",
                    "记账时间", "入账标识", "冲销"])
    for v in vouchers:
        keys = "; ".join(i.key for i in voucher_invoices(session, v.id) if i.key)
        for n, line in enumerate(voucher_lines(session, v.id)):
            journal.append(safe_row([v.number, v.date, line.summary, line.account_code, line.account_name,
                                     line.debit if line.debit != 0 else None,
                                     line.credit if line.credit != 0 else None,
                                     line.aux.get("department"), line.aux.get("employee"),
                                     keys if n == 0 else None, v.state]))
        note = ""
        if v.reverses_id:
            original = session.get(Voucher, v.reverses_id)
            note = f"冲销 {original.number if original else v.reverses_id}"
        elif v.reversed_by_id:
            reversal = session.get(Voucher, v.reversed_by_id)
            note = f"已被 {reversal.number if reversal else v.reversed_by_id} 冲销"
        listing.append(safe_row([v.number, v.date, v.summary, v.total_debit, v.total_credit,
                                 len(voucher_invoices(session, v.id)), v.state, v.created_by, v.posted_by,
                                 v.posted_at.isoformat() if v.posted_at else None, v.posting_flag, note]))
    for sheet, money_cols in ((journal, ("F", "G")), (listing, ("D", "E"))):
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for letter in money_cols:
            for cell in sheet[letter][1:]:
                cell.number_format = _MONEY_FORMAT
        for cell in sheet["B"][1:]:
            cell.number_format = "yyyy-mm-dd"
        for i, width in enumerate((16, 12, 40, 12, 28, 14, 14, 12, 12, 30, 10, 16), start=1):
            sheet.column_dimensions[get_column_letter(i)].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- import ---------------------------------------------------------------------------------------

@dataclass
class _Draft:
    ref: str
    first_row: int
    date: date | None = None
    summary: str = ""
    lines: list[dict[str, Any]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    keys: list[tuple[int, str]] = field(default_factory=list)


class _Errors:
    def __init__(self, columns: dict[str, int]) -> None:
        self.items: list[dict[str, Any]] = []
        self.columns = columns

    def add(self, row: int, header: str, message: str) -> None:
        letter = get_column_letter(self.columns[header]) if header in self.columns else "?"
        self.items.append({"row": row, "column": letter, "header": header, "message": message,
                           "text": f"row {row}, column {letter} ({header}): {message}"})


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _money(value: Any) -> Decimal | None:
    """None for a blank cell; raises ValueError with the reason otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a number")
    if amount != amount.quantize(CENT):
        raise ValueError(f"{value} has more than two decimals")
    return amount.quantize(CENT)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        raise ValueError("the date is missing")
    try:
        return date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date YYYY-MM-DD") from None


def _read_sheet(data: bytes, file: str = "") -> tuple[dict[str, int], list[tuple[int, tuple[Any, ...]]]]:
    """Header columns and non-empty rows of the import sheet, read within ``IMPORT_LIMITS``.

    ``core.spreadsheet.inspect_xlsx`` checks the zip and streams every part first (sizes,
    ratio, cell size, rows, columns; errors name sheet, row and column); openpyxl then reads
    in read-only mode, bounded by the extent that check measured rather than by the file's
    own ``<dimension>``.
    """
    try:
        return _read_checked(data, file)
    except SpreadsheetError as exc:  # one error type out of accounting; the code stays stable
        raise bad_input("bad_workbook" if exc.code == "xlsx_not_workbook" else exc.code, exc.message,
                        exc.details) from None


def _read_checked(data: bytes, file: str) -> tuple[dict[str, int], list[tuple[int, tuple[Any, ...]]]]:
    shape = inspect_xlsx(data, file, IMPORT_LIMITS)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not xlsx
        raise SpreadsheetError("xlsx_not_workbook", file=file, reason=type(exc).__name__) from None
    try:
        ws = wb["凭证导入"] if "凭证导入" in wb.sheetnames else wb.worksheets[0]
        extent = shape.sheets.get(ws.title)
        if extent is None or extent.max_row == 0 or extent.max_column == 0:
            raise bad_input("empty_sheet", f"sheet {ws.title!r} is empty")
        header = next(ws.iter_rows(min_row=1, max_row=1, max_col=extent.max_column, values_only=True), None)
        if header is None:
            raise bad_input("empty_sheet", f"sheet {ws.title!r} is empty")
        columns: dict[str, int] = {}
        for i, name in enumerate(header, start=1):
            key = _text(name)
            key = ALIASES.get(key.lower(), key)
            if key in COLUMNS and key not in columns:
                columns[key] = i
        missing = [c for c in COLUMNS if c in REQUIRED and c not in columns]
        if missing:
            raise bad_input("bad_header", f"row 1: the sheet {ws.title!r} lacks column(s) {', '.join(missing)}; "
                                          f"expected headers {', '.join(COLUMNS)}",
                            {"errors": [{"row": 1, "column": None, "header": m, "message": "missing column"}
                                        for m in missing]})
        body: list[tuple[int, tuple[Any, ...]]] = []
        n = 1
        try:
            for n, row in enumerate(ws.iter_rows(min_row=2, max_row=max(extent.max_row, 2),
                                                 max_col=max(columns.values()), values_only=True), start=2):
                if n > MAX_ROWS + 1:
                    raise bad_input("too_many_rows", f"the sheet has more than {MAX_ROWS} rows; split it")
                if row and any(_text(v) for v in row):
                    body.append((n, row))
        except (ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:  # a cell openpyxl cannot convert
            raise SpreadsheetError("xlsx_bad_cell", file=file, sheet=ws.title, row=n + 1, column="?",
                                   reason=type(exc).__name__) from None
    finally:
        wb.close()
    if not body:
        raise bad_input("empty_sheet", f"sheet {ws.title!r} has a header but no voucher rows")
    return columns, body


def import_vouchers(session: Session, user: User, data: bytes, file: str = "") -> list[Voucher]:
    """Create the vouchers of a spreadsheet, all or none, in the caller's transaction."""
    columns, body = _read_sheet(data, file)
    chart = load_chart()
    errors = _Errors(columns)

    def cell(row: tuple[Any, ...], header: str) -> Any:
        i = columns.get(header)
        return row[i - 1] if i is not None and i - 1 < len(row) else None

    drafts: dict[str, _Draft] = {}
    for n, row in body:
        ref = _text(cell(row, "凭证号"))
        if not ref:
            errors.add(n, "凭证号", "the voucher reference is missing")
            continue
        if len(ref) > 128:
            errors.add(n, "凭证号", "the voucher reference is longer than 128 characters")
            continue
        draft = drafts.setdefault(ref, _Draft(ref=ref, first_row=n))
        draft.rows.append(n)
        try:
            on = _date(cell(row, "日期"))
            if draft.date is None:
                draft.date = on
            elif on != draft.date:
                errors.add(n, "日期", f"{on} differs from {draft.date} on row {draft.first_row} of voucher {ref}")
        except ValueError as exc:
            errors.add(n, "日期", str(exc))
        summary = _text(cell(row, "摘要"))
        if len(summary) > 200:
            errors.add(n, "摘要", "longer than 200 characters")
        draft.summary = draft.summary or summary
        code = _text(cell(row, "科目编码"))
        name = _text(cell(row, "科目名称"))
        if not code:
            errors.add(n, "科目编码", "the account code is missing")
        elif code not in chart:
            errors.add(n, "科目编码", f"account {code!r} is not in the chart of accounts")
        elif name and not chart.name_matches(code, name):
            account = chart.require(code)
            errors.add(n, "科目名称", f"{name!r} is not the name of account {code} ({account.full_name})")
        sides: dict[str, Decimal | None] = {}
        bad_money = False
        for header in ("借方", "贷方"):
            try:
                sides[header] = _money(cell(row, header))
            except ValueError as exc:
                errors.add(n, header, str(exc))
                sides[header], bad_money = None, True
        debit = sides["借方"] or None  # a 0 is as good as a blank
        credit = sides["贷方"] or None
        if not bad_money and debit is None and credit is None:
            errors.add(n, "借方", "neither a debit nor a credit")
        elif debit is not None and credit is not None:
            errors.add(n, "贷方", "both a debit and a credit on one row; use two rows")
        aux = {k: v for k, v in (("department", _text(cell(row, "部门"))), ("employee", _text(cell(row, "职员"))))
               if v}
        for k, v in aux.items():
            if len(v) > 100:
                errors.add(n, "部门" if k == "department" else "职员", "longer than 100 characters")
        draft.lines.append({"account_code": code, "account_name": name or None, "summary": summary,
                            "debit": debit, "credit": credit, "aux": aux})
        for key in re.split(r"[;,，；\s]+", _text(cell(row, "发票"))):
            if key:
                draft.keys.append((n, key))

    claimed: dict[str, str] = {}
    for draft in drafts.values():
        if len(draft.lines) < 2:
            errors.add(draft.first_row, "凭证号", f"voucher {draft.ref} has only one line; it needs at least two")
        debit = sum((line["debit"] or Decimal(0) for line in draft.lines), Decimal("0.00"))
        credit = sum((line["credit"] or Decimal(0) for line in draft.lines), Decimal("0.00"))
        if debit != credit:
            errors.add(draft.first_row, "借方", f"voucher {draft.ref}: debits {debit} do not equal credits "
                                               f"{credit} (rows {draft.rows[0]}-{draft.rows[-1]})")
        existing = session.exec(select(Voucher).where(Voucher.external_ref == draft.ref)).first()
        if existing is not None:
            continue  # already imported: returned as it is
        for n, key in draft.keys:
            if key in claimed and claimed[key] != draft.ref:
                errors.add(n, "发票", f"invoice {key} is also on voucher {claimed[key]} in this sheet")
                continue
            claimed[key] = draft.ref
            try:
                _usable_invoice(session, key)
            except AccountingError as exc:
                errors.add(n, "发票", exc.message)

    if errors.items:
        errors.items.sort(key=lambda e: (e["row"], e["column"]))
        shown = "\n".join(e["text"] for e in errors.items[:50])
        more = f"\n… and {len(errors.items) - 50} more" if len(errors.items) > 50 else ""
        raise bad_input("import_invalid",
                        f"{len(errors.items)} error(s) in the spreadsheet; nothing was imported:\n{shown}{more}",
                        {"errors": [{k: e[k] for k in ("row", "column", "header", "message")}
                                    for e in errors.items]})
    created: list[Voucher] = []
    for draft in drafts.values():
        assert draft.date is not None
        created.append(create_voucher(session, user, draft.date, draft.summary or f"导入凭证 {draft.ref}",
                                      draft.lines, [k for _, k in draft.keys], draft.ref, source=VoucherOrigin.IMPORT))
    return created

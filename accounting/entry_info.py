"""入账信息 and 入账标识: what the receiver of an e-voucher records about booking it.

电子凭证会计数据标准 (MOF, GB/T 44554 电子凭证入账要求) asks the organisation that *receives* an
e-voucher (a 数电票, a railway e-ticket, a bank e-receipt …) to keep, per voucher, structured
入账信息: whether it was checked (查验), whether it was booked (入账) and paid, and if booked the
记账凭证 number, posting date, accounting period and the debit/credit entries (general ledger
and subsidiary subject, amount). ``archive.xbrl`` writes that as an XBRL instance into the
archive package; this module gathers the facts from the ledger (pure reading, no writes).

The tax platform separately keeps an 入账标识 per 数电票, which the buyer reports: 01 未入账,
02 已入账（企业所得税税前扣除）, 03 已入账（企业所得税不扣除）, 06 入账撤销 — each with the time of the
mark. ``posting_flags`` lists, for one year, every invoice that was issued or marked in it
with its current mark, for the export (``fapiao ledger posting-flags``, the API's
``/ledger/posting-flags``). Red-reversed invoices (a 红字发票 exists) cannot be marked on the
platform; they are listed with that fact so the export does not send them. Each row also
says whether the voucher of its latest mark has been paid (a 06 row names the reversing
voucher, which owes nothing, so it reads 未支付) and by which bank e-receipts.

Which entries belong to which invoice: a voucher built from claims books all its invoices in
one set of lines (expense debits, input VAT, the payable). The entries recorded for each
invoice are the voucher's lines: the standard's sample instances show the voucher's entries,
not a per-invoice split, and this ledger keeps no per-invoice split to report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Session, col, or_, select

from accounting.chart import Chart, load_chart
from accounting.ledger import (
    FLAG_DEDUCTIBLE,
    FLAG_NOT_DEDUCTIBLE,
    FLAG_NOT_POSTED,
    FLAG_REVOKED,
    InvoicePosting,
    Voucher,
    VoucherInvoice,
    VoucherLine,
)
from accounting.payments import PaidState, payment_cover
from core.clock import CHINA
from core.settings import get_settings
from invoice.registry import InvoiceRecord

BOOKED_FLAGS = (FLAG_DEDUCTIBLE, FLAG_NOT_DEDUCTIBLE)
CHECKED_VERIFICATION = ("valid",)
CHECKED_ONLINE = ("success",)


@dataclass(frozen=True, slots=True)
class EntryLine:
    """One debit or credit entry as the standard names it."""

    side: str  # "debit" | "credit"
    general_ledger: str  # 总账科目名称 (first-level account)
    subsidiary: str | None  # 明细科目名称 (the rest of the account's full name)
    account_code: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """The receiver's 入账信息 for one e-voucher booked by one 记账凭证."""

    invoice_id: str
    invoice_key: str
    kind: str
    code: str | None
    number: str | None
    issue_date: date | None
    seller_name: str | None
    seller_tax_id: str | None
    amount: Decimal | None
    tax: Decimal | None
    total: Decimal | None
    checked: bool  # verified as genuine: a valid signature or a matching 查验
    booked: bool  # a standing 02/03 posting by this voucher
    posting_flag: str  # the invoice's 入账标识 by this voucher: 02 | 03 | 06
    voucher_number: str
    posting_date: date  # the voucher's date (记账日期)
    period: str  # YYYY-MM
    posted_at: datetime | None
    lines: tuple[EntryLine, ...]
    org_name: str
    org_tax_id: str
    # paid: confirmed bank e-receipts cover what the voucher owes (``accounting.payments``);
    # the receipts' numbers are written even when they cover only part of it
    paid: bool = False
    bank_receipt_numbers: tuple[str, ...] = ()


def _split_account(chart: Chart, code: str, name: str) -> tuple[str, str | None]:
    """(总账科目, 明细科目) of a line: the first-level account's name and the rest."""
    account = chart.get(code)
    full = account.full_name if account is not None else name
    parts = [p for p in full.replace("-", "—").split("—") if p]
    if not parts:
        return name, None
    top = chart.get(code[:4]) if len(code) > 4 else None
    general = top.name if top is not None else parts[0]
    rest = "—".join(parts[1:]) if len(parts) > 1 else None
    return general, rest


def entry_lines(session: Session, voucher_id: str, chart: Chart | None = None) -> tuple[EntryLine, ...]:
    """The voucher's lines as entries, in line order (red-figure amounts stay negative)."""
    chart = chart or load_chart()
    rows = session.exec(select(VoucherLine).where(VoucherLine.voucher_id == voucher_id)
                        .order_by(col(VoucherLine.line_no))).all()
    out: list[EntryLine] = []
    for line in rows:
        general, sub = _split_account(chart, line.account_code, line.account_name)
        side, amount = ("debit", line.debit) if line.debit != 0 else ("credit", line.credit)
        out.append(EntryLine(side, general, sub, line.account_code, Decimal(amount)))
    return tuple(out)


def is_checked(inv: InvoiceRecord) -> bool:
    """Checked as genuine: its signature verified, or the tax platform's 查验 matched."""
    return inv.verification_status in CHECKED_VERIFICATION or inv.online_check_status in CHECKED_ONLINE


def entry_info_for_voucher(session: Session, voucher: Voucher) -> list[EntryInfo]:
    """The 入账信息 of every invoice a posted voucher books (empty for a voucher not posted)."""
    if voucher.posted_at is None:
        return []
    invoices = session.exec(
        select(InvoiceRecord).join(VoucherInvoice, col(VoucherInvoice.invoice_id) == col(InvoiceRecord.id))
        .where(VoucherInvoice.voucher_id == voucher.id).order_by(col(InvoiceRecord.key))).all()
    postings = {p.invoice_id: p for p in session.exec(
        select(InvoicePosting).where(InvoicePosting.voucher_id == voucher.id)).all()}
    lines = entry_lines(session, voucher.id)
    cover = payment_cover(session, voucher)
    s = get_settings()
    out: list[EntryInfo] = []
    for inv in invoices:
        posting = postings.get(inv.id)
        flag = posting.flag if posting is not None else (voucher.posting_flag or FLAG_NOT_POSTED)
        booked = posting is not None and posting.flag in BOOKED_FLAGS and posting.released_at is None
        out.append(EntryInfo(
            invoice_id=inv.id, invoice_key=inv.key, kind=inv.kind, code=inv.code, number=inv.number,
            issue_date=inv.issue_date, seller_name=inv.seller_name, seller_tax_id=inv.seller_tax_id,
            amount=inv.amount, tax=inv.tax, total=inv.total, checked=is_checked(inv), booked=booked,
            posting_flag=flag, voucher_number=voucher.number, posting_date=voucher.date,
            period=voucher.period, posted_at=voucher.posted_at, lines=lines,
            org_name=s.org_name or "", org_tax_id=s.org_tax_id or "", paid=cover.paid,
            bank_receipt_numbers=cover.receipt_numbers))
    return out


# --- 入账标识 for the tax platform ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PostingFlagRow:
    """One invoice's current 入账标识 for the year's export."""

    invoice_id: str
    kind: str
    code: str | None
    number: str | None
    issue_date: date | None
    seller_name: str | None
    seller_tax_id: str | None
    total: Decimal | None
    tax: Decimal | None
    flag: str  # 01 | 02 | 03 | 06
    marked_at: datetime | None  # when the mark was made (China time when shown)
    voucher_number: str | None
    red_reversed: bool  # a 红字发票 reverses it: the platform accepts no mark
    # whether the voucher of the latest mark has been paid (``accounting.payments.payment_cover``)
    paid_state: PaidState = PaidState.UNPAID
    bank_receipt_numbers: tuple[str, ...] = ()


def posting_flags(session: Session, year: int) -> list[PostingFlagRow]:
    """Every usable invoice issued in ``year`` or marked in it, with its latest mark up to the
    end of that year (China time); invoices never posted carry 01 未入账."""
    start = datetime(year, 1, 1, tzinfo=CHINA)
    end = datetime(year + 1, 1, 1, tzinfo=CHINA)
    marked_ids = select(InvoicePosting.invoice_id).where(col(InvoicePosting.at) >= start,
                                                         col(InvoicePosting.at) < end)
    invoices = session.exec(
        select(InvoiceRecord).where(
            col(InvoiceRecord.status) == "ok",
            or_(col(InvoiceRecord.id).in_(marked_ids),
                (col(InvoiceRecord.issue_date) >= date(year, 1, 1)) & (col(InvoiceRecord.issue_date) < date(year + 1, 1, 1))),
        ).order_by(col(InvoiceRecord.issue_date), col(InvoiceRecord.key))).all()
    ids = [i.id for i in invoices]
    history: dict[str, list[InvoicePosting]] = {}
    if ids:
        for p in session.exec(select(InvoicePosting).where(col(InvoicePosting.invoice_id).in_(ids),
                                                          col(InvoicePosting.at) < end)
                              .order_by(col(InvoicePosting.at), col(InvoicePosting.flag))).all():
            history.setdefault(p.invoice_id, []).append(p)
    voucher_ids = {p.voucher_id for ps in history.values() for p in ps}
    numbers = dict(session.exec(select(Voucher.id, Voucher.number)
                                .where(col(Voucher.id).in_(voucher_ids))).all()) if voucher_ids else {}
    red_keys = set(session.exec(select(InvoiceRecord.red_reverses_key).where(
        col(InvoiceRecord.red_reverses_key).in_([i.key for i in invoices]))).all()) if invoices else set()
    covers = {v.id: payment_cover(session, v) for v in session.exec(
        select(Voucher).where(col(Voucher.id).in_(voucher_ids))).all()} if voucher_ids else {}
    rows: list[PostingFlagRow] = []
    for inv in invoices:
        marks = history.get(inv.id, [])
        last = marks[-1] if marks else None
        cover = covers.get(last.voucher_id) if last else None
        rows.append(PostingFlagRow(
            invoice_id=inv.id, kind=inv.kind, code=inv.code, number=inv.number, issue_date=inv.issue_date,
            seller_name=inv.seller_name, seller_tax_id=inv.seller_tax_id, total=inv.total, tax=inv.tax,
            flag=last.flag if last else FLAG_NOT_POSTED, marked_at=last.at if last else None,
            voucher_number=numbers.get(last.voucher_id) if last else None,
            red_reversed=inv.key in red_keys,
            paid_state=cover.state if cover else PaidState.UNPAID,
            bank_receipt_numbers=cover.receipt_numbers if cover else ()))
    return rows


FLAG_CODES = (FLAG_NOT_POSTED, FLAG_DEDUCTIBLE, FLAG_NOT_DEDUCTIBLE, FLAG_REVOKED)

"""Ledger vouchers (记账凭证), posting (入账) and reversal (红字冲销).

Numbering: ``<word>-<YYYY-MM>-<seq:04d>`` (e.g. ``记-2025-11-0007``), gap-free per period and
word. The next number comes from ``voucher_counters`` under ``core.db.advisory_lock`` in the
voucher's own transaction, so a rolled-back voucher gives its number back; the UNIQUE
(period, word, seq) constraint is the backstop. Vouchers are never deleted.

Balance: every voucher has at least two lines, each with a debit or a credit (never both,
never neither), and total debits equal total credits, in ``Decimal``. Normal vouchers carry
positive amounts; reversing vouchers carry the same lines in red figures (negative amounts on
the same side, the Chinese 红字冲销 practice), which keeps account turnover truthful.

Posting (``post_voucher``) is one transaction: the voucher's state goes ``draft`` → ``posted``
by a conditional update, and every linked invoice gets a row in ``invoice_postings`` with the
入账标识 (``02`` 已入账（企业所得税税前扣除） or ``03`` 已入账（企业所得税不扣除）), the time and
the user. ``invoice_postings.active_key`` equals the invoice id while the posting stands and is
UNIQUE, so of two concurrent postings sharing an invoice exactly one commits, on SQLite and
PostgreSQL. A posted voucher is immutable; it is corrected only by ``reverse_voucher``, which
creates and posts the red-figure voucher, releases the original's invoice postings (the row
keeps its history; a ``06`` 入账撤销 row is added) and frees the claims to be booked again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Numeric,
    UniqueConstraint,
    bindparam,
    event,
    func,
    inspect,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Field, Session, SQLModel, col, select

from accounting.chart import Chart, load_chart
from accounting.claims import (
    CENT,
    Claim,
    ClaimInvoiceLock,
    ClaimState,
    claim_lines,
    parse_money,
)
from accounting.errors import bad_input, conflict, not_found, refused
from accounting.mapping import INPUT_VAT_ACCOUNT, PAYABLE_ACCOUNT, SPECIAL_KINDS, load_mapping
from core import audit
from core.clock import today_china
from core.db import AwareDateTime, advisory_lock, new_id, utcnow
from core.users import User
from invoice import registry
from invoice.registry import InvoiceRecord

WORDS = ("记", "收", "付", "转")
FLAG_DEDUCTIBLE = "02"  # 已入账（企业所得税税前扣除）
FLAG_NOT_DEDUCTIBLE = "03"  # 已入账（企业所得税不扣除）
FLAG_REVOKED = "06"  # 入账撤销
FLAG_NOT_POSTED = "01"  # 未入账
ZERO = Decimal("0.00")


class VoucherState:
    DRAFT = "draft"
    POSTED = "posted"


class Voucher(SQLModel, table=True):
    __tablename__ = "vouchers"
    __table_args__ = (UniqueConstraint("period", "word", "seq"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    number: str = Field(unique=True, max_length=32)  # 记-2025-11-0007
    word: str = Field(default="记", max_length=4)  # 凭证字
    period: str = Field(index=True, max_length=7)  # YYYY-MM
    seq: int
    date: date
    summary: str = Field(max_length=200)
    state: str = Field(default=VoucherState.DRAFT, index=True, max_length=16)
    source: str = Field(max_length=16)  # claims | external | import | reversal
    external_ref: str | None = Field(default=None, unique=True, max_length=128)
    reverses_id: str | None = Field(default=None, unique=True, foreign_key="vouchers.id", max_length=32)
    reversed_by_id: str | None = Field(default=None, max_length=32)
    total_debit: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))
    total_credit: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))
    created_by: str = Field(max_length=64)  # 制单人
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    posted_by: str | None = Field(default=None, max_length=64)  # 记账人
    posted_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    posting_flag: str | None = Field(default=None, max_length=2)


class VoucherLine(SQLModel, table=True):
    __tablename__ = "voucher_lines"
    __table_args__ = (UniqueConstraint("voucher_id", "line_no"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    voucher_id: str = Field(foreign_key="vouchers.id", index=True, max_length=32)
    line_no: int
    summary: str = Field(max_length=200)
    account_code: str = Field(max_length=20)
    account_name: str = Field(max_length=200)
    debit: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))
    credit: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))
    aux: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class VoucherInvoice(SQLModel, table=True):
    __tablename__ = "voucher_invoices"

    voucher_id: str = Field(foreign_key="vouchers.id", primary_key=True, max_length=32)
    invoice_id: str = Field(foreign_key="invoices.id", primary_key=True, index=True, max_length=32)


class VoucherClaim(SQLModel, table=True):
    __tablename__ = "voucher_claims"

    voucher_id: str = Field(foreign_key="vouchers.id", primary_key=True, max_length=32)
    claim_id: str = Field(foreign_key="claims.id", primary_key=True, index=True, max_length=32)


class VoucherCounter(SQLModel, table=True):
    __tablename__ = "voucher_counters"

    period: str = Field(primary_key=True, max_length=7)
    word: str = Field(primary_key=True, max_length=4)
    last_seq: int = 0


class InvoicePosting(SQLModel, table=True):
    """The 入账标识 history of an invoice; ``active_key`` (UNIQUE) makes double posting impossible."""

    __tablename__ = "invoice_postings"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    invoice_id: str = Field(foreign_key="invoices.id", index=True, max_length=32)
    voucher_id: str = Field(foreign_key="vouchers.id", index=True, max_length=32)
    flag: str = Field(max_length=2)  # 02 | 03 | 06
    at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    by: str = Field(max_length=64)
    active_key: str | None = Field(default=None, unique=True, max_length=32)
    released_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    released_by: str | None = Field(default=None, max_length=64)
    released_by_voucher_id: str | None = Field(default=None, max_length=32)


# --- validation ---------------------------------------------------------------------------------

def _parse_date(value: Any, where: str = "date") -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise bad_input("bad_date", f"{where}: {value!r} is not a date YYYY-MM-DD") from None


def _clean_aux(raw: Any, where: str) -> dict[str, str]:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise bad_input("bad_aux", f"{where}: aux must be an object such as {{\"department\": \"财务部\"}}")
    aux: dict[str, str] = {}
    for k, v in raw.items():
        if v in (None, ""):
            continue
        if not isinstance(v, str | int) or len(str(v)) > 100 or len(str(k)) > 32:
            raise bad_input("bad_aux", f"{where}: aux item {k!r} must be a short text")
        aux[str(k)] = str(v)
    return aux


def validate_lines(raw_lines: Sequence[Any], chart: Chart, *, allow_negative: bool,
                   default_summary: str) -> list[VoucherLine]:
    """Turn line dicts into balanced ``VoucherLine`` rows, or raise naming the line and field."""
    if not isinstance(raw_lines, list | tuple) or len(raw_lines) < 2:
        raise bad_input("too_few_lines", "a voucher needs at least two lines (a debit and a credit)")
    lines: list[VoucherLine] = []
    for n, raw in enumerate(raw_lines, start=1):
        where = f"line {n}"
        if not isinstance(raw, dict):
            raise bad_input("bad_line", f"{where}: must be an object")
        code = str(raw.get("account_code") or "").strip()
        if not code:
            raise bad_input("bad_line", f"{where}: account_code is missing")
        account = chart.require(code, where)
        name = str(raw.get("account_name") or "").strip() or account.full_name
        debit = _side(raw.get("debit"), f"{where} debit", allow_negative)
        credit = _side(raw.get("credit"), f"{where} credit", allow_negative)
        if debit != 0 and credit != 0:
            raise bad_input("debit_and_credit", f"{where}: has both a debit and a credit; use two lines")
        if debit == 0 and credit == 0:
            raise bad_input("empty_line", f"{where}: has neither a debit nor a credit")
        summary = str(raw.get("summary") or "").strip() or default_summary
        lines.append(VoucherLine(voucher_id="", line_no=n, summary=summary[:200], account_code=code,
                                 account_name=name[:200], debit=debit, credit=credit,
                                 aux=_clean_aux(raw.get("aux"), where)))
    check_balance(lines)
    return lines


def _side(value: Any, where: str, allow_negative: bool) -> Decimal:
    if value in (None, ""):
        return ZERO
    return parse_money(value, where, allow_negative=allow_negative, allow_zero=True)


def check_balance(lines: Iterable[VoucherLine]) -> tuple[Decimal, Decimal]:
    debit = sum((line.debit for line in lines), ZERO)
    credit = sum((line.credit for line in lines), ZERO)
    if debit != credit:
        raise bad_input("unbalanced", f"debits {debit} do not equal credits {credit} (difference {debit - credit})",
                        {"debit": str(debit), "credit": str(credit)})
    return debit, credit


# --- numbering and creation -----------------------------------------------------------------------

def _next_number(session: Session, period: str, word: str) -> tuple[int, str]:
    advisory_lock(session, f"voucher_number:{word}:{period}")
    counter = session.exec(select(VoucherCounter).where(VoucherCounter.period == period,
                                                        VoucherCounter.word == word).with_for_update()).first()
    if counter is None:
        counter = VoucherCounter(period=period, word=word, last_seq=1)
    else:
        counter.last_seq += 1
    session.add(counter)
    session.flush()
    return counter.last_seq, f"{word}-{period}-{counter.last_seq:04d}"


def _store_voucher(session: Session, user: User, on: date, summary: str, lines: list[VoucherLine],
                   invoice_ids: Iterable[str], source: str, *, word: str = "记",
                   external_ref: str | None = None, reverses_id: str | None = None) -> Voucher:
    debit, credit = check_balance(lines)
    period = f"{on.year:04d}-{on.month:02d}"
    seq, number = _next_number(session, period, word)
    voucher = Voucher(number=number, word=word, period=period, seq=seq, date=on, summary=summary[:200],
                      state=VoucherState.DRAFT, source=source, external_ref=external_ref,
                      reverses_id=reverses_id, total_debit=debit, total_credit=credit,
                      created_by=user.username)
    session.add(voucher)
    session.flush()
    for line in lines:
        line.voucher_id = voucher.id
    session.add_all(lines)
    for invoice_id in dict.fromkeys(invoice_ids):
        session.add(VoucherInvoice(voucher_id=voucher.id, invoice_id=invoice_id))
    try:
        session.flush()
    except IntegrityError:
        raise conflict("voucher_conflict", f"voucher {number} could not be stored (a concurrent change); "
                                           "try again") from None
    return voucher


def create_voucher(session: Session, user: User, date: Any, summary: str, lines: Sequence[Any],
                   invoice_keys: Sequence[str] = (), external_ref: str | None = None, *,
                   word: str = "记", source: str = "external") -> Voucher:
    """A voucher pushed by an accounting system with its own lines; idempotent on ``external_ref``."""
    if external_ref is not None:
        external_ref = str(external_ref).strip() or None
        if external_ref and len(external_ref) > 128:
            raise bad_input("bad_external_ref", "external_ref must be at most 128 characters")
    if external_ref:
        advisory_lock(session, f"voucher_ext:{external_ref}")
        existing = session.exec(select(Voucher).where(Voucher.external_ref == external_ref)).first()
        if existing is not None:
            return existing
    if word not in WORDS:
        raise bad_input("bad_word", f"voucher word {word!r} must be one of {', '.join(WORDS)}")
    on = _parse_date(date)
    summary = (summary or "").strip()
    if not summary or len(summary) > 200:
        raise bad_input("bad_summary", "a voucher needs a summary (摘要) of 1 to 200 characters")
    rows = validate_lines(list(lines), load_chart(), allow_negative=True, default_summary=summary)
    invoice_ids = [_usable_invoice(session, key).id for key in _clean_keys(invoice_keys)]
    voucher = _store_voucher(session, user, on, summary, rows, invoice_ids, source, word=word,
                             external_ref=external_ref)
    audit.append(session, user.username, "voucher.create", "voucher", voucher.id,
                 {"number": voucher.number, "source": source, "external_ref": external_ref,
                  "total": str(voucher.total_debit), "invoices": invoice_ids})
    return voucher


def _clean_keys(keys: Sequence[str] | str | None) -> list[str]:
    if keys is None:
        return []
    if isinstance(keys, str):
        keys = [keys]
    out = [str(k).strip() for k in keys if str(k).strip()]
    return list(dict.fromkeys(out))


def _usable_invoice(session: Session, key: str) -> InvoiceRecord:
    """The canonical registered invoice for a key, refused if not usable for booking."""
    inv = session.exec(select(InvoiceRecord).where(InvoiceRecord.unique_key == key)).first()
    if inv is None:
        any_rec = session.exec(select(InvoiceRecord).where(InvoiceRecord.key == key)).first()
        if any_rec is None:
            raise not_found("invoice_not_found", f"invoice key {key!r} is not registered; import the invoice first",
                            {"invoice_key": key})
        inv = any_rec
    if inv.status != "ok":
        raise refused("invoice_not_usable", f"invoice {key} (id {inv.id}) has status {inv.status!r}; "
                                            "only invoices with status 'ok' may be booked",
                      {"invoice_key": key, "status": inv.status})
    active = _active_posting(session, inv.id)
    if active is not None:
        raise refused("invoice_already_posted", f"invoice {key} is already posted on voucher "
                                                f"{_voucher_number(session, active.voucher_id)}",
                      {"invoice_key": key, "voucher_id": active.voucher_id})
    return inv


def _voucher_number(session: Session, voucher_id: str) -> str:
    v = session.get(Voucher, voucher_id)
    return v.number if v else voucher_id


def _active_posting(session: Session, invoice_id: str) -> InvoicePosting | None:
    return session.exec(select(InvoicePosting).where(InvoicePosting.active_key == invoice_id)).first()


def _q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def create_voucher_from_claims(session: Session, user: User, claim_ids: Sequence[str],
                               date: Any = None) -> Voucher:
    """One voucher booking approved claims through the category → account mapping.

    Per claim: a debit per expense account (amount net of deductible input VAT), a debit of
    22210101 进项税额 for the deductible tax of special invoices, and a credit of 2241 其他应付款
    with the claimant as the auxiliary ``employee``.
    """
    ids = list(dict.fromkeys(str(c).strip() for c in claim_ids if str(c).strip()))
    if not ids:
        raise bad_input("no_claims", "give at least one approved claim")
    on = _parse_date(date) if date not in (None, "") else today_china()
    chart = load_chart()
    mapping = load_mapping(chart=chart)
    claims: list[Claim] = []
    raw_lines: list[dict[str, Any]] = []
    invoice_ids: list[str] = []
    for claim_id in ids:
        claim = session.exec(select(Claim).where(Claim.id == claim_id).with_for_update()).first()
        if claim is None:
            raise not_found("claim_not_found", f"no claim with id {claim_id!r}", {"claim_id": claim_id})
        if claim.state != ClaimState.APPROVED:
            raise refused("claim_not_approved", f"claim {claim.id} is {claim.state}; only approved claims are "
                                                "booked", {"claim_id": claim.id, "state": claim.state})
        if claim.voucher_id is not None:
            raise refused("claim_already_booked", f"claim {claim.id} is already booked on voucher "
                                                  f"{_voucher_number(session, claim.voucher_id)}",
                          {"claim_id": claim.id, "voucher_id": claim.voucher_id})
        claims.append(claim)
        aux = {"employee": claim.claimant}
        if claim.department:
            aux["department"] = claim.department
        expense: dict[str, Decimal] = {}
        categories: dict[str, str] = {}
        tax_total = ZERO
        for line in claim_lines(session, claim.id):
            inv = session.get(InvoiceRecord, line.invoice_id)
            assert inv is not None  # FK
            invoice_ids.append(inv.id)
            rule = mapping.rule(line.category)
            tax_part = ZERO
            if (inv.kind in SPECIAL_KINDS and rule.input_vat_deductible and inv.tax and inv.tax > 0
                    and inv.total and inv.total > 0):
                tax_part = inv.tax if line.amount == inv.total else _q(inv.tax * line.amount / inv.total)
            expense[rule.debit_account] = expense.get(rule.debit_account, ZERO) + line.amount - tax_part
            categories.setdefault(rule.debit_account, line.category)
            tax_total += tax_part
        who = f"{claim.claimant} 报销"
        for code, amount in expense.items():
            if amount != 0:
                raw_lines.append({"account_code": code, "debit": amount, "aux": aux,
                                  "summary": f"{who}{categories[code]}: {claim.title}"})
        if tax_total:
            raw_lines.append({"account_code": INPUT_VAT_ACCOUNT, "debit": tax_total, "aux": aux,
                              "summary": f"{who} 进项税额: {claim.title}"})
        raw_lines.append({"account_code": PAYABLE_ACCOUNT, "credit": claim.total, "aux": aux,
                          "summary": f"应付 {claim.claimant} 报销款: {claim.title}"})
    summary = (f"报销 {claims[0].claimant}: {claims[0].title}" if len(claims) == 1
               else f"报销 {len(claims)} 张报销单: " + "; ".join(c.title for c in claims))
    rows = validate_lines(raw_lines, chart, allow_negative=False, default_summary=summary)
    for inv_id in invoice_ids:
        active = _active_posting(session, inv_id)
        if active is not None:
            raise refused("invoice_already_posted", f"invoice {inv_id} is already posted on voucher "
                                                    f"{_voucher_number(session, active.voucher_id)}",
                          {"invoice_id": inv_id})
    voucher = _store_voucher(session, user, on, summary, rows, invoice_ids, "claims")
    for claim in claims:
        claim.voucher_id = voucher.id
        session.add(claim)
        session.add(VoucherClaim(voucher_id=voucher.id, claim_id=claim.id))
    session.flush()
    audit.append(session, user.username, "voucher.create", "voucher", voucher.id,
                 {"number": voucher.number, "source": "claims", "claims": ids,
                  "total": str(voucher.total_debit), "invoices": invoice_ids})
    return voucher


# --- posting and reversal -------------------------------------------------------------------------

def get_voucher(session: Session, voucher_id: str) -> Voucher:
    v = session.get(Voucher, voucher_id)
    if v is None:
        v = session.exec(select(Voucher).where(Voucher.number == voucher_id)).first()
    if v is None:
        raise not_found("voucher_not_found", f"no voucher with id or number {voucher_id!r}",
                        {"voucher_id": voucher_id})
    return v


def voucher_lines(session: Session, voucher_id: str) -> list[VoucherLine]:
    return list(session.exec(select(VoucherLine).where(VoucherLine.voucher_id == voucher_id)
                             .order_by(col(VoucherLine.line_no))).all())


def voucher_invoices(session: Session, voucher_id: str) -> list[InvoiceRecord]:
    stmt = (select(InvoiceRecord).join(VoucherInvoice, col(VoucherInvoice.invoice_id) == col(InvoiceRecord.id))
            .where(VoucherInvoice.voucher_id == voucher_id).order_by(col(InvoiceRecord.key)))
    return list(session.exec(stmt).all())


def voucher_claims(session: Session, voucher_id: str) -> list[Claim]:
    stmt = (select(Claim).join(VoucherClaim, col(VoucherClaim.claim_id) == col(Claim.id))
            .where(VoucherClaim.voucher_id == voucher_id).order_by(col(Claim.created_at)))
    return list(session.exec(stmt).all())


def post_voucher(session: Session, user: User, voucher_id: str, deductible: bool = True) -> Voucher:
    """入账: the voucher becomes immutable and each of its invoices is marked 02 (or 03)."""
    voucher = get_voucher(session, voucher_id)
    if voucher.state != VoucherState.DRAFT:
        raise refused("already_posted", f"voucher {voucher.number} is already posted "
                                         f"(by {voucher.posted_by} at {voucher.posted_at})",
                      {"voucher_id": voucher.id})
    now = utcnow()
    flag = FLAG_DEDUCTIBLE if deductible else FLAG_NOT_DEDUCTIBLE
    result = session.execute(
        update(Voucher).where(col(Voucher.id) == voucher.id, col(Voucher.state) == VoucherState.DRAFT)
        .values(state=VoucherState.POSTED, posted_by=user.username, posted_at=now, posting_flag=flag)
        .execution_options(synchronize_session=False)
    )
    number, vid = voucher.number, voucher.id  # a failed flush expires the object: keep them at hand
    if getattr(result, "rowcount", 1) != 1:
        raise refused("already_posted", f"voucher {number} was posted by someone else just now",
                      {"voucher_id": voucher.id})
    for key, value in (("state", VoucherState.POSTED), ("posted_by", user.username), ("posted_at", now),
                       ("posting_flag", flag)):
        set_committed_value(voucher, key, value)  # what the UPDATE wrote; no reload
    rows = session.execute(_posting_facts(), {"vid": voucher.id}).all()
    for inv, posted_on, red_no in rows:
        _check_postable(inv, voucher, posted_on, red_no)
        session.add(InvoicePosting(invoice_id=inv.id, voucher_id=voucher.id, flag=flag, at=now,
                                   by=user.username, active_key=inv.id))
    try:
        session.flush()
    except IntegrityError:
        raise refused("invoice_already_posted",
                      f"voucher {number} not posted: one of its invoices was posted on another "
                      "voucher at the same moment", {"voucher_id": vid}) from None
    audit.append(session, user.username, "voucher.post", "voucher", voucher.id,
                 {"number": voucher.number, "flag": flag, "invoices": [row[0].id for row in rows]})
    return voucher


@cache
def _posting_facts() -> Any:
    """One query for every fact posting checks: each invoice of the voucher, the number of the
    voucher holding its standing posting (if any), and the number of a red-letter invoice
    reversing it (if any). Built once so the compiled statement is reused."""
    red = aliased(InvoiceRecord)
    active_voucher = (select(Voucher.number).join(InvoicePosting, col(InvoicePosting.voucher_id) == col(Voucher.id))
                      .where(col(InvoicePosting.active_key) == col(InvoiceRecord.id)).limit(1).scalar_subquery())
    red_number = (select(red.number).where(col(red.red_reverses_key) == col(InvoiceRecord.key))
                  .limit(1).scalar_subquery())
    return (select(InvoiceRecord, active_voucher, red_number)
            .join(VoucherInvoice, col(VoucherInvoice.invoice_id) == col(InvoiceRecord.id))
            .where(col(VoucherInvoice.voucher_id) == bindparam("vid")))


def _check_postable(inv: InvoiceRecord, voucher: Voucher, posted_on: str | None, red_number: str | None) -> None:
    label = f"invoice {inv.key} (id {inv.id})"
    if inv.status != "ok":
        raise refused("invoice_not_usable", f"voucher {voucher.number} not posted: {label} has status "
                                            f"{inv.status!r}", {"invoice_id": inv.id})
    if posted_on is not None:
        raise refused("invoice_already_posted",
                      f"voucher {voucher.number} not posted: {label} is already posted on voucher {posted_on}",
                      {"invoice_id": inv.id, "voucher_number": posted_on})
    if red_number is not None and inv.key:
        raise refused("invoice_red_reversed", f"voucher {voucher.number} not posted: {label} was reversed by "
                                              f"red-letter invoice {red_number} (红冲) and cannot be marked",
                      {"invoice_id": inv.id, "red_invoice_number": red_number})


def reverse_voucher(session: Session, user: User, voucher_id: str, date: Any = None) -> Voucher:
    """红字冲销: a posted voucher's lines again in red figures, posted at once; both are kept."""
    original = get_voucher(session, voucher_id)
    if original.state != VoucherState.POSTED:
        raise refused("not_posted", f"voucher {original.number} is not posted; only posted vouchers are "
                                    "reversed", {"voucher_id": original.id})
    if original.reverses_id is not None:
        raise refused("is_reversal", f"voucher {original.number} is itself a reversal; it is not reversed again",
                      {"voucher_id": original.id})
    if original.reversed_by_id is not None:
        raise refused("already_reversed", f"voucher {original.number} was already reversed by voucher "
                                          f"{_voucher_number(session, original.reversed_by_id)}",
                      {"voucher_id": original.id, "reversed_by": original.reversed_by_id})
    on = _parse_date(date) if date not in (None, "") else today_china()
    if on < original.date:
        raise bad_input("bad_date", f"the reversal date {on} is before the voucher's date {original.date}")
    lines = [VoucherLine(voucher_id="", line_no=line.line_no, summary=f"冲销 {line.summary}"[:200],
                         account_code=line.account_code, account_name=line.account_name,
                         debit=-line.debit, credit=-line.credit, aux=dict(line.aux))
             for line in voucher_lines(session, original.id)]
    invoices = voucher_invoices(session, original.id)
    summary = f"冲销 {original.date} {original.number} 号凭证: {original.summary}"
    reversal = _store_voucher(session, user, on, summary, lines, [i.id for i in invoices], "reversal",
                              word=original.word, reverses_id=original.id)
    now = utcnow()
    result = session.execute(
        update(Voucher).where(col(Voucher.id) == original.id, col(Voucher.reversed_by_id).is_(None))
        .values(reversed_by_id=reversal.id))
    if getattr(result, "rowcount", 1) != 1:
        raise refused("already_reversed", f"voucher {original.number} was reversed by someone else just now",
                      {"voucher_id": original.id})
    reversal.state = VoucherState.POSTED
    reversal.posted_by = user.username
    reversal.posted_at = now
    reversal.posting_flag = FLAG_REVOKED
    session.add(reversal)
    released: list[str] = []
    for posting in session.exec(select(InvoicePosting).where(InvoicePosting.voucher_id == original.id,
                                                             col(InvoicePosting.active_key).is_not(None))).all():
        posting.active_key = None
        posting.released_at = now
        posting.released_by = user.username
        posting.released_by_voucher_id = reversal.id
        session.add(posting)
        session.add(InvoicePosting(invoice_id=posting.invoice_id, voucher_id=reversal.id, flag=FLAG_REVOKED,
                                   at=now, by=user.username, active_key=None))
        released.append(posting.invoice_id)
    for claim in voucher_claims(session, original.id):
        if claim.voucher_id == original.id:
            claim.voucher_id = None
            session.add(claim)
    session.flush()
    session.refresh(original)
    audit.append(session, user.username, "voucher.reverse", "voucher", original.id,
                 {"number": original.number, "reversal_id": reversal.id, "reversal_number": reversal.number,
                  "released_invoices": released})
    return reversal


# --- reading --------------------------------------------------------------------------------------

def list_vouchers(session: Session, period: str | None = None, page: int = 1, page_size: int = 50,
                  state: str | None = None) -> tuple[list[Voucher], int]:
    """One page of vouchers in number order, and the total count."""
    if page < 1 or not 1 <= page_size <= 500:
        raise bad_input("bad_page", "page must be >= 1 and page_size 1 to 500")
    stmt = select(Voucher)
    count = select(func.count()).select_from(Voucher)
    if period:
        check_period(period)
        stmt = stmt.where(Voucher.period == period)
        count = count.where(Voucher.period == period)
    if state:
        stmt = stmt.where(Voucher.state == state)
        count = count.where(Voucher.state == state)
    total = session.exec(count).one()
    items = session.exec(stmt.order_by(col(Voucher.period), col(Voucher.word), col(Voucher.seq))
                         .offset((page - 1) * page_size).limit(page_size)).all()
    return list(items), int(total)


def check_period(period: str) -> str:
    try:
        y, m = period.split("-")
        if len(y) != 4 or len(m) != 2 or not 1 <= int(m) <= 12:
            raise ValueError
        int(y)
    except ValueError:
        raise bad_input("bad_period", f"period {period!r} must be YYYY-MM") from None
    return period


def posting_status(session: Session, invoice_id: str) -> dict[str, Any]:
    """The invoice's 入账标识: posted or not, by which voucher, when and by whom, and the history."""
    rows = list(session.exec(select(InvoicePosting).where(InvoicePosting.invoice_id == invoice_id)
                             .order_by(col(InvoicePosting.at), col(InvoicePosting.flag))).all())
    history = [{"flag": r.flag, "voucher_id": r.voucher_id, "voucher_number": _voucher_number(session, r.voucher_id),
                "at": r.at.isoformat(), "by": r.by} for r in rows]
    active = next((r for r in rows if r.active_key is not None), None)
    if active is not None:
        return {"posted": True, "flag": active.flag, "voucher_id": active.voucher_id,
                "voucher_number": _voucher_number(session, active.voucher_id),
                "posted_at": active.at.isoformat(), "posted_by": active.by, "history": history}
    return {"posted": False, "flag": rows[-1].flag if rows else FLAG_NOT_POSTED, "voucher_id": None,
            "voucher_number": None, "posted_at": None, "posted_by": None, "history": history}


def invoice_usage(session: Session, invoice_id: str) -> dict[str, Any]:
    """For the registry's duplicate reports: the live claim, the voucher and whether posted."""
    lock = session.get(ClaimInvoiceLock, invoice_id)
    active = _active_posting(session, invoice_id)
    voucher_id = active.voucher_id if active else None
    if voucher_id is None:
        draft = session.exec(
            select(Voucher.id).join(VoucherInvoice, col(VoucherInvoice.voucher_id) == col(Voucher.id))
            .where(VoucherInvoice.invoice_id == invoice_id, Voucher.state == VoucherState.DRAFT)).first()
        voucher_id = draft
    return {"claim_id": lock.claim_id if lock else None, "voucher_id": voucher_id, "posted": active is not None}


def posted_clause(posted: bool) -> Any:
    """SQL condition on ``InvoiceRecord.id`` for the registry's ``posted`` list filter."""
    active = select(InvoicePosting.active_key).where(col(InvoicePosting.active_key).is_not(None))
    return col(InvoiceRecord.id).in_(active) if posted else col(InvoiceRecord.id).not_in(active)


def voucher_to_dict(session: Session, v: Voucher) -> dict[str, Any]:
    invoices = voucher_invoices(session, v.id)
    # Claim gate (accounting.invoice_status): the 未查验 mark and any override travel with
    # each invoice onto the voucher, until a successful 查验 result arrives.
    from accounting.invoice_status import invoice_statuses

    marks = invoice_statuses(session, invoices)
    return {
        "id": v.id, "number": v.number, "word": v.word, "period": v.period, "date": v.date.isoformat(),
        "summary": v.summary, "state": v.state, "source": v.source, "external_ref": v.external_ref,
        "total_debit": str(v.total_debit), "total_credit": str(v.total_credit),
        "reverses": {"id": v.reverses_id, "number": _voucher_number(session, v.reverses_id)} if v.reverses_id else None,
        "reversed_by": ({"id": v.reversed_by_id, "number": _voucher_number(session, v.reversed_by_id)}
                        if v.reversed_by_id else None),
        "created_by": v.created_by, "created_at": v.created_at.isoformat(),
        "posted_by": v.posted_by, "posted_at": v.posted_at.isoformat() if v.posted_at else None,
        "posting_flag": v.posting_flag, "attachments": len(invoices),
        "lines": [{"line_no": line.line_no, "summary": line.summary, "account_code": line.account_code,
                   "account_name": line.account_name, "debit": str(line.debit), "credit": str(line.credit),
                   "aux": dict(line.aux)} for line in voucher_lines(session, v.id)],
        "invoices": [{"invoice_id": i.id, "key": i.key, "number": i.number, "issue_date":
                      i.issue_date.isoformat() if i.issue_date else None,
                      "total": str(i.total) if i.total is not None else None, "seller_name": i.seller_name,
                      "uploaded_by": i.uploaded_by,
                      "online_check_pending": marks[i.id].online_check_pending,
                      "online_check_label": marks[i.id].online_check_label, "override": marks[i.id].override}
                     for i in invoices],
        "online_check_pending": any(m.online_check_pending for m in marks.values()),
        "claim_ids": [c.id for c in voucher_claims(session, v.id)],
    }


# --- immutability of posted vouchers -------------------------------------------------------------

_MUTABLE_AFTER_POSTING = frozenset({"reversed_by_id"})


def _guard_posted(session: OrmSession, _context: Any, _instances: Any) -> None:
    """Refuse, at flush, any ORM change to a posted voucher or its lines (a safety net: the
    service offers no such path; corrections go through ``reverse_voucher``)."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, Voucher):
            state = inspect(obj)
            hist = state.attrs.state.history
            was = hist.deleted[0] if hist.deleted else obj.state
            if was != VoucherState.POSTED:
                continue
            changed = {a.key for a in state.attrs if a.history.has_changes()} - _MUTABLE_AFTER_POSTING
            if obj in session.deleted or changed:
                raise refused("voucher_immutable", f"voucher {obj.number} is posted and cannot be changed "
                                                   f"({', '.join(sorted(changed)) or 'deleted'}); reverse it "
                                                   "instead", {"voucher_id": obj.id})
        elif isinstance(obj, VoucherLine):
            if not inspect(obj).modified and obj not in session.deleted:
                continue
            owner = session.get(Voucher, obj.voucher_id)
            if owner is not None and owner.state == VoucherState.POSTED:
                raise refused("voucher_immutable", f"voucher {owner.number} is posted: its lines cannot be "
                                                   "changed; reverse it instead", {"voucher_id": owner.id})


event.listen(OrmSession, "before_flush", _guard_posted)
registry.register_usage_lookup(invoice_usage)
registry.register_posted_clause(posted_clause)

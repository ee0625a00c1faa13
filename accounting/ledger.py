"""Ledger vouchers (记账凭证), posting (入账) and reversal (红字冲销).

Numbering: ``<word>-<YYYY-MM>-<seq:04d>`` (e.g. ``记-2025-11-0007``), gap-free per period and
word. The next number comes from ``voucher_counters`` under ``core.db.advisory_lock`` in the
voucher's own transaction, so a rolled-back voucher gives its number back; the UNIQUE
(period, word, seq) constraint is the backstop.

Deleting a draft (or moving it to another month by editing its date) frees its number. A
number is part of the 记账凭证 sequence that must stay gap-free, so the freed number is not
lost: it is written to ``voucher_number_gaps`` (who freed it, when, from which voucher) and the
**next voucher of that period and word takes the lowest freed number** before the counter
moves on. Until then the gap is visible and explained (``number_gaps``); it never survives
the next voucher of its month. Posted vouchers are never deleted.

Sign-off (会计基础工作规范: 制单, 审核, 记账 by separate hands): ``draft`` → ``reviewed``
(``review_voucher``, by an accountant who neither made nor last edited the voucher) →
``posted``. With the setting ``FAPIAO_VOUCHER_REVIEW=false`` (tiny teams) a draft may be
posted directly. Only a draft can be edited or deleted; ``unreview_voucher`` (取消审核, by the
reviewer) brings a reviewed voucher back to draft.

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
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
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
    or_,
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
from accounting.errors import AccountingError, bad_input, conflict, not_found, refused
from accounting.mapping import INPUT_VAT_ACCOUNT, PAYABLE_ACCOUNT, SPECIAL_KINDS, load_mapping
from accounting.transport_vat import TRANSPORT_KINDS, transport_input_vat
from core import audit, messages
from core.clock import CHINA, today_china
from core.db import AwareDateTime, advisory_lock, new_id, utcnow
from core.listing import Sorting, check_page, date_range, list_error
from core.settings import get_settings
from core.users import User, display_name
from invoice import registry
from invoice.registry import InvoiceRecord

WORDS = ("记", "收", "付", "转")


class PostingFlag(StrEnum):
    """入账标识, the tax platform's codes (stored and sent as these two digits)."""

    NOT_POSTED = "01"  # 未入账
    DEDUCTIBLE = "02"  # 已入账（企业所得税税前扣除）
    NOT_DEDUCTIBLE = "03"  # 已入账（企业所得税不扣除）
    REVOKED = "06"  # 入账撤销


FLAG_DEDUCTIBLE = PostingFlag.DEDUCTIBLE
FLAG_NOT_DEDUCTIBLE = PostingFlag.NOT_DEDUCTIBLE
FLAG_REVOKED = PostingFlag.REVOKED
FLAG_NOT_POSTED = PostingFlag.NOT_POSTED
ZERO = Decimal("0.00")


class VoucherState(StrEnum):
    DRAFT = "draft"  # 制单: editable, deletable
    REVIEWED = "reviewed"  # 审核: checked by a second accountant, ready to post
    POSTED = "posted"  # 记账: immutable; corrected only by a red-figure reversal


class VoucherOrigin(StrEnum):
    """Where a voucher came from (``Voucher.source``)."""

    CLAIMS = "claims"  # built from approved claims by the account mapping
    EXTERNAL = "external"  # pushed line by line by an accounting system
    IMPORT = "import"  # an .xlsx workbook
    REVERSAL = "reversal"  # the red-figure reversal of a posted voucher


def _fail(make: Any, code: str, msg_code: str | None = None, /, **details: Any) -> AccountingError:
    """An accounting error whose message is the catalogue's Chinese text for ``msg_code``
    (default ``code``), filled from ``details``; ``details`` also travel with the error."""
    err: AccountingError = make(code, messages.text(msg_code or code, **details), details)
    return err


def _state_label(state: str) -> str:
    return messages.label("voucher_state", state)


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
    reviewed_by: str | None = Field(default=None, max_length=64)  # 审核人
    reviewed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    updated_by: str | None = Field(default=None, max_length=64)  # last editor of the draft
    updated_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


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


class VoucherNumberGap(SQLModel, table=True):
    """A number freed by deleting (or re-dating) a draft; the next voucher of the period takes it."""

    __tablename__ = "voucher_number_gaps"

    period: str = Field(primary_key=True, max_length=7)
    word: str = Field(primary_key=True, max_length=4)
    seq: int = Field(primary_key=True)
    number: str = Field(max_length=32)
    freed_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    freed_by: str = Field(max_length=64)
    voucher_id: str = Field(max_length=32)  # the deleted or moved voucher (audit object id)
    reason: str = Field(max_length=16)  # delete | redate


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

def _parse_date(value: Any, where: str = "凭证日期") -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise _fail(bad_input, "bad_date", where=where, value=str(value)[:40]) from None


def _line_where(n: int) -> str:
    return f"第 {n} 行"


def _clean_aux(raw: Any, where: str) -> dict[str, str]:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise _fail(bad_input, "bad_aux", where=where, why="应是“名称: 值”的对象")
    aux: dict[str, str] = {}
    for k, v in raw.items():
        if v in (None, ""):
            continue
        if not isinstance(v, str | int) or len(str(v)) > 100 or len(str(k)) > 32:
            raise _fail(bad_input, "bad_aux", where=where, why=f"“{str(k)[:32]}”的值须为不超过 100 字的文字")
        aux[str(k)] = str(v)
    return aux


def validate_lines(raw_lines: Sequence[Any], chart: Chart, *, allow_negative: bool,
                   default_summary: str) -> list[VoucherLine]:
    """Turn line dicts into balanced ``VoucherLine`` rows, or raise naming the line and field."""
    if not isinstance(raw_lines, list | tuple) or len(raw_lines) < 2:
        count = len(raw_lines) if isinstance(raw_lines, list | tuple) else 0
        raise _fail(bad_input, "too_few_lines", count=count)
    lines: list[VoucherLine] = []
    for n, raw in enumerate(raw_lines, start=1):
        where = _line_where(n)
        if not isinstance(raw, dict):
            raise _fail(bad_input, "bad_line", where=where, why="分录格式不对")
        code = str(raw.get("account_code") or "").strip()
        if not code:
            raise _fail(bad_input, "bad_line", where=where, why="没有填写科目代码")
        account = chart.require(code, where)
        name = str(raw.get("account_name") or "").strip() or account.full_name
        debit = _side(raw.get("debit"), f"{where}借方", allow_negative)
        credit = _side(raw.get("credit"), f"{where}贷方", allow_negative)
        if debit != 0 and credit != 0:
            raise _fail(bad_input, "debit_and_credit", where=where, line=n)
        if debit == 0 and credit == 0:
            raise _fail(bad_input, "empty_line", where=where, line=n)
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
        raise _fail(bad_input, "unbalanced", debit=str(debit), credit=str(credit),
                    difference=str(abs(debit - credit)))
    return debit, credit


# --- numbering and creation -----------------------------------------------------------------------

def _next_number(session: Session, period: str, word: str) -> tuple[int, str]:
    """The lowest number freed in this period and word, else the next one from the counter."""
    advisory_lock(session, f"voucher_number:{word}:{period}")
    gap = session.exec(select(VoucherNumberGap).where(VoucherNumberGap.period == period,
                                                      VoucherNumberGap.word == word)
                       .order_by(col(VoucherNumberGap.seq)).limit(1).with_for_update()).first()
    if gap is not None:
        seq, number = gap.seq, gap.number
        session.delete(gap)
        session.flush()
        return seq, number
    counter = session.exec(select(VoucherCounter).where(VoucherCounter.period == period,
                                                        VoucherCounter.word == word).with_for_update()).first()
    if counter is None:
        counter = VoucherCounter(period=period, word=word, last_seq=1)
    else:
        counter.last_seq += 1
    session.add(counter)
    session.flush()
    return counter.last_seq, f"{word}-{period}-{counter.last_seq:04d}"


def _free_number(session: Session, user: User, voucher: Voucher, reason: str) -> None:
    """Record the number of a deleted or re-dated draft so the next voucher of its period
    takes it (the sequence stays gap-free; see the module docstring)."""
    advisory_lock(session, f"voucher_number:{voucher.word}:{voucher.period}")
    session.add(VoucherNumberGap(period=voucher.period, word=voucher.word, seq=voucher.seq,
                                 number=voucher.number, freed_by=user.username, voucher_id=voucher.id,
                                 reason=reason))


def number_gaps(session: Session, period: str | None = None) -> list[VoucherNumberGap]:
    """Numbers freed by deleted or re-dated drafts that no voucher has taken yet."""
    stmt = select(VoucherNumberGap)
    if period:
        stmt = stmt.where(VoucherNumberGap.period == check_period(period))
    return list(session.exec(stmt.order_by(col(VoucherNumberGap.period), col(VoucherNumberGap.word),
                                           col(VoucherNumberGap.seq))).all())


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
        raise _fail(conflict, "voucher_conflict", number=number) from None
    return voucher


def create_voucher(session: Session, user: User, date: Any, summary: str, lines: Sequence[Any],
                   invoice_keys: Sequence[str] = (), external_ref: str | None = None, *,
                   word: str = "记", source: str = VoucherOrigin.EXTERNAL) -> Voucher:
    """A voucher pushed by an accounting system with its own lines; idempotent on ``external_ref``."""
    if external_ref is not None:
        external_ref = str(external_ref).strip() or None
        if external_ref and len(external_ref) > 128:
            raise _fail(bad_input, "bad_external_ref")
    if external_ref:
        advisory_lock(session, f"voucher_ext:{external_ref}")
        existing = session.exec(select(Voucher).where(Voucher.external_ref == external_ref)).first()
        if existing is not None:
            return existing
    if word not in WORDS:
        raise _fail(bad_input, "bad_word", word=word, words="、".join(WORDS))
    on = _parse_date(date)
    summary = _clean_summary(summary)
    rows = validate_lines(list(lines), load_chart(), allow_negative=True, default_summary=summary)
    invoice_ids = [_usable_invoice(session, key).id for key in _clean_keys(invoice_keys)]
    voucher = _store_voucher(session, user, on, summary, rows, invoice_ids, source, word=word,
                             external_ref=external_ref)
    audit.append(session, user.username, "voucher.create", "voucher", voucher.id,
                 {"number": voucher.number, "source": source, "external_ref": external_ref,
                  "total": str(voucher.total_debit), "invoices": invoice_ids})
    return voucher


def _clean_summary(summary: Any) -> str:
    text = str(summary or "").strip()
    if not text or len(text) > 200:
        raise _fail(bad_input, "bad_summary")
    return text


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
            raise _fail(not_found, "invoice_not_found", "voucher_invoice_not_found", invoice_key=key)
        inv = any_rec
    if inv.status != "ok":
        raise _fail(refused, "invoice_not_usable", invoice_key=key, invoice_id=inv.id, status=inv.status,
                    status_label=messages.label("invoice_record_status", inv.status))
    active = _active_posting(session, inv.id)
    if active is not None:
        raise _fail(refused, "invoice_already_posted", invoice_key=key, voucher_id=active.voucher_id,
                    voucher_number=_voucher_number(session, active.voucher_id))
    return inv


def _voucher_number(session: Session, voucher_id: str) -> str:
    v = session.get(Voucher, voucher_id)
    return v.number if v else voucher_id


def _active_posting(session: Session, invoice_id: str) -> InvoicePosting | None:
    return session.exec(select(InvoicePosting).where(InvoicePosting.active_key == invoice_id)).first()


def _q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def person_name(session: Session, username: str) -> str:
    """The name a voucher shows for a person: the display name (张三) where one is recorded,
    else the login name. Summaries are read by people and printed in the archive, so
    ``li 报销`` must read ``李四 报销``."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        return username
    return display_name(user)


def create_voucher_from_claims(session: Session, user: User, claim_ids: Sequence[str],
                               date: Any = None) -> Voucher:
    """One voucher booking approved claims through the category → account mapping.

    Per claim: a debit per expense account (amount net of deductible input VAT), a debit of
    22210101 进项税额 for the deductible tax of special invoices, one 22210101 line per railway
    ticket, air itinerary or toll bill with the input VAT they allow (``transport_vat``: its 摘要
    explains the computation), and a credit of 2241 其他应付款 with the claimant as the
    auxiliary ``employee``.
    """
    ids = list(dict.fromkeys(str(c).strip() for c in claim_ids if str(c).strip()))
    if not ids:
        raise _fail(bad_input, "no_claims")
    on = _parse_date(date) if date not in (None, "") else today_china()
    chart = load_chart()
    mapping = load_mapping(chart=chart)
    claims: list[Claim] = []
    names: dict[str, str] = {}
    raw_lines: list[dict[str, Any]] = []
    invoice_ids: list[str] = []
    for claim_id in ids:
        claim = session.exec(select(Claim).where(Claim.id == claim_id).with_for_update()).first()
        if claim is None:
            raise _fail(not_found, "claim_not_found", "voucher_claim_not_found", claim_id=claim_id)
        if claim.state != ClaimState.APPROVED:
            raise _fail(refused, "claim_not_approved", claim_id=claim.id, title=claim.title, state=claim.state,
                        state_label=messages.label("claim_state", claim.state))
        if claim.voucher_id is not None:
            raise _fail(refused, "claim_already_booked", claim_id=claim.id, title=claim.title,
                        voucher_id=claim.voucher_id,
                        voucher_number=_voucher_number(session, claim.voucher_id))
        claims.append(claim)
        name = names.setdefault(claim.claimant, person_name(session, claim.claimant))
        aux = {"employee": claim.claimant}
        if claim.department:
            aux["department"] = claim.department
        expense: dict[str, Decimal] = {}
        categories: dict[str, str] = {}
        tax_total = ZERO
        transport_lines: list[dict[str, Any]] = []
        for line in claim_lines(session, claim.id):
            inv = session.get(InvoiceRecord, line.invoice_id)
            assert inv is not None  # FK
            invoice_ids.append(inv.id)
            rule = mapping.rule(line.category)
            tax_part = ZERO
            if (inv.kind in SPECIAL_KINDS and rule.input_vat_deductible and inv.tax and inv.tax > 0
                    and inv.total and inv.total > 0):
                tax_part = inv.tax if line.amount == inv.total else _q(inv.tax * line.amount / inv.total)
                tax_total += tax_part
            elif inv.kind in TRANSPORT_KINDS and rule.input_vat_deductible:
                split = transport_input_vat(inv.kind, inv.data or {}, number=inv.number,
                                            total=inv.total, tax=inv.tax)
                if split is not None and inv.total and inv.total > 0:
                    tax_part = (split.vat if line.amount == inv.total
                                else _q(split.vat * line.amount / inv.total))
                    # one line per ticket, its 摘要 the computation (公告2019年第39号)
                    transport_lines.append({"account_code": INPUT_VAT_ACCOUNT, "debit": tax_part,
                                            "aux": {**aux, "invoice": inv.key},
                                            "summary": split.summary})
            expense[rule.debit_account] = expense.get(rule.debit_account, ZERO) + line.amount - tax_part
            categories.setdefault(rule.debit_account, line.category)
        for code, amount in expense.items():
            if amount != 0:
                raw_lines.append({"account_code": code, "debit": amount, "aux": aux,
                                  "summary": f"报销 {name} {categories[code]}：{claim.title}"})
        if tax_total:
            raw_lines.append({"account_code": INPUT_VAT_ACCOUNT, "debit": tax_total, "aux": aux,
                              "summary": f"报销 {name} 进项税额：{claim.title}"})
        raw_lines.extend(t for t in transport_lines if t["debit"])
        raw_lines.append({"account_code": PAYABLE_ACCOUNT, "credit": claim.total, "aux": aux,
                          "summary": f"应付 {name} 报销款：{claim.title}"})
    if len(claims) == 1:
        only = claims[0]
        kinds = "、".join(dict.fromkeys(line.category for line in claim_lines(session, only.id)))
        summary = f"报销 {names[only.claimant]} {kinds}：{only.title}"
    else:
        summary = (f"报销 {'、'.join(dict.fromkeys(names[c.claimant] for c in claims))} "
                   f"{len(claims)} 张报销单：" + "；".join(c.title for c in claims))
    rows = validate_lines(raw_lines, chart, allow_negative=False, default_summary=summary)
    for inv_id in invoice_ids:
        active = _active_posting(session, inv_id)
        if active is not None:
            inv = session.get(InvoiceRecord, inv_id)
            raise _fail(refused, "invoice_already_posted", invoice_id=inv_id,
                        invoice_key=inv.key if inv else inv_id, voucher_id=active.voucher_id,
                        voucher_number=_voucher_number(session, active.voucher_id))
    voucher = _store_voucher(session, user, on, summary, rows, invoice_ids, VoucherOrigin.CLAIMS)
    for claim in claims:
        claim.voucher_id = voucher.id
        session.add(claim)
        session.add(VoucherClaim(voucher_id=voucher.id, claim_id=claim.id))
    session.flush()
    audit.append(session, user.username, "voucher.create", "voucher", voucher.id,
                 {"number": voucher.number, "source": VoucherOrigin.CLAIMS, "claims": ids,
                  "total": str(voucher.total_debit), "invoices": invoice_ids})
    return voucher


# --- posting and reversal -------------------------------------------------------------------------

def get_voucher(session: Session, voucher_id: str) -> Voucher:
    v = session.get(Voucher, voucher_id)
    if v is None:
        v = session.exec(select(Voucher).where(Voucher.number == voucher_id)).first()
    if v is None:
        raise _fail(not_found, "voucher_not_found", voucher_id=voucher_id)
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
    """入账: the voucher becomes immutable and each of its invoices is marked 02 (or 03).

    Needs a reviewed voucher (审核) unless the setting ``voucher_review`` is off, in which
    case a draft may be posted directly."""
    voucher = get_voucher(session, voucher_id)
    if voucher.state == VoucherState.POSTED:
        raise _posted_already(voucher)
    review_required = get_settings().voucher_review
    if review_required and voucher.state != VoucherState.REVIEWED:
        raise _fail(refused, "voucher_not_reviewed", voucher_id=voucher.id, number=voucher.number,
                    state=voucher.state)
    postable = (VoucherState.REVIEWED,) if review_required else (VoucherState.DRAFT, VoucherState.REVIEWED)
    now = utcnow()
    flag = FLAG_DEDUCTIBLE if deductible else FLAG_NOT_DEDUCTIBLE
    result = session.execute(
        update(Voucher).where(col(Voucher.id) == voucher.id, col(Voucher.state).in_(postable))
        .values(state=VoucherState.POSTED, posted_by=user.username, posted_at=now, posting_flag=flag)
        .execution_options(synchronize_session=False)
    )
    number, vid = voucher.number, voucher.id  # a failed flush expires the object: keep them at hand
    if getattr(result, "rowcount", 1) != 1:
        session.refresh(voucher)
        raise _posted_already(voucher)
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
        raise _fail(refused, "invoice_already_posted", voucher_id=vid, number=number,
                    invoice_key="（本凭证的一张发票）", voucher_number="（同时记账的另一张凭证）") from None
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


def _posted_already(voucher: Voucher) -> AccountingError:
    at = voucher.posted_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if voucher.posted_at else ""
    return _fail(refused, "already_posted", voucher_id=voucher.id, number=voucher.number,
                 posted_by=voucher.posted_by or "", posted_at=at)


def _check_postable(inv: InvoiceRecord, voucher: Voucher, posted_on: str | None, red_number: str | None) -> None:
    if inv.status != "ok":
        raise _fail(refused, "invoice_not_usable", invoice_id=inv.id, invoice_key=inv.key, status=inv.status,
                    status_label=messages.label("invoice_record_status", inv.status), number=voucher.number)
    if posted_on is not None:
        raise _fail(refused, "invoice_already_posted", invoice_id=inv.id, invoice_key=inv.key,
                    voucher_number=posted_on, number=voucher.number)
    if red_number is not None and inv.key:
        raise _fail(refused, "invoice_red_reversed", invoice_id=inv.id, invoice_key=inv.key,
                    red_invoice_number=red_number, number=voucher.number)


def reverse_voucher(session: Session, user: User, voucher_id: str, date: Any = None) -> Voucher:
    """红字冲销: a posted voucher's lines again in red figures, posted at once; both are kept."""
    original = get_voucher(session, voucher_id)
    if original.state != VoucherState.POSTED:
        raise _fail(refused, "not_posted", voucher_id=original.id, number=original.number)
    if original.reverses_id is not None:
        raise _fail(refused, "is_reversal", voucher_id=original.id, number=original.number)
    if original.reversed_by_id is not None:
        raise _fail(refused, "already_reversed", voucher_id=original.id, number=original.number,
                    reversed_by=original.reversed_by_id,
                    reversed_by_number=_voucher_number(session, original.reversed_by_id))
    on = _parse_date(date, "冲销日期") if date not in (None, "") else today_china()
    if on < original.date:
        raise _fail(bad_input, "bad_date", "reversal_before_voucher", date=on.isoformat(),
                    voucher_date=original.date.isoformat())
    lines = [VoucherLine(voucher_id="", line_no=line.line_no, summary=f"冲销 {line.summary}"[:200],
                         account_code=line.account_code, account_name=line.account_name,
                         debit=-line.debit, credit=-line.credit, aux=dict(line.aux))
             for line in voucher_lines(session, original.id)]
    invoices = voucher_invoices(session, original.id)
    summary = f"冲销 {original.date} {original.number} 号凭证: {original.summary}"
    reversal = _store_voucher(session, user, on, summary, lines, [i.id for i in invoices], VoucherOrigin.REVERSAL,
                              word=original.word, reverses_id=original.id)
    now = utcnow()
    result = session.execute(
        update(Voucher).where(col(Voucher.id) == original.id, col(Voucher.reversed_by_id).is_(None))
        .values(reversed_by_id=reversal.id))
    if getattr(result, "rowcount", 1) != 1:
        raise _fail(refused, "already_reversed", voucher_id=original.id, number=original.number,
                    reversed_by_number="（他人刚刚做的冲销凭证）")
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


# --- 审核, editing and deleting drafts ------------------------------------------------------------

_ACTION_WORDS = {"update": "修改", "delete": "删除", "review": "审核"}


def _require_draft(voucher: Voucher, action: str) -> None:
    if voucher.state != VoucherState.DRAFT:
        raise _fail(refused, "voucher_not_draft", voucher_id=voucher.id, number=voucher.number,
                    state=voucher.state, state_label=_state_label(voucher.state),
                    action=_ACTION_WORDS.get(action, action))


def _lock_voucher(session: Session, voucher_id: str) -> Voucher:
    """The voucher, re-read under a row lock (PostgreSQL) so that concurrent sign-offs queue."""
    voucher = get_voucher(session, voucher_id)
    locked = session.exec(select(Voucher).where(Voucher.id == voucher.id).with_for_update()
                          .execution_options(populate_existing=True)).first()
    return locked or voucher


def _move_state(session: Session, voucher: Voucher, from_state: str, values: dict[str, Any]) -> None:
    """A conditional UPDATE: of two concurrent sign-offs exactly one moves the voucher."""
    result = session.execute(update(Voucher).where(col(Voucher.id) == voucher.id, col(Voucher.state) == from_state)
                             .values(**values).execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 1) != 1:
        session.refresh(voucher)
        if voucher.state == VoucherState.POSTED:
            raise _posted_already(voucher)
        raise _fail(refused, "voucher_not_draft", voucher_id=voucher.id, number=voucher.number,
                    state=voucher.state, state_label=_state_label(voucher.state), action="审核")
    for key, value in values.items():
        set_committed_value(voucher, key, value)


def review_voucher(session: Session, user: User, voucher_id: str) -> Voucher:
    """审核: a draft becomes ``reviewed``, signed by an accountant who neither made nor last
    edited it (会计基础工作规范: 制单 and 审核 by different people)."""
    voucher = _lock_voucher(session, voucher_id)
    if voucher.state == VoucherState.POSTED:
        raise _posted_already(voucher)
    _require_draft(voucher, "review")
    if user.username in {voucher.created_by, voucher.updated_by}:
        raise _fail(refused, "voucher_review_own", voucher_id=voucher.id, number=voucher.number,
                    created_by=voucher.created_by, updated_by=voucher.updated_by)
    now = utcnow()
    _move_state(session, voucher, VoucherState.DRAFT,
                {"state": VoucherState.REVIEWED, "reviewed_by": user.username, "reviewed_at": now})
    audit.append(session, user.username, "voucher.review", "voucher", voucher.id,
                 {"number": voucher.number, "maker": voucher.created_by, "total": str(voucher.total_debit)})
    return voucher


def unreview_voucher(session: Session, user: User, voucher_id: str) -> Voucher:
    """取消审核: the reviewer takes the signature back; the voucher is a draft again."""
    voucher = _lock_voucher(session, voucher_id)
    if voucher.state != VoucherState.REVIEWED:
        if voucher.state == VoucherState.POSTED:
            raise _fail(refused, "voucher_immutable", voucher_id=voucher.id, number=voucher.number)
        raise _fail(refused, "voucher_not_reviewed_state", voucher_id=voucher.id, number=voucher.number,
                    state=voucher.state, state_label=_state_label(voucher.state))
    if user.username != voucher.reviewed_by:
        raise _fail(refused, "voucher_unreview_not_reviewer", voucher_id=voucher.id, number=voucher.number,
                    reviewed_by=person_name(session, voucher.reviewed_by or ""))
    was = voucher.reviewed_by
    _move_state(session, voucher, VoucherState.REVIEWED,
                {"state": VoucherState.DRAFT, "reviewed_by": None, "reviewed_at": None})
    audit.append(session, user.username, "voucher.unreview", "voucher", voucher.id,
                 {"number": voucher.number, "reviewed_by": was})
    return voucher


def update_voucher(session: Session, user: User, voucher_id: str, *, date: Any = None,
                   summary: str | None = None, lines: Sequence[Any] | None = None) -> Voucher:
    """Edit a draft: its date, summary and/or lines, under the same validation as creating it
    (balanced, at least two lines, accounts in the chart). A new date in another month gives
    the voucher that month's next number and frees the old one (see the module docstring)."""
    voucher = _lock_voucher(session, voucher_id)
    if voucher.state == VoucherState.POSTED:
        raise _fail(refused, "voucher_immutable", voucher_id=voucher.id, number=voucher.number)
    _require_draft(voucher, "update")
    changes: dict[str, Any] = {}
    if summary is not None:
        new_summary = _clean_summary(summary)
        if new_summary != voucher.summary:
            changes["summary"] = [voucher.summary, new_summary]
            voucher.summary = new_summary
    if lines is not None:
        rows = validate_lines(list(lines), load_chart(), allow_negative=voucher.source != VoucherOrigin.CLAIMS,
                              default_summary=voucher.summary)
        old = [(x.account_code, str(x.debit), str(x.credit), x.summary) for x in voucher_lines(session, voucher.id)]
        new = [(x.account_code, str(x.debit), str(x.credit), x.summary) for x in rows]
        if old != new or any(a.aux != b.aux for a, b in zip(voucher_lines(session, voucher.id), rows, strict=False)):
            for line in voucher_lines(session, voucher.id):
                session.delete(line)
            session.flush()
            for line in rows:
                line.voucher_id = voucher.id
            session.add_all(rows)
            debit, credit = check_balance(rows)
            changes["lines"] = {"before": old, "after": new}
            if debit != voucher.total_debit:
                changes["total"] = [str(voucher.total_debit), str(debit)]
            voucher.total_debit, voucher.total_credit = debit, credit
    if date not in (None, ""):
        on = _parse_date(date)
        if on != voucher.date:
            changes["date"] = [voucher.date.isoformat(), on.isoformat()]
            period = f"{on.year:04d}-{on.month:02d}"
            if period != voucher.period:
                old_number = voucher.number
                _free_number(session, user, voucher, "redate")
                voucher.seq, voucher.number = _next_number(session, period, voucher.word)
                voucher.period = period
                changes["number"] = [old_number, voucher.number]
            voucher.date = on
    if not changes:
        return voucher
    voucher.updated_by = user.username
    voucher.updated_at = utcnow()
    session.add(voucher)
    try:
        session.flush()
    except IntegrityError:
        raise _fail(conflict, "voucher_conflict", number=voucher.number) from None
    audit.append(session, user.username, "voucher.update", "voucher", voucher.id,
                 {"number": voucher.number, "changes": changes})
    return voucher


def delete_voucher(session: Session, user: User, voucher_id: str) -> dict[str, Any]:
    """Delete a draft: its claims can be booked again and its invoices put on another voucher;
    its number is recorded in ``voucher_number_gaps`` and taken by the next voucher of the
    month. Returns what was deleted and released."""
    voucher = _lock_voucher(session, voucher_id)
    if voucher.state == VoucherState.POSTED:
        raise _fail(refused, "voucher_immutable", voucher_id=voucher.id, number=voucher.number)
    _require_draft(voucher, "delete")
    number, vid = voucher.number, voucher.id
    invoice_ids = [i.id for i in voucher_invoices(session, vid)]
    claim_ids: list[str] = []
    for claim in voucher_claims(session, vid):
        if claim.voucher_id == vid:
            claim.voucher_id = None
            session.add(claim)
        claim_ids.append(claim.id)
    for model in (VoucherLine, VoucherInvoice, VoucherClaim):
        for row in session.exec(select(model).where(model.voucher_id == vid)).all():  # type: ignore[attr-defined]
            session.delete(row)
    session.flush()
    _free_number(session, user, voucher, "delete")
    session.delete(voucher)
    session.flush()
    audit.append(session, user.username, "voucher.delete", "voucher", vid,
                 {"number": number, "date": voucher.date.isoformat(), "summary": voucher.summary,
                  "total": str(voucher.total_debit), "source": voucher.source,
                  "released_claims": claim_ids, "released_invoices": invoice_ids,
                  "number_freed": number})
    return {"id": vid, "number": number, "deleted": True, "released_claims": claim_ids,
            "released_invoices": invoice_ids, "number_freed": number}


# --- reading --------------------------------------------------------------------------------------

VOUCHER_SORTING = Sorting(
    columns={"number": col(Voucher.period), "date": col(Voucher.date), "period": col(Voucher.period),
             "total": col(Voucher.total_debit), "state": col(Voucher.state), "summary": col(Voucher.summary),
             "created_at": col(Voucher.created_at), "created_by": col(Voucher.created_by),
             "reviewed_at": col(Voucher.reviewed_at), "posted_at": col(Voucher.posted_at)},
    default="number", tiebreak=col(Voucher.id))
# "number" sorts by period, then word, then sequence number (the number's own order)
_NUMBER_PARTS = (col(Voucher.period), col(Voucher.word), col(Voucher.seq))


def _voucher_order(sort: str | None) -> list[Any]:
    clauses = VOUCHER_SORTING.order_by(sort)
    out: list[Any] = []
    for clause, name in zip(clauses, _sort_names(sort, VOUCHER_SORTING.default), strict=False):
        if name.lstrip("-") == "number":
            out.extend(part.desc() if name.startswith("-") else part.asc() for part in _NUMBER_PARTS)
        else:
            out.append(clause)
    out.append(VOUCHER_SORTING.tiebreak)
    return out


def _sort_names(sort: str | None, default: str) -> list[str]:
    return [p.strip().lstrip("+") for p in ((sort or "").strip() or default).split(",") if p.strip()]


def list_vouchers(session: Session, period: str | None = None, page: int = 1, page_size: int = 50,
                  state: str | Sequence[str] | None = None, *, sort: str | None = None, date_from: Any = None,
                  date_to: Any = None, q: str | None = None, created_by: str | None = None,
                  source: str | None = None, claim_id: str | None = None) -> tuple[list[Voucher], int]:
    """One page of vouchers (default in number order), and the total count.

    Filters: ``period`` (YYYY-MM), ``state``, voucher date range, ``q`` (a fragment of the
    number or the summary, or the exact total), maker, source, and the claim it books."""
    check_page(page, page_size)
    conds: list[Any] = []
    if period:
        conds.append(col(Voucher.period) == check_period(period))
    if state:
        # one state, or several (待记账 lists drafts to review and reviewed ones to post)
        wanted = [state] if isinstance(state, str) else list(state)
        for one in wanted:
            if one not in set(VoucherState):
                raise list_error("bad_filter", name="state", value=one,
                                 why="可选值：" + "、".join(f"{v.value}（{_state_label(v)}）" for v in VoucherState))
        conds.append(col(Voucher.state).in_(wanted))
    d_from, d_to = date_range(date_from, date_to)
    if d_from:
        conds.append(col(Voucher.date) >= d_from)
    if d_to:
        conds.append(col(Voucher.date) <= d_to)
    if created_by:
        conds.append(col(Voucher.created_by) == created_by)
    if source:
        conds.append(col(Voucher.source) == source)
    if claim_id:
        conds.append(col(Voucher.id).in_(select(VoucherClaim.voucher_id).where(VoucherClaim.claim_id == claim_id)))
    text = (q or "").strip()
    if text:
        like = f"%{_escape_like(text)}%"
        options: list[Any] = [col(Voucher.number).like(like, escape="\\"),
                              col(Voucher.summary).like(like, escape="\\")]
        amount = _as_amount(text)
        if amount is not None:
            options.append(col(Voucher.total_debit) == amount)
        conds.append(or_(*options))
    order = _voucher_order(sort)
    total = session.exec(select(func.count()).select_from(Voucher).where(*conds)).one()
    items = session.exec(select(Voucher).where(*conds).order_by(*order)
                         .offset((page - 1) * page_size).limit(page_size)).all()
    return list(items), int(total)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _as_amount(text: str) -> Decimal | None:
    cleaned = text.replace(",", "").replace("¥", "").replace("￥", "").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value.quantize(CENT) if value.is_finite() and abs(value) < Decimal("1e15") else None


def check_period(period: str) -> str:
    try:
        y, m = period.split("-")
        if len(y) != 4 or len(m) != 2 or not 1 <= int(m) <= 12:
            raise ValueError
        int(y)
    except ValueError:
        raise _fail(bad_input, "bad_period", period=period) from None
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
            .where(VoucherInvoice.invoice_id == invoice_id,
                   col(Voucher.state).in_((VoucherState.DRAFT, VoucherState.REVIEWED)))).first()
        voucher_id = draft
    return {"claim_id": lock.claim_id if lock else None, "voucher_id": voucher_id, "posted": active is not None}


def posted_clause(posted: bool) -> Any:
    """SQL condition on ``InvoiceRecord.id`` for the registry's ``posted`` list filter."""
    active = select(InvoicePosting.active_key).where(col(InvoicePosting.active_key).is_not(None))
    return col(InvoiceRecord.id).in_(active) if posted else col(InvoiceRecord.id).not_in(active)


def _people(session: Session, roles: dict[str, str | None]) -> dict[str, str | None]:
    """制单人, last editor, 审核人 and 记账人 by the names people know them by (one query)."""
    wanted = {u for u in roles.values() if u}
    users = session.exec(select(User).where(col(User.username).in_(wanted))).all() if wanted else []
    names = {u.username: display_name(u) for u in users}
    return {role: (names.get(u, u) if u else None) for role, u in roles.items()}


def voucher_to_dict(session: Session, v: Voucher) -> dict[str, Any]:
    """The voucher's JSON (``accounting.public.VoucherPublic``) as plain data, for the page and scripts."""
    from accounting.public import VoucherPublic

    return VoucherPublic.from_voucher(session, v).to_json()


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
                raise _fail(refused, "voucher_immutable", voucher_id=obj.id, number=obj.number,
                            fields=sorted(changed))
        elif isinstance(obj, VoucherLine):
            if not inspect(obj).modified and obj not in session.deleted:
                continue
            owner = session.get(Voucher, obj.voucher_id)
            if owner is not None and owner.state == VoucherState.POSTED:
                raise _fail(refused, "voucher_immutable", voucher_id=owner.id, number=owner.number)


event.listen(OrmSession, "before_flush", _guard_posted)
registry.register_usage_lookup(invoice_usage)
registry.register_posted_clause(posted_clause)


# Read helpers for ``accounting.public`` (the voucher's read model).
voucher_number_of = _voucher_number
people_of = _people

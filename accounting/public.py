"""Read models of the accounting package: claims, vouchers, the 入账标识, the invoice's status.

These replace the hand-written ``claim_to_dict`` / ``voucher_to_dict`` bodies: each field is
declared once with its type (``ClaimState``, ``VoucherState``, ``PostingFlag`` enums; ``Money``;
``date``; aware ``Timestamp``), the API declares them as ``response_model`` and the CLI prints
``model.to_json()``. Builders (``from_claim``, ``from_voucher``) read what the model needs in
as few queries as the old functions did.

The archived records (``archive.records``) do not use these models: a renamed API field must
never change a record kept for 30 years.
"""

from __future__ import annotations

from datetime import date
from datetime import date as date_type
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, PlainSerializer
from sqlmodel import Session, col, select

from accounting import payments
from accounting.claims import (
    Claim,
    ClaimAction,
    ClaimState,
    claim_lines,
    claim_steps,
    needs_second_approval,
)
from accounting.entry_info import PostingFlagRow
from accounting.invoice_status import InvoiceStatus, StatusReport, invoice_status, invoice_statuses
from accounting.ledger import PostingFlag, Voucher, VoucherOrigin, VoucherState
from accounting.payments import PaidState
from accounting.transport_vat import transport_input_vat
from core import messages
from core.public import Money, PublicModel, Timestamp, money_text
from core.settings import get_settings
from invoice.public import InvoiceBase, InvoicePublic, InvoiceSummary, OnlineCheckPublic
from invoice.registry import InvoiceRecord
from invoice.verify.online import CheckStatus
from invoice.verify.report import VerifyStatus

# --- the invoice's derived status and overrides ---------------------------------------------------


class OverridePublic(PublicModel):
    """A recorded override of the 查验 requirement, shown to every later reader."""

    reason: str
    by: str
    role: str
    at: Timestamp
    label: str

    @classmethod
    def from_row(cls, row: Any) -> OverridePublic:
        return cls(reason=row.reason, by=row.by, role=row.role, at=row.at,
                   label=messages.text("claim.override.label", by=row.by, reason=row.reason))


class InvoiceStatusPublic(PublicModel):
    """The one derived status of an invoice (``accounting.invoice_status``), with its reasons."""

    status: InvoiceStatus
    label: str
    claimable: bool
    reasons: list[str] = Field(default_factory=list)
    codes: list[str] = Field(default_factory=list)
    online_check_pending: bool = False
    online_check_label: str | None = None
    override: OverridePublic | None = None
    approval_blocked: bool = False

    @classmethod
    def from_report(cls, rep: StatusReport) -> InvoiceStatusPublic:
        return cls.model_validate(rep.to_dict())


class PostingMark(PublicModel):
    """The active 入账标识 of an invoice, as a list row shows it."""

    posted: bool
    flag: PostingFlag | None = None
    voucher_id: str | None = None
    posted_at: Timestamp | None = None
    posted_by: str | None = None


class PostingHistoryEntry(PublicModel):
    flag: PostingFlag
    voucher_id: str
    voucher_number: str | None = None
    at: Timestamp
    by: str


class PostingPublic(PublicModel):
    """An invoice's 入账标识 (API.md ``posting``) with every mark it ever had."""

    posted: bool
    flag: PostingFlag | None = None
    voucher_id: str | None = None
    voucher_number: str | None = None
    posted_at: Timestamp | None = None
    posted_by: str | None = None
    history: list[PostingHistoryEntry] = Field(default_factory=list)


class HistoryEntry(PublicModel):
    """One thing that happened to an invoice: an audit entry or a 入账标识 mark."""

    at: Timestamp | None = None
    actor: str | None = None
    action: str
    details: Any = None


class InvoiceRow(InvoiceBase):
    """One row of an invoice list: no items, report or field sources (a page holds 500)."""

    signature_status: VerifyStatus
    posting: PostingMark
    invoice_status: InvoiceStatusPublic | None = None
    override: OverridePublic | None = None
    online_check_pending: bool | None = None


class InputVatPublic(PublicModel):
    """The deductible input VAT of a transport voucher and the sentence that explains it."""

    vat: Money
    summary: str


class PaidVoucherPublic(PublicModel):
    voucher_id: str
    number: str | None = None
    date: date_type
    summary: str | None = None


class InvoiceDetail(InvoicePublic):
    """``GET /invoices/{id}``: the invoice, its 入账标识, usage, history, 查验 and status."""

    posting: PostingPublic
    usage: InvoiceSummary
    duplicate_of: InvoiceSummary | str | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    online_checks: list[OnlineCheckPublic] = Field(default_factory=list)
    invoice_status: InvoiceStatusPublic
    override: OverridePublic | None = None
    overrides: list[OverridePublic] = Field(default_factory=list)
    online_check_pending: bool = False
    # railway / air / toll: the input VAT a claim of it deducts (accounting.transport_vat)
    input_vat: InputVatPublic | None = None
    # a bank receipt: the vouchers it pays (accounting.payments)
    pays_vouchers: list[PaidVoucherPublic] | None = None


def invoice_detail(session: Session, record: InvoiceRecord) -> InvoiceDetail:
    """The full view of one invoice (API, CLI ``invoice show`` and the invoice page)."""
    from accounting.ledger import posting_status
    from accounting.overrides import InvoiceOverride
    from core.audit import AuditEntry
    from invoice import registry
    from invoice.online_store import online_check_history

    d = InvoicePublic.record_fields(record)
    posting = posting_status(session, record.id)
    d["posting"] = posting
    d["usage"] = registry.invoice_summary(record, session)
    if record.duplicate_of:
        earlier = session.get(InvoiceRecord, record.duplicate_of)
        d["duplicate_of"] = registry.invoice_summary(earlier, session) if earlier else record.duplicate_of
    rows = session.exec(select(AuditEntry).where(AuditEntry.object_id == record.id)
                        .order_by(col(AuditEntry.seq))).all()
    history: list[dict[str, Any]] = [
        {"at": e.at, "actor": e.actor, "action": e.action, "details": e.details} for e in rows]
    for mark in posting.get("history") or []:  # postings are audited on the voucher; show them here too
        history.append({"at": mark.get("at"), "actor": mark.get("by"),
                        "action": "voucher.reverse" if mark.get("flag") == PostingFlag.REVOKED else "voucher.post",
                        "details": {"flag": mark.get("flag"), "voucher_id": mark.get("voucher_id"),
                                    "voucher_number": mark.get("voucher_number")}})
    detail = InvoiceDetail.model_validate({**d, "history": [], "online_checks": online_check_history(
        session, record.id), "invoice_status": invoice_status(session, record).to_dict()})
    detail.history = sorted((HistoryEntry.model_validate(h) for h in history),
                            key=lambda h: h.at.isoformat() if h.at else "")
    detail.override = detail.invoice_status.override
    detail.online_check_pending = detail.invoice_status.online_check_pending
    detail.overrides = [OverridePublic.from_row(o) for o in session.exec(
        select(InvoiceOverride).where(InvoiceOverride.invoice_id == record.id)
        .order_by(col(InvoiceOverride.at), col(InvoiceOverride.id))).all()]
    split = transport_input_vat(record.kind, record.data or {}, number=record.number,
                                total=record.total, tax=record.tax)
    detail.input_vat = InputVatPublic(vat=split.vat, summary=split.summary) if split else None
    if record.kind == payments.RECEIPT_KIND:
        detail.pays_vouchers = [PaidVoucherPublic(voucher_id=v.id, number=v.number, date=v.date,
                                                  summary=v.summary)
                                for v in payments.vouchers_paid_by(session, record.id)]
    return detail


def invoice_rows(session: Session, records: list[InvoiceRecord]) -> list[InvoiceRow]:
    """A page of invoices with their active 入账标识 and derived status (two queries)."""
    from accounting.ledger import InvoicePosting

    found: dict[str, PostingMark] = {}
    ids = [r.id for r in records]
    if ids:
        for p in session.exec(select(InvoicePosting).where(col(InvoicePosting.active_key).in_(ids))).all():
            found[p.invoice_id] = PostingMark(posted=True, flag=PostingFlag(p.flag), voucher_id=p.voucher_id,
                                              posted_at=p.at, posted_by=p.by)
    statuses = invoice_statuses(session, records)
    out = []
    for r in records:
        d = InvoiceBase.record_fields(r)
        for heavy in ("items", "field_sources", "verification", "extra"):
            d.pop(heavy, None)
        st = InvoiceStatusPublic.from_report(statuses[r.id])
        out.append(InvoiceRow.model_validate({
            **d, "signature_status": r.verification_status, "posting": found.get(r.id, PostingMark(posted=False)),
            "invoice_status": st, "override": st.override, "online_check_pending": st.online_check_pending}))
    return out


# --- claims ---------------------------------------------------------------------------------------


class ClaimLinePublic(PublicModel):
    """One invoice on a claim, with who uploaded it and how the claim gate judges it."""

    line_no: int
    invoice_id: str
    category: str | None = None
    amount: Money
    invoice_key: str | None = None
    invoice_number: str | None = None
    invoice_total: Money | None = None
    seller_name: str | None = None
    buyer_name: str | None = None
    uploaded_by: str | None = None
    verification_status: VerifyStatus | None = None
    online_check_status: CheckStatus | None = None
    online_check_pending: bool = False
    online_check_label: str | None = None
    override: OverridePublic | None = None
    invoice_status: InvoiceStatusPublic | None = None


class StepPublic(PublicModel):
    """One sign-off step (who, when, action, comment)."""

    seq: int
    action: ClaimAction
    action_label: str
    from_state: ClaimState | None = None
    to_state: ClaimState
    actor: str
    at: Timestamp
    comment: str | None = None
    online_check_pending: bool = False


class ClaimPublic(PublicModel):
    """A 报销单 with its lines and steps (API.md Claims)."""

    id: str
    title: str
    claimant: str
    department: str | None = None
    purpose: str | None = None
    state: ClaimState
    state_label: str
    total: Money
    needs_second_approval: bool
    second_approval_above: Money
    warnings: list[Any] = Field(default_factory=list)
    voucher_id: str | None = None
    for_others: bool = False
    online_check_pending: bool = False
    online_check_label: str | None = None
    approval_blocked: bool = False
    editable: bool
    created_at: Timestamp
    updated_at: Timestamp
    lines: list[ClaimLinePublic] = Field(default_factory=list)
    steps: list[StepPublic] = Field(default_factory=list)

    @classmethod
    def from_claim(cls, session: Session, claim: Claim) -> ClaimPublic:
        """The claim, its lines with each invoice's gate status (its own lock does not count),
        the 未查验 marks on lines, claim and sign-off steps."""
        rows = claim_lines(session, claim.id)
        invs = {i.id: i for i in session.exec(select(InvoiceRecord).where(
            col(InvoiceRecord.id).in_([r.invoice_id for r in rows]))).all()} if rows else {}
        reports = invoice_statuses(session, list(invs.values()), for_claim=claim.id)
        pending_label = messages.text("claim.online_check_pending")
        lines = []
        for line in rows:
            inv = invs.get(line.invoice_id)
            rep = reports.get(line.invoice_id)
            pending = bool(rep and rep.online_check_pending)
            status = InvoiceStatusPublic.from_report(rep) if rep else None
            lines.append(ClaimLinePublic(
                line_no=line.line_no, invoice_id=line.invoice_id, category=line.category, amount=line.amount,
                invoice_key=inv.key if inv else None, invoice_number=inv.number if inv else None,
                invoice_total=inv.total if inv else None, seller_name=inv.seller_name if inv else None,
                buyer_name=inv.buyer_name if inv else None,
                uploaded_by=line.uploaded_by or (inv.uploaded_by if inv else None),
                verification_status=VerifyStatus(inv.verification_status) if inv else None,
                online_check_status=CheckStatus(inv.online_check_status) if inv else None,
                online_check_pending=pending, online_check_label=pending_label if pending else None,
                override=status.override if status else None, invoice_status=status))
        pending_claim = any(ln.online_check_pending for ln in lines)
        signing = (ClaimAction.SUBMIT, ClaimAction.REVIEW, ClaimAction.APPROVE)
        return cls(
            id=claim.id, title=claim.title, claimant=claim.claimant, department=claim.department,
            purpose=claim.purpose, state=ClaimState(claim.state),
            state_label=messages.label("claim_state", claim.state), total=claim.total,
            needs_second_approval=needs_second_approval(claim),
            second_approval_above=get_settings().second_approval_above,
            warnings=list(claim.warnings), voucher_id=claim.voucher_id, for_others=claim.for_others,
            online_check_pending=pending_claim, online_check_label=pending_label if pending_claim else None,
            approval_blocked=any(r.approval_blocked for r in reports.values()),
            editable=claim.state in (ClaimState.DRAFT, ClaimState.REJECTED),
            created_at=claim.created_at, updated_at=claim.updated_at, lines=lines,
            steps=[StepPublic(seq=s.seq, action=ClaimAction(s.action),
                              action_label=messages.label("claim_action", s.action),
                              from_state=ClaimState(s.from_state) if s.from_state else None,
                              to_state=ClaimState(s.to_state), actor=s.actor, at=s.at,
                              comment=s.comment,
                              online_check_pending=pending_claim if s.action in signing else False)
                   for s in claim_steps(session, claim.id)])


# --- vouchers -------------------------------------------------------------------------------------


class VoucherRef(PublicModel):
    id: str
    number: str


class VoucherPeople(PublicModel):
    """制单人, last editor, 审核人 and 记账人 by the names people know them by."""

    created_by: str | None = None
    updated_by: str | None = None
    reviewed_by: str | None = None
    posted_by: str | None = None


class VoucherLinePublic(PublicModel):
    line_no: int
    summary: str | None = None
    account_code: str
    account_name: str | None = None
    debit: Money
    credit: Money
    aux: dict[str, Any] = Field(default_factory=dict)


class VoucherInvoicePublic(PublicModel):
    """An invoice attached to a voucher, with its 未查验 mark and override."""

    invoice_id: str
    key: str | None = None
    number: str | None = None
    issue_date: date | None = None
    total: Money | None = None
    seller_name: str | None = None
    uploaded_by: str | None = None
    online_check_pending: bool = False
    online_check_label: str | None = None
    override: OverridePublic | None = None


class VoucherPublic(PublicModel):
    """A 记账凭证 with its lines, claims and invoices (API.md Vouchers)."""

    id: str
    number: str
    word: str
    period: str
    date: date
    summary: str
    state: VoucherState
    source: VoucherOrigin
    external_ref: str | None = None
    total_debit: Money
    total_credit: Money
    reverses: VoucherRef | None = None
    reversed_by: VoucherRef | None = None
    created_by: str
    created_at: Timestamp
    posted_by: str | None = None
    posted_at: Timestamp | None = None
    posting_flag: PostingFlag | None = None
    attachments: int = 0
    state_label: str
    source_label: str
    posting_flag_label: str | None = None
    reviewed_by: str | None = None
    reviewed_at: Timestamp | None = None
    updated_by: str | None = None
    updated_at: Timestamp | None = None
    people: VoucherPeople = Field(default_factory=VoucherPeople)
    review_required: bool = True
    lines: list[VoucherLinePublic] = Field(default_factory=list)
    invoices: list[VoucherInvoicePublic] = Field(default_factory=list)
    online_check_pending: bool = False
    claim_ids: list[str] = Field(default_factory=list)

    @classmethod
    def from_voucher(cls, session: Session, v: Voucher) -> VoucherPublic:
        from accounting import ledger

        invoices = ledger.voucher_invoices(session, v.id)
        # Claim gate: the 未查验 mark and any override travel with each invoice onto the voucher.
        marks = invoice_statuses(session, invoices)
        number = ledger.voucher_number_of
        return cls(
            id=v.id, number=v.number, word=v.word, period=v.period, date=v.date, summary=v.summary,
            state=VoucherState(v.state), source=VoucherOrigin(v.source), external_ref=v.external_ref,
            total_debit=v.total_debit, total_credit=v.total_credit,
            reverses=VoucherRef(id=v.reverses_id, number=number(session, v.reverses_id)) if v.reverses_id else None,
            reversed_by=(VoucherRef(id=v.reversed_by_id, number=number(session, v.reversed_by_id))
                         if v.reversed_by_id else None),
            created_by=v.created_by, created_at=v.created_at, posted_by=v.posted_by, posted_at=v.posted_at,
            posting_flag=PostingFlag(v.posting_flag) if v.posting_flag else None, attachments=len(invoices),
            state_label=messages.label("voucher_state", v.state),
            source_label=messages.label("voucher_source", v.source),
            posting_flag_label=messages.label("posting_flag", v.posting_flag) if v.posting_flag else None,
            reviewed_by=v.reviewed_by, reviewed_at=v.reviewed_at, updated_by=v.updated_by, updated_at=v.updated_at,
            people=VoucherPeople(**ledger.people_of(session, {
                "created_by": v.created_by, "updated_by": v.updated_by,
                "reviewed_by": v.reviewed_by, "posted_by": v.posted_by})),
            review_required=get_settings().voucher_review,
            lines=[VoucherLinePublic(line_no=ln.line_no, summary=ln.summary, account_code=ln.account_code,
                                     account_name=ln.account_name, debit=ln.debit, credit=ln.credit,
                                     aux=dict(ln.aux)) for ln in ledger.voucher_lines(session, v.id)],
            invoices=[VoucherInvoicePublic(
                invoice_id=i.id, key=i.key, number=i.number, issue_date=i.issue_date, total=i.total,
                seller_name=i.seller_name, uploaded_by=i.uploaded_by,
                online_check_pending=marks[i.id].online_check_pending,
                online_check_label=marks[i.id].online_check_label,
                override=OverridePublic.model_validate(marks[i.id].override) if marks[i.id].override else None)
                for i in invoices],
            online_check_pending=any(m.online_check_pending for m in marks.values()),
            claim_ids=[c.id for c in ledger.voucher_claims(session, v.id)])


class NumberGapPublic(PublicModel):
    """A voucher number freed by a deleted or re-dated draft, not yet reused."""

    number: str
    period: str
    word: str
    seq: int
    freed_at: Timestamp
    freed_by: str
    voucher_id: str | None = None
    reason: str | None = None


class DeletedVoucher(PublicModel):
    """``DELETE /vouchers/{id}``: what was deleted and released."""

    model_config = ConfigDict(extra="allow")

    id: str
    number: str
    deleted: bool = True
    released_claims: list[str] = Field(default_factory=list)


# --- payments (付款回单, ``accounting.payments``) ---------------------------------------------------


class ReceiptSummary(PublicModel):
    """What the page and the API show of a bank e-receipt (付款回单)."""

    receipt_id: str
    key: str
    number: str | None = None
    issue_date: date | None = None
    total: Money | None = None
    bank: Any = None
    payer: dict[str, Any] = Field(default_factory=dict)
    payee: dict[str, Any] = Field(default_factory=dict)
    purpose: str | None = None
    file: str | None = None
    verification_status: str | None = None

    @classmethod
    def from_record(cls, record: InvoiceRecord) -> ReceiptSummary:
        data = record.data if isinstance(record.data, dict) else {}

        def party(role: str) -> dict[str, Any]:
            value = data.get(role)
            return value if isinstance(value, dict) else {}

        return cls(receipt_id=record.id, key=record.key, number=record.number, issue_date=record.issue_date,
                   total=record.total, bank=data.get("bank"), payer=party("payer"), payee=party("payee"),
                   purpose=data.get("purpose"), file=record.original_filename,
                   verification_status=record.verification_status)


class SuggestionPublic(ReceiptSummary):
    """A receipt that may pay the voucher: how sure (0-100), why (Chinese) and the reason codes."""

    score: int
    reasons: list[str] = Field(default_factory=list)
    codes: list[str] = Field(default_factory=list)

    @classmethod
    def from_suggestion(cls, sug: payments.Suggestion) -> SuggestionPublic:
        return cls(**ReceiptSummary.from_record(sug.receipt).model_dump(), score=sug.score,
                   reasons=list(sug.reasons), codes=list(sug.codes))


class PaymentPublic(PublicModel):
    """One decision about a (voucher, receipt) pair: confirmed, rejected or removed."""

    id: str
    voucher_id: str
    receipt_id: str
    state: payments.PaymentState
    state_label: str
    score: int
    reasons: list[str] = Field(default_factory=list)
    amount: Money | None = None
    decided_by: str
    decided_at: Timestamp
    removed_by: str | None = None
    removed_at: Timestamp | None = None
    receipt: ReceiptSummary | None = None

    @classmethod
    def from_row(cls, session: Session, row: payments.VoucherPayment) -> PaymentPublic:
        rec = session.get(InvoiceRecord, row.receipt_id)
        return cls(id=row.id, voucher_id=row.voucher_id, receipt_id=row.receipt_id,
                   state=payments.PaymentState(row.state), state_label=messages.label("payment_state", row.state),
                   score=row.score, reasons=list(row.reasons or []), amount=row.amount,
                   decided_by=row.decided_by, decided_at=row.decided_at, removed_by=row.removed_by,
                   removed_at=row.removed_at, receipt=ReceiptSummary.from_record(rec) if rec else None)


class VoucherPaymentsPublic(PublicModel):
    """A voucher's 付款回单: the confirmed receipts and, once posted, fresh suggestions."""

    voucher_id: str
    voucher_number: str
    payments: list[PaymentPublic] = Field(default_factory=list)
    suggestions: list[SuggestionPublic] = Field(default_factory=list)

    @classmethod
    def for_voucher(cls, session: Session, voucher_id: str) -> VoucherPaymentsPublic:
        from accounting.ledger import get_voucher

        voucher = get_voucher(session, voucher_id)
        confirmed = [PaymentPublic.from_row(session, p) for p, _ in payments.confirmed_payments(session, voucher.id)]
        suggestions = ([SuggestionPublic.from_suggestion(s) for s in payments.suggest_payments(session, voucher.id)]
                       if voucher.state == VoucherState.POSTED else [])
        return cls(voucher_id=voucher.id, voucher_number=voucher.number, payments=confirmed,
                   suggestions=suggestions)


# --- the year's 入账标识 (``accounting.entry_info.posting_flags``) -----------------------------------


def _or_empty(value: Any) -> Any:
    """A missing cell is ``""`` in the JSON, as in the .csv/.xlsx export (API.md)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return money_text(value)
    if isinstance(value, date_type):
        return value.isoformat()
    return value


def _empty_is_none(value: Any) -> Any:
    """``""`` (an empty cell, as sent) reads back as ``None``."""
    return None if value == "" else value


MoneyCell = Annotated[Decimal | None, BeforeValidator(_empty_is_none), PlainSerializer(_or_empty, return_type=str, when_used="json")]
"""Money in an export row: ``"181.14"``, or ``""`` when the invoice has none."""

DateCell = Annotated[date | None, BeforeValidator(_empty_is_none), PlainSerializer(_or_empty, return_type=str, when_used="json")]
"""A day in an export row: ``YYYY-MM-DD``, or ``""``."""


class PostingFlagRowPublic(PublicModel):
    """One invoice's 入账标识 for the year (``GET /ledger/posting-flags``): the export's cells
    under stable English keys, ``""`` where the export leaves a cell empty."""

    invoice_code: str = ""
    invoice_number: str = ""
    issue_date: DateCell = None
    seller_tax_id: str = ""
    seller_name: str = ""
    total: MoneyCell = None
    tax: MoneyCell = None
    flag: PostingFlag
    flag_label: str
    marked_at: Timestamp | None = Field(default=None, description="when the mark was made (UTC isoformat)")
    voucher_number: str = ""
    note: str = Field(default="", description="红字发票 reversal note, else empty")
    invoice_id: str
    kind: str
    red_reversed: bool = False
    paid_state: PaidState = Field(default=PaidState.UNPAID,
                                  description="whether the voucher of the latest mark has been paid: "
                                              "paid | partial | unpaid (confirmed bank e-receipts)")
    paid_label: str = ""
    bank_receipt_numbers: list[str] = Field(default_factory=list,
                                            description="the confirmed bank e-receipts' numbers")

    @classmethod
    def from_row(cls, r: PostingFlagRow) -> PostingFlagRowPublic:
        return cls(invoice_code=r.code or "", invoice_number=r.number or "", issue_date=r.issue_date,
                   seller_tax_id=r.seller_tax_id or "", seller_name=r.seller_name or "", total=r.total,
                   tax=r.tax, flag=PostingFlag(r.flag), flag_label=messages.label("tax_posting_flag", r.flag),
                   marked_at=r.marked_at, voucher_number=r.voucher_number or "",
                   note=messages.label("posting_flag_note", "red_reversed") if r.red_reversed else "",
                   invoice_id=r.invoice_id, kind=r.kind, red_reversed=r.red_reversed,
                   paid_state=r.paid_state, paid_label=messages.label("paid_state", r.paid_state),
                   bank_receipt_numbers=list(r.bank_receipt_numbers))


class PostingFlagsPublic(PublicModel):
    """``GET /ledger/posting-flags?year=Y``: every invoice of the year with its 入账标识."""

    year: int
    items: list[PostingFlagRowPublic]
    total: int

    @classmethod
    def from_rows(cls, year: int, rows: list[PostingFlagRow]) -> PostingFlagsPublic:
        return cls(year=year, items=[PostingFlagRowPublic.from_row(r) for r in rows], total=len(rows))


__all__ = ["ClaimLinePublic", "ClaimPublic", "DeletedVoucher", "HistoryEntry", "InvoiceDetail", "InvoiceRow",
           "InvoiceStatusPublic", "NumberGapPublic", "OverridePublic", "PaymentPublic",
           "PostingFlagRowPublic", "PostingFlagsPublic", "PostingMark", "PostingPublic", "ReceiptSummary",
           "StepPublic", "SuggestionPublic", "VoucherInvoicePublic", "VoucherLinePublic",
           "VoucherPaymentsPublic", "VoucherPeople", "VoucherPublic", "VoucherRef", "invoice_detail",
           "invoice_rows"]

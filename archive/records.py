"""The archived record of a voucher: read from the database models, written as schema XML.

``content/voucher.xml`` and ``content/claims.xml`` must stay the same for 30 years whatever
happens to the API, so they are written here, element by element, from the accounting and
invoice *models* (``Voucher``, ``VoucherLine``, ``InvoicePosting``, ``Claim``, ``ClaimLine``,
``ClaimStep``, ``InvoiceRecord``), never from the API's JSON dicts. Their shape is fixed by
``archive/schema/record-<n>.xsd`` (namespace ``urn:fapiao-archive:record:<n>``); every written
document is validated against it before it goes into a package.

The same snapshot (:class:`VoucherRecord`) feeds the readable PDF renditions
(:mod:`archive.render`), so what a person reads and what a program reads agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree
from sqlmodel import Session, col, select

from archive import schema

CENT = Decimal("0.01")


@dataclass(frozen=True)
class LineRecord:
    no: int
    summary: str
    account_code: str
    account_name: str
    debit: Decimal
    credit: Decimal
    aux: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OverrideRecord:
    """An override of the 查验 requirement: who let the invoice pass without a 查验 result, when, why."""

    by: str
    role: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class CheckRecord:
    """The claim gate's facts about one invoice when it was archived: its signature verification,
    its 查验 (online check) state, the 未查验 mark, and the newest override (if any)."""

    verification_status: str
    online_check_status: str
    pending: bool  # the 未查验 mark: unsigned/indeterminate without a successful 查验
    mark: str | None = None  # the mark as printed (未查验) when pending
    override: OverrideRecord | None = None


@dataclass(frozen=True)
class InvoiceRef:
    """One original invoice as listed in the record (the file itself sits beside it)."""

    no: int
    key: str
    code: str | None
    number: str | None
    kind: str
    source_format: str
    issue_date: date | None
    amount: Decimal | None
    tax: Decimal | None
    total: Decimal | None
    seller_name: str | None
    seller_tax_id: str | None
    buyer_name: str | None
    buyer_tax_id: str | None
    file: str
    sha256: str
    check: CheckRecord | None = None


@dataclass(frozen=True)
class PaymentRef:
    """A bank e-receipt (付款回单) confirmed as paying the voucher (record-2: voucher/payments)."""

    no: int
    key: str
    number: str
    kind: str
    bank: str | None
    issue_date: date | None
    total: Decimal | None
    currency: str | None
    payer: dict[str, str | None]
    payee: dict[str, str | None]
    purpose: str | None
    file: str
    sha256: str
    check: CheckRecord | None
    confirmed_by: str
    confirmed_at: datetime
    score: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostingRecord:
    """入账: one invoice booked by the voucher, with its 入账标识."""

    invoice_key: str
    flag: str
    at: datetime
    by: str
    released_at: datetime | None = None
    released_by: str | None = None


@dataclass(frozen=True)
class ClaimLineRecord:
    no: int
    invoice_key: str
    invoice_number: str | None
    category: str
    amount: Decimal
    seller_name: str | None = None
    issue_date: date | None = None
    check: CheckRecord | None = None


@dataclass(frozen=True)
class StepRecord:
    """One approval step (创建, 提交, 审核, 审批, 驳回) of a claim."""

    seq: int
    action: str
    from_state: str | None
    to_state: str
    actor: str
    at: datetime
    comment: str | None


@dataclass(frozen=True)
class ClaimRecord:
    id: str
    title: str
    claimant: str
    department: str | None
    purpose: str | None
    state: str
    total: Decimal
    created_at: datetime
    updated_at: datetime
    lines: tuple[ClaimLineRecord, ...]
    steps: tuple[StepRecord, ...]


@dataclass(frozen=True)
class VoucherRecord:
    """Everything the archived record of one voucher holds."""

    id: str
    number: str
    word: str
    period: str
    date: date
    summary: str
    state: str
    source: str
    external_ref: str | None
    reverses: str | None
    total_debit: Decimal
    total_credit: Decimal
    created_by: str
    created_at: datetime
    posted_by: str | None
    posted_at: datetime | None
    posting_flag: str | None
    lines: tuple[LineRecord, ...]
    invoices: tuple[InvoiceRef, ...]
    postings: tuple[PostingRecord, ...]
    claims: tuple[ClaimRecord, ...]
    payments: tuple[PaymentRef, ...] = ()


def _money(v: Decimal | int | str | None) -> Decimal | None:
    return None if v is None else Decimal(str(v)).quantize(CENT)


def _checks(session: Session, invoices: list[Any]) -> dict[str, CheckRecord]:
    """The claim gate's facts of each invoice, by id (``accounting.invoice_status``, overrides)."""
    from accounting.invoice_status import invoice_statuses
    from accounting.overrides import latest_overrides
    from core import messages

    if not invoices:
        return {}
    reports = invoice_statuses(session, invoices)
    overrides = latest_overrides(session, [i.id for i in invoices])
    out = {}
    for inv in invoices:
        rep = reports.get(inv.id)
        pending = bool(rep and rep.online_check_pending)
        o = overrides.get(inv.id)
        out[inv.id] = CheckRecord(
            verification_status=inv.verification_status, online_check_status=inv.online_check_status,
            pending=pending, mark=messages.text("claim.online_check_pending") if pending else None,
            override=OverrideRecord(by=o.by, role=o.role, at=o.at, reason=o.reason) if o else None)
    return out


def _payments(session: Session, voucher: Any, payment_files: dict[str, str]) -> tuple[PaymentRef, ...]:
    """The confirmed 付款回单 of the voucher (accounting.payments), with the gate's facts."""
    from accounting.payments import confirmed_payments

    rows = confirmed_payments(session, voucher.id)
    checks = _checks(session, [r for _, r in rows])
    out = []
    for n, (p, r) in enumerate(rows, 1):
        data = r.data if isinstance(r.data, dict) else {}

        def party(role: str, d: dict[str, Any] = data) -> dict[str, str | None]:
            v = d.get(role)
            v = v if isinstance(v, dict) else {}
            return {k: (str(v[k]) if v.get(k) else None) for k in ("name", "account", "bank")}

        out.append(PaymentRef(
            no=n, key=r.key, number=r.number or r.key, kind=r.kind, bank=data.get("bank") or None,
            issue_date=r.issue_date, total=_money(r.total), currency=data.get("currency") or None,
            payer=party("payer"), payee=party("payee"), purpose=data.get("purpose") or None,
            file=payment_files.get(r.id, ""), sha256=r.sha256, check=checks.get(r.id),
            confirmed_by=p.decided_by, confirmed_at=p.decided_at, score=p.score,
            reasons=tuple(str(x) for x in (p.reasons or []))))
    return tuple(out)


def load_voucher_record(session: Session, voucher: Any, invoice_files: dict[str, str],
                        payment_files: dict[str, str] | None = None) -> VoucherRecord:
    """Snapshot a voucher, its lines, invoices, postings, claims and payments from the models.

    ``invoice_files`` maps an invoice id to the path of its original inside the package,
    ``payment_files`` a confirmed bank receipt's id to the path of its file.
    """
    from accounting import claims as acc_claims
    from accounting import ledger
    from invoice.registry import InvoiceRecord

    invoices = ledger.voucher_invoices(session, voucher.id)
    checks = _checks(session, list(invoices))
    refs = tuple(
        InvoiceRef(no=n, key=i.key, code=i.code or None, number=i.number or None, kind=i.kind,
                   source_format=i.source_format, issue_date=i.issue_date, amount=_money(i.amount),
                   tax=_money(i.tax), total=_money(i.total), seller_name=i.seller_name or None,
                   seller_tax_id=i.seller_tax_id or None, buyer_name=i.buyer_name or None,
                   buyer_tax_id=i.buyer_tax_id or None, file=invoice_files.get(i.id, ""), sha256=i.sha256,
                   check=checks.get(i.id))
        for n, i in enumerate(invoices, 1))
    keys = {i.id: i.key for i in invoices}
    postings = session.exec(select(ledger.InvoicePosting)
                            .where(ledger.InvoicePosting.voucher_id == voucher.id)
                            .order_by(col(ledger.InvoicePosting.at), col(ledger.InvoicePosting.id))).all()
    post_recs = []
    for p in postings:
        key = keys.get(p.invoice_id)
        if key is None:
            inv = session.get(InvoiceRecord, p.invoice_id)
            key = inv.key if inv else p.invoice_id
        post_recs.append(PostingRecord(invoice_key=key, flag=p.flag, at=p.at, by=p.by,
                                       released_at=p.released_at, released_by=p.released_by))
    claims = []
    for c in ledger.voucher_claims(session, voucher.id):
        lines = []
        claim_lines = acc_claims.claim_lines(session, c.id)
        line_invs = [i for i in (session.get(InvoiceRecord, ln.invoice_id) for ln in claim_lines) if i is not None]
        checks.update(_checks(session, [i for i in line_invs if i.id not in checks]))
        for ln in claim_lines:
            inv = session.get(InvoiceRecord, ln.invoice_id)
            lines.append(ClaimLineRecord(no=ln.line_no, invoice_key=inv.key if inv else ln.invoice_id,
                                         invoice_number=(inv.number or None) if inv else None,
                                         category=ln.category, amount=Decimal(ln.amount).quantize(CENT),
                                         seller_name=inv.seller_name if inv else None,
                                         issue_date=inv.issue_date if inv else None,
                                         check=checks.get(ln.invoice_id)))
        steps = tuple(StepRecord(seq=s.seq, action=s.action, from_state=s.from_state, to_state=s.to_state,
                                 actor=s.actor, at=s.at, comment=s.comment)
                      for s in acc_claims.claim_steps(session, c.id))
        claims.append(ClaimRecord(id=c.id, title=c.title, claimant=c.claimant, department=c.department or None,
                                  purpose=c.purpose or None, state=c.state, total=Decimal(c.total).quantize(CENT),
                                  created_at=c.created_at, updated_at=c.updated_at, lines=tuple(lines),
                                  steps=steps))
    reverses = None
    if voucher.reverses_id:
        rv = session.get(ledger.Voucher, voucher.reverses_id)
        reverses = rv.number if rv else voucher.reverses_id
    return VoucherRecord(
        id=voucher.id, number=voucher.number, word=voucher.word, period=voucher.period, date=voucher.date,
        summary=voucher.summary, state=voucher.state, source=voucher.source, external_ref=voucher.external_ref,
        reverses=reverses, total_debit=Decimal(voucher.total_debit).quantize(CENT),
        total_credit=Decimal(voucher.total_credit).quantize(CENT), created_by=voucher.created_by,
        created_at=voucher.created_at, posted_by=voucher.posted_by, posted_at=voucher.posted_at,
        posting_flag=voucher.posting_flag,
        lines=tuple(LineRecord(no=ln.line_no, summary=ln.summary, account_code=ln.account_code,
                               account_name=ln.account_name, debit=Decimal(ln.debit).quantize(CENT),
                               credit=Decimal(ln.credit).quantize(CENT),
                               aux={str(k): str(v) for k, v in (ln.aux or {}).items()})
                    for ln in ledger.voucher_lines(session, voucher.id)),
        invoices=refs, postings=tuple(post_recs), claims=tuple(claims),
        payments=_payments(session, voucher, payment_files or {}),
    )


# --- writing -----------------------------------------------------------------------------------


def _text(v: object) -> str:
    """The lexical form of a value in the record: ISO dates/times, money with two places."""
    if isinstance(v, datetime):
        if v.tzinfo is None:
            raise ValueError("naive datetime in an archived record")
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v.quantize(CENT))
    return _clean(str(v))


def _clean(text: str) -> str:
    # XML 1.0 cannot carry most control characters; they are written as visible escapes so
    # that nothing is lost silently (the schema then sees the escape, not a broken document).
    return "".join(f"\\x{ord(ch):02x}" if (ord(ch) < 0x20 and ch not in "\t\n\r") or ch in "\ufffe\uffff"
                   else ch for ch in text)


def _el(parent: etree._Element, name: str, value: object, required: bool = True) -> None:
    """Append ``<name>value</name>``; an absent optional value is left out (minOccurs=0)."""
    if value is None or value == "":
        if required:
            etree.SubElement(parent, name)  # empty: the schema says whether that is allowed
        return
    etree.SubElement(parent, name).text = _text(value)


def _check_el(parent: etree._Element, check: CheckRecord | None) -> None:
    """``<check>``: verification and 查验 state, the 未查验 mark and the override of one invoice."""
    if check is None:
        return  # the schema requires it: validation names the writer's omission
    el = etree.SubElement(parent, "check")
    _el(el, "verification_status", check.verification_status)
    _el(el, "online_check_status", check.online_check_status)
    _el(el, "pending", "true" if check.pending else "false")
    _el(el, "mark", check.mark, required=False)
    if check.override is not None:
        o = check.override
        oe = etree.SubElement(el, "override")
        for name, value in (("by", o.by), ("role", o.role), ("at", o.at), ("reason", o.reason)):
            _el(oe, name, value)


def _root(name: str, archival_code: str) -> etree._Element:
    ref = schema.current("record")
    root = etree.Element(etree.QName(ref.namespace, name), nsmap={"r": ref.namespace})
    root.set("schemaVersion", str(ref.version))
    root.set("archivalCode", archival_code)
    return root


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def voucher_xml(rec: VoucherRecord, archival_code: str) -> bytes:
    """``content/voucher.xml``: the voucher, its lines, invoice list and postings (入账)."""
    root = _root("voucher", archival_code)
    for name, value, req in (
        ("id", rec.id, True), ("number", rec.number, True), ("word", rec.word, True),
        ("period", rec.period, True), ("date", rec.date, True), ("summary", rec.summary, True),
        ("state", rec.state, True), ("source", rec.source, True), ("external_ref", rec.external_ref, False),
        ("reverses", rec.reverses, False), ("total_debit", rec.total_debit, True),
        ("total_credit", rec.total_credit, True), ("created_by", rec.created_by, True),
        ("created_at", rec.created_at, True), ("posted_by", rec.posted_by, True),
        ("posted_at", rec.posted_at, True), ("posting_flag", rec.posting_flag, False),
        ("attachments", len(rec.invoices), True),
    ):
        _el(root, name, value, req)
    lines = etree.SubElement(root, "lines")
    for ln in rec.lines:
        el = etree.SubElement(lines, "line", no=str(ln.no))
        for name, value in (("summary", ln.summary), ("account_code", ln.account_code),
                            ("account_name", ln.account_name), ("debit", ln.debit), ("credit", ln.credit)):
            _el(el, name, value)
        if ln.aux:
            aux = etree.SubElement(el, "aux")
            for k, v in sorted(ln.aux.items()):
                etree.SubElement(aux, "item", key=_clean(k)).text = _clean(v)
    invs = etree.SubElement(root, "invoices")
    for inv in rec.invoices:
        el = etree.SubElement(invs, "invoice", no=str(inv.no))
        for name, value, req in (
            ("key", inv.key, True), ("code", inv.code, False), ("number", inv.number, False),
            ("kind", inv.kind, True), ("source_format", inv.source_format, True),
            ("issue_date", inv.issue_date, False), ("amount", inv.amount, False), ("tax", inv.tax, False),
            ("total", inv.total, False), ("seller_name", inv.seller_name, False),
            ("seller_tax_id", inv.seller_tax_id, False), ("buyer_name", inv.buyer_name, False),
            ("buyer_tax_id", inv.buyer_tax_id, False), ("file", inv.file, True), ("sha256", inv.sha256, True),
        ):
            _el(el, name, value, req)
        _check_el(el, inv.check)
    posts = etree.SubElement(root, "postings")
    for p in rec.postings:
        el = etree.SubElement(posts, "posting")
        for name, value, req in (("invoice_key", p.invoice_key, True), ("flag", p.flag, True), ("at", p.at, True),
                                 ("by", p.by, True), ("released_at", p.released_at, False),
                                 ("released_by", p.released_by, False)):
            _el(el, name, value, req)
    refs = etree.SubElement(root, "claim_refs")
    for c in rec.claims:
        etree.SubElement(refs, "claim_ref").text = c.id
    if schema.current("record").version >= 2:  # record-2: the 付款回单 (voucher/payments)
        _payments_el(root, rec.payments)
    data = _bytes(root)
    schema.validate_written(data, "record", "content/voucher.xml")
    return data


def _payments_el(root: etree._Element, payments: tuple[PaymentRef, ...]) -> None:
    pays = etree.SubElement(root, "payments")
    for p in payments:
        el = etree.SubElement(pays, "payment", no=str(p.no))
        for name, value, req in (
            ("key", p.key, True), ("number", p.number, True), ("kind", p.kind, True),
            ("bank", p.bank, False), ("issue_date", p.issue_date, False), ("total", p.total, False),
            ("currency", p.currency, False), ("payer_name", p.payer.get("name"), False),
            ("payer_account", p.payer.get("account"), False), ("payer_bank", p.payer.get("bank"), False),
            ("payee_name", p.payee.get("name"), False), ("payee_account", p.payee.get("account"), False),
            ("payee_bank", p.payee.get("bank"), False), ("purpose", p.purpose, False),
            ("file", p.file, True), ("sha256", p.sha256, True),
        ):
            _el(el, name, value, req)
        _check_el(el, p.check)
        _el(el, "confirmed_by", p.confirmed_by)
        _el(el, "confirmed_at", p.confirmed_at)
        _el(el, "score", str(p.score))
        for reason in p.reasons:
            _el(el, "reason", reason)


def claims_xml(rec: VoucherRecord, archival_code: str) -> bytes:
    """``content/claims.xml``: each claim with its lines and every approval step."""
    root = _root("claims", archival_code)
    for c in rec.claims:
        el = etree.SubElement(root, "claim")
        for name, value, req in (
            ("id", c.id, True), ("title", c.title, True), ("claimant", c.claimant, True),
            ("department", c.department, False), ("purpose", c.purpose, False), ("state", c.state, True),
            ("total", c.total, True), ("created_at", c.created_at, True), ("updated_at", c.updated_at, True),
        ):
            _el(el, name, value, req)
        lines = etree.SubElement(el, "lines")
        for ln in c.lines:
            le = etree.SubElement(lines, "line", no=str(ln.no))
            for name, value, req in (("invoice_key", ln.invoice_key, True),
                                     ("invoice_number", ln.invoice_number, False),
                                     ("category", ln.category, True), ("amount", ln.amount, True)):
                _el(le, name, value, req)
            _check_el(le, ln.check)
        steps = etree.SubElement(el, "steps")
        for s in c.steps:
            se = etree.SubElement(steps, "step", seq=str(s.seq))
            for name, value, req in (("action", s.action, True), ("from_state", s.from_state, False),
                                     ("to_state", s.to_state, True), ("actor", s.actor, True),
                                     ("at", s.at, True), ("comment", s.comment, False)):
                _el(se, name, value, req)
    data = _bytes(root)
    schema.validate_written(data, "record", "content/claims.xml")
    return data


__all__ = [
    "CheckRecord",
    "ClaimRecord",
    "InvoiceRef",
    "LineRecord",
    "OverrideRecord",
    "PaymentRef",
    "PostingRecord",
    "StepRecord",
    "VoucherRecord",
    "claims_xml",
    "load_voucher_record",
    "voucher_xml",
]

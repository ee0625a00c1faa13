"""Bank e-receipts in accounting (issue 13): refused on claims, unique per bank, suggested for
the posted voucher they pay, confirmed or rejected by an accountant, audited.

Real receipts (tests/samples) are registered through the real upload path; the CCB receipts
pay 李俊婕 and four colleagues for taxi fares, so the claimant is given that display name.
Storage-bound rules run on SQLite and PostgreSQL (``db_people``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import select

from accounting import payments
from accounting.claims import approve_claim, create_claim, submit_claim
from accounting.errors import AccountingError
from accounting.invoice_status import InvoiceStatus, invoice_status
from accounting.ledger import create_voucher_from_claims, post_voucher
from core.audit import AuditEntry
from core.db import session_scope
from core.settings import Settings
from core.users import User
from invoice.importer import ingest_files
from invoice.registry import InvoiceRecord
from tests.invoice.test_ofd_provenance import build, members_of
from tests.samples import OTHER

from .conftest import People, make_invoice, reviewed

CCB = OTHER / "c5soft__ofd.js"
GUANGDA = OTHER / "itlabers__ofd-go" / "bank_receipt_1.ofd"
GUANGDA_2 = OTHER / "itlabers__ofd-go" / "2020062290131000005100000000013540122236009.ofd"


def _upload(path: Any, user: str = "clerk", data: bytes | None = None) -> dict[str, Any]:
    result = ingest_files([(path.name, data if data is not None else path.read_bytes())], user)
    return result.to_dict()


def _receipt(path: Any) -> InvoiceRecord:
    entry = _upload(path)
    assert entry["imported"], entry
    with session_scope() as s:
        rec = s.get(InvoiceRecord, entry["imported"][0]["invoice_id"])
        assert rec is not None
        s.expunge(rec)
        return rec


def _posted_voucher(p: People, total: str, on: str = "2026-05-10", name: str = "李俊婕") -> str:
    """A posted voucher paying the clerk (display name ``name``) ``total`` for one invoice."""
    with session_scope() as s:
        clerk = s.get(User, p.clerk.id)
        assert clerk is not None
        clerk.display_name = name
        s.add(clerk)
    inv = make_invoice(total=total, tax="0.00")
    with session_scope() as s:
        claim = create_claim(s, p.clerk, "出租车费", "财务处", "市内交通",
                             [{"invoice_id": inv.id, "category": "差旅费"}])
        submit_claim(s, p.clerk, claim.id)
        approve_claim(s, p.approver, claim.id)
    with session_scope() as s:
        v = create_voucher_from_claims(s, p.accountant, [claim.id], date=on)
        vid = v.id
    with session_scope() as s:
        post_voucher(s, p.accountant, reviewed(s, p, vid))
    return vid


# --- the claim gate ---------------------------------------------------------------------------


def test_a_bank_receipt_is_refused_on_a_claim_line(db_people: People) -> None:
    receipt = _receipt(CCB / "26050100800_00001.ofd")
    with session_scope() as s:
        rec = s.get(InvoiceRecord, receipt.id)
        assert rec is not None
        st = invoice_status(s, rec)
    assert st.status is InvoiceStatus.NOT_INVOICE and not st.claimable
    assert st.label == "付款回单（不可报销）" and "银行电子回单" in st.reasons[0]
    with pytest.raises(AccountingError) as err, session_scope() as s:
        create_claim(s, db_people.clerk, "打车", "财务处", "市内交通",
                     [{"invoice_id": receipt.id, "category": "差旅费"}])
    assert err.value.code == "bank_receipt_not_invoice"
    assert "不是发票，不能作为报销明细" in err.value.message
    # an invoice on the same claim passes the same gate
    with session_scope() as s:
        assert create_claim(s, db_people.clerk, "打车", "财务处", "市内交通",
                            [{"invoice_id": make_invoice().id, "category": "差旅费"}]).state == "draft"


# --- duplicates: unique per bank ----------------------------------------------------------------


def test_the_same_receipt_number_of_one_bank_is_a_duplicate(db_people: People) -> None:
    first = _upload(GUANGDA)
    with session_scope() as s:
        rec = s.get(InvoiceRecord, first["imported"][0]["invoice_id"])
        assert rec is not None and rec.key == "bank:C1030311000455:202006229013100000510000000001"
    again = _upload(GUANGDA_2)  # another file, the same bank and receipt number
    assert not again["imported"] and again["duplicates"], again
    assert again["duplicates"][0]["duplicate_of"]["invoice_id"] == first["imported"][0]["invoice_id"]


def test_the_same_receipt_number_at_another_bank_is_another_receipt(db_people: People) -> None:
    data = GUANGDA.read_bytes()
    path, xml = next((k, v) for k, v in members_of(data).items()
                     if "/Attachs/C10" in k)
    other_bank = build(data, {path: xml.replace(b">C1030311000455<", b">C1040311000999<")})
    first = _upload(GUANGDA)
    second = _upload(GUANGDA, data=other_bank)
    assert first["imported"] and second["imported"], second
    with session_scope() as s:
        keys = {s.get(InvoiceRecord, e["imported"][0]["invoice_id"]).key  # type: ignore[union-attr]
                for e in (first, second)}
    assert keys == {"bank:C1030311000455:202006229013100000510000000001",
                    "bank:C1040311000999:202006229013100000510000000001"}


# --- suggestions, confirmation, rejection -------------------------------------------------------


def test_the_receipt_that_pays_a_voucher_is_suggested_with_reasons(db_people: People) -> None:
    vid = _posted_voucher(db_people, "27.00")
    pays = _receipt(CCB / "26050100800_00001.ofd")  # 27.00 to 李俊婕 on 2026-05-12
    other = _receipt(CCB / "26050100800_00002.ofd")  # 56.00 to 火晓霞: neither amount nor payee
    with session_scope() as s:
        found = payments.suggest_payments(s, vid)
    assert [f.receipt.id for f in found] == [pays.id]
    best = found[0]
    assert best.codes == ["amount_exact", "payee_claimant", "date_window"]
    assert best.score >= 90
    assert any("金额相同（27.00 元）" in r for r in best.reasons)
    assert any("李俊婕" in r and "报销人" in r for r in best.reasons)
    assert other.id not in {f.receipt.id for f in found}


def test_a_receipt_outside_the_date_window_is_not_suggested(db_people: People) -> None:
    vid = _posted_voucher(db_people, "27.00", on="2026-01-05")  # receipt is 127 days later
    _receipt(CCB / "26050100800_00001.ofd")
    with session_scope() as s:
        assert payments.suggest_payments(s, vid) == []


def test_confirm_links_audits_and_shows_on_both_sides(db_people: People) -> None:
    vid = _posted_voucher(db_people, "27.00")
    receipt = _receipt(CCB / "26050100800_00001.ofd")
    with session_scope() as s:
        row = payments.confirm_payment(s, db_people.accountant, vid, receipt.id)
        assert row.state == "confirmed" and row.amount == Decimal("27.00")
    with session_scope() as s:
        d = payments.voucher_payments_dict(s, vid)
        assert [p["receipt_id"] for p in d["payments"]] == [receipt.id]
        assert d["suggestions"] == []  # decided receipts are not suggested again
        assert [v.id for v in payments.vouchers_paid_by(s, receipt.id)] == [vid]
        actions = [e.action for e in s.exec(select(AuditEntry).where(
            AuditEntry.object_id == vid)).all()]
        assert "payment.link" in actions
    with pytest.raises(AccountingError) as err, session_scope() as s:
        payments.confirm_payment(s, db_people.accountant, vid, receipt.id)
    assert err.value.code == "payment_already_linked"
    with session_scope() as s:
        payments.remove_payment(s, db_people.accountant, vid, receipt.id)
    with session_scope() as s:
        assert payments.vouchers_paid_by(s, receipt.id) == []
        assert [f.receipt.id for f in payments.suggest_payments(s, vid)] == [receipt.id]


def test_a_receipt_cannot_pay_more_than_its_amount(db_people: People) -> None:
    first = _posted_voucher(db_people, "27.00")
    second = _posted_voucher(db_people, "27.00")
    receipt = _receipt(CCB / "26050100800_00001.ofd")
    with session_scope() as s:
        payments.confirm_payment(s, db_people.accountant, first, receipt.id)
    with pytest.raises(AccountingError) as err, session_scope() as s:
        payments.confirm_payment(s, db_people.accountant, second, receipt.id)
    assert err.value.code == "payment_already_linked" and "不能关联两张凭证" in err.value.message


def test_reject_keeps_the_receipt_out_of_the_suggestions(db_people: People) -> None:
    vid = _posted_voucher(db_people, "27.00")
    receipt = _receipt(CCB / "26050100800_00001.ofd")
    with session_scope() as s:
        payments.reject_suggestion(s, db_people.accountant, vid, receipt.id)
    with session_scope() as s:
        assert payments.suggest_payments(s, vid) == []
        assert payments.vouchers_paid_by(s, receipt.id) == []
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "payment.reject")).first()


def test_only_posted_vouchers_and_real_receipts_can_be_linked(db_people: People, org: Settings) -> None:
    vid = _posted_voucher(db_people, "27.00")
    invoice = make_invoice()
    with pytest.raises(AccountingError) as err, session_scope() as s:
        payments.confirm_payment(s, db_people.accountant, vid, invoice.id)
    assert err.value.code == "not_a_bank_receipt" and "不是银行电子回单" in err.value.message
    inv2 = make_invoice(total="27.00", tax="0.00")
    with session_scope() as s:
        claim = create_claim(s, db_people.clerk, "出租车费", "财务处", None,
                             [{"invoice_id": inv2.id, "category": "差旅费"}])
        submit_claim(s, db_people.clerk, claim.id)
        approve_claim(s, db_people.approver, claim.id)
        draft = create_voucher_from_claims(s, db_people.accountant, [claim.id],
                                           date=date(2026, 5, 10)).id
    receipt = _receipt(CCB / "26050100800_00001.ofd")
    with pytest.raises(AccountingError) as err, session_scope() as s:
        payments.confirm_payment(s, db_people.accountant, draft, receipt.id)
    assert err.value.code == "voucher_not_posted" and "尚未记账" in err.value.message


# --- the terminal and HTTP ------------------------------------------------------------------------


def test_voucher_pay_in_the_terminal(people: People, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from api.cli import main

    vid = _posted_voucher(people, "27.00")
    receipt = _receipt(CCB / "26050100800_00001.ofd")
    with session_scope() as s:
        from accounting.ledger import get_voucher

        number = get_voucher(s, vid).number
    assert main(["voucher", "pay", number]) == 0
    out = capsys.readouterr().out
    assert "947846" in out and "金额相同（27.00 元）" in out and "匹配度" in out
    assert main(["voucher", "pay", number, "--receipt", str(receipt.key), "--as", "clerk"]) == 1
    assert "不能执行" in capsys.readouterr().err
    assert main(["voucher", "pay", number, "--receipt", str(receipt.key), "--as", "accountant",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["state"] == "confirmed" and out["receipt_id"] == receipt.id
    assert main(["voucher", "pay", number, "--remove", receipt.id, "--as", "accountant"]) == 0
    assert "已确认的付款回单 0 张" in capsys.readouterr().out


"""Vouchers: building, balance, numbering, posting once, reversal; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import select

from accounting.claims import approve_claim, create_claim, get_claim, submit_claim
from accounting.errors import AccountingError, ErrorKind
from accounting.ledger import (
    InvoicePosting,
    Voucher,
    create_voucher,
    create_voucher_from_claims,
    get_voucher,
    list_vouchers,
    post_voucher,
    posting_status,
    reverse_voucher,
    voucher_claims,
    voucher_invoices,
    voucher_lines,
    voucher_to_dict,
)
from core.audit import verify_chain
from core.db import session_scope
from invoice import registry

from .conftest import People, make_invoice, reviewed


def _approved(p: People, invoices: list[Any], category: str = "差旅费", amounts: list[str] | None = None) -> str:
    lines = [{"invoice_id": inv.id, "category": category, **({"amount": amounts[i]} if amounts else {})}
             for i, inv in enumerate(invoices)]
    with session_scope() as s:
        claim = create_claim(s, p.clerk, "上海出差", "销售部", "客户拜访", lines)
        submit_claim(s, p.clerk, claim.id)
        approve_claim(s, p.approver, claim.id)
        return claim.id


def _push(p: People, keys: list[str], ref: str | None = None, amount: str = "100.00",
          on: str = "2025-11-20", **kw: Any) -> Voucher:
    lines = kw.pop("lines", None) or [
        {"account_code": "660203", "debit": amount, "aux": {"department": "行政部"}},
        {"account_code": "1002", "credit": amount},
    ]
    with session_scope() as s:
        return create_voucher(s, p.accountant, on, kw.pop("summary", "购办公用品"), lines, keys, ref)


def _lines(voucher_id: str) -> list[tuple[str, str, str]]:
    with session_scope() as s:
        return [(x.account_code, str(x.debit), str(x.credit)) for x in voucher_lines(s, voucher_id)]


def test_claim_voucher_books_net_expense_input_vat_and_payable(people: People) -> None:
    special = make_invoice(total="1060.00", tax="60.00", kind="digital_special")
    ordinary = make_invoice(total="212.00", tax="12.00", kind="digital_ordinary")
    claim_id = _approved(people, [special, ordinary])
    with session_scope() as s:
        v = create_voucher_from_claims(s, people.accountant, [claim_id], date="2025-11-28")
        d = voucher_to_dict(s, v)
        assert get_claim(s, claim_id).voucher_id == v.id
    assert d["number"] == "记-2025-11-0001" and d["period"] == "2025-11" and d["state"] == "draft"
    assert _lines(v.id) == [("660201", "1212.00", "0.00"), ("22210101", "60.00", "0.00"),
                            ("2241", "0.00", "1272.00")]
    assert d["total_debit"] == d["total_credit"] == "1272.00"
    assert d["lines"][1]["account_name"] == "应交税费—应交增值税—进项税额"
    assert d["lines"][2]["aux"] == {"employee": "clerk", "department": "销售部"}
    assert d["attachments"] == 2 and d["claim_ids"] == [claim_id]


def test_partial_claim_takes_tax_in_proportion(people: People) -> None:
    inv = make_invoice(total="1060.00", tax="60.00", kind="vat_e_special")
    claim_id = _approved(people, [inv], "办公费", ["530.00"])
    with session_scope() as s:
        v = create_voucher_from_claims(s, people.accountant, [claim_id], date="2025-11-28")
    assert _lines(v.id) == [("660203", "500.00", "0.00"), ("22210101", "30.00", "0.00"),
                            ("2241", "0.00", "530.00")]


def test_entertainment_input_vat_is_not_deducted(people: People) -> None:
    inv = make_invoice(total="1060.00", tax="60.00", kind="digital_special")
    claim_id = _approved(people, [inv], "业务招待费")
    with session_scope() as s:
        v = create_voucher_from_claims(s, people.accountant, [claim_id], date="2025-11-28")
    assert _lines(v.id) == [("660204", "1060.00", "0.00"), ("2241", "0.00", "1060.00")]


def test_only_approved_unbooked_claims_become_vouchers(people: People) -> None:
    with session_scope() as s:
        draft = create_claim(s, people.clerk, "t", None, None, [{"invoice_id": make_invoice().id}])
    with pytest.raises(AccountingError, match="只有已审批的报销单才能生成凭证"), session_scope() as s:
        create_voucher_from_claims(s, people.accountant, [draft.id])
    claim_id = _approved(people, [make_invoice()])
    with session_scope() as s:
        v = create_voucher_from_claims(s, people.accountant, [claim_id], date="2025-11-28")
    with pytest.raises(AccountingError, match=f"已生成凭证 {v.number}，不能重复生成"), session_scope() as s:
        create_voucher_from_claims(s, people.accountant, [claim_id])


@pytest.mark.parametrize(("lines", "message"), [
    ([{"account_code": "660203", "debit": "100.00"}], "至少需要两行分录"),
    ([{"account_code": "660203", "debit": "100.00"}, {"account_code": "1002", "credit": "99.99"}],
     "借方合计 100.00 元，贷方合计 99.99 元，相差 0.01 元"),
    ([{"account_code": "660203", "debit": "100.00", "credit": "1"}, {"account_code": "1002", "credit": "99.00"}],
     "第 1 行同时填了借方和贷方"),
    ([{"account_code": "660203"}, {"account_code": "1002", "credit": "1"}], "第 1 行既没有借方金额也没有贷方金额"),
    ([{"account_code": "9999", "debit": "1"}, {"account_code": "1002", "credit": "1"}],
     "第 1 行的科目代码“9999”不在会计科目表中"),
    ([{"account_code": "660203", "debit": 1.5}, {"account_code": "1002", "credit": "1.50"}],
     "第 1 行借方"),
])
def test_pushed_vouchers_must_balance_and_name_known_accounts(people: People, lines: list[Any],
                                                             message: str) -> None:
    with pytest.raises(AccountingError, match=message) as e:
        _push(people, [], lines=lines)
    assert e.value.kind is ErrorKind.BAD_INPUT
    with session_scope() as s:
        assert list_vouchers(s)[1] == 0


def test_pushed_voucher_is_idempotent_on_external_ref(people: People) -> None:
    inv = make_invoice()
    first = _push(people, [inv.key], ref="ERP-2025-0042")
    again = _push(people, [inv.key], ref="ERP-2025-0042", amount="999.00")
    assert again.id == first.id and again.number == first.number
    with session_scope() as s:
        assert list_vouchers(s)[1] == 1
        assert [i.id for i in voucher_invoices(s, first.id)] == [inv.id]
    with pytest.raises(AccountingError, match="发票“nokey”尚未登记") as e:
        _push(people, ["nokey"], ref="ERP-2")
    assert e.value.kind is ErrorKind.NOT_FOUND


def test_numbers_are_gap_free_per_period_and_word(people: People) -> None:
    numbers = [_push(people, [], on=d).number for d in ("2025-11-01", "2025-11-30", "2025-12-01", "2025-11-15")]
    assert numbers == ["记-2025-11-0001", "记-2025-11-0002", "记-2025-12-0001", "记-2025-11-0003"]
    with pytest.raises(AccountingError), session_scope() as s:  # a failed voucher gives its number back
        create_voucher(s, people.accountant, "2025-11-16", "x", [{"account_code": "1001", "debit": "1"},
                                                                 {"account_code": "9999", "credit": "1"}])
    assert _push(people, [], on="2025-11-17").number == "记-2025-11-0004"


def test_concurrent_numbering_has_no_gaps_or_repeats(db_people: People) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(4):
                _push(db_people, [], on="2025-10-05")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope() as s:
        seqs = sorted(v.seq for v in s.exec(select(Voucher).where(Voucher.period == "2025-10")).all())
    assert seqs == list(range(1, 21))


def test_posting_marks_invoices_once(people: People) -> None:
    inv = make_invoice()
    claim_id = _approved(people, [inv])
    with session_scope() as s:
        v = create_voucher_from_claims(s, people.accountant, [claim_id], date="2025-11-28")
    assert posting_status_of(inv.id)["flag"] == "01"
    with session_scope() as s:
        posted = post_voucher(s, people.accountant, reviewed(s, people, v.id))
        assert posted.state == "posted" and posted.posting_flag == "02" and posted.posted_by == "accountant"
    status = posting_status_of(inv.id)
    assert status["posted"] is True and status["flag"] == "02" and status["voucher_id"] == v.id
    assert status["posted_by"] == "accountant" and status["posted_at"]
    with pytest.raises(AccountingError, match=f"凭证 {v.number} 已由 accountant 于 .* 记账，不能再次记账"), session_scope() as s:
        post_voucher(s, people.accountant, v.id)
    # another voucher naming the posted invoice is refused at creation, naming the voucher
    with pytest.raises(AccountingError, match=f"已在凭证 {v.number} 上入账"):
        _push(people, [inv.key])
    with session_scope() as s:
        assert registry._usage_lookup is not None
        assert registry._usage_lookup(s, inv.id) == {"claim_id": claim_id, "voucher_id": v.id, "posted": True}


def posting_status_of(invoice_id: str) -> dict[str, Any]:
    with session_scope() as s:
        return posting_status(s, invoice_id)


def test_not_deductible_posting_records_flag_03(people: People) -> None:
    inv = make_invoice()
    v = _push(people, [inv.key])
    with session_scope() as s:
        post_voucher(s, people.accountant, reviewed(s, people, v.id), deductible=False)
    assert posting_status_of(inv.id)["flag"] == "03"


def test_concurrent_postings_sharing_an_invoice_exactly_one_wins(db_people: People) -> None:
    shared = make_invoice()
    a = _push(db_people, [shared.key, make_invoice().key], ref="A")
    b = _push(db_people, [shared.key], ref="B")
    barrier = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def run(voucher_id: str) -> None:
        barrier.wait()
        try:
            with session_scope() as s:
                post_voucher(s, db_people.accountant, reviewed(s, db_people, voucher_id))
            outcome[voucher_id] = "posted"
        except AccountingError as exc:
            outcome[voucher_id] = exc.code

    threads = [threading.Thread(target=run, args=(v.id,)) for v in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome.values()) == ["invoice_already_posted", "posted"]
    winner = next(k for k, v in outcome.items() if v == "posted")
    loser = a.id if winner == b.id else b.id
    with session_scope() as s:
        active = s.exec(select(InvoicePosting).where(InvoicePosting.invoice_id == shared.id)).all()
        assert [(p.voucher_id, p.active_key) for p in active] == [(winner, shared.id)]
        assert get_voucher(s, loser).state == "draft"  # the loser changed nothing
        assert s.exec(select(InvoicePosting).where(InvoicePosting.voucher_id == loser)).all() == []
        assert verify_chain(s).ok


def test_reversal_is_red_figures_keeps_both_and_releases_invoices(people: People) -> None:
    inv = make_invoice(total="1060.00", tax="60.00", kind="digital_special")
    claim_id = _approved(people, [inv])
    with session_scope() as s:
        v = create_voucher_from_claims(s, people.accountant, [claim_id], date="2025-11-28")
        post_voucher(s, people.accountant, reviewed(s, people, v.id))
    with session_scope() as s:
        r = reverse_voucher(s, people.accountant, v.id, date="2025-12-02")
        rd = voucher_to_dict(s, r)
        od = voucher_to_dict(s, get_voucher(s, v.id))
        assert get_claim(s, claim_id).voucher_id is None
        assert [c.id for c in voucher_claims(s, v.id)] == [claim_id]
    assert rd["number"] == "记-2025-12-0001" and rd["state"] == "posted" and rd["posting_flag"] == "06"
    assert rd["reverses"] == {"id": v.id, "number": v.number} and od["reversed_by"]["id"] == r.id
    assert od["state"] == "posted" and rd["summary"].startswith(f"冲销 2025-11-28 {v.number} 号凭证")
    assert _lines(r.id) == [("660201", "-1000.00", "0.00"), ("22210101", "-60.00", "0.00"),
                            ("2241", "0.00", "-1060.00")]
    status = posting_status_of(inv.id)
    assert status["posted"] is False and status["flag"] == "06"
    assert [h["flag"] for h in status["history"]] == ["02", "06"]
    # the claim can be booked and posted again
    with session_scope() as s:
        again = create_voucher_from_claims(s, people.accountant, [claim_id], date="2025-12-03")
        post_voucher(s, people.accountant, reviewed(s, people, again.id))
    assert posting_status_of(inv.id)["voucher_id"] == again.id
    for target, message in ((v.id, "已被凭证 记-2025-12-0001 冲销"),
                            (r.id, "本身就是红字冲销凭证")):
        with pytest.raises(AccountingError, match=message), session_scope() as s:
            reverse_voucher(s, people.accountant, target)


def test_only_posted_vouchers_are_reversed(people: People) -> None:
    v = _push(people, [])
    with pytest.raises(AccountingError, match="还没有记账，只有已记账的凭证才需要红字冲销"), \
            session_scope() as s:
        reverse_voucher(s, people.accountant, v.id)


def test_posting_refuses_an_invoice_that_turned_invalid(people: People) -> None:
    inv = make_invoice()
    v = _push(people, [inv.key])
    with session_scope() as s:
        rec = s.get(registry.InvoiceRecord, inv.id)
        assert rec is not None
        rec.status = "invalid"
    with pytest.raises(AccountingError, match="的状态是“验证失败”，不能入账"), session_scope() as s:
        post_voucher(s, people.accountant, reviewed(s, people, v.id))
    with session_scope() as s:
        assert get_voucher(s, v.id).state == "draft"


def test_list_vouchers_by_period(people: People) -> None:
    _push(people, [], on="2025-11-02")
    _push(people, [], on="2025-12-02")
    with session_scope() as s:
        items, total = list_vouchers(s, period="2025-12")
        assert total == 1 and items[0].date == date(2025, 12, 2)
        with pytest.raises(AccountingError, match="会计期间“2025-13”格式不对"):
            list_vouchers(s, period="2025-13")
        assert sum(x.total_debit for x in list_vouchers(s)[0]) == Decimal("200.00")


def test_registry_reports_claim_voucher_and_posting_of_an_invoice(people: People) -> None:
    inv = make_invoice()
    with session_scope() as s:
        rec = s.get(registry.InvoiceRecord, inv.id)
        assert rec is not None
        before = registry.invoice_summary(rec, s)
    assert (before["claim_id"], before["voucher_id"], before["posted"]) == (None, None, False)
    claim_id = _approved(people, [inv])
    with session_scope() as s:
        v = create_voucher_from_claims(s, people.accountant, [claim_id], date="2025-11-28")
        rec = s.get(registry.InvoiceRecord, inv.id)
        assert rec is not None
        draft = registry.invoice_summary(rec, s)
        post_voucher(s, people.accountant, reviewed(s, people, v.id))
        posted = registry.invoice_summary(rec, s)
        assert [r.id for r in registry.list_invoices(s, posted=True)[0]] == [inv.id]
        assert inv.id not in [r.id for r in registry.list_invoices(s, posted=False, page_size=500)[0]]
    assert (draft["claim_id"], draft["voucher_id"], draft["posted"]) == (claim_id, v.id, False)
    assert (posted["voucher_id"], posted["posted"]) == (v.id, True)


def test_a_red_reversed_invoice_cannot_be_posted(people: People) -> None:
    inv = make_invoice()
    make_invoice(total="-1060.00", tax="-60.00", red_reverses_key=inv.key)
    v = _push(people, [inv.key])
    with pytest.raises(AccountingError, match=r"已被红字发票 .* 冲销（红冲）"), \
            session_scope() as s:
        post_voucher(s, people.accountant, reviewed(s, people, v.id))


def test_a_posted_voucher_cannot_be_changed_in_place(people: People) -> None:
    v = _push(people, [])
    with session_scope() as s:
        post_voucher(s, people.accountant, reviewed(s, people, v.id))
    with pytest.raises(AccountingError, match="已记账，不能修改或删除"), session_scope() as s:
        voucher_lines(s, v.id)[0].debit = Decimal("1.00")
    with pytest.raises(AccountingError, match="已记账，不能修改或删除"), \
            session_scope() as s:
        got = get_voucher(s, v.id)
        got.summary = "改过"
        s.add(got)
    with session_scope() as s:
        assert voucher_lines(s, v.id)[0].debit == Decimal("100.00")
        assert get_voucher(s, v.id).summary == "购办公用品"

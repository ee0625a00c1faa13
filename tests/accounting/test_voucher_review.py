"""凭证审核, editing and deleting drafts, gap-free numbers after deletion, display names in
summaries; storage rules on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlmodel import select

import core.users
from accounting.claims import approve_claim, create_claim, get_claim, submit_claim
from accounting.errors import AccountingError
from accounting.ledger import (
    Voucher,
    create_voucher,
    create_voucher_from_claims,
    delete_voucher,
    get_voucher,
    list_vouchers,
    number_gaps,
    post_voucher,
    review_voucher,
    unreview_voucher,
    update_voucher,
    voucher_lines,
    voucher_to_dict,
)
from core.audit import AuditEntry, verify_chain
from core.db import session_scope
from core.settings import Settings

from .conftest import People, make_invoice


def _push(p: People, amount: str = "100.00", on: str = "2025-11-20", keys: list[str] | None = None,
          by: str = "accountant") -> str:
    lines = [{"account_code": "660203", "debit": amount}, {"account_code": "1002", "credit": amount}]
    with session_scope() as s:
        return create_voucher(s, getattr(p, by), on, "购办公用品", lines, keys or []).id


def _state(voucher_id: str) -> dict[str, Any]:
    with session_scope() as s:
        return voucher_to_dict(s, get_voucher(s, voucher_id))


def _refused(code: str, fn: Any, *args: Any, **kw: Any) -> AccountingError:
    with pytest.raises(AccountingError) as exc, session_scope() as s:
        fn(s, *args, **kw)
    assert exc.value.code == code, exc.value.message
    return exc.value


def _actions(voucher_id: str) -> list[str]:
    with session_scope() as s:
        return [e.action for e in s.exec(select(AuditEntry).where(AuditEntry.object_id == voucher_id)
                                         .order_by(AuditEntry.seq)).all()]


# --- 审核 -------------------------------------------------------------------------------------------

def test_the_maker_cannot_review_and_posting_waits_for_a_review(people: People) -> None:
    vid = _push(people)
    err = _refused("voucher_review_own", review_voucher, people.accountant, vid)
    assert "制单和审核须由不同的人完成" in err.message
    err = _refused("voucher_not_reviewed", post_voucher, people.accountant, vid)
    assert "还没有审核" in err.message
    with session_scope() as s:
        review_voucher(s, people.accountant2, vid)
    d = _state(vid)
    assert d["state"] == "reviewed" and d["state_label"] == "已审核" and d["reviewed_by"] == "accountant2"
    assert d["reviewed_at"] and d["review_required"] is True
    with session_scope() as s:
        post_voucher(s, people.accountant, vid)
    assert _state(vid)["state"] == "posted"
    assert _actions(vid) == ["voucher.create", "voucher.review", "voucher.post"]
    # a posted voucher is neither reviewed again nor taken back
    _refused("already_posted", review_voucher, people.admin, vid)
    _refused("voucher_immutable", unreview_voucher, people.accountant2, vid)


def test_review_can_be_switched_off_for_tiny_teams(people: People, settings: Settings) -> None:
    settings.voucher_review = False
    vid = _push(people)
    with session_scope() as s:
        post_voucher(s, people.accountant, vid)  # the maker posts the draft directly
    d = _state(vid)
    assert d["state"] == "posted" and d["reviewed_by"] is None and d["review_required"] is False


def test_a_reviewed_voucher_is_frozen_until_the_reviewer_takes_it_back(people: People) -> None:
    vid = _push(people)
    with session_scope() as s:
        review_voucher(s, people.accountant2, vid)
    _refused("voucher_not_draft", review_voucher, people.admin, vid)
    err = _refused("voucher_not_draft", update_voucher, people.accountant, vid, summary="改")
    assert "已审核" in err.message and "取消审核" in err.message
    _refused("voucher_not_draft", delete_voucher, people.accountant, vid)
    _refused("voucher_unreview_not_reviewer", unreview_voucher, people.admin, vid)
    with session_scope() as s:
        unreview_voucher(s, people.accountant2, vid)
    d = _state(vid)
    assert d["state"] == "draft" and d["reviewed_by"] is None
    _refused("voucher_not_reviewed_state", unreview_voucher, people.accountant2, vid)
    assert _actions(vid)[-2:] == ["voucher.review", "voucher.unreview"]


def test_whoever_last_edited_a_draft_cannot_review_it(people: People) -> None:
    vid = _push(people)
    with session_scope() as s:
        update_voucher(s, people.accountant2, vid, summary="购办公用品（改）")
    _refused("voucher_review_own", review_voucher, people.accountant2, vid)
    _refused("voucher_review_own", review_voucher, people.accountant, vid)  # still the maker
    with session_scope() as s:
        review_voucher(s, people.admin, vid)
    assert _state(vid)["reviewed_by"] == "admin"


def test_two_concurrent_reviews_one_wins(db_people: People) -> None:
    vid = _push(db_people)
    barrier = threading.Barrier(2)
    outcome: list[str] = []

    def run(user: Any) -> None:
        barrier.wait()
        try:
            with session_scope() as s:
                review_voucher(s, user, vid)
            outcome.append("reviewed")
        except AccountingError as exc:
            outcome.append(exc.code)

    threads = [threading.Thread(target=run, args=(u,)) for u in (db_people.accountant2, db_people.admin)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome) == ["reviewed", "voucher_not_draft"]
    assert _actions(vid).count("voucher.review") == 1
    with session_scope() as s:
        assert verify_chain(s).ok


# --- editing a draft ---------------------------------------------------------------------------------

def test_editing_a_draft_keeps_it_balanced_and_audited(people: People) -> None:
    vid = _push(people)
    lines = [{"account_code": "660203", "debit": "80.00"}, {"account_code": "660201", "debit": "40.00"},
             {"account_code": "1002", "credit": "120.00"}]
    with session_scope() as s:
        v = update_voucher(s, people.accountant, vid, summary="购办公用品及差旅", lines=lines, date="2025-11-21")
        assert v.total_debit == v.total_credit == 120
        assert [(x.account_code, str(x.debit)) for x in voucher_lines(s, vid)] == [
            ("660203", "80.00"), ("660201", "40.00"), ("1002", "0.00")]
    d = _state(vid)
    assert d["summary"] == "购办公用品及差旅" and d["date"] == "2025-11-21" and d["number"] == "记-2025-11-0001"
    assert d["updated_by"] == "accountant"
    unbalanced = [{"account_code": "660203", "debit": "80.00"}, {"account_code": "1002", "credit": "79.00"}]
    err = _refused("unbalanced", update_voucher, people.accountant, vid, lines=unbalanced)
    assert "借方合计 80.00 元，贷方合计 79.00 元" in err.message
    _refused("unknown_account", update_voucher, people.accountant, vid,
             lines=[{"account_code": "9999", "debit": "1"}, {"account_code": "1002", "credit": "1"}])
    _refused("too_few_lines", update_voucher, people.accountant, vid, lines=[lines[0]])
    _refused("bad_summary", update_voucher, people.accountant, vid, summary="  ")
    _refused("bad_date", update_voucher, people.accountant, vid, date="2025-02-30")
    assert _state(vid)["total_debit"] == "120.00"  # the refused edits changed nothing
    with session_scope() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "voucher.update")).one()
        assert entry.details["changes"]["summary"] == ["购办公用品", "购办公用品及差旅"]
        assert entry.details["changes"]["total"] == ["100.00", "120.00"]


def test_a_posted_voucher_cannot_be_edited_or_deleted(people: People) -> None:
    vid = _push(people)
    with session_scope() as s:
        review_voucher(s, people.accountant2, vid)
        post_voucher(s, people.accountant, vid)
    _refused("voucher_immutable", update_voucher, people.accountant, vid, summary="改")
    _refused("voucher_immutable", delete_voucher, people.accountant, vid)


# --- deleting and numbering -------------------------------------------------------------------------

def test_a_deleted_drafts_number_is_taken_by_the_next_voucher(db_people: People) -> None:
    ids = [_push(db_people) for _ in range(3)]
    assert [_state(v)["number"] for v in ids] == ["记-2025-11-0001", "记-2025-11-0002", "记-2025-11-0003"]
    with session_scope() as s:
        gone = delete_voucher(s, db_people.accountant, ids[1])
    assert gone["number_freed"] == "记-2025-11-0002"
    with session_scope() as s:
        assert [g.number for g in number_gaps(s, "2025-11")] == ["记-2025-11-0002"]
        assert s.get(Voucher, ids[1]) is None
    # another month does not take it
    assert _state(_push(db_people, on="2025-12-01"))["number"] == "记-2025-12-0001"
    assert _state(_push(db_people))["number"] == "记-2025-11-0002"
    assert _state(_push(db_people))["number"] == "记-2025-11-0004"
    with session_scope() as s:
        assert number_gaps(s) == []
        numbers = [v.number for v in list_vouchers(s, period="2025-11")[0]]
    assert numbers == [f"记-2025-11-{n:04d}" for n in range(1, 5)]  # gap-free
    assert _actions(ids[1]) == ["voucher.create", "voucher.delete"]


def test_moving_a_draft_to_another_month_renumbers_it_and_frees_its_number(db_people: People) -> None:
    first, second = _push(db_people), _push(db_people)
    with session_scope() as s:
        update_voucher(s, db_people.accountant, first, date="2025-12-05")
    assert _state(first)["number"] == "记-2025-12-0001" and _state(first)["period"] == "2025-12"
    assert _state(second)["number"] == "记-2025-11-0002"
    assert _state(_push(db_people))["number"] == "记-2025-11-0001"


def test_deleting_a_draft_releases_its_claims_and_invoices(db_people: People) -> None:
    inv = make_invoice()
    with session_scope() as s:
        claim = create_claim(s, db_people.clerk, "上海出差", "销售部", None,
                             [{"invoice_id": inv.id, "category": "差旅费"}])
        submit_claim(s, db_people.clerk, claim.id)
        approve_claim(s, db_people.approver, claim.id)
        vid = create_voucher_from_claims(s, db_people.accountant, [claim.id], date="2025-11-28").id
    with session_scope() as s:
        assert get_claim(s, claim.id).voucher_id == vid
    _refused("claim_already_booked", create_voucher_from_claims, db_people.accountant, [claim.id])
    with session_scope() as s:
        gone = delete_voucher(s, db_people.accountant, vid)
    assert gone["released_claims"] == [claim.id] and gone["released_invoices"] == [inv.id]
    with session_scope() as s:
        assert get_claim(s, claim.id).voucher_id is None
        again = create_voucher_from_claims(s, db_people.accountant, [claim.id], date="2025-11-28")
        assert again.number == "记-2025-11-0001"  # the deleted draft's number again
        review_voucher(s, db_people.accountant2, again.id)
        post_voucher(s, db_people.accountant, again.id)
    with session_scope() as s:
        assert verify_chain(s).ok


# --- names in summaries ------------------------------------------------------------------------------

def _claim_voucher_summary(p: People) -> tuple[str, list[str]]:
    with session_scope() as s:
        claim = create_claim(s, p.clerk, "上海出差", None, None,
                             [{"invoice_id": make_invoice().id, "category": "差旅费"}])
        submit_claim(s, p.clerk, claim.id)
        approve_claim(s, p.approver, claim.id)
        v = create_voucher_from_claims(s, p.accountant, [claim.id], date="2025-11-28")
        return v.summary, [x.summary for x in voucher_lines(s, v.id)]


def test_claim_vouchers_name_people_by_their_display_name(people: People, monkeypatch: pytest.MonkeyPatch) -> None:
    names = {"clerk": "张三", "accountant": "李会计"}
    monkeypatch.setattr(core.users, "display_name", lambda u: names.get(u.username, u.username), raising=False)
    summary, lines = _claim_voucher_summary(people)
    assert summary == "报销 张三 差旅费：上海出差"
    assert lines == ["报销 张三 差旅费：上海出差", "应付 张三 报销款：上海出差"]
    assert "clerk" not in summary
    with session_scope() as s:
        v = s.exec(select(Voucher)).one()
        assert voucher_to_dict(s, v)["people"] == {"created_by": "李会计", "updated_by": None, "reviewed_by": None,
                                                   "posted_by": None}


def test_without_a_display_name_the_login_name_stands_in(people: People) -> None:
    # the clerk of these tests has no display name recorded (core.users.display_name)
    summary, _ = _claim_voucher_summary(people)
    assert summary == "报销 clerk 差旅费：上海出差"


# --- the voucher list ---------------------------------------------------------------------------------

def test_voucher_list_sorts_filters_and_refuses_unknown_columns(people: People) -> None:
    a = _push(people, "300.00", on="2025-11-03")
    b = _push(people, "100.00", on="2025-11-20")
    c = _push(people, "200.00", on="2025-12-01")
    with session_scope() as s:
        review_voucher(s, people.accountant2, b)
        assert [v.id for v in list_vouchers(s, sort="-total")[0]] == [a, c, b]
        assert [v.id for v in list_vouchers(s, sort="date")[0]] == [a, b, c]
        assert [v.id for v in list_vouchers(s, sort="-number")[0]] == [c, b, a]
        assert [v.id for v in list_vouchers(s, state="reviewed")[0]] == [b]
        assert list_vouchers(s, date_from="2025-11-10", date_to="2025-11-30")[1] == 1
        assert [v.id for v in list_vouchers(s, q="2025-12")[0]] == [c]
        assert [v.id for v in list_vouchers(s, q="300")[0]] == [a]
        assert list_vouchers(s, page=2, page_size=2)[0][0].id == c
    from core.errors import ServiceError

    for kw in ({"sort": "password"}, {"date_from": "2025-02-30"}, {"state": "lost"}, {"page_size": 0}):
        with pytest.raises(ServiceError) as exc, session_scope() as s:
            list_vouchers(s, **kw)
        assert getattr(exc.value, "http_status", None) == 422

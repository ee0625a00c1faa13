"""Claims: each state change and each rule, with the messages a clerk reads."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlmodel import select

from accounting.claims import (
    ClaimInvoiceLock,
    approve_claim,
    claim_to_dict,
    create_claim,
    get_claim,
    list_claims,
    reject_claim,
    review_claim,
    submit_claim,
)
from accounting.errors import AccountingError, ErrorKind
from core.audit import AuditEntry, verify_chain
from core.db import session_scope
from core.settings import Settings

from .conftest import People, make_invoice


def _claim(user, invoices, **kw):  # type: ignore[no-untyped-def]
    lines = kw.pop("lines", None) or [{"invoice_id": i.id, "category": "差旅费"} for i in invoices]
    with session_scope() as s:
        return create_claim(s, user, kw.pop("title", "北京出差"), kw.pop("department", "销售部"),
                            kw.pop("purpose", "客户拜访"), lines)


def _act(fn, user, claim_id, comment=None):  # type: ignore[no-untyped-def]
    with session_scope() as s:
        return fn(s, user, claim_id, comment)


def test_create_makes_a_draft_that_locks_its_invoices(people: People) -> None:
    inv = make_invoice(total="320.00")
    claim = _claim(people.clerk, [inv])
    assert claim.state == "draft" and claim.total == Decimal("320.00") and claim.claimant == "clerk"
    with session_scope() as s:
        lock = s.get(ClaimInvoiceLock, inv.id)
        assert lock is not None and lock.claim_id == claim.id
        d = claim_to_dict(s, get_claim(s, claim.id))
    assert d["lines"][0]["amount"] == "320.00" and d["lines"][0]["category"] == "差旅费"
    assert [(st["action"], st["to_state"], st["actor"]) for st in d["steps"]] == [("create", "draft", "clerk")]
    assert d["warnings"] == []


def test_small_claim_is_approved_by_one_approver(people: People) -> None:
    claim = _claim(people.clerk, [make_invoice(total="800.00")])
    _act(submit_claim, people.clerk, claim.id, "请审批")
    done = _act(approve_claim, people.approver, claim.id, "同意")
    assert done.state == "approved"
    with session_scope() as s:
        steps = claim_to_dict(s, get_claim(s, claim.id))["steps"]
    assert [(x["action"], x["from_state"], x["to_state"], x["actor"], x["comment"]) for x in steps] == [
        ("create", None, "draft", "clerk", None),
        ("submit", "draft", "submitted", "clerk", "请审批"),
        ("approve", "submitted", "approved", "approver", "同意"),
    ]
    assert all(x["at"].endswith("+00:00") for x in steps)


def test_large_claim_needs_review_and_a_second_approver(people: People, org: Settings) -> None:
    org.second_approval_above = Decimal("5000.00")
    claim = _claim(people.clerk, [make_invoice(total="6000.00", tax="0.00")])
    _act(submit_claim, people.clerk, claim.id)
    with pytest.raises(AccountingError, match=r"超过 5000.00：需要一位审批人审核") as e:
        _act(approve_claim, people.approver, claim.id)
    assert e.value.code == "second_approval_required"
    _act(review_claim, people.approver, claim.id, "票据齐全")
    with pytest.raises(AccountingError, match="已由 approver 审核，审批须由另一位审批人进行"):
        _act(approve_claim, people.approver, claim.id)
    assert _act(approve_claim, people.approver2, claim.id).state == "approved"


def test_claim_at_the_limit_needs_only_one_approver(people: People, org: Settings) -> None:
    org.second_approval_above = Decimal("5000.00")
    claim = _claim(people.clerk, [make_invoice(total="5000.00", tax="0.00")])
    _act(submit_claim, people.clerk, claim.id)
    _act(review_claim, people.approver, claim.id)
    assert _act(approve_claim, people.approver, claim.id).state == "approved"


def test_nobody_reviews_approves_or_rejects_their_own_claim(people: People) -> None:
    claim = _claim(people.admin, [make_invoice()])
    _act(submit_claim, people.admin, claim.id)
    for fn in (review_claim, approve_claim):
        with pytest.raises(AccountingError, match=r"不能审.自己的报销单") as e:
            _act(fn, people.admin, claim.id, "ok")
        assert e.value.kind is ErrorKind.REFUSED
    with pytest.raises(AccountingError, match="不能驳回自己的报销单"):
        _act(reject_claim, people.admin, claim.id, "no")


def test_only_the_claimant_submits_and_states_are_enforced(people: People) -> None:
    claim = _claim(people.clerk, [make_invoice()])
    with pytest.raises(AccountingError, match="只有经办人 clerk 可以提交"):
        _act(submit_claim, people.clerk2, claim.id)
    with pytest.raises(AccountingError, match="当前为“草稿”，审核需要报销单处于“已提交”"):
        _act(review_claim, people.approver, claim.id)
    _act(submit_claim, people.clerk, claim.id)
    with pytest.raises(AccountingError, match="当前为“已提交”，提交需要报销单处于“草稿”或“已驳回”"):
        _act(submit_claim, people.clerk, claim.id)
    _act(approve_claim, people.approver, claim.id)
    with pytest.raises(AccountingError, match="当前为“已审批”，驳回需要报销单处于“已提交”或“已审核”"):
        _act(reject_claim, people.approver, claim.id, "late")


def test_rejection_needs_a_reason_and_releases_the_invoices(people: People) -> None:
    inv = make_invoice()
    claim = _claim(people.clerk, [inv])
    _act(submit_claim, people.clerk, claim.id)
    with pytest.raises(AccountingError, match="驳回需要填写理由") as e:
        _act(reject_claim, people.approver, claim.id, "  ")
    assert e.value.kind is ErrorKind.BAD_INPUT
    rejected = _act(reject_claim, people.approver, claim.id, "缺少行程单")
    assert rejected.state == "rejected"
    with session_scope() as s:
        assert s.get(ClaimInvoiceLock, inv.id) is None
        assert claim_to_dict(s, rejected)["steps"][-1]["comment"] == "缺少行程单"
    # the released invoice may go on another claim; the rejected one then cannot be resubmitted
    other = _claim(people.admin, [inv])  # admin may claim for others
    with pytest.raises(AccountingError, match=f"已在报销单 {other.id} 上"):
        _act(submit_claim, people.clerk, claim.id)


def test_a_rejected_claim_can_be_resubmitted_and_retakes_its_invoices(people: People) -> None:
    inv = make_invoice()
    claim = _claim(people.clerk, [inv])
    _act(submit_claim, people.clerk, claim.id)
    _act(reject_claim, people.approver, claim.id, "补充说明")
    again = _act(submit_claim, people.clerk, claim.id, "已补充")
    assert again.state == "submitted"
    with session_scope() as s:
        lock = s.get(ClaimInvoiceLock, inv.id)
        assert lock is not None and lock.claim_id == claim.id
    assert _act(approve_claim, people.approver, claim.id).state == "approved"


def test_an_invoice_is_on_at_most_one_live_claim(people: People) -> None:
    inv = make_invoice()
    first = _claim(people.clerk, [inv], title="一")
    with pytest.raises(AccountingError, match=f"不能报销（已报销）：已在报销单 {first.id} 上") as e:
        _claim(people.admin, [inv], title="二")
    assert e.value.code == "invoice_in_claim"
    fresh = make_invoice()
    with pytest.raises(AccountingError, match=r"第2行：发票 .* 在本报销单上出现了两次"):
        _claim(people.clerk, [], lines=[{"invoice_id": fresh.id}, {"invoice_id": fresh.id}])


def test_invalid_and_duplicate_invoices_are_refused(people: People) -> None:
    for status in ("invalid", "duplicate"):
        inv = make_invoice(status=status)
        with pytest.raises(AccountingError, match="不能报销（" + ("验证失败" if status == "invalid" else "重复") + "）") as e:
            _claim(people.clerk, [inv])
        assert e.value.code == "invoice_not_claimable"


def test_the_buyer_must_be_the_organisation(people: People) -> None:
    inv = make_invoice(buyer_tax_id="91110000000000000X", buyer_name="别的公司")
    with pytest.raises(AccountingError, match="购买方纳税人识别号 91110000000000000X 不是本单位的"):
        _claim(people.clerk, [inv])
    by_name = make_invoice(buyer_tax_id=None, buyer_name="海南麒麟云服科技有限公司（分公司）")
    with pytest.raises(AccountingError, match="购买方名称“海南麒麟云服科技有限公司（分公司）”不是本单位"):
        _claim(people.clerk, [by_name])
    nameless = make_invoice(buyer_tax_id=None, buyer_name=None)
    with pytest.raises(AccountingError, match="没有购买方名称和税号"):
        _claim(people.clerk, [nameless])


def test_without_an_organisation_the_buyer_is_skipped_with_a_warning(people: People, org: Settings) -> None:
    org.org_name = None
    org.org_tax_id = None
    claim = _claim(people.clerk, [make_invoice(buyer_tax_id="91110000000000000X")])
    assert claim.state == "draft"
    assert claim.warnings and "未核对购买方" in claim.warnings[0]


def test_red_letter_invoices_and_reversed_invoices_are_not_reimbursed(people: People) -> None:
    original = make_invoice()
    red = make_invoice(total="-1060.00", tax="-60.00", red_reverses_key=original.key)
    with pytest.raises(AccountingError, match="这是红字发票") as e:
        _claim(people.clerk, [red])
    assert e.value.code == "red_letter_invoice"
    with pytest.raises(AccountingError, match=f"已被红字发票 {red.number} 冲销"):
        _claim(people.clerk, [original])


def test_amounts_are_positive_and_never_exceed_the_invoice(people: People) -> None:
    inv = make_invoice(total="100.00", tax="0.00")
    cases = [("100.01", "超过发票 .* 的价税合计 100.00"), ("0", "不能为零"), ("-5", "是负数"),
             ("1.005", "超过两位小数"), ("abc", "不是数字")]
    for amount, message in cases:
        with pytest.raises(AccountingError, match=message):
            _claim(people.clerk, [], lines=[{"invoice_id": inv.id, "amount": amount}])
    part = _claim(people.clerk, [], lines=[{"invoice_id": inv.id, "amount": "40.50", "category": "办公费"}])
    assert part.total == Decimal("40.50")


def test_unknown_category_and_invoice_are_bad_input(people: People) -> None:
    inv = make_invoice()
    with pytest.raises(AccountingError, match="费用类别“旅游”没有对应的会计科目。可选类别：差旅费"):
        _claim(people.clerk, [], lines=[{"invoice_id": inv.id, "category": "旅游"}])
    with pytest.raises(AccountingError, match="找不到发票 nope") as e:
        _claim(people.clerk, [], lines=[{"invoice_id": "nope"}])
    assert e.value.kind is ErrorKind.NOT_FOUND


def test_every_step_is_audited_in_the_chain(people: People) -> None:
    claim = _claim(people.clerk, [make_invoice()])
    _act(submit_claim, people.clerk, claim.id)
    _act(approve_claim, people.approver, claim.id)
    with session_scope() as s:
        actions = [e.action for e in s.exec(select(AuditEntry).where(AuditEntry.object_id == claim.id)).all()]
        assert actions == ["claim.create", "claim.submit", "claim.approve"]
        assert verify_chain(s).ok


def test_list_claims_pages_and_filters(people: People) -> None:
    a = _claim(people.clerk, [make_invoice()])
    _claim(people.clerk, [make_invoice()])
    _act(submit_claim, people.clerk, a.id)
    with session_scope() as s:
        items, total = list_claims(s, page=1, page_size=1)
        assert total == 2 and len(items) == 1
        submitted, n = list_claims(s, state="submitted")
        assert n == 1 and submitted[0].id == a.id


def test_concurrent_claims_on_one_invoice_exactly_one_wins(db_people: People) -> None:
    inv = make_invoice()
    barrier = threading.Barrier(2)
    results: list[str] = []

    def run(user) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            _claim(user, [inv])
            results.append("ok")
        except AccountingError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=run, args=(u,)) for u in (db_people.clerk, db_people.admin)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["invoice_in_claim", "ok"]
    with session_scope() as s:
        assert len(s.exec(select(ClaimInvoiceLock).where(ClaimInvoiceLock.invoice_id == inv.id)).all()) == 1

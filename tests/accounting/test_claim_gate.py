"""The claim gate: one derived status per invoice, re-checked at create, edit, submit, review
and approve; the 未查验 mark and overrides; ownership; editing a draft or rejected claim.

Storage-bound rules run on SQLite and PostgreSQL (``db_people``); the attack file (a
stripped-seal OFD whose total was raised) is built here from a real sample.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import select

from accounting import ledger
from accounting.claims import (
    ClaimInvoiceLock,
    approve_claim,
    claim_to_dict,
    create_claim,
    get_claim,
    reject_claim,
    review_claim,
    submit_claim,
    update_claim,
)
from accounting.errors import AccountingError, ErrorKind
from accounting.invoice_status import InvoiceStatus, invoice_status, list_invoices_for
from accounting.overrides import record_override
from core.audit import AuditEntry
from core.db import session_scope
from core.settings import Settings
from core.users import User, create_user
from invoice.importer import ingest_files
from invoice.registry import InvoiceRecord
from tests.attacks import strip_and_raise
from tests.samples import INVOICES

from .conftest import People, make_invoice, reviewed

FAILED_TOTAL_CHECK = {"checks": [{"id": "amount_tax_total", "result": "fail",
                                  "message": "金额 1000.00 + 税额 60.00 = 1060.00，但价税合计写的是 4999.00"}]}


def _set(inv: InvoiceRecord, **fields: Any) -> InvoiceRecord:
    with session_scope() as s:
        rec = s.get(InvoiceRecord, inv.id)
        assert rec is not None
        for k, v in fields.items():
            setattr(rec, k, v)
        s.add(rec)
    return inv


def _status(inv: InvoiceRecord, for_claim: str | None = None) -> Any:
    with session_scope() as s:
        rec = s.get(InvoiceRecord, inv.id)
        assert rec is not None
        return invoice_status(s, rec, for_claim)


def _claim(user: User, *invoices: InvoiceRecord, **kw: Any) -> Any:
    with session_scope() as s:
        return create_claim(s, user, kw.pop("title", "出差"), "销售部", "客户拜访",
                            kw.pop("lines", None) or [{"invoice_id": i.id, "category": "差旅费"} for i in invoices])


def _act(fn: Any, user: User, claim_id: str, comment: str | None = None) -> Any:
    with session_scope() as s:
        return fn(s, user, claim_id, comment)


def _dict(claim_id: str) -> dict[str, Any]:
    with session_scope() as s:
        return claim_to_dict(s, get_claim(s, claim_id))


# --- the derived status: each value, reached and not reached -----------------------------------

def test_a_signed_consistent_invoice_of_ours_is_claimable(people: People) -> None:
    st = _status(make_invoice())
    assert st.status is InvoiceStatus.CLAIMABLE and st.claimable and st.label == "可报销"
    assert not st.online_check_pending and st.reasons == ()


@pytest.mark.parametrize("vstatus", ["unsigned", "indeterminate"])
def test_unsigned_and_indeterminate_need_a_check_until_one_succeeds(people: People, vstatus: str) -> None:
    inv = make_invoice()
    _set(inv, verification_status=vstatus)
    st = _status(inv)
    assert st.status is InvoiceStatus.NEEDS_CHECK and st.claimable and st.label == "需查验"
    assert st.online_check_pending and st.online_check_label == "未查验" and "尚未查验" in st.reasons[0]
    _set(inv, online_check_status="success")
    st = _status(inv)
    assert st.status is InvoiceStatus.CLAIMABLE and not st.online_check_pending


@pytest.mark.parametrize("fields, code, words", [
    ({"status": "invalid", "verification_status": "invalid"}, "invoice_not_claimable", "签名验证失败"),
    ({"verification": FAILED_TOTAL_CHECK}, "invoice_checks_failed", "金额+税额=价税合计未通过"),
    ({"verification": {"checks": [{"id": "seller_tax_id", "result": "fail", "message": "校验位不对"}]}},
     "invoice_checks_failed", "销售方税号校验位未通过"),
    ({"verification": {"checks": [{"id": "qr_payload", "result": "fail", "message": "二维码与票面不一致"}]}},
     "invoice_checks_failed", "二维码与票面一致未通过"),
    ({"online_check_status": "voided"}, "invoice_online_check_failed", "已作废"),
])
def test_failures_make_the_invoice_failed_and_refused(people: People, fields: dict[str, Any], code: str,
                                                       words: str) -> None:
    inv = _set(make_invoice(), **fields)
    st = _status(inv)
    assert st.status is InvoiceStatus.FAILED and not st.claimable and st.label == "验证失败"
    assert words in "；".join(st.reasons)
    with pytest.raises(AccountingError, match="不能报销（验证失败）") as e:
        _claim(people.clerk, inv)
    assert e.value.code == code and e.value.kind is ErrorKind.REFUSED


def test_warnings_and_passing_checks_do_not_block(people: People) -> None:
    inv = _set(make_invoice(), verification={"checks": [
        {"id": "amount_tax_total", "result": "pass", "message": "相符"},
        {"id": "key_digits", "result": "warn", "message": "全角数字"}]})
    assert _status(inv).status is InvoiceStatus.CLAIMABLE
    assert _claim(people.clerk, inv).state == "draft"


def test_another_companys_invoice_is_not_ours(people: People) -> None:
    inv = make_invoice(buyer_tax_id="91110108690017781B", buyer_name="科游迈利有限公司")
    st = _status(inv)
    assert st.status is InvoiceStatus.NOT_OURS and st.label == "非本单位" and not st.claimable
    assert "不是本单位的（91460300MAA92DJN95）" in st.reasons[0]
    with pytest.raises(AccountingError, match="不能报销（非本单位）") as e:
        _claim(people.clerk, inv)
    assert e.value.code == "wrong_buyer"


def test_duplicate_claimed_and_posted(people: People) -> None:
    dup = make_invoice(status="duplicate")
    assert _status(dup).status is InvoiceStatus.DUPLICATE
    inv = make_invoice()
    claim = _claim(people.clerk, inv)
    st = _status(inv)
    assert st.status is InvoiceStatus.CLAIMED and st.label == "已报销" and not st.claimable
    assert _status(inv, for_claim=claim.id).status is InvoiceStatus.CLAIMABLE  # its own claim
    _act(submit_claim, people.clerk, claim.id)
    _act(approve_claim, people.approver, claim.id)
    with session_scope() as s:
        vid = ledger.create_voucher_from_claims(s, people.accountant, [claim.id]).id
    with session_scope() as s:
        ledger.post_voucher(s, people.accountant, reviewed(s, people, vid))  # 凭证审核 first
    st = _status(inv)
    assert st.status is InvoiceStatus.POSTED and st.label == "已入账" and st.details["voucher_id"] == vid


# --- re-checks at every step -------------------------------------------------------------------

def test_submit_and_approve_recheck_every_line(people: People) -> None:
    inv = make_invoice()
    claim = _claim(people.clerk, inv)
    _set(inv, online_check_status="voided")  # a 查验 result arrived after the draft was made
    with pytest.raises(AccountingError, match="查验结果为“已作废”") as e:
        _act(submit_claim, people.clerk, claim.id)
    assert e.value.code == "invoice_online_check_failed"
    _set(inv, online_check_status="success")
    _act(submit_claim, people.clerk, claim.id)
    _set(inv, verification=FAILED_TOTAL_CHECK)
    with pytest.raises(AccountingError, match="金额\\+税额=价税合计未通过") as e:
        _act(approve_claim, people.approver, claim.id)
    assert e.value.code == "invoice_checks_failed"
    assert _dict(claim.id)["state"] == "submitted"  # nothing changed


def test_review_rechecks_too(people: People, org: Settings) -> None:
    org.second_approval_above = Decimal("10.00")
    inv = make_invoice()
    claim = _claim(people.clerk, inv)
    _act(submit_claim, people.clerk, claim.id)
    _set(inv, buyer_tax_id="91110108690017781B")
    with pytest.raises(AccountingError, match="非本单位"):
        _act(review_claim, people.approver, claim.id)


# --- 未查验 and FAPIAO_REQUIRE_ONLINE_CHECK ------------------------------------------------------

def test_unchecked_invoices_carry_the_mark_on_claim_steps_and_voucher(people: People) -> None:
    checked, unchecked = make_invoice(), make_invoice()
    _set(unchecked, verification_status="unsigned")
    claim = _claim(people.clerk, checked, unchecked)
    _act(submit_claim, people.clerk, claim.id)
    _act(approve_claim, people.approver, claim.id)
    d = _dict(claim.id)
    marks = {ln["invoice_id"]: (ln["online_check_pending"], ln["online_check_label"]) for ln in d["lines"]}
    assert marks == {checked.id: (False, None), unchecked.id: (True, "未查验")}
    assert d["online_check_pending"] and d["online_check_label"] == "未查验"
    assert [st["online_check_pending"] for st in d["steps"]] == [False, True, True]
    with session_scope() as s:
        v = ledger.create_voucher_from_claims(s, people.accountant, [claim.id])
        vd = ledger.voucher_to_dict(s, v)
    assert vd["online_check_pending"]
    assert {i["invoice_id"]: i["online_check_pending"] for i in vd["invoices"]} == {checked.id: False,
                                                                                    unchecked.id: True}
    _set(unchecked, online_check_status="success")  # the 查验 result arrives: the mark goes
    assert not _dict(claim.id)["online_check_pending"]


def test_required_online_check_blocks_approval_until_checked_or_overridden(people: People,
                                                                           org: Settings) -> None:
    org.require_online_check = True
    a, b = make_invoice(), make_invoice()
    for inv in (a, b):
        _set(inv, verification_status="unsigned")
    claim = _claim(people.clerk, a, b)  # still claimable: only approval needs the check
    _act(submit_claim, people.clerk, claim.id)
    assert _dict(claim.id)["approval_blocked"]
    with pytest.raises(AccountingError, match="未查验。本单位要求先查验") as e:
        _act(approve_claim, people.approver, claim.id)
    assert e.value.code == "online_check_required" and set(e.value.details["invoice_ids"]) == {a.id, b.id}
    _set(a, online_check_status="success")
    with session_scope() as s:
        with pytest.raises(AccountingError, match="需要写明理由") as e:
            record_override(s, people.approver, b.id, " 好的 ")
        assert e.value.code == "override_reason_required"
        record_override(s, people.approver, b.id, "供应商出具纸质证明，查验平台暂时不可用")
    assert _act(approve_claim, people.approver, claim.id).state == "approved"
    line = next(ln for ln in _dict(claim.id)["lines"] if ln["invoice_id"] == b.id)
    assert line["override"]["by"] == "approver" and "查验平台暂时不可用" in line["override"]["reason"]
    assert line["online_check_pending"]  # still not checked online: the override says why it passed
    with session_scope() as s:
        audit = s.exec(select(AuditEntry).where(AuditEntry.object_id == b.id,
                                                AuditEntry.action == "invoice.override")).one()
        assert audit.actor == "approver" and "查验平台" in audit.details["reason"]


def test_without_the_setting_unchecked_invoices_are_approved(people: People, org: Settings) -> None:
    org.require_online_check = False
    inv = _set(make_invoice(), verification_status="indeterminate")
    claim = _claim(people.clerk, inv)
    _act(submit_claim, people.clerk, claim.id)
    assert _act(approve_claim, people.approver, claim.id).state == "approved"


def test_override_is_refused_for_valid_and_failed_invoices(people: People) -> None:
    valid, bad = make_invoice(), make_invoice(status="invalid")
    _set(bad, verification_status="invalid")
    with session_scope() as s:
        for inv in (valid, bad):
            with pytest.raises(AccountingError, match="才需要人工放行") as e:
                record_override(s, people.approver, inv.id, "理由很充分")
            assert e.value.code == "override_not_applicable"


def test_an_override_never_makes_a_failed_invoice_claimable(people: People) -> None:
    inv = _set(make_invoice(), verification_status="unsigned")
    with session_scope() as s:
        record_override(s, people.accountant, inv.id, "纸质原件已核对")
    _set(inv, verification=FAILED_TOTAL_CHECK)
    st = _status(inv)
    assert st.status is InvoiceStatus.FAILED and st.override is not None


# --- ownership ---------------------------------------------------------------------------------

def test_a_clerk_claims_only_their_own_uploads(people: People) -> None:
    inv = make_invoice()  # uploaded by "clerk"
    with pytest.raises(AccountingError, match="是 clerk 上传的，您（clerk2）只能报销自己上传的发票") as e:
        _claim(people.clerk2, inv)
    assert e.value.code == "not_uploader" and e.value.details["uploaded_by"] == "clerk"
    d = _dict(_claim(people.clerk, inv).id)
    assert not d["for_others"] and d["lines"][0]["uploaded_by"] == "clerk"


def test_a_claims_officer_may_claim_for_others_and_the_claim_says_so(people: People) -> None:
    with session_scope() as s:
        officer = create_user(s, "officer", "claims_officer")
    own = _set(make_invoice(), uploaded_by="officer")
    theirs = make_invoice()
    d = _dict(_claim(officer, own, theirs).id)
    assert d["for_others"] is True
    assert [ln["uploaded_by"] for ln in d["lines"]] == ["officer", "clerk"]


# --- editing a draft or rejected claim -----------------------------------------------------------

def test_a_draft_is_edited_and_its_locks_follow_its_lines(people: People) -> None:
    old, new = make_invoice(total="200.00", tax="0.00"), make_invoice(total="300.00", tax="0.00")
    claim = _claim(people.clerk, old)
    with session_scope() as s:
        update_claim(s, people.clerk, claim.id, title="北京出差（修改）", lines=[{"invoice_id": new.id}])
        assert s.get(ClaimInvoiceLock, old.id) is None
        lock = s.get(ClaimInvoiceLock, new.id)
        assert lock is not None and lock.claim_id == claim.id
    d = _dict(claim.id)
    assert d["title"] == "北京出差（修改）" and d["total"] == "300.00" and d["state"] == "draft"
    assert d["steps"][-1]["action"] == "edit" and d["steps"][-1]["action_label"] == "修改"


def test_a_rejected_claim_is_edited_and_submitted_again_by_its_clerk(people: People) -> None:
    a, b = make_invoice(), make_invoice()
    claim = _claim(people.clerk, a, b)
    _act(submit_claim, people.clerk, claim.id)
    _act(reject_claim, people.approver, claim.id, "第二张发票与出差无关")
    with session_scope() as s:
        with pytest.raises(AccountingError, match="只有经办人 clerk 可以修改") as e:
            update_claim(s, people.clerk2, claim.id, purpose="x")
        assert e.value.code == "not_claimant"
        update_claim(s, people.clerk, claim.id, purpose="只报销第一张", lines=[{"invoice_id": a.id}])
    assert _dict(claim.id)["state"] == "rejected" and _dict(claim.id)["editable"]
    again = _act(submit_claim, people.clerk, claim.id, "已删除第二张")
    assert again.state == "submitted" and again.total == a.total
    with session_scope() as s:
        assert s.get(ClaimInvoiceLock, a.id) is not None and s.get(ClaimInvoiceLock, b.id) is None
        with pytest.raises(AccountingError, match="当前为“已提交”，修改需要") as e:
            update_claim(s, people.clerk, claim.id, title="再改")
        assert e.value.code == "wrong_state"


def test_edited_lines_pass_the_same_gate(people: People) -> None:
    claim = _claim(people.clerk, make_invoice())
    bad = _set(make_invoice(), verification=FAILED_TOTAL_CHECK)
    with session_scope() as s:
        with pytest.raises(AccountingError, match="验证失败"):
            update_claim(s, people.clerk, claim.id, lines=[{"invoice_id": bad.id}])
        with pytest.raises(AccountingError) as e:
            update_claim(s, people.clerk, claim.id)
        assert e.value.code == "nothing_to_edit"


# --- the attack, on SQLite and PostgreSQL -------------------------------------------------------

def test_stripped_seal_with_raised_total_is_never_claimable(db_people: People, org: Settings) -> None:
    sample = INVOICES / "ofdrw__ofdrw" / "SignScaleError.ofd"  # signed by the 浙江 tax bureau, 11.20
    org.org_name, org.org_tax_id = "江苏中电创新环境科技有限公司", "913202133140424571"
    forged = strip_and_raise(sample.read_bytes(), "11.20", "4999.00")
    result = ingest_files([("报销.ofd", forged)], "clerk")
    assert len(result.imported) == 1, result.to_dict()
    invoice_id = result.imported[0]["invoice_id"]
    with session_scope() as s:
        rec = s.get(InvoiceRecord, invoice_id)
        assert rec is not None and rec.verification_status == "unsigned" and rec.total == Decimal("4999.00")
        st = invoice_status(s, rec)
        assert st.status is InvoiceStatus.FAILED and "金额+税额=价税合计未通过" in st.reasons[0]
        rows, total = list_invoices_for(s, uploaded_by="clerk", claimable=True)
        assert invoice_id not in [r.id for r in rows] and total == 0
    with pytest.raises(AccountingError) as e, session_scope() as s:
        create_claim(s, db_people.clerk, "报销", lines=[{"invoice_id": invoice_id}])
    assert e.value.code == "invoice_checks_failed"
    # Registered first, the forged record holds the invoice key: the genuine file is then a
    # duplicate, never a second registration (and the forged record can never be claimed).
    genuine = ingest_files([("原件.ofd", sample.read_bytes())], "clerk")
    assert not genuine.imported and genuine.duplicates[0]["duplicate_of"]["invoice_id"] == invoice_id

"""The claim gate over HTTP (and the CLI beside the server), on SQLite and PostgreSQL.

The attack files are built here from the real samples: a stripped-seal OFD whose total was
raised (and, to register as a new invoice, its number changed), and the same 数电票 with its
number in full-width digits.
"""

from __future__ import annotations

import json
from typing import Any

from invoice import parse
from tests.api.conftest import OFD_WUXI, PDF_WUXI, Server, upload
from tests.attacks import FULL_WIDTH, lookalike, rewrite_ofd, strip_and_raise

WUXI_NUMBER = "24322000000489101796"


def _claim(client: Any, *invoice_ids: str, title: str = "采购报销") -> Any:
    return client.post("/api/v1/claims", json={"title": title, "department": "行政部", "purpose": "采购",
                                                "lines": [{"invoice_id": i, "category": "办公费"} for i in invoice_ids]})


def _upload_bytes(client: Any, name: str, data: bytes) -> dict[str, Any]:
    r = client.post("/api/v1/invoices", files=[("files", (name, data, "application/octet-stream"))])
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_ownership_unchecked_mark_override_and_edit(any_server: Server) -> None:
    server = any_server
    clerk_a, a = server.as_role("clerk")
    clerk_b, _ = server.as_role("clerk")
    officer, _ = server.as_role("claims_officer")
    reviewer, _ = server.as_role("approver")
    approver, approver_user = server.as_role("approver")
    auditor, _ = server.as_role("auditor")
    res = upload(clerk_a, OFD_WUXI, PDF_WUXI).json()
    ofd_id, pdf_id = (e["invoice_id"] for e in res["imported"])

    # 我的发票 / the claim form's list: the same rule as the claim.
    mine = clerk_a.get("/api/v1/invoices", params={"mine": "true", "claimable": "true"}).json()
    assert {i["id"] for i in mine["items"]} == {ofd_id, pdf_id} and mine["total"] == 2
    st = next(i for i in mine["items"] if i["id"] == ofd_id)["invoice_status"]
    assert st["claimable"] and st["online_check_pending"] and st["online_check_label"] == "未查验"
    assert clerk_b.get("/api/v1/invoices", params={"claimable": "true"}).json()["total"] == 0
    assert clerk_b.get("/api/v1/invoices", params={"mine": "true"}).json()["total"] == 0
    assert officer.get("/api/v1/invoices", params={"claimable": "true"}).json()["total"] == 2

    # Clerk B may not claim A's invoice; a claims officer (报销专员) may, and the claim says so.
    r = _claim(clerk_b, ofd_id)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_uploader"
    assert "只能报销自己上传的发票" in r.json()["error"]["message"]
    r = _claim(officer, pdf_id, title="代报销")
    assert r.status_code == 201, r.text
    assert r.json()["for_others"] is True and r.json()["lines"][0]["uploaded_by"] == a["username"]

    # A's own claim: the 未查验 mark on the claim and each line; edited while a draft.
    r = _claim(clerk_a, ofd_id)
    assert r.status_code == 201, r.text
    claim = r.json()
    assert claim["for_others"] is False and claim["online_check_pending"] and claim["online_check_label"] == "未查验"
    line = claim["lines"][0]
    assert line["uploaded_by"] == a["username"] and line["online_check_pending"] and line["online_check_label"] == "未查验"
    cid = claim["id"]
    r = clerk_a.patch(f"/api/v1/claims/{cid}", json={"title": "年度采购报销"})
    assert r.status_code == 200 and r.json()["title"] == "年度采购报销" and r.json()["state"] == "draft"
    r = clerk_b.patch(f"/api/v1/claims/{cid}", json={"title": "别人的"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_claimant"

    # Rejected, edited and submitted again by its clerk.
    assert clerk_a.post(f"/api/v1/claims/{cid}/submit").status_code == 200
    r = clerk_a.patch(f"/api/v1/claims/{cid}", json={"purpose": "改"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "wrong_state"
    seen = reviewer.get(f"/api/v1/claims/{cid}").json()
    assert seen["lines"][0]["uploaded_by"] == a["username"]  # the approver sees who uploaded it
    assert reviewer.post(f"/api/v1/claims/{cid}/reject", json={"comment": "请写明采购用途"}).status_code == 200
    r = clerk_a.patch(f"/api/v1/claims/{cid}", json={"purpose": "办公用品采购"})
    assert r.status_code == 200 and r.json()["state"] == "rejected" and r.json()["purpose"] == "办公用品采购"
    assert clerk_a.post(f"/api/v1/claims/{cid}/submit").json()["state"] == "submitted"

    # Override of the 查验 requirement: approver or accountant, with a reason; everyone sees it.
    r = clerk_a.post(f"/api/v1/invoices/{ofd_id}/override", json={"reason": "我说可以"})
    assert r.status_code == 403
    r = approver.post(f"/api/v1/invoices/{ofd_id}/override", json={"reason": "可以"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "override_reason_required"
    r = approver.post(f"/api/v1/invoices/{ofd_id}/override", json={"reason": "查验平台维护，已核对纸质件"})
    assert r.status_code == 200, r.text
    assert r.json()["override"]["by"] == approver_user["username"]
    later = auditor.get(f"/api/v1/invoices/{ofd_id}").json()
    assert later["override"]["reason"] == "查验平台维护，已核对纸质件" and later["online_check_pending"] is True
    assert later["invoice_status"]["status"] == "claimed" and later["invoice_status"]["label"] == "已报销"
    assert any(h["action"] == "invoice.override" for h in later["history"])
    assert reviewer.post(f"/api/v1/claims/{cid}/review").status_code == 200
    done = approver.post(f"/api/v1/claims/{cid}/approve").json()
    assert done["state"] == "approved" and done["lines"][0]["override"]["by"] == approver_user["username"]
    assert [s["online_check_pending"] for s in done["steps"] if s["action"] in ("submit", "review", "approve")][-2:] \
        == [True, True]


def test_stripped_seal_with_raised_total_is_refused(any_server: Server) -> None:
    server = any_server
    clerk, _ = server.as_role("clerk")
    raised = strip_and_raise(OFD_WUXI.read_bytes(), "20000.00", "24999.00")
    other = "24322000000489109999"  # and a fresh number, so that it registers as a new invoice
    forged = rewrite_ofd(raised, lambda n, b: b.replace(WUXI_NUMBER.encode(), other.encode())
                         if n.lower().endswith(".xml") else b)
    assert parse(forged).total is not None and str(parse(forged).total) == "24999.00"
    res = _upload_bytes(clerk, "forged.ofd", forged)
    assert len(res["imported"]) == 1, res
    fid = res["imported"][0]["invoice_id"]
    inv = clerk.get(f"/api/v1/invoices/{fid}").json()
    assert inv["invoice_status"]["status"] == "failed" and inv["invoice_status"]["claimable"] is False
    assert inv["invoice_status"]["label"] == "验证失败"
    assert any("金额+税额=价税合计未通过" in r for r in inv["invoice_status"]["reasons"])
    listed = clerk.get("/api/v1/invoices", params={"mine": "true", "claimable": "true"}).json()
    assert fid not in [i["id"] for i in listed["items"]]
    refused = clerk.get("/api/v1/invoices", params={"mine": "true", "claimable": "false"}).json()
    assert fid in [i["id"] for i in refused["items"]]
    r = _claim(clerk, fid)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invoice_checks_failed"
    assert "不能报销（验证失败）" in r.json()["error"]["message"]


def test_lookalike_number_is_a_duplicate(any_server: Server) -> None:
    clerk, _ = any_server.as_role("clerk")
    fake = lookalike(OFD_WUXI.read_bytes(), WUXI_NUMBER, FULL_WIDTH)
    res = _upload_bytes(clerk, "全角.ofd", fake)  # the genuine one was uploaded by the first test
    assert res["imported"] == [] and len(res["duplicates"]) == 1, res
    assert res["duplicates"][0]["duplicate_of"]["key"] == WUXI_NUMBER
    by_key = clerk.get(f"/api/v1/invoices/by-key/{WUXI_NUMBER.translate(FULL_WIDTH)}")
    assert by_key.status_code == 200 and by_key.json()["number"] == WUXI_NUMBER


def test_cli_claim_edit_and_invoice_override(any_server: Server) -> None:
    server = any_server
    clerk, clerk_user = server.as_role("clerk")
    _, accountant = server.as_role("accountant")
    forged = strip_and_raise(OFD_WUXI.read_bytes(), "20000.00", "20000.00")  # unsigned, consistent
    fresh = rewrite_ofd(forged, lambda n, b: b.replace(WUXI_NUMBER.encode(), b"24322000000489108888")
                        if n.lower().endswith(".xml") else b)
    iid = _upload_bytes(clerk, "cli.ofd", fresh)["imported"][0]["invoice_id"]
    r = server.cli("claim", "create", "--title", "出差", "--invoice", f"{iid}:办公费", "--as",
                   clerk_user["username"], "--json")
    assert r.returncode == 0, r.stderr
    cid = json.loads(r.stdout)["id"]
    r = server.cli("claim", "edit", cid, "--title", "出差（改）", "--department", "销售部", "--as",
                   clerk_user["username"], "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["title"] == "出差（改）" and out["department"] == "销售部" and out["steps"][-1]["action"] == "edit"
    r = server.cli("claim", "edit", cid, "--as", clerk_user["username"], "--json")
    assert r.returncode == 2 and "没有要修改的内容" in r.stdout + r.stderr
    r = server.cli("invoice", "override", iid, "--reason", "短", "--as", accountant["username"], "--json")
    assert r.returncode == 2 and "需要写明理由" in r.stdout + r.stderr
    r = server.cli("invoice", "override", iid, "--reason", "已电话向税务机关核实", "--as", clerk_user["username"])
    assert r.returncode != 0
    r = server.cli("invoice", "override", iid, "--reason", "已电话向税务机关核实", "--as", accountant["username"],
                   "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["override"]["by"] == accountant["username"]


def test_cli_adds_a_claims_officer(any_server: Server) -> None:
    r = any_server.cli("users", "add", "officer-cli", "--role", "claims_officer", "--as", "admin", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["role"] == "claims_officer"

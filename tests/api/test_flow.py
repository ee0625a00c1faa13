"""The whole flow over HTTP: upload → claim → review → approve → voucher → post → archive.

Real sample invoices issued to the organisation; every step is checked through the API the
way an accounting system would read it back.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from tests.api.conftest import OFD_WUXI, PDF_WUXI, Server, upload


def test_whole_flow(any_server: Server) -> None:
    server = any_server
    clerk, clerk_user = server.as_role("clerk")
    reviewer, _ = server.as_role("approver")
    approver, _ = server.as_role("approver")
    accountant, _ = server.as_role("accountant")
    archivist, _ = server.as_role("archivist")
    auditor, _ = server.as_role("auditor")

    # Upload two invoices at once, then one of them again (a duplicate naming the first).
    r = upload(clerk, OFD_WUXI, PDF_WUXI)
    assert r.status_code == 200, r.text
    res = r.json()
    assert [e["file"] for e in res["imported"]] == [OFD_WUXI.name, PDF_WUXI.name], res
    assert res["duplicates"] == [] and res["rejected"] == []
    ofd_id, pdf_id = (e["invoice_id"] for e in res["imported"])
    dup = upload(clerk, OFD_WUXI).json()
    assert dup["imported"] == [] and len(dup["duplicates"]) == 1
    earlier = dup["duplicates"][0]["duplicate_of"]
    assert earlier["invoice_id"] == ofd_id and earlier["uploaded_by"] == clerk_user["username"]
    assert earlier["file"] == OFD_WUXI.name and earlier["posted"] is False

    # One invoice: fields, verification, posting flag, history; the original byte for byte.
    inv = clerk.get(f"/api/v1/invoices/{ofd_id}").json()
    assert inv["number"] == "24322000000489101796" and inv["total"] == "20000.00"
    assert inv["buyer"]["tax_id"] == "91320200796148368W"
    assert inv["verification"]["status"] == inv["verification_status"]
    assert inv["posting"]["posted"] is False
    assert inv["history"][0]["action"] == "invoice.upload"
    orig = clerk.get(f"/api/v1/invoices/{ofd_id}/original")
    assert orig.content == OFD_WUXI.read_bytes() and orig.headers["content-type"] == "application/ofd"
    assert orig.headers["content-disposition"].startswith("attachment")
    pdf = clerk.get(f"/api/v1/invoices/{pdf_id}/original")
    assert pdf.content == PDF_WUXI.read_bytes() and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    listed = clerk.get("/api/v1/invoices", params={"number": "24322000000489101796"}).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == ofd_id
    assert set(listed) == {"items", "total", "page", "page_size"}

    # Claim: create, submit; the total is above the two-step threshold: review, then approve.
    claim = clerk.post("/api/v1/claims", json={
        "title": "年度采购报销", "department": "行政部", "purpose": "采购",
        "lines": [{"invoice_id": ofd_id, "category": "办公费"},
                  {"invoice_id": pdf_id, "category": "办公费", "amount": "8819.60"}]}).json()
    assert claim["state"] == "draft" and claim["total"] == "28819.60", claim
    cid = claim["id"]
    assert clerk.post(f"/api/v1/claims/{cid}/submit").json()["state"] == "submitted"
    # The claimant may not approve; a clerk has no approve right at all.
    assert clerk.post(f"/api/v1/claims/{cid}/approve").status_code == 403
    reviewed = reviewer.post(f"/api/v1/claims/{cid}/review", json={"comment": "票据齐全"})
    assert reviewed.status_code == 200, reviewed.text
    approved = approver.post(f"/api/v1/claims/{cid}/approve", json={"comment": "同意"})
    assert approved.status_code == 200, approved.text
    steps = approved.json()["steps"]
    assert [s["action"] for s in steps][-3:] == ["submit", "review", "approve"]
    assert steps[-1]["comment"] == "同意"

    # Voucher from the approved claim, then posting: the invoices carry the 入账标识.
    v = accountant.post("/api/v1/vouchers", json={"claim_ids": [cid]}, headers={"Idempotency-Key": "flow-v1"})
    assert v.status_code == 201, v.text
    voucher = v.json()
    assert voucher["number"].startswith("记-") and voucher["total_debit"] == voucher["total_credit"]
    # 审核 before 记账, by an accountant other than the maker
    refused = accountant.post(f"/api/v1/vouchers/{voucher['id']}/post", json={"deductible": True})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "voucher_not_reviewed"
    checker, _ = server.as_role("accountant")
    assert checker.post(f"/api/v1/vouchers/{voucher['id']}/review").json()["state"] == "reviewed"
    posted = accountant.post(f"/api/v1/vouchers/{voucher['id']}/post", json={"deductible": True})
    assert posted.status_code == 200, posted.text
    assert posted.json()["state"] == "posted"
    by_key = accountant.get("/api/v1/invoices/by-key/24322000000489101796").json()
    assert by_key["id"] == ofd_id
    assert by_key["posting"]["posted"] is True and by_key["posting"]["voucher_id"] == voucher["id"]
    assert by_key["posting"]["flag"] == "02"
    assert [h["action"] for h in by_key["history"]] == ["invoice.upload", "voucher.post"]
    assert accountant.get("/api/v1/invoices", params={"posted": "true"}).json()["total"] == 2
    # The duplicate now names the claim, the voucher and the posting of the earlier record.
    again = upload(clerk, PDF_WUXI).json()["duplicates"][0]["duplicate_of"]
    assert again["claim_id"] == cid and again["voucher_id"] == voucher["id"] and again["posted"] is True

    xlsx = accountant.get("/api/v1/vouchers/export.xlsx", params={"period": voucher["period"]})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    bad_period = accountant.get("/api/v1/vouchers/export.xlsx", params={"period": "2025-13"})
    assert bad_period.status_code == 422

    # Archive: package the posted voucher, run the four-property check, export the year.
    pkg = archivist.post("/api/v1/archive/packages", json={"voucher_id": voucher["id"]})
    assert pkg.status_code == 201, pkg.text
    package = pkg.json()
    assert package["archival_code"] and package["retention"]["code"] == "D30"
    check = auditor.get(f"/api/v1/archive/packages/{package['id']}/check").json()
    assert check["status"] == "pass", check
    assert {i["property"] for i in check["items"]} == {"authenticity", "integrity", "usability", "security"}
    year = int(package["year"])
    job = archivist.post("/api/v1/archive/exports", json={"year": year})
    assert job.status_code == 202, job.text
    import time

    deadline = time.monotonic() + 120
    state = job.json()
    while state["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.3)
        state = archivist.get(f"/api/v1/archive/exports/{state['id']}").json()
    assert state["status"] == "done", state
    assert state["check"]["status"] == "pass"
    z = archivist.get(f"/api/v1/archive/exports/{state['id']}/download")
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert any(n.endswith("bagit.txt") for n in names)
    assert any(n.endswith(".ofd") for n in names)

    # Everything above is in the audit chain, and the chain holds.
    chain = auditor.get("/api/v1/audit/verify").json()
    assert chain["ok"] is True and chain["first_broken"] is None and chain["entries"] > 10


def test_xml_original_comes_back_as_xml(server: Server) -> None:
    clerk, _ = server.as_role("clerk")
    xml = Path(__file__).resolve().parents[1] / "invoice" / "fixtures" / "digital_ordinary.xml"
    res = upload(clerk, xml).json()
    assert len(res["imported"]) == 1, res
    inv_id = res["imported"][0]["invoice_id"]
    orig = clerk.get(f"/api/v1/invoices/{inv_id}/original")
    assert orig.headers["content-type"] == "application/xml" and orig.content == xml.read_bytes()
    assert clerk.get(f"/api/v1/invoices/{inv_id}").json()["source_format"] == "xml"
    # A file that is not an invoice is rejected with a reason, never a 500.
    junk = clerk.post("/api/v1/invoices", files=[("files", ("notes.txt", b"hello", "text/plain"))]).json()
    assert junk["imported"] == [] and junk["rejected"][0]["error"]["code"] == "unknown_format"

"""The web page after the upload: approval queue, voucher and posting, archive and export.

Approver, accountant and archivist each log in and do their step on the page; the JSON API
confirms what the page did. Screenshots of the voucher and archive pages go to
``test-artifacts/``.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.conftest import ARTIFACTS, PDF_WUXI, Server, login, upload

pytestmark = pytest.mark.browser


def _submitted_claim(server: Server) -> str:
    clerk, _ = server.as_role("clerk")
    res = upload(clerk, PDF_WUXI).json()
    inv_id = res["imported"][0]["invoice_id"]
    # Below the two-step threshold when claimed in part: one approval suffices.
    claim = clerk.post("/api/v1/claims", json={"title": "差旅报销", "lines": [
        {"invoice_id": inv_id, "category": "差旅费", "amount": "4000.00"}]}).json()
    assert clerk.post(f"/api/v1/claims/{claim['id']}/submit").status_code == 200
    return str(claim["id"])


def fresh_page(browser: Browser) -> Page:
    return browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN").new_page()


def role_page(server: Server, browser: Browser, role: str) -> tuple[Page, dict[str, str]]:
    """A new user of ``role``, logged in on a fresh page."""
    user = server.add_user(role)
    page = fresh_page(browser)
    login(page, server, user["username"])
    return page, user


def test_approve_post_and_archive_on_the_page(server: Server, browser: Browser) -> None:
    claim_id = _submitted_claim(server)
    admin = server.admin()

    page, _ = role_page(server, browser, "approver")
    page.click("nav >> text=待审批")
    row = page.locator(f"tr[data-claim-id='{claim_id}']")
    expect(row).to_contain_text("差旅报销")
    row.locator("button[data-step=approve]").click()
    expect(page.locator(f"tr[data-claim-id='{claim_id}']")).to_have_count(0)  # left the queue
    assert admin.get(f"/api/v1/claims/{claim_id}").json()["state"] == "approved"
    page.context.close()

    page, _ = role_page(server, browser, "accountant")
    page.click("nav >> text=记账凭证")
    page.check(f"#ready-claims input[value='{claim_id}']")
    page.click("#make-voucher")
    page.wait_for_url(server.base + "/vouchers/*")
    expect(page.locator("#voucher-state")).to_have_text("草稿")
    expect(page.locator("#post-voucher")).to_have_count(0)  # 凭证审核 comes first, by someone else
    voucher_id = page.url.rsplit("/", 1)[1]
    page.context.close()

    page, reviewer = role_page(server, browser, "accountant")
    page.goto(f"{server.base}/vouchers/{voucher_id}")
    page.click("#review-voucher")
    expect(page.locator("#voucher-state")).to_have_text("已审核")
    page.click("#post-voucher")
    page.click("#confirm-ok")  # 记账 asks for a confirmation first
    expect(page.locator("#voucher-state")).to_have_text("已记账")
    assert admin.get(f"/api/v1/vouchers/{voucher_id}").json()["reviewed_by"] == reviewer["username"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "voucher.png"), full_page=True)
    posting = admin.get("/api/v1/invoices/by-key/25322000000337005189").json()["posting"]
    assert posting["posted"] is True and posting["voucher_id"] == voucher_id
    page.context.close()

    page, _ = role_page(server, browser, "archivist")
    page.goto(f"{server.base}/vouchers/{voucher_id}")
    page.click("#package-voucher")
    result = page.locator("#package-result")
    expect(result).to_contain_text("已生成档案包，档号", timeout=90_000)  # PDF/A + 四性 check
    expect(result).to_contain_text("四性检测通过")
    page.click("nav >> text=会计档案")
    year = admin.get(f"/api/v1/vouchers/{voucher_id}").json()["period"][:4]
    page.fill("input[name=year]", year)
    page.click("#export-form button")
    expect(page.locator("#export-status")).to_contain_text("导出完成", timeout=120_000)
    report = page.locator("#check-report")
    expect(report).to_contain_text("四性检测通过")
    for prop in ("真实性", "完整性", "可用性", "安全性"):
        expect(report).to_contain_text(prop)
    link = page.locator("#export-download a")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href is not None
    z = admin.get(href)
    assert z.status_code == 200 and z.content[:2] == b"PK"
    page.screenshot(path=str(ARTIFACTS / "archive.png"), full_page=True)
    page.context.close()

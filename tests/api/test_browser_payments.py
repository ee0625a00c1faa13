"""付款回单 on the web page (issue 13): the accountant sees the suggested bank e-receipt with its
reasons on a posted voucher, confirms it in a dialog, and the receipt's page names the voucher.
Both pages pass the page rules (no English, axe-core, no sideways scrolling at 390 px)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.api.conftest import Server, login, upload
from tests.api.pagecheck import check_page
from tests.samples import OTHER

pytestmark = pytest.mark.browser

CCB = OTHER / "c5soft__ofd.js" / "26050100800_00001.ofd"  # 27.00 to 李俊婕, 2026-05-12


def test_confirm_a_suggested_receipt_on_the_voucher_page(server: Server, browser: Browser) -> None:
    clerk, _ = server.as_role("clerk")
    maker, _ = server.as_role("accountant")
    checker, _ = server.as_role("accountant")
    receipt_id = upload(clerk, CCB).json()["imported"][0]["invoice_id"]
    v = maker.post("/api/v1/vouchers", json={
        "date": "2026-05-10", "summary": "支付李俊婕出租车费",
        "lines": [{"account_code": "660203", "debit": "27.00"}, {"account_code": "1002", "credit": "27.00"}]}).json()
    assert checker.post(f"/api/v1/vouchers/{v['id']}/review").status_code == 200
    assert maker.post(f"/api/v1/vouchers/{v['id']}/post").status_code == 200

    user = server.add_user("accountant")
    for width in (1366, 390):
        page = browser.new_context(viewport={"width": width, "height": 800}, locale="zh-CN").new_page()
        login(page, server, user["username"])
        page.goto(f"{server.base}/vouchers/{v['id']}")
        expect(page.locator("#payments-suggested")).to_contain_text("金额相同（27.00 元）")
        check_page(page, "voucher-payments", width)
        page.context.close()

    page = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN").new_page()
    login(page, server, user["username"])
    page.goto(f"{server.base}/vouchers/{v['id']}")
    page.click(f"button[data-pay-receipt='{receipt_id}']")
    page.click("#confirm-ok")
    expect(page.locator("#payments-confirmed")).to_contain_text("947846")
    assert [p["receipt_id"] for p in maker.get(f"/api/v1/vouchers/{v['id']}/payments").json()["payments"]] \
        == [receipt_id]
    page.goto(f"{server.base}/invoices/{receipt_id}")
    expect(page.locator("#receipt-vouchers")).to_contain_text(v["number"])
    # the bank's certificate names itself in English: data from the file, shown as it is
    signer = clerk.get(f"/api/v1/invoices/{receipt_id}").json()["verification"]["signatures"][0]["signer"]
    check_page(page, "receipt", 1366, signer["subject"], signer["issuer"])
    page.context.close()

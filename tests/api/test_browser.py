"""The web page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Log in, upload two invoices (file picker) and a duplicate (drag and drop), see the duplicate
flagged with the earlier record, build and submit a claim. Screenshots of the upload page and
the invoice list are kept in ``test-artifacts/``.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import ARTIFACTS, OFD_WUXI, PDF_WUXI, Server, login

pytestmark = pytest.mark.browser


def drop_file(page: Page, path: Path) -> None:
    """Drag and drop a file onto the drop zone, as a person would from the file manager."""
    page.evaluate(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name));
            const zone = document.getElementById('drop');
            for (const type of ['dragenter', 'dragover', 'drop']) {
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
            }
        }""",
        [path.name, base64.b64encode(path.read_bytes()).decode()])


def test_upload_duplicate_and_claim(server: Server, page: Page) -> None:
    clerk = server.add_user("clerk")
    wrong = page.goto(server.base + "/login")
    assert wrong is not None and wrong.status == 200
    page.fill("input[name=username]", clerk["username"])
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("用户名或密码不正确。")
    login(page, server, clerk["username"])

    page.click("nav >> text=上传发票")
    expect(page.locator("h1")).to_have_text("上传发票")
    page.set_input_files("#file-input", [str(OFD_WUXI), str(PDF_WUXI)])
    rows = page.locator("#upload-results tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("tr[data-outcome=imported]")).to_have_count(2, timeout=60_000)
    ofd_row = page.locator(f"tr[data-file='{OFD_WUXI.name}']")
    expect(ofd_row).to_contain_text("24322000000489101796")
    expect(ofd_row).to_contain_text("¥20,000.00")
    expect(ofd_row).to_have_attribute("data-status", "needs_check")  # unsigned 数电票: 需查验
    expect(ofd_row).to_contain_text("需查验")
    expect(ofd_row.locator("td").nth(7)).to_contain_text("尚未查验")  # why, in words (the gate's reason)

    drop_file(page, OFD_WUXI)
    expect(rows).to_have_count(3)
    dup = page.locator("tr[data-outcome=duplicate]")
    expect(dup).to_have_count(1, timeout=60_000)
    expect(dup).to_contain_text("重复")
    expect(dup).to_contain_text("已经登记过")
    expect(dup).to_contain_text(OFD_WUXI.name)
    expect(dup).to_contain_text(clerk["username"])
    expect(dup.locator("a", has_text="查看原记录")).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "upload.png"), full_page=True)

    page.click("nav >> text=发票台账")
    listed = page.locator("#invoice-list tbody tr[data-invoice-id]")
    expect(listed).to_have_count(2)
    expect(page.locator("#invoice-list")).to_contain_text("无锡")
    expect(page.locator("#invoice-list tr[data-status=needs_check]")).to_have_count(2)
    expect(page.locator("#invoice-list")).to_contain_text("¥8,819.60")
    page.screenshot(path=str(ARTIFACTS / "invoices.png"), full_page=True)

    # The detail view shows the PDF original inline.
    page.click("text=25322000000337005189")
    frame = page.locator("section.original iframe")
    expect(frame).to_have_count(1)
    src = frame.get_attribute("src")
    assert src is not None and src.endswith("/original")
    page.screenshot(path=str(ARTIFACTS / "invoice-detail.png"), full_page=True)

    # Build and submit a claim from both invoices.
    page.click("nav >> text=填报销单")
    page.fill("input[name=title]", "无锡采购报销")
    page.fill("input[name=department]", "行政部")
    boxes = page.locator("#claim-invoices .pick")
    expect(boxes).to_have_count(2)
    boxes.nth(0).check()
    boxes.nth(1).check()
    expect(page.locator("#claim-total")).to_have_text("¥28,819.60")
    page.screenshot(path=str(ARTIFACTS / "claim-builder.png"), full_page=True)
    page.click("button[data-submit='1']")
    page.wait_for_url(server.base + "/claims/*")
    expect(page.locator("#claim-state")).to_have_text("已提交")
    expect(page.locator("#claim-steps li")).to_have_count(2)
    expect(page.locator("h1")).to_contain_text("无锡采购报销")
    page.screenshot(path=str(ARTIFACTS / "claim.png"), full_page=True)

"""The web page's later additions, in headless Chromium against the real server.

- 在线查验 on the invoice page: the status and its history, the button (only for roles that
  may check), against a fake 查验 service on 127.0.0.1 that the served app is configured with.
- Voucher import from Excel: a bad sheet is refused and every error is listed with its row
  and column; a good sheet is imported; the period's journal can be downloaded.
- The OFD preview as SVG (``GET /invoices/{id}/preview.svg``), over plain HTTP.

Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from playwright.sync_api import Page, expect

from accounting.excel import COLUMNS
from invoice.xmlsafe import parse_xml
from tests.api.conftest import (
    ARTIFACTS,
    OFD_WUXI,
    PDF_WUXI,
    Server,
    login,
    start_server,
    stop_server,
    upload,
)
from tests.invoice import test_online
from tests.invoice.test_online import KEY, fake_check_service, service_calls

pytestmark = pytest.mark.browser

OFD_NUMBER = "24322000000489101796"  # the 数电票 in OFD_WUXI, issued 2024-12-05


@pytest.fixture(scope="module")
def check_service() -> Iterator[str]:
    """The fake 查验 service of tests/invoice/test_online.py, on 127.0.0.1."""
    with fake_check_service() as url:
        yield url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, check_service: str) -> Iterator[Server]:
    """The app (uvicorn subprocess) configured through FAPIAO_* with the fake 查验 service."""
    srv = start_server(tmp_path_factory.mktemp("fapiao") / "home", FAPIAO_ONLINE_CHECK_URL=check_service,
                       FAPIAO_ONLINE_CHECK_KEY=KEY, FAPIAO_ONLINE_CHECK_DAILY_LIMIT="5")
    yield srv
    stop_server(srv)
    log = srv.log.read_text(errors="replace")
    assert "Traceback" not in log and '" 500' not in log, log[-5000:]


@pytest.fixture(scope="module")
def ofd_invoice(served: Server) -> str:
    clerk, _ = served.as_role("clerk")
    res = upload(clerk, OFD_WUXI)
    assert res.status_code == 200, res.text
    return str(res.json()["imported"][0]["invoice_id"])


def test_online_check_status_button_and_history(served: Server, ofd_invoice: str, page: Page,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(test_online.RECORDS, OFD_NUMBER,
                        ("success", {"seller_tax_id": "91320211739560225X", "total": "20000.00"}))
    clerk = served.add_user("clerk")
    login(page, served, clerk["username"])
    page.goto(f"{served.base}/invoices/{ofd_invoice}")
    status = page.locator("#online-check-status")
    expect(status).to_have_text("未查验")
    expect(page.locator("#online-checks")).to_contain_text("还没有查验过")

    before = service_calls(OFD_NUMBER)
    page.click("#online-check")
    expect(page.locator("#online-check-result")).to_contain_text("本次查验结果：查验一致")
    expect(status).to_have_text("查验一致")
    assert service_calls(OFD_NUMBER) - before == 1  # the page's click reached the service once

    # Stored: a fresh load shows the status and the attempt in the history, with who checked.
    page.reload()
    expect(page.locator("#online-check-status")).to_have_text("查验一致")
    rows = page.locator("#online-checks tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(clerk["username"])
    expect(rows.first).to_contain_text("查验一致")
    expect(page.locator("ul.history")).to_contain_text("发票查验")  # the catalogue's audit label
    detail = served.admin().get(f"/api/v1/invoices/{ofd_invoice}").json()
    assert detail["online_check_status"] == "success"
    assert [(c["status"], c["by"]) for c in detail["online_checks"]] == [("success", clerk["username"])]
    # The OFD original is previewed on the page (the SVG image loaded, it has a size).
    preview = page.locator("#ofd-preview")
    expect(preview).to_be_visible()
    assert page.evaluate("document.getElementById('ofd-preview').naturalWidth") > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "invoice-online-check.png"), full_page=True)


def test_online_check_button_only_for_allowed_roles(served: Server, ofd_invoice: str, page: Page) -> None:
    approver = served.add_user("approver")
    login(page, served, approver["username"])
    page.goto(f"{served.base}/invoices/{ofd_invoice}")
    expect(page.locator("#online-check-status")).to_be_visible()  # everyone sees the status
    expect(page.locator("#online-check")).to_have_count(0)  # approvers may not check


def _sheet(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(COLUMNS)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_voucher_import_lists_errors_then_imports_and_exports(served: Server, page: Page) -> None:
    accountant = served.add_user("accountant")
    api = served.client(accountant["token"])
    count = api.get("/api/v1/vouchers").json()["total"]
    bad = _sheet([
        ["B1", "2025-11-20", "差旅", "9999", None, "10.00", None, None, None, None],  # unknown account
        ["B2", "2025-13-45", "办公", "1001", None, "5.00", None, None, None, None],  # no such date
        [None, "2025-11-20", "无号", "1002", None, None, "5.00", None, None, None],  # no voucher ref
        ["B3", "2025-11-21", "金额", "1001", None, "abc", None, None, None, None],  # not a number
    ])
    # What the API says of this sheet: the page must list exactly these cells.
    refused = api.post("/api/v1/vouchers/import", files={"file": ("bad.xlsx", bad, XLSX)})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "import_invalid"
    expected = refused.json()["error"]["details"]["errors"]
    cells = {(e["row"], e["column"]) for e in expected}
    assert {(2, "D"), (3, "B"), (4, "A"), (5, "F")} <= cells

    login(page, served, accountant["username"])
    page.goto(served.base + "/vouchers")
    page.set_input_files("#import-file", files={"name": "bad.xlsx", "mimeType": XLSX, "buffer": bad})
    page.click("#import-form button[type=submit]")
    result = page.locator("#import-result")
    expect(result).to_contain_text(f"表格中有 {len(expected)} 处错误，一张凭证也没有导入")
    rows = page.locator("#import-errors tbody tr")
    expect(rows).to_have_count(len(expected))
    shown = [tuple(c.strip() for c in r) for r in
             page.eval_on_selector_all("#import-errors tbody tr",
                                       "trs => trs.map(tr => Array.from(tr.cells).map(td => td.textContent))")]
    assert [r[:3] for r in shown] == [(f"第 {e['row']} 行", f"{e['column']} 列", e["header"]) for e in expected]
    # Reasons read in Chinese; the server's own wording stays in the tooltip.
    reasons = {(e["row"], e["column"]): r[3] for e, r in zip(expected, shown, strict=True)}
    assert reasons[(2, "D")] == "科目编码 9999 不在会计科目表中"
    assert reasons[(3, "B")].startswith("“2025-13-45”不是日期")
    assert reasons[(4, "A")] == "缺少凭证号"
    assert reasons[(5, "F")] == "“abc”不是数字"
    tips = page.eval_on_selector_all("#import-errors tbody tr td:last-child", "tds => tds.map(td => td.title)")
    assert tips == [e["message"] for e in expected]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "voucher-import-errors.png"), full_page=True)
    assert api.get("/api/v1/vouchers").json()["total"] == count  # nothing was imported

    good = _sheet([["G1", "2025-11-20", "备用金", "1001", None, "12.34", None, None, None, None],
                   ["G1", "2025-11-20", "备用金", "1002", None, None, "12.34", None, None, None]])
    page.set_input_files("#import-file", files={"name": "good.xlsx", "mimeType": XLSX, "buffer": good})
    page.click("#import-form button[type=submit]")
    expect(result).to_contain_text("共导入 1 张凭证")
    assert api.get("/api/v1/vouchers").json()["total"] == count + 1

    page.fill("#export-period", "2025-11")
    link = page.locator("#export-journal")
    expect(link).to_have_attribute("href", "/api/v1/vouchers/export.xlsx?period=2025-11")
    with page.expect_download() as info:
        link.click()
    assert info.value.suggested_filename == "journal-2025-11.xlsx"
    ws = load_workbook(io.BytesIO(info.value.path().read_bytes())).active
    assert ws is not None
    lines = [row for row in ws.iter_rows(min_row=2, values_only=True) if row[0]]
    assert [(r[3], r[5] or r[6]) for r in lines] == [("1001", 12.34), ("1002", 12.34)]


def test_voucher_import_form_hidden_from_other_roles(served: Server, page: Page) -> None:
    clerk = served.add_user("clerk")
    login(page, served, clerk["username"])
    page.goto(served.base + "/vouchers")
    expect(page.locator("#voucher-list")).to_be_visible()
    expect(page.locator("#import-form")).to_have_count(0)


def test_ofd_preview_svg(served: Server, ofd_invoice: str) -> None:
    auditor, _ = served.as_role("auditor")  # read-only roles may see the original too
    r = auditor.get(f"/invoices/{ofd_invoice}/preview.svg")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    root = parse_xml(r.content, "preview.svg")  # well-formed XML
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert OFD_NUMBER in texts
    assert "无锡天鹏菜篮子工程有限公司" in texts  # the buyer, as the file writes it

    anon = served.client().get(f"/invoices/{ofd_invoice}/preview.svg")
    assert anon.status_code == 303 and anon.headers["location"].startswith("/login")
    clerk, _ = served.as_role("clerk")
    pdf_id = upload(clerk, PDF_WUXI).json()["imported"][0]["invoice_id"]
    no_preview = auditor.get(f"/invoices/{pdf_id}/preview.svg")
    assert no_preview.status_code == 404
    missing = auditor.get("/invoices/nonexistent0000/preview.svg")
    assert missing.status_code == 404

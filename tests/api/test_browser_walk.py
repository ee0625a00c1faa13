"""Each role's day on the web page, at 1366 px (desk) and 390 px (phone), in headless Chromium.

The clerk uploads real invoices with a tampered OFD (built here from a signed sample), an
invoice issued to another company, a file that is no invoice and a duplicate; reads the
ledger; fills a claim from the upload; opens the invoice pages. An approver rejects with a
reason in a dialog, the clerk resubmits, one approver reviews (and is then offered no 批准),
another approves. The accountant confirms 记账 in a dialog; the archivist archives from the
to-do list, runs the four-property check by button and exports the year; the auditor filters
the log. Every page: no English words, no serious accessibility violation (axe-core), no
sideways scrolling at 390 px, a screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.conftest import OFD_WUXI, PDF_WUXI, Server, start_server, stop_server
from tests.api.pagecheck import check_page, english_words, page_width
from tests.samples import V4SIGNED

pytestmark = pytest.mark.browser

OFD_NUMBER = "24322000000489101796"  # OFD_WUXI: ¥20,000.00
PDF_NUMBER = "25322000000337005189"  # PDF_WUXI: ¥8,819.60
FOREIGN_BUYER = "科游迈利有限公司"  # V4SIGNED's buyer: not the organisation


def rezip(data: bytes, change: str, edit: bytes) -> bytes:
    """The signed OFD with one signed member edited after signing (bytes appended)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            dst.writestr(info.filename, body + edit if info.filename == change else body)
    return out.getvalue()


def tampered_ofd() -> bytes:
    with zipfile.ZipFile(V4SIGNED) as z:
        member = next(n for n in z.namelist() if n.endswith("Pages/Page_0/Content.xml"))
    return rezip(V4SIGNED.read_bytes(), member, b"<!-- 1000.00 -->")


@dataclass
class Walk:
    server: Server
    width: int
    people: dict[str, dict[str, str]]

    def page(self, browser: Browser, who: str) -> Page:
        height = 844 if self.width <= 400 else 800
        ctx = browser.new_context(viewport={"width": self.width, "height": height}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai")
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.set_default_timeout(30_000)
        setattr(pg, "_js_errors", errors)  # noqa: B010
        user = self.people[who]
        pg.goto(self.server.base + "/login")
        pg.fill("input[name=username]", user["username"])
        pg.fill("input[name=password]", "correct-horse-42")
        pg.click("button[type=submit]")
        pg.wait_for_url(lambda url: "/login" not in url)
        pg.wait_for_load_state("networkidle")
        pg.wait_for_selector("html[data-ready='1']", state="attached")
        return pg

    def names(self) -> list[str]:
        return ["admin", *(u["username"] for u in self.people.values())]  # admin: made by fapiao init

    def check(self, pg: Page, name: str) -> None:
        check_page(pg, name, self.width, *self.names())

    def done(self, pg: Page) -> None:
        errors = getattr(pg, "_js_errors", [])
        pg.context.close()
        assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="module", params=[1366, 390], ids=["desk", "phone"])
def walk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    srv = start_server(tmp_path_factory.mktemp("walk") / "home")
    people = {}
    for who, role in (("clerk", "clerk"), ("approver", "approver"), ("approver2", "approver"),
                      ("accountant", "accountant"), ("accountant2", "accountant"), ("archivist", "archivist"),
                      ("auditor", "auditor")):
        people[who] = srv.add_user(role, name=f"{who}{request.param}")
    yield Walk(srv, int(request.param), people)
    stop_server(srv)
    log = srv.log.read_text(errors="replace")
    assert "Traceback" not in log and '" 500' not in log, log[-5000:]


def _menu(pg: Page, walk: Walk, text: str) -> None:
    """Follow a menu entry; on a phone, open the collapsed menu first."""
    if walk.width <= 400:
        pg.click("#menu-toggle")
    pg.click(f"#main-nav >> text={text}")
    pg.wait_for_load_state("networkidle")


def test_a_role_day(walk: Walk, browser: Browser) -> None:
    w = walk.width
    # --- the clerk: upload, ledger, claim, invoice pages -----------------------------------
    pg = walk.page(browser, "clerk")
    expect(pg).to_have_url(walk.server.base + "/upload")  # the clerk lands on 上传发票
    if w <= 400:
        header = pg.locator("header.top").bounding_box()
        assert header is not None and header["height"] < 120, header
        nav_links = pg.locator("#main-nav a")
        expect(nav_links.first).to_be_hidden()  # the menu is collapsed
        pg.click("#menu-toggle")
        expect(nav_links.first).to_be_visible()
        box = nav_links.first.bounding_box()
        assert box is not None and box["height"] < 60 and box["width"] > 100  # not one character per line
        pg.click("#menu-toggle")
    # the file picker opens from the keyboard
    pg.wait_for_selector("html[data-ready='1']", state="attached")
    pg.keyboard.press("Escape")
    expect(pg.locator("#pick-files")).to_be_visible()
    with pg.expect_file_chooser() as chooser:
        pg.press("#pick-files", "Enter")
    chooser.value.set_files([
        str(OFD_WUXI), str(PDF_WUXI), V4SIGNED.as_posix(),
    ])
    rows = pg.locator("#upload-results tbody tr")
    expect(rows).to_have_count(3)
    pg.set_input_files("#file-input", files=[
        {"name": "改过的发票.ofd", "mimeType": "application/octet-stream", "buffer": tampered_ofd()},
        {"name": "会议纪要.txt", "mimeType": "text/plain", "buffer": "这不是发票".encode()},
        {"name": "重复-" + OFD_WUXI.name, "mimeType": "application/octet-stream", "buffer": OFD_WUXI.read_bytes()},
    ])
    expect(rows).to_have_count(6)
    expect(pg.locator("#upload-results tbody tr[data-outcome]")).to_have_count(6, timeout=90_000)
    expect(pg.locator("#upload-progress")).to_contain_text("全部处理完：共 6 个文件，其中 2 张可以报销")
    ofd_row = pg.locator(f"tr[data-file='{OFD_WUXI.name}']")
    expect(ofd_row).to_contain_text("¥20,000.00")
    expect(ofd_row).to_have_attribute("data-status", "needs_check")
    expect(ofd_row).to_contain_text("需查验")
    foreign = pg.locator(f"tr[data-file='{V4SIGNED.name}']")
    # the claim gate's rule: a check that failed (the buyer tax id's check character) comes
    # before "not ours"; every reason is still named
    expect(foreign).to_have_attribute("data-status", "failed")
    expect(foreign).to_contain_text("不是本单位")
    forged = pg.locator("tr[data-file='改过的发票.ofd']")
    expect(forged).to_have_attribute("data-status", "failed")
    expect(forged).to_contain_text("验证失败")
    expect(forged).to_contain_text("签名后被改动过")
    expect(forged.locator(".badge.tone-bad")).to_have_count(1)  # red, never green
    junk = pg.locator("tr[data-file='会议纪要.txt']")
    expect(junk).to_have_attribute("data-outcome", "rejected")
    expect(junk).to_contain_text("不是 OFD、PDF 或 XML 格式的电子发票")
    dup = pg.locator(f"tr[data-file='重复-{OFD_WUXI.name}']")
    expect(dup).to_have_attribute("data-outcome", "duplicate")
    expect(dup).to_contain_text("已经登记过")
    walk.check(pg, "clerk-upload")

    # 用这些发票填报销单: the claimable uploads are chosen, nothing else is offered
    pg.click("#claim-these")
    pg.wait_for_url("**/claims/new?invoices=*")
    offered = pg.locator("#claim-invoices tbody tr[data-invoice-id]")
    expect(offered).to_have_count(2)
    expect(pg.locator("#claim-invoices .pick:checked")).to_have_count(2)
    expect(pg.locator("#claim-invoices")).not_to_contain_text(FOREIGN_BUYER)
    expect(pg.locator("#claim-total")).to_have_text("¥28,819.60")
    pg.fill("#claim-filter", "8819")
    expect(pg.locator("#claim-invoices tbody tr[data-invoice-id]:visible")).to_have_count(2)  # chosen rows stay
    pg.fill("#claim-filter", "")
    pg.fill("input[name=title]", "无锡采购报销")
    pg.fill("input[name=department]", "行政部")
    walk.check(pg, "clerk-claim-form")
    pg.click("button[data-submit='1']")
    pg.wait_for_url("**/claims/*")
    expect(pg.locator("#claim-state")).to_have_text("已提交")
    claim_url = pg.url
    lines = pg.locator("#claim-lines")
    expect(lines).to_contain_text(walk.people["clerk"]["username"])  # the uploader column
    expect(lines.locator("td.line-status[data-unchecked='1']")).to_have_count(2)  # 未查验, line by line
    walk.check(pg, "clerk-claim")

    # the ledger: 我的发票, money with separators, one status each, dates not wrapped
    _menu(pg, walk, "我的发票")
    listed = pg.locator("#invoice-list tbody tr[data-invoice-id]")
    expect(listed).to_have_count(4)
    expect(pg.locator("#invoice-list")).to_contain_text("¥8,819.60")
    expect(pg.locator("#invoice-list tr[data-status=claimed]")).to_have_count(2)
    expect(pg.locator("#invoice-list tr[data-status=failed]")).to_have_count(2)  # tampered, foreign
    walk.check(pg, "clerk-ledger")
    # an invalid date is named, not ignored
    pg.goto(walk.server.base + "/invoices?mine=1&date_from=2024-13-45")
    expect(pg.locator(".filter-error")).to_contain_text("“2024-13-45”不是有效日期")
    # sorting by amount, searching by a number fragment
    pg.goto(walk.server.base + "/invoices?mine=1&sort=-total")
    expect(listed.first).to_contain_text(OFD_NUMBER)
    pg.goto(walk.server.base + "/invoices?q=00337005")
    expect(listed).to_have_count(1)

    # invoice pages: the tampered one plainly failed, the foreign one names seal and trust
    pg.goto(walk.server.base + "/invoices?mine=1&status=failed&sort=-uploaded_at")  # the tampered one is newer
    pg.locator("#invoice-list tbody tr[data-invoice-id] a").first.click()
    box = pg.locator("#invoice-status")
    expect(box).to_have_attribute("data-status", "failed")
    expect(box).to_contain_text("验证失败：不能报销")
    expect(box).to_contain_text("Content.xml")
    expect(pg.locator("body")).not_to_contain_text("签名有效")
    walk.check(pg, "clerk-invoice-tampered")
    pg.goto(walk.server.base + "/invoices?mine=1&status=failed&sort=uploaded_at")
    pg.locator("#invoice-list tbody tr[data-invoice-id] a").first.click()
    expect(pg.locator("#invoice-status")).to_contain_text("不是本单位")
    facts = pg.locator("#signature-facts")
    expect(facts).to_contain_text("测试全国统一发票监制章国家税务总局重庆市税务局")  # the seal
    expect(facts).to_contain_text("2020-10-10 15:11")  # signing time in China time
    expect(facts).to_contain_text("没有对照受信任的根证书核验")  # trust not established
    expect(pg.locator("#field-coverage")).to_be_visible()  # which field which signature covers
    expect(pg.locator("#field-coverage")).to_contain_text("发票号码")
    walk.check(pg, "clerk-invoice-foreign")
    pg.goto(walk.server.base + "/invoices?q=" + OFD_NUMBER)
    pg.click(f"text={OFD_NUMBER}")
    expect(pg.locator("#invoice-status")).to_have_attribute("data-status", "claimed")
    expect(pg.locator("#invoice-status")).to_contain_text("已在报销单")
    expect(pg.locator("#signature-facts")).to_contain_text("未查验")
    walk.check(pg, "clerk-invoice-unsigned")
    walk.done(pg)

    # --- approvers: reject with a reason, review, approve (never their own or twice) ------
    pg = walk.page(browser, "approver")
    expect(pg).to_have_url(walk.server.base + "/approvals")
    row = pg.locator("#claim-list tbody tr[data-claim-id]")
    expect(row).to_have_count(1)
    expect(row.locator("button[data-step=review]")).to_be_visible()
    expect(row.locator("button[data-step=approve]")).to_have_count(0)  # above the limit: 审核 first
    reject = row.locator("button[data-step=reject]")
    box = reject.bounding_box()
    assert box is not None and box["x"] + box["width"] <= w  # reachable on a phone
    walk.check(pg, "approver-queue")
    reject.click()
    dialog = pg.locator("#reason-dialog")
    expect(dialog).to_be_visible()
    pg.click("#reason-ok")
    expect(pg.locator("#reason-error")).to_be_visible()  # a reason is required
    pg.fill("#reason-text", "请补充出差审批单")
    walk.check(pg, "approver-reject-dialog")
    pg.click("#reason-ok")
    expect(pg.locator("#claim-list tbody tr[data-claim-id]")).to_have_count(0)
    walk.done(pg)

    pg = walk.page(browser, "clerk")
    pg.goto(claim_url)
    expect(pg.locator("#claim-state")).to_have_text("已驳回")
    expect(pg.locator("#rejection")).to_contain_text("请补充出差审批单")
    walk.check(pg, "clerk-rejected")
    # the clerk edits the rejected claim (PATCH) and submits it again
    pg.click("#edit-claim")
    pg.wait_for_url("**/claims/new?edit=*")
    expect(pg.locator("#claim-invoices .pick:checked")).to_have_count(2)  # its own invoices stay offered
    expect(pg.locator("#claim-invoices tr[data-status=claimed]")).to_have_count(0)
    pg.fill("input[name=purpose]", "已补充出差审批单")
    walk.check(pg, "clerk-edit-rejected")
    pg.click("button[data-submit='1']")
    pg.wait_for_url(claim_url)
    expect(pg.locator("#claim-state")).to_have_text("已提交")
    expect(pg.locator("body")).to_contain_text("已补充出差审批单")
    walk.done(pg)

    pg = walk.page(browser, "approver")
    pg.click("#claim-list button[data-step=review]")
    expect(pg.locator("#claim-list tbody tr[data-claim-id]")).to_have_count(0)
    expect(pg.locator(".waiting")).to_contain_text("无锡采购报销")  # reviewed by me: not mine to approve
    pg.goto(claim_url)
    expect(pg.locator("#claim-state")).to_have_text("已审核")
    expect(pg.locator("button[data-step=approve]")).to_have_count(0)
    expect(pg.locator("#no-action")).to_contain_text("需由另一位审批人批准")
    walk.check(pg, "approver-after-review")
    walk.done(pg)

    pg = walk.page(browser, "approver2")
    approve = pg.locator("#claim-list button[data-step=approve]")
    expect(approve).to_be_visible()
    box = approve.bounding_box()
    assert box is not None and box["x"] + box["width"] <= w
    approve.click()
    expect(pg.locator("#claim-list tbody tr[data-claim-id]")).to_have_count(0)
    walk.done(pg)

    # --- accountants: one makes the voucher, another reviews (凭证审核), then 记账 -----------
    pg = walk.page(browser, "accountant")
    expect(pg.locator("h1")).to_contain_text("待记账")
    pg.check("#ready-claims .pick-claim")
    walk.check(pg, "accountant-todo")
    pg.click("#make-voucher")
    pg.wait_for_url("**/vouchers/*")
    voucher_url = pg.url
    expect(pg.locator("#voucher-state")).to_have_text("草稿")
    expect(pg.locator("#voucher-lines")).to_contain_text("¥28,819.60")
    expect(pg.locator("#review-voucher")).to_have_count(0)  # never the maker's own review
    expect(pg.locator("#post-voucher")).to_have_count(0)  # posting needs 审核 first
    expect(pg.locator("#review-note")).to_be_visible()
    expect(pg.locator("#edit-voucher")).to_be_visible()  # a draft can be edited and deleted
    expect(pg.locator("#delete-voucher")).to_be_visible()
    walk.check(pg, "accountant-draft")
    walk.done(pg)

    pg = walk.page(browser, "accountant2")
    pg.goto(voucher_url)
    pg.click("#review-voucher")
    expect(pg.locator("#voucher-state")).to_have_text("已审核")
    expect(pg.locator("#voucher-reviewer")).to_contain_text(walk.people["accountant2"]["username"])
    expect(pg.locator("#unreview-voucher")).to_be_visible()  # the reviewer may take it back
    expect(pg.locator("#edit-voucher")).to_have_count(0)  # reviewed: no longer editable
    pg.click("#post-voucher")
    expect(pg.locator("#confirm-dialog")).to_be_visible()
    expect(pg.locator("#confirm-body")).to_contain_text("¥28,819.60")
    walk.check(pg, "accountant-confirm")
    pg.click("#confirm-cancel")
    expect(pg.locator("#voucher-state")).to_have_text("已审核")  # nothing posted on cancel
    pg.click("#post-voucher")
    pg.click("#confirm-ok")
    expect(pg.locator("#voucher-state")).to_have_text("已记账")
    walk.check(pg, "accountant-posted")
    walk.done(pg)

    # --- the archivist: archive from the to-do list, check by button, export -----------------
    pg = walk.page(browser, "archivist")
    todo = pg.locator("#archive-todo tbody tr[data-voucher-id]")
    expect(todo).to_have_count(1)
    walk.check(pg, "archivist-todo")
    todo.locator("button[data-package]").click()
    # Building a package renders PDF/A and runs the four-property check (and on the second
    # pass writes to S3): seconds on a loaded machine, not the 5 s an assertion waits by default.
    expect(pg.locator("#package-result")).to_contain_text("保管期限 30年", timeout=90_000)
    expect(pg.locator("#package-result")).not_to_contain_text("object")
    pg.reload()
    expect(pg.locator("#archive-todo tbody tr[data-voucher-id]")).to_have_count(0)
    pkg = pg.locator("#package-list tbody tr[data-package-id]")
    expect(pkg).to_have_count(1)
    expect(pkg.locator(".retention")).to_contain_text("30年")
    pkg.locator("button[data-check]").click()
    expect(pg.locator("#check-report")).to_contain_text("四性检测通过")
    for prop in ("真实性", "完整性", "可用性", "安全性"):
        expect(pg.locator("#check-report")).to_contain_text(prop)
    year = pkg.locator("td").first.inner_text().split("·")[2][:4]
    pg.fill("input[name=year]", year)
    pg.click("#export-form button")
    expect(pg.locator("#export-status")).to_contain_text("导出完成", timeout=120_000)
    expect(pg.locator("#export-status")).to_contain_text("共 1 件档案包")
    walk.check(pg, "archivist-export")
    walk.done(pg)

    # --- the auditor: a readable, filtered log --------------------------------------------
    pg = walk.page(browser, "auditor")
    expect(pg).to_have_url(walk.server.base + "/audit")
    expect(pg.locator("#audit-list")).to_contain_text("驳回")
    expect(pg.locator("#audit-list")).to_contain_text("请补充出差审批单")
    assert "\\u" not in pg.locator("#audit-list").inner_text()
    pg.select_option("select[name=action]", "claim.reject")
    pg.click("#audit-filters button[type=submit]")
    expect(pg.locator("#audit-list tbody tr")).to_have_count(1)
    pg.goto(walk.server.base + "/audit?date_from=2020-02-30")
    expect(pg.locator(".filter-error")).to_contain_text("不是有效日期")
    pg.goto(walk.server.base + "/audit")
    pg.click("#audit-verify")
    expect(pg.locator("#audit-result")).to_contain_text("日志链完整")
    walk.check(pg, "auditor-log")
    assert not english_words(pg, *walk.names())
    if w <= 400:
        assert page_width(pg) <= w
    walk.done(pg)

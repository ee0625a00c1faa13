"""The 记账凭证 and 报销单 renditions: PDF/A-3b with embedded CJK fonts, Chinese only."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pikepdf
import pypdfium2
import pytest
from sqlmodel import select

from accounting import claims as acc_claims
from accounting import ledger
from archive import check, package, render, schema
from archive.errors import ArchiveError
from archive.store import ArchivePackage, package_dir
from core.clock import CHINA, today_china
from core.db import session_scope
from tests.archive.conftest import SAMPLE_SETS, People

Posted = Callable[[list[Path]], str]
FORMAT_NAMES = {"ofd", "pdf", "xml"}


def _text(pdf: bytes) -> str:
    doc = pypdfium2.PdfDocument(pdf)
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


def _fonts(obj: pikepdf.Object, seen: set[tuple[int, int]]) -> list[pikepdf.Dictionary]:
    """Every font dictionary reachable from a page's resources (also inside form XObjects)."""
    out: list[pikepdf.Dictionary] = []
    res = obj.get("/Resources")
    if res is None:
        return out
    for font in (res.get("/Font") or {}).values():
        out.append(font)
        out.extend(font.get("/DescendantFonts") or [])
    for xo in (res.get("/XObject") or {}).values():
        if xo.objgen not in seen:
            seen.add(xo.objgen)
            out.extend(_fonts(xo, seen))
    return out


def assert_pdfa(pdf: bytes) -> None:
    """The structural PDF/A checks: identification in XMP, an output intent, every font embedded."""
    with pikepdf.open(__import__("io").BytesIO(pdf)) as doc:
        meta = doc.open_metadata()
        assert meta.get("pdfaid:part") in ("2", "3") and meta.get("pdfaid:conformance") == "B"
        intents = doc.Root.get("/OutputIntents")
        assert intents is not None and len(intents) >= 1
        assert intents[0].get("/S") == "/GTS_PDFA1" and intents[0].get("/DestOutputProfile") is not None
        fonts = [f for page in doc.pages for f in _fonts(page.obj, set())]
        assert fonts
        for f in fonts:
            if f.get("/Subtype") == "/Type0":
                continue  # its descendant carries the descriptor
            desc = f.get("/FontDescriptor")
            assert desc is not None and any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")), f


def _english_words(text: str, allowed: set[str]) -> set[str]:
    """Letter-only words that are neither codes (with digits) nor allowed names."""
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9]*", text))
    return {w for w in words if not re.search(r"\d", w) and w not in allowed and w.lower() not in FORMAT_NAMES}


def test_rmb_upper() -> None:
    cases = {"0": "零元整", "0.05": "伍分", "10.50": "壹拾元伍角", "1005.02": "壹仟零伍元零贰分",
             "1234.56": "壹仟贰佰叁拾肆元伍角陆分", "100000": "壹拾万元整", "100010001": "壹亿零壹万零壹元整",
             "4767.00": "肆仟柒佰陆拾柒元整", "-20.3": "负贰拾元叁角", "10000000.07": "壹仟万元零柒分"}
    for value, upper in cases.items():
        assert render.rmb_upper(Decimal(value)) == upper, value


def test_voucher_and_claim_renditions_are_pdfa_in_chinese(people: People, posted: Posted) -> None:
    vid = posted(SAMPLE_SETS[0])
    with session_scope() as s:
        pkg = package.build_package(s, people.archivist, vid)
        root = package_dir(pkg)
        v = ledger.get_voucher(s, vid)
        claim = ledger.voucher_claims(s, vid)[0]
        steps = acc_claims.claim_steps(s, claim.id)
        invoices = ledger.voucher_invoices(s, vid)
        lines = ledger.voucher_lines(s, vid)
    files = {f["path"] for f in pkg.meta["files"]}
    assert {"content/voucher.pdf", "content/claims.pdf"} <= files  # listed, hashed and signed
    allowed = {"clerk", "approver", "accountant", *re.findall(r"[A-Z]+", pkg.archival_code)}

    voucher_pdf = (root / "content" / "voucher.pdf").read_bytes()
    assert_pdfa(voucher_pdf)
    text = _text(voucher_pdf)
    for label in ("记账凭证", "单位", "凭证字号", "摘要", "会计科目", "借方金额", "贷方金额", "合计（大写）",
                  f"附件 {len(invoices)} 张", "制单：accountant", "记账：accountant", "审核：approver、approver2",
                  "已记账", "所附原始凭证（发票）清单", pkg.archival_code, v.number):
        assert label in text, label
    assert render.rmb_upper(v.total_debit) in text and f"¥{v.total_debit:,.2f}" in text
    for line in lines:
        assert line.account_name in text
    for inv in invoices:
        assert inv.number in text and f"{inv.total:,.2f}" in text
    assert "已入账（税前扣除）" in text
    d = v.date
    assert f"{d.year}年{d.month:02d}月{d.day:02d}日" in text
    assert v.posted_at is not None and v.posted_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") in text
    assert _english_words(text, allowed) == set()

    claims_pdf = (root / "content" / "claims.pdf").read_bytes()
    assert_pdfa(claims_pdf)
    text = _text(claims_pdf)
    for label in ("费用报销单", "报销人", "部门", "财务部", "事由", "出差", claim.title, "报销明细及所附发票",
                  "审核审批记录（北京时间）", "提交", "审核", "审批", "已审批", "同意", "审批：approver2",
                  render.rmb_upper(claim.total), f"¥{claim.total:,.2f}"):
        assert label in text, label
    for step in steps:
        assert step.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") in text  # China time, not UTC
    for inv in invoices:
        assert inv.number in text
    assert _english_words(text, allowed | {"approver2"}) == set()


def test_without_a_cjk_font_nothing_is_filed(people: People, posted: Posted,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    vid = posted(SAMPLE_SETS[2])
    monkeypatch.setattr(render, "cjk_font_installed", lambda: False)
    with session_scope() as s, pytest.raises(ArchiveError) as err:
        package.build_package(s, people.archivist, vid)
    assert err.value.code == "records.render.no_cjk_font"
    with session_scope() as s:
        assert s.exec(select(ArchivePackage)).all() == []


def test_external_voucher_without_claims_or_invoices(people: People) -> None:
    """A voucher pushed by an accounting system: no 报销单, no invoices, markup in its text."""
    summary = "支付<服务费> & \"押金\""
    with session_scope() as s:
        v = ledger.create_voucher(s, people.accountant, today_china().isoformat(), summary,
                                  [{"account_code": "660299", "debit": "1234.56", "aux": {"部门": "财务部"}},
                                   {"account_code": "2241", "credit": "1234.56"}], external_ref="ERP-2024-0001")
        vid = v.id
    with session_scope() as s:
        ledger.review_voucher(s, people.admin, vid)  # 审核 by a second person before posting
        ledger.post_voucher(s, people.accountant, vid)
    with session_scope() as s:
        pkg = package.build_package(s, people.archivist, vid)
        root = package_dir(pkg)
    assert not (root / "content" / "claims.pdf").exists()  # no 报销单 to render
    assert schema.validate_package_xml(root) == []
    with session_scope() as s:
        assert not check.check_package(s, pkg.id).failed
    pdf = (root / "content" / "voucher.pdf").read_bytes()
    assert_pdfa(pdf)
    text = _text(pdf)
    assert summary in text and "壹仟贰佰叁拾肆元伍角陆分" in text and "无所附发票" in text and "附件 0 张" in text
    assert _english_words(text, {"accountant", "ERP", "KU", "PZ"}) == set()

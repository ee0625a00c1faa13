"""Content cross-checks: tax id check characters, sums, QR, dates, organisation, number."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from invoice.model import Invoice, InvoiceKind, Item, Party, SourceFormat
from invoice.verify import CheckResult, verify
from invoice.verify.checks import run_checks
from invoice.verify.taxid import USCC_CHARS, check_tax_id, uscc_check_char
from tests.samples import DIGITAL_PDF, EXPECTED

TODAY = date(2026, 1, 15)
# Real companies' codes printed on sample invoices (expected.json, two sources each).
REAL_IDS = ["91440106068698695J", "91440101MA5AL52Y44", "91320200796148368W", "914400007556190127",
            "91510000765055994P", "92510124MA6B1BBY1G"]


def test_real_ids_from_expected_json_pass() -> None:
    seen = {(e["expected"].get(role) or {}).get("tax_id") for e in EXPECTED for role in ("buyer", "seller")}
    for tid in REAL_IDS:
        assert tid in seen
        r = check_tax_id(tid)
        assert r.ok is True and r.kind == "uscc", r.message


@pytest.mark.parametrize("tid", REAL_IDS)
def test_a_corrupted_id_fails(tid: str) -> None:
    wrong = next(c for c in USCC_CHARS if c != tid[-1])
    r = check_tax_id(tid[:-1] + wrong)
    assert r.ok is False
    assert f"should be {tid[-1]}, not {wrong}" in r.message
    swapped = tid[:3] + tid[4] + tid[3] + tid[5:]  # transposed digits
    if swapped != tid:
        assert check_tax_id(swapped).ok is False


def test_check_char_algorithm_and_other_id_kinds() -> None:
    assert uscc_check_char("91440106068698695") == "J"
    assert check_tax_id("11010519491231002X").kind == "id_card"  # GB 11643 example number
    assert check_tax_id("11010519491231002X").ok is True
    assert check_tax_id("32040419760706081301").ok is None  # 20-char legacy: no check char
    assert check_tax_id("9150010807MGZHI002").ok is False  # contains I: not a credit code
    assert check_tax_id("").ok is None


def _invoice(**kw: object) -> Invoice:
    base = Invoice(
        kind=InvoiceKind.DIGITAL_ORDINARY, source_format=SourceFormat.PDF,
        number="25447000001115703415", issue_date="2025-09-23",
        buyer=Party("广州华栈天城科技有限公司", "91440106068698695J"),
        seller=Party("广州灵感之茶餐饮管理有限公司", "91440101MA5AL52Y44"),
        amount=Decimal("47.17"), tax=Decimal("2.83"), total=Decimal("50.00"),
        items=[Item(name="*餐饮服务*餐饮服务", amount=Decimal("47.17"), tax=Decimal("2.83"))],
        extra={"qr": "01,32,,25447000001115703415,50.00,20250923,,0CA3"},
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def _by_id(inv: Invoice, **kw: object) -> dict[str, CheckResult]:
    return {c.id: c.result for c in run_checks(inv, TODAY, **kw)}  # type: ignore[arg-type]


def test_consistent_invoice_passes_everything() -> None:
    res = _by_id(_invoice(), org_name="广州华栈天城科技有限公司", org_tax_id="91440106068698695J")
    assert set(res.values()) == {CheckResult.PASS}
    assert set(res) == {"buyer_tax_id", "seller_tax_id", "amount_tax_total", "items_amount", "items_tax",
                        "qr_payload", "issue_date", "buyer_name", "buyer_org_tax_id", "number_structure",
                        "key_digits", "printed_values"}


def test_each_inconsistency_is_caught() -> None:
    assert _by_id(_invoice(total=Decimal("51.00")))["amount_tax_total"] is CheckResult.FAIL
    lines = [Item(amount=Decimal("20.00"), tax=Decimal("1.20")), Item(amount=Decimal("20.00"), tax=Decimal("1.63"))]
    assert _by_id(_invoice(items=lines))["items_amount"] is CheckResult.FAIL
    rounding = [Item(amount=Decimal("23.58"), tax=Decimal("1.41")), Item(amount=Decimal("23.58"), tax=Decimal("1.41"))]
    res = _by_id(_invoice(amount=Decimal("47.17"), items=rounding))
    assert res["items_amount"] is CheckResult.PASS  # 47.16 vs 47.17: within 0.01 per line
    assert _by_id(_invoice(extra={"qr": "01,32,,25447000001115703415,60.00,20250923,,0CA3"}))["qr_payload"] is CheckResult.FAIL
    assert _by_id(_invoice(issue_date="2026-01-16"))["issue_date"] is CheckResult.FAIL
    assert _by_id(_invoice(number="2544700000111570341"))["number_structure"] is CheckResult.FAIL
    assert _by_id(_invoice(number="25997000001115703415"))["number_structure"] is CheckResult.WARN
    assert _by_id(_invoice(buyer=Party("别的公司", "91440106068698695J")), org_name="广州华栈天城科技有限公司")[
        "buyer_name"] is CheckResult.FAIL
    assert _by_id(_invoice(), org_tax_id="91440101MA5AL52Y44")["buyer_org_tax_id"] is CheckResult.FAIL


def test_full_width_brackets_match_the_organisation_name() -> None:
    res = _by_id(_invoice(buyer=Party("测试（北京）有限公司", None)), org_name="测试(北京)有限公司")
    assert res["buyer_name"] is CheckResult.PASS
    assert res["buyer_tax_id"] is CheckResult.NOT_APPLICABLE


def test_old_style_number_structure() -> None:
    old = _invoice(kind=InvoiceKind.VAT_E_ORDINARY, code="050001700111", number="99999951", extra={})
    assert _by_id(old)["number_structure"] is CheckResult.PASS
    assert _by_id(replace(old, code="0500017001"))["number_structure"] is CheckResult.PASS
    assert _by_id(replace(old, code="05000170011"))["number_structure"] is CheckResult.FAIL


def test_checks_on_a_real_pdf_sample() -> None:
    report = verify(DIGITAL_PDF.read_bytes(), today=TODAY)
    res = {c.id: c.result for c in report.checks}
    assert res["amount_tax_total"] is CheckResult.PASS
    assert res["qr_payload"] is CheckResult.PASS
    assert res["buyer_tax_id"] is CheckResult.PASS and res["seller_tax_id"] is CheckResult.PASS
    assert res["buyer_name"] is CheckResult.NOT_APPLICABLE
    future = verify(DIGITAL_PDF.read_bytes(), today=date(2025, 9, 22))
    assert {c.id: c.result for c in future.checks}["issue_date"] is CheckResult.FAIL
    assert future.status.value == "unsigned"  # a failed cross-check never changes the verdict

"""One invoice in three forms (OFD, PDF, XML) gives one set of normalised values.

The sample ``增值税电子专票5.ofd`` and ``renoyuan__easyofd/test.pdf`` are the same invoice, and
the OFD carries its data as ``Attachs/original_invoice.xml``: three real forms of one invoice.
The tests print a value the same way in all three (the XML element, the OFD's attachment
member re-zipped, the PDF's text segments as PDFium reads them from the sample) and read each
form with its own reader: dates in every printed style, impossible dates, exempt tax, 红字
amounts. Nothing is copied into the repository; every variant is built here from the samples.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invoice import normalize, parse
from invoice.model import Invoice
from invoice.pdf import _build, _fast_read
from invoice.pdf.fields import parse_cn_amount, read_fields
from invoice.pdf.text import Segment
from invoice.verify.checks import check_issue_date, check_printed_values, check_totals
from invoice.verify.report import CheckResult
from tests.invoice.test_normalize import DATE_STYLES, _print, impossible_dates
from tests.samples import INVOICES

OFD = (INVOICES / "renoyuan__easyofd" / "增值税电子专票5.ofd").read_bytes()
PDF = (INVOICES / "renoyuan__easyofd" / "test.pdf").read_bytes()
ATTACHMENT = "Doc_0/Attachs/original_invoice.xml"
XML = zipfile.ZipFile(io.BytesIO(OFD)).read(ATTACHMENT)
PDF_SEGMENTS, _, PDF_QR, _ = _fast_read(PDF)
TODAY = date(2026, 1, 1)

# How the sample prints what the tests change: (XML element, PDF segment text)
DATE = ("IssueDate", "2022年05月05日")
# PDF face styles: a printed face shows separated dates, never the compact XML/QR form
FACE_STYLES = sorted(k for k in DATE_STYLES if not k.startswith("compact") and k != "with-time")


# --- the three forms ---------------------------------------------------------------------------


def xml_form(edits: dict[str, str]) -> bytes:
    data = XML
    for element, text in edits.items():
        pattern = re.compile(rb"(<fp:" + element.encode() + rb">)[^<]*(</fp:" + element.encode()
                             + rb">)")
        assert pattern.search(data), element
        data = pattern.sub(_replace_text(text.encode()), data, count=1)
    return data


def _replace_text(new: bytes) -> Callable[[re.Match[bytes]], bytes]:
    return lambda m: m.group(1) + new + m.group(2)


def ofd_form(xml: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(OFD)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, xml if info.filename == ATTACHMENT else src.read(info.filename))
    return out.getvalue()


def pdf_form(edits: dict[str, str]) -> Invoice:
    """The PDF reader's path on the sample's own text segments, some texts replaced (as the
    page would print them): fields by label and position, then the QR payload if any."""
    segs: list[Segment] = []
    for s in PDF_SEGMENTS:
        text = edits.get(s.text, s.text)
        segs.append(dataclasses.replace(s, text=text) if text != s.text else s)
    return _build(read_fields(segs), PDF_QR, [])


def three_forms(xml_edits: dict[str, str], pdf_edits: dict[str, str]) -> dict[str, Invoice]:
    xml = xml_form(xml_edits)
    return {"xml": parse(xml), "ofd": parse(ofd_form(xml)), "pdf": pdf_form(pdf_edits)}


def values(inv: Invoice) -> dict[str, Any]:
    """The normalised values a person and the ledger rely on (not where they were read)."""
    return {
        "kind": inv.kind, "code": inv.code, "number": inv.number, "issue_date": inv.issue_date,
        "check_code": inv.check_code, "buyer": inv.buyer, "seller": inv.seller,
        "amount": inv.amount, "tax": inv.tax, "total": inv.total,
        "items": [(i.name, i.amount, i.tax, normalize.rate_value(i.tax_rate), i.tax_rate)
                  for i in inv.items],
        "refused": [(r.field, r.reason) for r in normalize.refused(inv.extra)],
    }


def assert_same(forms: dict[str, Invoice]) -> dict[str, Any]:
    got = {name: values(inv) for name, inv in forms.items()}
    assert got["ofd"] == got["xml"], "OFD and XML differ"
    assert got["pdf"] == got["xml"], "PDF and XML differ"
    return got["xml"]


# --- the tests ---------------------------------------------------------------------------------


def test_the_three_real_forms_agree() -> None:
    v = assert_same(three_forms({}, {}))
    assert (v["code"], v["number"], v["issue_date"]) == ("052002100113", "00008006", "2022-05-05")
    assert (v["amount"], v["tax"], v["total"]) == (
        Decimal("24519.05"), Decimal("735.57"), Decimal("25254.62"))
    assert v["refused"] == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
       st.sampled_from(FACE_STYLES))
def test_a_date_printed_any_way_reads_the_same_in_every_form(day: date, style: str) -> None:
    printed = DATE_STYLES[style](day)
    v = assert_same(three_forms({DATE[0]: printed}, {DATE[1]: printed}))
    assert v["issue_date"] == day.isoformat()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(impossible_dates(), st.sampled_from(["cn", "iso", "cn-unpadded", "slash"]))
def test_an_impossible_date_is_refused_the_same_way_in_every_form(
        ymd: tuple[int, int, int], style: str) -> None:
    printed = _print(style, *ymd)
    forms = three_forms({DATE[0]: printed}, {DATE[1]: printed})
    v = assert_same(forms)
    assert v["issue_date"] is None  # never passed on, never replaced by another source's date
    assert v["refused"] and v["refused"][0][0] == "issue_date"
    for inv in forms.values():
        assert check_printed_values(inv).result is CheckResult.FAIL
        failed = check_issue_date(inv, TODAY)
        assert failed.result is CheckResult.FAIL and printed.strip() in failed.message


def test_the_impossible_date_of_the_issue_is_refused_and_named() -> None:
    forms = three_forms({DATE[0]: "2024-02-31"}, {DATE[1]: "2024-02-31"})
    assert_same(forms)
    for inv in forms.values():
        check = check_printed_values(inv)
        assert check.result is CheckResult.FAIL
        assert "开票日期" in check.message and "2024-02-31" in check.message
        assert "日历上没有这一天" in check.message
        assert inv.to_dict()["issue_date"] is None


def test_valid_values_pass_the_printed_values_check() -> None:
    for inv in three_forms({}, {}).values():
        assert check_printed_values(inv).result is CheckResult.PASS
        assert check_issue_date(inv, TODAY).result is CheckResult.PASS


# Exempt (免税/免征/不征税) and masked (***) tax: 0.00 everywhere, the rate keeps the word.
WORDS = ["免税", "免征", "不征税", "***"]
EXEMPT_TOTAL = "24519.05"
EXEMPT_WORDS = "贰万肆仟伍佰壹拾玖圆零伍分"


@pytest.mark.parametrize("word", WORDS)
def test_exempt_tax_is_zero_with_the_rate_as_printed_in_every_form(word: str) -> None:
    assert parse_cn_amount(EXEMPT_WORDS) == Decimal(EXEMPT_TOTAL)  # the edit is self-consistent
    xml_edits = {"TaxScheme": word, "TaxAmount": "***" if word == "***" else word,
                 "TaxTotalAmount": word, "TaxInclusiveTotalAmount": EXEMPT_TOTAL}
    pdf_edits = {"3%": word, "735.57": "***", "¥735.57": "¥***",
                 "(小写)¥25254.62": f"(小写)¥{EXEMPT_TOTAL}", "贰万伍仟贰佰伍拾肆圆陆角贰分": EXEMPT_WORDS}
    forms = three_forms(xml_edits, pdf_edits)
    v = assert_same(forms)
    assert v["tax"] == Decimal("0.00") and v["total"] == Decimal(EXEMPT_TOTAL)
    assert v["items"][0][2] == Decimal("0.00") and v["items"][0][4] == word
    assert v["items"][0][3] == 0
    for inv in forms.values():
        assert check_totals(inv).result is CheckResult.PASS


AMOUNT_STYLES = {
    "plain": "{}", "yen": "¥{}", "commas": "{:,}", "full-width-yen": "￥{:,}",
}


@pytest.mark.parametrize("style", sorted(AMOUNT_STYLES))
def test_the_total_printed_any_way_reads_the_same(style: str) -> None:
    printed = AMOUNT_STYLES[style].format(Decimal("25254.62"))
    forms = three_forms({"TaxInclusiveTotalAmount": printed},
                        {"(小写)¥25254.62": "(小写)" + (printed if printed[0] in "¥￥" else
                                                       "¥" + printed)})
    assert assert_same(forms)["total"] == Decimal("25254.62")


def test_red_letter_amounts_are_negative_in_every_form() -> None:
    xml_edits = {"TaxExclusiveTotalAmount": "-24519.05", "TaxTotalAmount": "-735.57",
                 "TaxInclusiveTotalAmount": "-25,254.62", "Amount": "-24519.05",
                 "TaxAmount": "-735.57", "Price": "24519.05"}
    pdf_edits = {"24519.05": "-24519.05", "735.57": "-735.57", "¥24519.05": "¥-24519.05",
                 "¥735.57": "¥-735.57", "(小写)¥25254.62": "(小写)¥-25254.62",
                 "贰万伍仟贰佰伍拾肆圆陆角贰分": "负贰万伍仟贰佰伍拾肆圆陆角贰分"}
    forms = three_forms(xml_edits, pdf_edits)
    v = assert_same(forms)
    assert (v["amount"], v["tax"], v["total"]) == (
        Decimal("-24519.05"), Decimal("-735.57"), Decimal("-25254.62"))


@pytest.mark.parametrize("path", sorted(p for p in INVOICES.glob("*/*") if p.suffix in (".ofd", ".pdf")),
                         ids=lambda p: p.name)
def test_no_real_sample_has_a_refused_value(path: Any) -> None:
    """The rules refuse only what cannot be: every real sample reads without a refusal."""
    inv = parse(path.read_bytes())
    assert normalize.refused(inv.extra) == []
    assert check_printed_values(inv).result is CheckResult.PASS

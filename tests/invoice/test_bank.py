"""Bank e-receipts and statements (issue 13): every field of every real sample, specimens
refused, the seal verified like an invoice's, and the attacks built from the samples."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from invoice import parse
from invoice.errors import ErrorCode, ParseError
from invoice.model import InvoiceKind
from invoice.ofd import bank
from invoice.ofd.invoice import _Reader
from invoice.ofd.package import OfdPackage
from invoice.verify import VerifyStatus, verify
from invoice.verify.report import CheckResult
from tests.invoice.test_ofd_provenance import build, failing, members_of
from tests.samples import SAMPLES

TODAY = date(2026, 11, 27)
EXPECTED: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "samples_bank.json").read_text(encoding="utf-8"))
RECEIPTS = [e for e in EXPECTED if "template" not in e]
TEMPLATES = [e for e in EXPECTED if "template" in e]
CCB = SAMPLES / "other/c5soft__ofd.js/26050100800_00001.ofd"
GUANGDA = SAMPLES / "other/itlabers__ofd-go/bank_receipt_1.ofd"
GUANGDA_2 = SAMPLES / "other/itlabers__ofd-go/2020062290131000005100000000013540122236009.ofd"
ICBC = SAMPLES / "other/itlabers__ofd-go/0200216819200056225_001_21253000001_20220101_acc.ofd"


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [Path(e["file"]).name[:40] for e in entries]


def test_the_expected_file_covers_every_bank_sample() -> None:
    names = {Path(e["file"]).name for e in EXPECTED}
    on_disk = {p.name for p in (SAMPLES / "other").rglob("*.ofd") if "样例" not in p.name}
    assert names == on_disk and len(RECEIPTS) == 12 and len(TEMPLATES) == 2


@pytest.mark.parametrize("entry", RECEIPTS, ids=_ids(RECEIPTS))
def test_every_field_of_every_receipt(entry: dict[str, Any]) -> None:
    inv = parse((SAMPLES / entry["file"]).read_bytes())
    d = inv.to_dict()
    assert inv.kind is InvoiceKind.BANK_RECEIPT
    for name in ("kind", "code", "number", "issue_date", "check_code", "total", "currency",
                 "bank", "payer", "payee", "purpose", "serial", "key"):
        assert d[name] == entry[name], name
    assert inv.field_sources["number"] == entry["source"]
    differs = [p.split("=")[0] for p in inv.extra.get("cross_check", "").split("; ") if p]
    assert differs == entry["page_differs"]
    # a receipt is no invoice: none of the invoice's parties, taxes or goods
    assert inv.buyer.name is None and inv.seller.name is None and inv.tax is None
    assert not inv.items


@pytest.mark.parametrize("entry", TEMPLATES, ids=_ids(TEMPLATES))
def test_specimens_are_recognised_and_refused(entry: dict[str, Any]) -> None:
    data = (SAMPLES / entry["file"]).read_bytes()
    with pytest.raises(ParseError) as err:
        parse(data)
    assert err.value.code is ErrorCode.BANK_TEMPLATE
    assert err.value.params["kind_code"] == entry["kind"]
    assert "样张" in err.value.text and "{" not in err.value.text
    pkg = OfdPackage(data)
    reader = _Reader(pkg)
    reader.doc_path = pkg.doc_roots()[0]
    kind = bank.detect(reader)
    assert kind is not None and kind.value == entry["kind"]
    reading = bank.read_bank_document(reader, kind)
    assert reading.template is not None
    assert reading.template.reason == entry["template"]["reason"]
    assert sorted(reading.template.fields) == sorted(entry["template"]["fields"])
    if "statement" in entry:
        got = reading.invoice.details
        assert got is not None
        d = got.to_dict()
        assert d["account"] == entry["statement"]["account"]
        assert (d["period_start"], d["period_end"]) == (entry["statement"]["period_start"],
                                                       entry["statement"]["period_end"])
        for line, want in zip(d["lines"], entry["statement"]["lines"], strict=True):
            assert {k: line[k] for k in want} == want


def _blank(xml: bytes, *names: str) -> bytes:
    out = xml
    for name in names:
        out = re.sub(rb"(<bker:" + name.encode() + rb"[^>]*>)[^<]*(<)", rb"\g<1>\g<2>", out)
    return out


def _attachment(data: bytes) -> tuple[str, bytes]:
    return next((k, v) for k, v in members_of(data).items()
                if "/Attachs/" in k and not k.endswith("Attachments.xml"))


def _page_only(data: bytes, replace: dict[str, bytes]) -> bytes:
    """The receipt without its data attachment and its signatures, pages edited."""
    members = members_of(data)
    drop = [k for k in members if "/Attachs/" in k and not k.endswith("Attachments.xml")]
    drop += [k for k in members if "/Signs/" in k]
    return build(data, replace, drop=drop)


def test_an_empty_receipt_is_a_template_not_a_payment() -> None:
    """Passing: the real receipt reads; failing: the same file with its number and amount
    emptied (in the data file and on the page) is a template, never a receipt."""
    data = GUANGDA.read_bytes()
    assert parse(data).number == "202006229013100000510000000001"
    path, xml = _attachment(data)
    page = members_of(data)["Doc_0/Pages/Page_0/Content.xml"]
    for printed in ("202006229013100000510000000001", "400,000.00", "肆拾万元整"):
        page = page.replace(printed.encode(), b"")
    blanked = _page_only(data, {"Doc_0/Pages/Page_0/Content.xml": page})
    blanked = build(blanked, {path: _blank(xml, "NumberOfBankElectronicReceipt",
                                           "TransactionAmountInFigures")})
    with pytest.raises(ParseError) as err:
        parse(blanked)
    assert err.value.code is ErrorCode.BANK_TEMPLATE
    assert err.value.params["reason"] == "empty"
    assert "回单编号" in err.value.text and "金额" in err.value.text


def test_placeholder_values_make_a_template() -> None:
    data = CCB.read_bytes()
    page = members_of(data)["Doc_0/Pages/Page_0/Content.xml"]
    edited = _page_only(data, {"Doc_0/Pages/Page_0/Content.xml": page.replace(
        "中国建设银行股份有限公司北京上地支行".encode(), "中国建设银行XX支行".encode(), 1)})
    with pytest.raises(ParseError) as err:
        parse(edited)
    assert err.value.code is ErrorCode.BANK_TEMPLATE
    assert "付款人开户行" in err.value.text
    assert parse(_page_only(data, {})).number == "947846"


def test_cross_check_notes_a_page_that_differs_from_the_data_file() -> None:
    """ICBC's sample prints payer account ...259897, its data says ...259997: a warning;
    the Everbright receipt agrees with its page: a pass."""
    icbc = verify(ICBC.read_bytes(), today=TODAY)
    check = next(c for c in icbc.checks if c.id == "bank_page")
    assert check.result is CheckResult.WARN and "付款人账号" in check.message
    ok = verify(GUANGDA.read_bytes(), today=TODAY)
    assert next(c for c in ok.checks if c.id == "bank_page").result is CheckResult.PASS


def test_amount_in_words_reads_every_sample_form() -> None:
    for words, value in (("贰拾万壹仟零贰拾柒圆整", "201027.00"), ("叁圆柒角伍分", "3.75"),
                         ("肆拾万元整", "400000.00"), ("捌仟柒佰叁拾零圆整", "8730.00"),
                         ("壹佰零玖元整", "109.00"), ("壹亿零伍万元整", "100050000.00")):
        assert bank.chinese_amount(words) == Decimal(value)
    assert bank.chinese_amount("仟佰拾亿仟佰拾万千百十元角分") is None


# ---------------------------------------------------------------- seal and coverage


@pytest.mark.parametrize("entry", EXPECTED, ids=_ids(EXPECTED))
def test_each_bank_file_verifies_like_an_invoice(entry: dict[str, Any]) -> None:
    report = verify((SAMPLES / entry["file"]).read_bytes(), today=TODAY)
    want = entry.get("verify", "valid")
    assert report.status.value == want, report.summary()
    if "template" in entry or want != "valid":
        return
    covered = {c.field for c in report.coverage if c.covered_by is not None}
    # every field the service uses is covered by the verified seal
    assert {"number", "total", "issue_date", "payer.name", "payee.name"} <= covered
    assert all(c.covered_by is not None for c in report.coverage)
    assert not [c for c in report.checks if c.result is CheckResult.FAIL]


def test_a_changed_amount_in_the_data_file_breaks_the_seal() -> None:
    data = GUANGDA.read_bytes()
    path, xml = _attachment(data)
    forged = build(data, {path: xml.replace(b">400000<", b">900000<")})
    assert parse(forged).total == Decimal("900000.00")
    report = verify(forged, today=TODAY)
    assert report.status is VerifyStatus.INVALID
    assert verify(data, today=TODAY).status is VerifyStatus.VALID


def test_an_unsigned_data_file_added_to_a_signed_receipt_is_caught() -> None:
    """CCB signs only its page; a bker file slipped in beside it names another payee."""
    data = CCB.read_bytes()
    _, xml = _attachment(GUANGDA.read_bytes())
    forged = build(data, {"Doc_0/Attachs/bker_issuer_x.xml": xml})
    assert parse(forged).number == "202006229013100000510000000001"  # what the file claims
    report = verify(forged, today=TODAY)
    assert report.status is VerifyStatus.INVALID
    flagged = {f["field"] for code in ("field_unsigned", "field_mismatch")
               for f in failing(report, code)}
    assert {"回单编号", "付款人户名", "收款人户名", "金额"} <= flagged
    assert verify(data, today=TODAY).status is VerifyStatus.VALID


def test_the_same_receipt_number_at_two_banks_gives_two_keys() -> None:
    a = parse(GUANGDA.read_bytes())
    b = parse(GUANGDA_2.read_bytes())
    assert a.key == b.key  # the same receipt by the bank's own rule
    icbc = parse(ICBC.read_bytes())
    assert icbc.key is not None and icbc.key.startswith("bank:01234567890123:")
    # the same number from another issuer is another receipt
    _, xml = _attachment(GUANGDA.read_bytes())
    other = build(GUANGDA.read_bytes(), {_attachment(GUANGDA.read_bytes())[0]: xml.replace(
        b">C1030311000455<", b">C1040311000999<")})
    assert parse(other).key != a.key and parse(other).number == a.number

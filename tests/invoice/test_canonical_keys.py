"""Canonical keys: codes, numbers and tax ids in one spelling before any key, check or
duplicate test, so a look-alike 数电票 (full-width ２４４…, Arabic-Indic ٢٤٤…) is the same
invoice. Registration runs on SQLite and PostgreSQL (``engine``)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from core.db import session_scope
from core.settings import Settings
from invoice import parse
from invoice.importer import ingest_files
from invoice.model import (
    NON_ASCII_KEY_DIGITS,
    Invoice,
    InvoiceKind,
    Party,
    SourceFormat,
    canonical_key_field,
    canonicalize_keys,
    invoice_key,
)
from invoice.registry import get_by_key, list_invoices
from invoice.verify import verify
from invoice.verify.checks import check_key_digits
from invoice.verify.report import CheckResult
from tests.attacks import ARABIC_INDIC, FULL_WIDTH, lookalike
from tests.samples import DIGITAL_OFD

NUMBER = "24112000000048542163"  # the 数电票 number of 发票示例.ofd


@pytest.mark.parametrize("raw, clean", [
    ("２４１１２０００", "24112000"), ("٢٤١١٢", "24112"), ("۲۴۱", "241"), ("२४१", "241"),
    (" 2411 2000\u3000", "24112000"), ("2411\u200b2000", "24112000"), ("９１３２０２ＡＢ", "913202AB"),
    ("24112000", "24112000"), ("", None), (None, None),
])
def test_canonical_key_field(raw: str | None, clean: str | None) -> None:
    assert canonical_key_field(raw) == clean


def test_invoice_key_is_canonical_whatever_the_spelling() -> None:
    assert invoice_key(None, NUMBER.translate(FULL_WIDTH)) == NUMBER
    assert invoice_key("０５０００１７００１１１", "９９９９９９５１") == "050001700111:99999951"


def test_canonicalize_flags_only_fields_with_non_ascii_digits() -> None:
    inv = Invoice(kind=InvoiceKind.DIGITAL_ORDINARY, source_format=SourceFormat.XML,
                  number=NUMBER.translate(ARABIC_INDIC), buyer=Party("某公司", "９１３２０２００７９６１４８３６８Ｗ"),
                  seller=Party("卖方", "91320200796148368W"))
    canonicalize_keys(inv)
    assert inv.number == NUMBER and inv.buyer.tax_id == "91320200796148368W"
    assert inv.extra[NON_ASCII_KEY_DIGITS] == "number,buyer.tax_id"
    check = check_key_digits(inv)
    assert check.result is CheckResult.WARN and "号码、购买方税号中有全角或其他非标准数字" in check.message
    plain = canonicalize_keys(Invoice(kind=InvoiceKind.DIGITAL_ORDINARY, source_format=SourceFormat.XML,
                                      number=" " + NUMBER))
    assert plain.number == NUMBER and NON_ASCII_KEY_DIGITS not in plain.extra
    assert check_key_digits(plain).result is CheckResult.PASS


@pytest.mark.parametrize("digits", [FULL_WIDTH, ARABIC_INDIC], ids=["full-width", "arabic-indic"])
def test_parse_and_verify_of_a_lookalike(digits: dict[int, int]) -> None:
    data = lookalike(DIGITAL_OFD.read_bytes(), NUMBER, digits)
    inv = parse(data)
    assert inv.number == NUMBER and inv.key == NUMBER
    checks = {c.id: c for c in verify(data).checks}
    assert checks["key_digits"].result is CheckResult.WARN and "号码" in checks["key_digits"].message
    assert checks["number_structure"].result is CheckResult.PASS
    genuine = {c.id: c for c in verify(DIGITAL_OFD.read_bytes()).checks}
    assert genuine["key_digits"].result is CheckResult.PASS


@pytest.mark.parametrize("lookalike_first", [False, True], ids=["genuine-first", "lookalike-first"])
def test_a_lookalike_registers_as_a_duplicate(engine: Engine, settings: Settings, lookalike_first: bool) -> None:
    genuine = ("发票示例.ofd", DIGITAL_OFD.read_bytes())
    fakes = [(f"copy-{n}.ofd", lookalike(DIGITAL_OFD.read_bytes(), NUMBER, d))
             for n, d in (("fw", FULL_WIDTH), ("ar", ARABIC_INDIC))]
    order = [*fakes, genuine] if lookalike_first else [genuine, *fakes]
    result = ingest_files(order, "clerk1")
    assert len(result.imported) == 1 and len(result.duplicates) == 2, result.to_dict()
    first = result.imported[0]["invoice_id"]
    assert all(d["duplicate_of"]["invoice_id"] == first for d in result.duplicates)
    with session_scope() as s:
        assert get_by_key(s, NUMBER.translate(FULL_WIDTH)).id == first
        rows, total = list_invoices(s, number=NUMBER.translate(ARABIC_INDIC))
        assert total == 1 and rows[0].id == first and rows[0].number == NUMBER


def test_a_lookalike_under_the_warn_policy_is_stored_flagged_as_duplicate(engine: Engine, settings: Settings) -> None:
    settings.duplicate_policy = "warn"
    ingest_files([("发票示例.ofd", DIGITAL_OFD.read_bytes())], "clerk1")
    result = ingest_files([("copy.ofd", lookalike(DIGITAL_OFD.read_bytes(), NUMBER, FULL_WIDTH))], "clerk2")
    with session_scope() as s:
        rows, total = list_invoices(s, key=NUMBER)
        assert total == 2 and sorted(r.status for r in rows) == ["duplicate", "ok"], result.to_dict()


@pytest.mark.parametrize("digits", [FULL_WIDTH, ARABIC_INDIC], ids=["full-width", "arabic-indic"])
def test_xml_invoice_with_lookalike_number_and_tax_id(digits: dict[int, int]) -> None:
    from pathlib import Path

    data = (Path(__file__).parent / "fixtures" / "digital_ordinary.xml").read_bytes()
    genuine = parse(data)
    assert genuine.number and genuine.seller.tax_id
    text = data.decode("utf-8").replace(genuine.number, genuine.number.translate(digits))
    text = text.replace(genuine.seller.tax_id, genuine.seller.tax_id.translate(digits))
    fake = parse(text.encode("utf-8"))
    assert fake.key == genuine.key and fake.seller.tax_id == genuine.seller.tax_id
    assert fake.extra[NON_ASCII_KEY_DIGITS] == "number,seller.tax_id"
    checks = {c.id: c for c in verify(text.encode("utf-8")).checks}
    assert checks["key_digits"].result is CheckResult.WARN and "销售方税号" in checks["key_digits"].message
    assert checks["seller_tax_id"].result is CheckResult.PASS  # checked in its canonical form

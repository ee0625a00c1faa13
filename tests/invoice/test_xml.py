"""数电票 XML (hand-made fixtures, DESIGN §3 names) and the old eInvoice XML."""

from __future__ import annotations

import re
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from invoice import parse
from invoice.errors import ErrorCode, ParseError
from invoice.model import InvoiceKind
from invoice.xml import parse_xml_invoice
from tests.samples import INVOICES

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_digital_ordinary_two_items() -> None:
    inv = parse(fixture("digital_ordinary.xml"))
    d = inv.to_dict()
    assert inv.kind is InvoiceKind.DIGITAL_ORDINARY
    assert d["source_format"] == "xml"
    assert d["number"] == "24112000000048542163" and d["code"] is None
    assert d["key"] == "24112000000048542163"
    assert d["issue_date"] == "2024-05-28"
    assert d["buyer"] == {"name": "广州华栈天城科技有限公司", "tax_id": "91440106068698695J"}
    assert d["seller"] == {"name": "广州灵感之茶餐饮管理有限公司", "tax_id": "91440101MA5AL52Y44"}
    assert (d["amount"], d["tax"], d["total"]) == ("147.17", "5.83", "153.00")
    assert inv.total == Decimal("153.00")
    assert d["drawer"] == "陈震瀚" and d["remarks"] == "项目编号 2024-17"
    assert d["items"] == [
        {"name": "*餐饮服务*餐饮服务", "spec": None, "unit": "次", "quantity": "1",
         "unit_price": "47.1698113207547", "amount": "47.17", "tax_rate": "6%", "tax": "2.83"},
        {"name": "*会议服务*会议费", "spec": "A-1", "unit": "场", "quantity": "2",
         "unit_price": "50", "amount": "100.00", "tax_rate": "3%", "tax": "3.00"},
    ]
    assert d["field_sources"]["total"] == "xml"
    assert "sum_mismatch" not in d["extra"]


def test_total_is_the_invoice_total_not_a_lines() -> None:
    # Each line carries TotaltaxIncludedAmount (50.00, 103.00); the invoice total is 153.00.
    inv = parse_xml_invoice(fixture("digital_ordinary.xml"))
    assert inv.total == Decimal("153.00")
    with pytest.raises(ParseError) as ei:
        parse_xml_invoice(fixture("digital_no_total.xml"))
    assert ei.value.code is ErrorCode.BAD_XML
    assert "TotalTax-includedAmount" in str(ei.value)
    assert "BasicInformation" in str(ei.value)


def test_digital_special_with_exempt_line_and_namespace() -> None:
    inv = parse_xml_invoice(fixture("digital_special_exempt.xml"))
    assert inv.kind is InvoiceKind.DIGITAL_SPECIAL
    assert inv.number == "25322000000337005189"
    exempt = inv.items[1]
    assert exempt.tax_rate == "免税" and exempt.tax == Decimal("0.00")
    assert inv.items[0].tax_rate == "3%"
    assert inv.amount == Decimal("7931.65") and inv.tax == Decimal("200.10")
    assert inv.total == Decimal("8131.75")


def test_sums_that_do_not_add_up_are_recorded() -> None:
    data = fixture("digital_ordinary.xml").replace(
        b"<TotalTaxAm>5.83</TotalTaxAm>", b"<TotalTaxAm>9.99</TotalTaxAm>")
    inv = parse_xml_invoice(data)
    assert "147.17 + tax 9.99 != total 153.00" in inv.extra["sum_mismatch"]


def test_bad_amount_names_its_element() -> None:
    data = fixture("digital_ordinary.xml").replace(b"<Amount>47.17</Amount>",
                                                   b"<Amount>47,1x</Amount>")
    with pytest.raises(ParseError) as ei:
        parse_xml_invoice(data)
    assert ei.value.code is ErrorCode.BAD_XML
    assert "IssuItemInformation[1]/Amount" in str(ei.value)


def test_old_einvoice_xml_alone() -> None:
    # The original_invoice.xml of a real OFD, given on its own (read in memory, not copied).
    with zipfile.ZipFile(INVOICES / "ofdrw__ofdrw" / "draw_param_ref.ofd") as z:
        data = z.read("Doc_0/Attachs/original_invoice.xml")
    inv = parse(data)
    assert inv.kind is InvoiceKind.VAT_E_ORDINARY
    assert (inv.code, inv.number, inv.issue_date) == ("011002680026", "71500013", "2020-02-20")
    assert inv.check_code == "03272875819686271285"
    assert inv.buyer.name == "百望股份有限公司" and inv.buyer.tax_id == "91110108339805094M"
    assert inv.total == Decimal("10000.00") and inv.amount == Decimal("9709.00")
    assert inv.tax == Decimal("291.00")
    assert inv.items and inv.items[0].name == "*谷物*稻谷" and inv.items[0].tax_rate == "3%"
    assert inv.key == "011002680026:71500013"


def test_other_xml_is_not_an_invoice() -> None:
    with pytest.raises(ParseError) as ei:
        parse(b"<?xml version='1.0'?><Report><Total>1</Total></Report>")
    assert ei.value.code is ErrorCode.NOT_AN_INVOICE
    assert "<Report>" in ei.value.message


def test_broken_xml() -> None:
    with pytest.raises(ParseError) as ei:
        parse(b"<EInvoice><Header></EInvoice>")
    assert ei.value.code is ErrorCode.BAD_XML


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE EInvoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<EInvoice><EInvoiceData><BasicInformation><TotalTax-includedAmount>1.00</TotalTax-includedAmount>
<Drawer>&xxe;</Drawer></BasicInformation></EInvoiceData></EInvoice>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<EInvoice><Header><EIid>&lol9;</EIid></Header></EInvoice>"""


@pytest.mark.parametrize("data", [XXE, LAUGHS], ids=["external-entity", "billion-laughs"])
def test_entities_are_refused_never_expanded(data: bytes) -> None:
    t0 = time.monotonic()
    with pytest.raises(ParseError) as ei:
        parse(data)
    assert time.monotonic() - t0 < 2.0
    assert ei.value.code is ErrorCode.FORBIDDEN_XML
    assert "root:" not in str(ei.value) and "lollol" not in str(ei.value)


@pytest.mark.parametrize("value", ["1e999", "99999999999999999999.999", "-1E+30"])
def test_absurd_amount_is_bad_xml_not_a_crash(value: str) -> None:
    data = fixture("digital_ordinary.xml")
    total = re.search(rb"<TotalTax-includedAmount>([^<]*)<", data)
    assert total is not None
    with pytest.raises(ParseError) as info:
        parse_xml_invoice(data.replace(total.group(0), b"<TotalTax-includedAmount>"
                                       + value.encode() + b"<"))
    assert info.value.code is ErrorCode.BAD_XML and "TotalTax-includedAmount" in str(info.value)
    # the same file with a real amount is read
    assert parse_xml_invoice(data).total is not None

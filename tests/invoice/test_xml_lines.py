"""Long goods lists are read column by column (fast) only when that cannot shift a value to
another line; otherwise line by line. Built from the 100-line attachment of a sample OFD."""

from __future__ import annotations

import re
import zipfile
from decimal import Decimal

from invoice.xml import parse_xml_invoice
from tests.samples import INVOICES

with zipfile.ZipFile(INVOICES / "ofdrw__ofdrw" / "draw_param_ref.ofd") as _z:
    LONG = _z.read("Doc_0/Attachs/original_invoice.xml")
LINE = re.compile(rb"<fp:GoodsInfo>.*?</fp:GoodsInfo>", re.S)


def _with_lines(edit: dict[int, bytes]) -> bytes:
    """The sample with some goods lines (0-based) replaced."""
    lines = LINE.findall(LONG)
    assert len(lines) == 100
    out = LONG
    for i, new in sorted(edit.items(), reverse=True):
        m = list(LINE.finditer(out))[i]
        out = out[:m.start()] + new + out[m.end():]
    return out


def _line(amount: bytes, extra: bytes = b"") -> bytes:
    return (b"<fp:GoodsInfo><fp:Item>*x*y</fp:Item><fp:Specification></fp:Specification>"
            b"<fp:MeasurementDimension>g</fp:MeasurementDimension><fp:Price>1</fp:Price>"
            b"<fp:Quantity>1</fp:Quantity>" + amount + b"<fp:TaxScheme>3%</fp:TaxScheme>"
            b"<fp:TaxAmount>0.03</fp:TaxAmount>" + extra + b"</fp:GoodsInfo>")


def test_a_long_list_reads_every_line() -> None:
    inv = parse_xml_invoice(LONG)
    assert len(inv.items) == 100
    assert {i.amount for i in inv.items} == {Decimal("97.09")}
    assert sum(i.amount or 0 for i in inv.items) == inv.amount


def test_a_missing_and_a_doubled_field_do_not_shift_values_between_lines() -> None:
    # line 10 has no Amount, line 20 has two: the column counts still match (100 each)
    data = _with_lines({10: _line(b""), 20: _line(b"<fp:Amount>1.00</fp:Amount>",
                                                  b"<fp:Amount>2.00</fp:Amount>")})
    items = parse_xml_invoice(data).items
    assert len(items) == 100
    assert items[10].amount is None
    assert items[20].amount == Decimal("1.00")  # the first of the line's own, nothing shifted
    assert items[11].amount == items[21].amount == Decimal("97.09")


def test_a_field_nested_deeper_is_not_the_lines_field() -> None:
    nested = _line(b"<fp:Wrap><fp:Amount>5.00</fp:Amount></fp:Wrap>")
    items = parse_xml_invoice(_with_lines({30: nested})).items
    assert items[30].amount is None and items[31].amount == Decimal("97.09")

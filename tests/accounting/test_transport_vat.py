"""Input VAT of passenger transport on claim vouchers (公告2019年第39号), SQLite and PostgreSQL.

The railway and air records are the ones the parser gives for the real samples (railway
e-ticket 售票换开样例.ofd, the air itinerary's fields), stored as the registry stores them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from accounting.claims import approve_claim, create_claim, submit_claim
from accounting.ledger import create_voucher_from_claims, voucher_lines, voucher_to_dict
from accounting.transport_vat import transport_input_vat
from core.db import session_scope
from invoice import parse
from invoice.registry import InvoiceRecord
from tests.samples import OTHER

from .conftest import People, make_invoice


def _transport(kind: str, data: dict[str, Any], total: str, tax: str) -> InvoiceRecord:
    rec = make_invoice(total=total, tax=tax, kind=kind)
    with session_scope() as s:
        row = s.get(InvoiceRecord, rec.id)
        assert row is not None
        row.data = data
        s.add(row)
    return rec


def _voucher(p: People, invoices: list[InvoiceRecord], category: str = "差旅费",
             amounts: list[str] | None = None) -> dict[str, Any]:
    lines = [{"invoice_id": inv.id, "category": category, **({"amount": amounts[i]} if amounts else {})}
             for i, inv in enumerate(invoices)]
    with session_scope() as s:
        claim = create_claim(s, p.clerk, "南京出差", "销售部", "客户拜访", lines)
        submit_claim(s, p.clerk, claim.id)
        approve_claim(s, p.approver, claim.id)
        v = create_voucher_from_claims(s, p.accountant, [claim.id], date="2025-11-28")
        assert [x.line_no for x in voucher_lines(s, v.id)]
        return voucher_to_dict(s, v)


def _railway_data() -> dict[str, Any]:
    inv = parse((OTHER / "itlabers__ofd-go" / "售票换开样例.ofd").read_bytes())
    return inv.to_dict()


AIR = {"passenger": "王某某", "fare": "477.06", "fuel_surcharge": "45.87", "caac_fund": "50.00",
       "vat": "47.07", "flights": [{"flight": "CZ8866"}, {"flight": "CZ8866"}], "extra": {}}


def test_railway_e_ticket_deducts_its_printed_tax(db_people: People) -> None:
    rec = _transport("railway_ticket", _railway_data(), "181.00", "14.95")
    d = _voucher(db_people, [rec])
    rows = [(x["account_code"], x["debit"], x["credit"]) for x in d["lines"]]
    # 公告2024年第8号: the e-ticket's printed 14.95, not 181.00 / 1.09 * 0.09 = 14.94
    assert rows == [("660201", "166.05", "0.00"), ("22210101", "14.95", "0.00"),
                    ("2241", "0.00", "181.00")]
    summary = d["lines"][1]["summary"]
    assert "梁某某" in summary and "G7101" in summary
    assert "14.95" in summary and "2024年第8号" in summary
    assert d["lines"][1]["aux"]["invoice"] == rec.key


def test_railway_ticket_without_printed_tax_splits_fare_over_1_09(db_people: People) -> None:
    data = {**_railway_data(), "tax": None}
    rec = _transport("railway_ticket", data, "181.00", "0")
    d = _voucher(db_people, [rec])
    rows = [(x["account_code"], x["debit"], x["credit"]) for x in d["lines"]]
    # 181.00 / 1.09 * 0.09 = 14.944... -> 14.94; the expense is the rest (公告2019年第39号)
    assert rows == [("660201", "166.06", "0.00"), ("22210101", "14.94", "0.00"),
                    ("2241", "0.00", "181.00")]
    summary = d["lines"][1]["summary"]
    assert "181.00" in summary and "14.94" in summary and "39号" in summary


def test_air_itinerary_deducts_its_printed_vat(db_people: People) -> None:
    rec = _transport("air_itinerary", AIR, "620.00", "47.07")
    d = _voucher(db_people, [rec])
    rows = [(x["account_code"], x["debit"], x["credit"]) for x in d["lines"]]
    assert rows == [("660201", "572.93", "0.00"), ("22210101", "47.07", "0.00"),
                    ("2241", "0.00", "620.00")]
    assert "2024年第8号" in d["lines"][1]["summary"]


def test_air_itinerary_without_printed_vat_excludes_caac_fund(db_people: People) -> None:
    rec = _transport("air_itinerary", {**AIR, "vat": None}, "620.00", "0")
    d = _voucher(db_people, [rec])
    # (477.06 + 45.87) / 1.09 * 0.09 = 43.178... -> 43.18; the 民航发展基金 stays expense
    rows = [(x["account_code"], x["debit"], x["credit"]) for x in d["lines"]]
    assert rows == [("660201", "576.82", "0.00"), ("22210101", "43.18", "0.00"),
                    ("2241", "0.00", "620.00")]
    assert "民航发展基金不计" in d["lines"][1]["summary"]


def test_toll_bill_at_printed_tax_and_partial_claim(db_people: People) -> None:
    toll = _transport("toll_bill", {"plate": "苏B12345", "tax": "2.91"}, "100.00", "2.91")
    d = _voucher(db_people, [toll], "交通费", ["50.00"])
    rows = [(x["account_code"], x["debit"], x["credit"]) for x in d["lines"]]
    assert rows == [("660202", "48.54", "0.00"), ("22210101", "1.46", "0.00"),
                    ("2241", "0.00", "50.00")]
    assert "苏B12345" in d["lines"][1]["summary"]


def test_no_split_without_passenger_for_refund_preview_or_entertainment(db_people: People) -> None:
    nameless = _transport("railway_ticket", {**_railway_data(), "passenger": None}, "181.00", "14.95")
    refund = _transport("railway_ticket", {**_railway_data(), "variant": "refund"}, "48.00", "2.72")
    preview = _transport("air_itinerary", {**AIR, "extra": {"preview": "仅供预览"}}, "620.00", "47.07")
    d = _voucher(db_people, [nameless, refund, preview])
    assert [x["account_code"] for x in d["lines"]] == ["660201", "2241"]
    entertainment = _transport("railway_ticket", _railway_data(), "181.00", "14.95")
    d = _voucher(db_people, [entertainment], "业务招待费")
    assert [x["account_code"] for x in d["lines"]] == ["660204", "2241"]


def test_input_vat_rounds_half_up() -> None:
    # 10.90 / 1.09 * 0.09 = 0.90 exactly; 1.00 / 1.09 * 0.09 = 0.0825... -> 0.08
    rail = {"passenger": "张三", "variant": "normal"}
    got = transport_input_vat("railway_ticket", rail, total=Decimal("10.90"))
    assert got is not None and got.vat == Decimal("0.90")
    got = transport_input_vat("railway_ticket", rail, total=Decimal("1.00"))
    assert got is not None and got.vat == Decimal("0.08")
    assert transport_input_vat("digital_special", rail, total=Decimal("1.00")) is None

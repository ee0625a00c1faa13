"""Excel: the journal export reads back in; a bad sheet names every error and creates nothing."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from accounting.errors import AccountingError, ErrorKind
from accounting.excel import COLUMNS, export_journal, import_vouchers
from accounting.ledger import (
    create_voucher,
    list_vouchers,
    post_voucher,
    voucher_invoices,
    voucher_lines,
)
from core.db import session_scope

from .conftest import People, make_invoice, reviewed


def _sheet(rows: list[list[Any]], header: list[str] = COLUMNS) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_journal_export_lists_lines_and_vouchers_and_imports_back(people: People) -> None:
    inv = make_invoice()
    with session_scope() as s:
        v1 = create_voucher(s, people.accountant, "2025-11-05", "购办公用品", [
            {"account_code": "660203", "debit": "1000.00", "aux": {"department": "行政部"}},
            {"account_code": "22210101", "debit": "60.00"},
            {"account_code": "2241", "credit": "1060.00", "aux": {"employee": "张三"}},
        ], [inv.key], "ERP-1")
        post_voucher(s, people.accountant, reviewed(s, people, v1.id))
        create_voucher(s, people.accountant, "2025-11-09", "提现", [
            {"account_code": "1001", "debit": "500.00"}, {"account_code": "1002", "credit": "500.00"}])
        create_voucher(s, people.accountant, "2025-12-01", "下月", [
            {"account_code": "1001", "debit": "1.00"}, {"account_code": "1002", "credit": "1.00"}])
    with session_scope() as s:
        data = export_journal(s, "2025-11")
    wb = load_workbook(io.BytesIO(data))
    journal = [list(r) for r in wb["序时账"].iter_rows(values_only=True)]
    assert journal[0][:10] == COLUMNS
    assert [r[0] for r in journal[1:]] == ["记-2025-11-0001"] * 3 + ["记-2025-11-0002"] * 2
    first = journal[1]
    assert first[3:9] == ["660203", "管理费用—办公费", 1000, None, "行政部", None]
    assert first[9] == inv.key and first[10] == "posted"
    assert journal[3][6] == 1060 and journal[3][8] == "张三"
    listing = [list(r) for r in wb["凭证列表"].iter_rows(values_only=True)]
    assert [(r[0], r[3], r[5], r[6], r[10]) for r in listing[1:]] == [
        ("记-2025-11-0001", 1060, 1, "posted", "02"), ("记-2025-11-0002", 500, 0, "draft", None)]

    # the draft voucher's sheet rows import back as a new voucher with the same lines
    draft_rows = [r[:10] for r in journal[1:] if r[0] == "记-2025-11-0002"]
    with session_scope() as s:
        created = import_vouchers(s, people.accountant, _sheet(draft_rows))
        assert len(created) == 1
        new = created[0]
        assert new.external_ref == "记-2025-11-0002" and new.number == "记-2025-11-0003"
        assert new.date == date(2025, 11, 9) and new.summary == "提现"
        assert [(x.account_code, x.debit, x.credit) for x in voucher_lines(s, new.id)] == [
            ("1001", Decimal("500.00"), Decimal("0.00")), ("1002", Decimal("0.00"), Decimal("500.00"))]
    with session_scope() as s:  # a second import of the same sheet creates nothing new
        again = import_vouchers(s, people.accountant, _sheet(draft_rows))
        assert [v.id for v in again] == [new.id]
        assert list_vouchers(s, period="2025-11")[1] == 3


def test_import_with_invoice_keys_and_text_cells(people: People) -> None:
    inv = make_invoice()
    rows = [["V1", "2025-11-20", "报销", "660201", "差旅费", "100.5", None, "销售部", "李四", f"{inv.key};"],
            ["V1", "2025-11-20", "报销", 2241, None, None, "100.50", None, "李四", None]]
    with session_scope() as s:
        [v] = import_vouchers(s, people.accountant, _sheet(rows))
        assert [i.id for i in voucher_invoices(s, v.id)] == [inv.id]
        lines = voucher_lines(s, v.id)
        assert lines[0].aux == {"department": "销售部", "employee": "李四"}
        assert lines[1].account_name == "其他应付款" and lines[1].credit == Decimal("100.50")


def test_import_reports_every_error_with_row_and_column_and_creates_nothing(people: People) -> None:
    rows = [
        ["V1", "2025-11-20", "好的", "1001", None, "10.00", None, None, None, None],
        ["V1", "2025-11-20", "好的", "1002", None, None, "10.00", None, None, None],
        ["V2", "2025-11-21", "坏的", "6602", None, "abc", None, None, None, None],
        ["V2", "2025-11-32", "坏的", "9999", None, None, "5.00", None, None, None],
        ["V3", "2025-11-22", "一行", "1001", "银行存款", "1.00", "1.00", None, None, "nokey"],
        [None, "2025-11-22", "无号", "1001", None, "1.00", None, None, None, None],
        ["V4", "2025-11-23", "不平", "1001", None, "3.00", None, None, None, None],
        ["V4", "2025-11-23", "不平", "1002", None, None, "2.999", None, None, None],
    ]
    with pytest.raises(AccountingError) as e, session_scope() as s:
        import_vouchers(s, people.accountant, _sheet(rows))
    err = e.value
    assert err.kind is ErrorKind.BAD_INPUT and err.code == "import_invalid"
    assert "nothing was imported" in err.message
    texts = err.message.splitlines()[1:]
    expected = [
        "row 4, column F (借方): 'abc' is not a number",
        "row 5, column B (日期): '2025-11-32' is not a date YYYY-MM-DD",
        "row 5, column D (科目编码): account '9999' is not in the chart of accounts",
        "row 6, column A (凭证号): voucher V3 has only one line; it needs at least two",
        "row 6, column E (科目名称): '银行存款' is not the name of account 1001 (库存现金)",
        "row 6, column G (贷方): both a debit and a credit on one row; use two rows",
        "row 6, column J (发票): 发票“nokey”尚未登记，不能挂到凭证上。请先上传这张发票。",
        "row 7, column A (凭证号): the voucher reference is missing",
        "row 8, column F (借方): voucher V4: debits 3.00 do not equal credits 0.00 (rows 8-9)",
        "row 9, column G (贷方): 2.999 has more than two decimals",
    ]
    for line in expected:
        assert line in texts, line
    assert {(d["row"], d["column"]) for d in err.details["errors"]} >= {(4, "F"), (5, "B"), (9, "G")}
    with session_scope() as s:
        assert list_vouchers(s)[1] == 0  # V1 was fine, but nothing is imported


def test_import_refuses_a_file_that_is_not_a_workbook_or_lacks_columns(people: People) -> None:
    with pytest.raises(AccountingError, match=r"不是可读取的 \.xlsx 工作簿") as err, session_scope() as s:
        import_vouchers(s, people.accountant, b"PK\x03\x04 not really")
    assert err.value.code == "bad_workbook"
    with pytest.raises(AccountingError, match="lacks column\\(s\\) 借方, 贷方"), session_scope() as s:
        import_vouchers(s, people.accountant, _sheet([["V1"]], header=["凭证号", "日期", "科目编码"]))

"""Spreadsheets: formula-like text is written as text; .xlsx reads are refused past each limit.

Every attack workbook is built here from a normal one that openpyxl writes, the way a hostile
upload would be: a member replaced by a huge one, sizes in the zip directory rewritten, a
DOCTYPE added.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from core.spreadsheet import (
    SpreadsheetError,
    XlsxLimits,
    inspect_xlsx,
    needs_text_guard,
    safe_cell,
    safe_row,
)

HOSTILE = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", "=HYPERLINK(\"http://x\",\"y\")"]
HARMLESS = ["行政部", "1+1", " =1+1", "a=b", "", "＝1+1"]


def _sheet_xml(z: zipfile.ZipFile) -> str:
    name = next(n for n in z.namelist() if n.startswith("xl/worksheets/sheet"))
    return z.read(name).decode()


@pytest.mark.parametrize("write_only", [False, True])
def test_formula_like_text_is_written_as_text_and_reads_back_unchanged(write_only: bool) -> None:
    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet("s") if write_only else wb.active
    assert ws is not None
    ws.append(safe_row([*HOSTILE, *HARMLESS, Decimal("-12.50"), -3, None], ws))
    out = io.BytesIO()
    wb.save(out)
    with zipfile.ZipFile(out) as z:
        xml = _sheet_xml(z)
        styles = z.read("xl/styles.xml").decode()
    assert "<f>" not in xml  # nothing is a formula
    assert 'quotePrefix="1"' in styles  # Excel/WPS show the cell as text, also after an edit
    assert xml.count('t="inlineStr"') >= len(HOSTILE)
    values = next(load_workbook(out, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert list(values[:len(HOSTILE)]) == HOSTILE  # the stored value is what the user typed
    assert list(values[len(HOSTILE):len(HOSTILE) + len(HARMLESS)]) == [v or None for v in HARMLESS]
    n = len(HOSTILE) + len(HARMLESS)
    assert values[n] == -12.5 and values[n + 1] == -3  # money and numbers stay numbers


def test_without_the_guard_openpyxl_would_write_a_live_formula() -> None:
    # the failing side: the same value appended as it is becomes a formula
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["=1+1"])
    out = io.BytesIO()
    wb.save(out)
    with zipfile.ZipFile(out) as z:
        assert "<f>1+1</f>" in _sheet_xml(z)
    assert all(needs_text_guard(v) for v in HOSTILE)
    assert not any(needs_text_guard(v) for v in HARMLESS)
    assert safe_cell(Decimal("-1.00")) == Decimal("-1.00") and safe_cell("行政部") == "行政部"


# --- reading --------------------------------------------------------------------------------------

def _workbook(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "凭证导入"
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _replace(data: bytes, member: str, content: bytes | None = None, chunks: list[bytes] | None = None,
             extra: dict[str, bytes] | None = None) -> bytes:
    """The workbook with one member's content replaced (streamed when given as chunks)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename != member:
                dst.writestr(info.filename, src.read(info.filename))
                continue
            target = zipfile.ZipInfo(member)
            target.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(target, "w", force_zip64=True) as w:
                for piece in chunks if chunks is not None else [content or b""]:
                    w.write(piece)
        for name, body in (extra or {}).items():
            dst.writestr(name, body)
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"
HEAD = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
        b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
TAIL = b"</sheetData></worksheet>"


def test_a_normal_workbook_passes_and_its_extent_is_measured() -> None:
    shape = inspect_xlsx(_workbook([["凭证号", "日期"], ["V1", "2025-01-01"], ["V2", 12.5]]))
    extent = shape.sheets["凭证导入"]
    assert (extent.max_row, extent.max_column) == (3, 2)


def test_declared_size_over_the_total_is_refused_before_inflating() -> None:
    base = _workbook([["a"]])
    big = _replace(base, SHEET, chunks=[HEAD + b'<row r="1"><c r="A1" t="inlineStr"><is><t>',
                                        *([b"A" * (1 << 20)] * 130), b"</t></is></c></row>" + TAIL])
    assert len(big) < 1_000_000
    with pytest.raises(SpreadsheetError) as err:
        inspect_xlsx(big, "big.xlsx")
    assert err.value.code == "xlsx_too_large" and "big.xlsx" in err.value.message


def test_compression_ratio_is_capped() -> None:
    base = _workbook([["a"]])
    bomb = _replace(base, SHEET, content=HEAD + (b"<!-- " + b" " * (100 << 10) + b" -->") * 200 + TAIL)
    with pytest.raises(SpreadsheetError) as err:
        inspect_xlsx(bomb)
    assert err.value.code == "xlsx_ratio" and err.value.details["member"] == SHEET
    # the same part within the ratio passes
    inspect_xlsx(bomb, limits=XlsxLimits(max_ratio=2000))


def test_one_long_token_is_refused_before_the_parser_sees_it() -> None:
    base = _workbook([["a"]])
    for body in (b"<!-- " + b" " * (600 << 10) + b" -->", b"<row " + b"x" * (600 << 10) + b'="1"/>',
                 b" " * (600 << 10)):
        with pytest.raises(SpreadsheetError) as err:
            inspect_xlsx(_replace(base, SHEET, content=HEAD + body + TAIL))
        assert err.value.code == "xlsx_long_token"
    inspect_xlsx(_replace(base, SHEET, content=HEAD + b"<!-- " + b" " * (200 << 10) + b" -->" + TAIL))


def test_one_oversized_cell_is_named_by_row_and_column() -> None:
    base = _workbook([["a"]])
    xml = HEAD + b'<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row><row r="7">' \
        b'<c r="C7" t="inlineStr"><is><t>' + "长".encode() * 40_000 + b"</t></is></c></row>" + TAIL
    with pytest.raises(SpreadsheetError) as err:
        inspect_xlsx(_replace(base, SHEET, content=xml))
    assert err.value.code == "xlsx_cell_too_large"
    assert (err.value.details["row"], err.value.details["column"]) == (7, "C")
    assert "第 7 行第 C 列" in err.value.message
    # a cell just under the cap passes
    ok = xml.replace("长".encode() * 40_000, "长".encode() * 32_000)
    inspect_xlsx(_replace(base, SHEET, content=ok))


def test_an_oversized_shared_string_is_named_where_a_cell_uses_it() -> None:
    data = _workbook([["凭证号"], ["V1"]])
    big = "长" * 33_000
    data = _replace(data, SHEET, content=HEAD + b'<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2">'
                    b'<c r="B2" t="s"><v>1</v></c></row>' + TAIL,
                    extra={"xl/sharedStrings.xml": (
                        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                        f"<si><t>凭证号</t></si><si><t>{big}</t></si></sst>").encode()})
    with pytest.raises(SpreadsheetError) as err:
        inspect_xlsx(data)
    assert err.value.code == "xlsx_cell_too_large" and err.value.details["row"] == 2
    assert err.value.details["column"] == "B"


def test_rows_columns_and_number_text_are_capped() -> None:
    base = _workbook([["a"]])
    far_row = HEAD + b'<row r="100002"><c r="A100002"><v>1</v></c></row>' + TAIL
    with pytest.raises(SpreadsheetError) as err:
        inspect_xlsx(_replace(base, SHEET, content=far_row))
    assert err.value.code == "xlsx_too_many_rows" and err.value.details["row"] == 100002
    wide = HEAD + b'<row r="3"><c r="XFD3"><v>1</v></c></row>' + TAIL
    with pytest.raises(SpreadsheetError) as err:
        inspect_xlsx(_replace(base, SHEET, content=wide))
    assert err.value.code == "xlsx_too_many_columns" and err.value.details["column"] == "XFD"
    long_number = HEAD + b'<row r="2"><c r="B2"><v>' + b"9" * 5000 + b"</v></c></row>" + TAIL
    with pytest.raises(SpreadsheetError) as err:
        inspect_xlsx(_replace(base, SHEET, content=long_number))
    assert err.value.code == "xlsx_cell_too_large" and err.value.details["column"] == "B"
    # within the caps: row 100001, column IV, a 20-digit number
    fine = HEAD + b'<row r="100001"><c r="IV100001"><v>12345678901234567890</v></c></row>' + TAIL
    extent = inspect_xlsx(_replace(base, SHEET, content=fine)).sheets["凭证导入"]
    assert (extent.max_row, extent.max_column) == (100001, 256)


def test_a_doctype_anywhere_is_refused() -> None:
    base = _workbook([["a"]])
    evil = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + HEAD[HEAD.index(b"<worksheet"):]
            + b'<row r="1"><c r="A1" t="inlineStr"><is><t>&a;</t></is></c></row>' + TAIL)
    with pytest.raises(SpreadsheetError) as err:
        inspect_xlsx(_replace(base, SHEET, content=evil))
    assert err.value.code == "xlsx_doctype"
    styles = _replace(base, "xl/styles.xml", content=b'<?xml version="1.0"?><!DOCTYPE s><styleSheet/>')
    with pytest.raises(SpreadsheetError) as err:
        inspect_xlsx(styles)
    assert err.value.code == "xlsx_doctype"


def _lie_about_size(data: bytes, member: str, declared: int) -> bytes:
    """Rewrite the member's uncompressed size in both its local header and the directory."""
    buf = bytearray(data)
    name = member.encode()
    for m in re.finditer(re.escape(name), bytes(buf)):
        start = m.start()
        if buf[start - 30:start - 26] == b"PK\x03\x04":  # local header: size at +22
            struct.pack_into("<I", buf, start - 30 + 22, declared)
        elif buf[start - 46:start - 42] == b"PK\x01\x02":  # central directory: size at +24
            struct.pack_into("<I", buf, start - 46 + 24, declared)
    return bytes(buf)


def test_a_member_larger_than_it_declares_is_refused() -> None:
    base = _workbook([["a"]])
    honest = _replace(base, SHEET, content=HEAD + b'<row r="1"><c r="A1"><v>1</v></c></row>' + TAIL)
    inspect_xlsx(honest)
    with pytest.raises(SpreadsheetError) as err:
        inspect_xlsx(_lie_about_size(honest, SHEET, 20))
    assert err.value.code in ("xlsx_size_mismatch", "xlsx_not_workbook")


def test_not_a_zip_and_too_many_members() -> None:
    with pytest.raises(SpreadsheetError) as err:
        inspect_xlsx(b"PK\x03\x04 not really", "x.xlsx")
    assert err.value.code == "xlsx_not_workbook" and "x.xlsx" in err.value.message
    base = _workbook([["a"]])
    many = _replace(base, "xl/styles.xml", content=None,
                    extra={f"xl/media/i{i}.bin": b"x" for i in range(30)})
    with pytest.raises(SpreadsheetError) as err:
        inspect_xlsx(many, limits=XlsxLimits(max_members=20))
    assert err.value.code == "xlsx_too_many_members"

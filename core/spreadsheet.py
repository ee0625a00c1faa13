"""Spreadsheets: cells written as text where Excel would run them, and .xlsx reads with limits.

**Writing.** A cell whose text starts with ``=`` ``+`` ``-`` ``@``, a tab or a carriage return
can be taken for a formula: openpyxl itself stores a string starting with ``=`` as a live
formula, and Excel or WPS turn the others into one as soon as someone edits the cell (F2,
Enter). ``safe_cell`` writes such a text as a *string cell* (``t="inlineStr"``) whose style
has ``quotePrefix="1"``: the value stays byte for byte what the user typed (a reader such as
the 移交清册 check compares it with the package metadata), Excel and WPS show it as text with
the apostrophe visible only in the formula bar, and an edit keeps it text. We do not prepend
a ``'`` character because that would change the stored value. Numbers, dates and ``None``
pass through untouched, so money stays a number.

**Reading.** An .xlsx is a zip of XML; openpyxl trusts both. ``inspect_xlsx`` looks at the
zip before openpyxl opens it: member count, every member's declared size, the total and the
compression ratio (so a 0.4 MB file that inflates to 400 MB is refused without inflating
it), then streams every XML member through expat — in chunks, never the whole text in
memory — checking the actual size against the declared one, refusing any DOCTYPE, and
counting rows, columns and the characters of each cell, so that an oversized cell is named
by sheet, row and column before openpyxl ever builds it. It returns each sheet's real
extent, which the caller passes to openpyxl's ``iter_rows`` (read-only mode) instead of the
file's own ``<dimension>``, which can claim 16,384 columns.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from posixpath import dirname, join, normpath
from typing import Any
from xml.parsers import expat

from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from core import messages
from core.errors import ErrorKind, ServiceError

# What makes Excel/WPS read a typed text as a formula (or, for tab and CR, what CSV-style
# importers strip before doing so).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def needs_text_guard(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def safe_cell(value: Any, sheet: Worksheet | WriteOnlyWorksheet | None = None) -> Any:
    """``value`` itself, or for a formula-like text a string cell that shows it as text.

    Append the result with ``ws.append``. A normal worksheet takes the cell as it is; a
    write-only one (``Workbook(write_only=True)``) needs ``sheet`` so the cell can register
    its style there.
    """
    if not needs_text_guard(value):
        return value
    # row and column are placeholders (append sets them); openpyxl prints them in its messages
    cell = Cell(sheet, row=1, column=1)  # type: ignore[arg-type]  # either sheet kind works
    cell.value = value  # openpyxl binds "=..." as a formula here ...
    cell.data_type = "s"  # ... and this makes it a plain string cell again
    cell.quotePrefix = True
    return cell


def safe_row(values: list[Any] | tuple[Any, ...], sheet: Worksheet | WriteOnlyWorksheet | None = None
             ) -> list[Any]:
    """``safe_cell`` over a row, for ``ws.append(safe_row([...]))``."""
    return [safe_cell(v, sheet) for v in values]


# --- reading ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class XlsxLimits:
    """Caps on an uploaded workbook. Excel's own limit for one cell is 32,767 characters."""

    max_members: int = 1000
    max_total_bytes: int = 100 * 1024 * 1024  # all members, uncompressed
    max_part_bytes: int = 16 * 1024 * 1024  # one XML part other than sheets and shared strings
    max_ratio: int = 200  # uncompressed / compressed, for members above ratio_floor
    ratio_floor: int = 1024 * 1024
    max_cell_chars: int = 32_767
    max_number_chars: int = 100  # a number as Excel writes it is ~25 characters
    max_rows: int = 100_001
    max_columns: int = 256
    max_cells: int = 2_000_000


@dataclass
class SheetExtent:
    name: str
    path: str
    max_row: int = 0
    max_column: int = 0
    cells: int = 0


@dataclass
class XlsxShape:
    sheets: dict[str, SheetExtent] = field(default_factory=dict)  # by sheet name


class SpreadsheetError(ServiceError):
    """A workbook that cannot be read safely; the message says where and what to do."""

    def __init__(self, code: str, **params: Any) -> None:
        params["file"] = params.get("file") or "上传的工作簿"
        super().__init__(ErrorKind.BAD_INPUT, code, messages.text(code, **params),
                         {k: v for k, v in params.items() if k != "file"})


_CHUNK = 64 * 1024
_REF = re.compile(r"^([A-Z]{1,3})([0-9]{1,7})$")


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


class _Refuse(Exception):
    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(code)


def _parser() -> expat.XMLParserType:
    p = expat.ParserCreate(namespace_separator=" ")

    def doctype(*_: Any) -> None:
        raise _Refuse("xlsx_doctype")

    p.StartDoctypeDeclHandler = doctype
    p.EntityDeclHandler = doctype
    return p


class _SharedStrings:
    """Counts the characters of each ``<si>``; remembers the indexes that are too long."""

    def __init__(self, limits: XlsxLimits) -> None:
        self.limits = limits
        self.index = -1
        self.depth_si = False
        self.length = 0
        self.oversized: dict[int, int] = {}

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if _local(name) == "si":
            self.index += 1
            self.depth_si = True
            self.length = 0
            if self.index >= self.limits.max_cells:
                raise _Refuse("xlsx_too_many_cells", limit=self.limits.max_cells)

    def end(self, name: str) -> None:
        if _local(name) == "si":
            self.depth_si = False

    def text(self, data: str) -> None:
        if self.depth_si:
            self.length += len(data)
            if self.length > self.limits.max_cell_chars and len(self.oversized) < 1000:
                self.oversized[self.index] = self.length


class _SheetScan:
    """Rows, columns and cell sizes of one worksheet, streamed."""

    def __init__(self, extent: SheetExtent, limits: XlsxLimits, shared: _SharedStrings) -> None:
        self.extent = extent
        self.limits = limits
        self.shared = shared
        self.row = 0
        self.col = 0
        self.cell_type: str | None = None
        self.in_cell = False
        self.in_value = ""
        self.length = 0  # of the current <v>, <t> or <f>
        self.cell_length = 0  # of the whole cell (rich text has several <t>)
        self.value = ""

    def _where(self) -> dict[str, Any]:
        return {"sheet": self.extent.name, "row": self.row, "column": get_column_letter(max(self.col, 1))}

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "row":
            r = attrs.get("r")
            self.row = int(r) if r and r.isdigit() else self.row + 1
            self.col = 0
            if self.row > self.limits.max_rows:
                raise _Refuse("xlsx_too_many_rows", sheet=self.extent.name, row=self.row,
                              limit=self.limits.max_rows - 1)
            self.extent.max_row = max(self.extent.max_row, self.row)
        elif tag == "c":
            ref = attrs.get("r", "")
            m = _REF.match(ref)
            if m:
                self.col = _column_index(m.group(1))
                self.row = int(m.group(2)) if self.row == 0 else self.row
            else:
                self.col += 1
            self.cell_type = attrs.get("t")
            self.in_cell = True
            self.cell_length = 0
            self.value = ""
            self.extent.cells += 1
            if self.col > self.limits.max_columns:
                raise _Refuse("xlsx_too_many_columns", **self._where(), limit=self.limits.max_columns)
            if self.extent.cells > self.limits.max_cells:
                raise _Refuse("xlsx_too_many_cells", limit=self.limits.max_cells)
        elif tag in ("v", "t", "f") and self.in_cell:
            self.in_value = tag
            self.length = 0

    def end(self, name: str) -> None:
        tag = _local(name)
        if tag in ("v", "t", "f"):
            self.in_value = ""
        elif tag == "c" and self.in_cell:
            self.in_cell = False
            if self.cell_length:
                self.extent.max_column = max(self.extent.max_column, self.col)
            if self.cell_type == "s":
                try:
                    idx = int(self.value.strip())
                except ValueError:
                    raise _Refuse("xlsx_bad_cell", **self._where()) from None
                if idx in self.shared.oversized:
                    raise _Refuse("xlsx_cell_too_large", **self._where(), length=self.shared.oversized[idx],
                                  limit=self.limits.max_cell_chars)
                if idx > self.shared.index:
                    raise _Refuse("xlsx_bad_cell", **self._where())

    def text(self, data: str) -> None:
        if not self.in_value:
            return
        self.length += len(data)
        self.cell_length += len(data)
        numeric = self.in_value == "v" and self.cell_type in (None, "n", "s")
        if numeric and self.length > self.limits.max_number_chars:
            raise _Refuse("xlsx_cell_too_large", **self._where(), length=self.length,
                          limit=self.limits.max_number_chars)
        if self.cell_length > self.limits.max_cell_chars:
            raise _Refuse("xlsx_cell_too_large", **self._where(), length=self.cell_length,
                          limit=self.limits.max_cell_chars)
        if numeric:
            self.value += data


def _sheet_paths(zf: zipfile.ZipFile, names: set[str], limits: XlsxLimits) -> dict[str, str]:
    """Worksheet part path -> the sheet's name, from workbook.xml and its relationships."""
    rels: dict[str, str] = {}
    sheets: list[tuple[str, str]] = []

    def on_rel(name: str, attrs: dict[str, str]) -> None:
        if _local(name) == "Relationship" and "Id" in attrs and "Target" in attrs:
            target = attrs["Target"]
            path = target.lstrip("/") if target.startswith("/") else normpath(join("xl", target))
            rels[attrs["Id"]] = path

    def on_sheet(name: str, attrs: dict[str, str]) -> None:
        if _local(name) == "sheet":
            rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
            sheets.append((attrs.get("name", ""), rid))

    for part, handler in (("xl/_rels/workbook.xml.rels", on_rel), ("xl/workbook.xml", on_sheet)):
        if part in names:
            p = _parser()
            p.StartElementHandler = handler
            _feed(zf, zf.getinfo(part), p, limits)
    return {rels[rid]: name for name, rid in sheets if rid in rels}


# No text, comment, attribute or tag of a real workbook runs this long without a ``<`` or ``>``
# (a cell's 32,767 characters escaped as ``&amp;`` are ~200 KB). Expat re-scans an unfinished
# token from its start on every chunk, and is slow on one huge token even in one call, so a
# longer run is refused before it reaches the parser.
MAX_MARKUP_GAP = 256 * 1024


def _feed(zf: zipfile.ZipFile, info: zipfile.ZipInfo, parser: expat.XMLParserType | None,
          limits: XlsxLimits) -> int:
    """Stream one member (through ``parser`` if given); its actual size must match the declared."""
    read = 0
    gap = 0  # bytes since the last "<" or ">"
    with zf.open(info) as stream:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            read += len(chunk)
            if read > info.file_size:
                raise _Refuse("xlsx_size_mismatch", member=info.filename, declared=info.file_size)
            if parser is None:
                continue
            first = min((i for i in (chunk.find(b"<"), chunk.find(b">")) if i >= 0), default=-1)
            if first < 0:
                gap += len(chunk)
            else:
                gap += first
                if gap <= MAX_MARKUP_GAP:
                    gap = len(chunk) - 1 - max(chunk.rfind(b"<"), chunk.rfind(b">"))
            if gap > MAX_MARKUP_GAP:
                raise _Refuse("xlsx_long_token", member=info.filename, limit=MAX_MARKUP_GAP)
            parser.Parse(chunk, False)
    if read != info.file_size:
        raise _Refuse("xlsx_size_mismatch", member=info.filename, declared=info.file_size)
    if parser is not None:
        parser.Parse(b"", True)
    return read


def inspect_xlsx(data: bytes, file: str = "", limits: XlsxLimits | None = None) -> XlsxShape:
    """Check an .xlsx before openpyxl reads it; raises ``SpreadsheetError`` naming the problem."""
    limits = limits or XlsxLimits()
    try:
        return _inspect(data, limits)
    except _Refuse as exc:
        raise SpreadsheetError(exc.code, file=file, **exc.params) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, OSError, ValueError) as exc:
        raise SpreadsheetError("xlsx_not_workbook", file=file, reason=type(exc).__name__) from None
    except expat.ExpatError as exc:
        raise SpreadsheetError("xlsx_bad_xml", file=file, reason=expat.errors.messages.get(exc.code, str(exc)),
                               line=exc.lineno) from None


def _inspect(data: bytes, limits: XlsxLimits) -> XlsxShape:
    zf = zipfile.ZipFile(io.BytesIO(data))
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise _Refuse("xlsx_too_many_members", count=len(infos), limit=limits.max_members)
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        raise _Refuse("xlsx_not_workbook", reason="xl/workbook.xml missing")
    total = 0
    for info in infos:
        size = info.file_size
        total += size
        bulk = info.filename.startswith("xl/worksheets/") or info.filename == "xl/sharedStrings.xml"
        xml_part = info.filename.endswith((".xml", ".rels", ".vml"))
        if xml_part and not bulk and size > limits.max_part_bytes:
            raise _Refuse("xlsx_member_too_large", member=info.filename, size=size, limit=limits.max_part_bytes)
        if total > limits.max_total_bytes:
            raise _Refuse("xlsx_too_large", size=total, limit=limits.max_total_bytes)
        if size > limits.ratio_floor and size > limits.max_ratio * max(info.compress_size, 1):
            raise _Refuse("xlsx_ratio", member=info.filename, ratio=size // max(info.compress_size, 1),
                          limit=limits.max_ratio)
    sheet_names = _sheet_paths(zf, names, limits)
    shared = _SharedStrings(limits)
    shape = XlsxShape()
    ordered = sorted(infos, key=lambda i: (i.filename != "xl/sharedStrings.xml",
                                           not i.filename.startswith("xl/worksheets/"), i.filename))
    for info in ordered:
        name = info.filename
        if name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
            continue  # read above
        if not name.endswith((".xml", ".rels", ".vml")):
            _feed(zf, info, None, limits)
            continue
        p = _parser()
        if name == "xl/sharedStrings.xml":
            p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = (
                shared.start, shared.end, shared.text)
        elif name.startswith("xl/worksheets/") and dirname(name) == "xl/worksheets":
            extent = SheetExtent(sheet_names.get(name, name.rsplit("/", 1)[-1]), name)
            scan = _SheetScan(extent, limits, shared)
            p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = scan.start, scan.end, scan.text
            shape.sheets[extent.name] = extent
        _feed(zf, info, p, limits)
    if shared.oversized:  # a long text no cell refers to: still refused, openpyxl would load it
        idx, length = next(iter(shared.oversized.items()))
        raise _Refuse("xlsx_cell_too_large", sheet="共享文本", row=idx + 1, column="-", length=length,
                      limit=limits.max_cell_chars)
    return shape

"""Readable renditions: the voucher and its claims as XML and as a PDF a person can read.

The PDF is written directly (no PDF library is installed, and the content is simple lines of
text): Chinese text uses the standard CJK font STSong-Light with the UniGB-UCS2-H encoding,
which every conforming reader provides without embedding, plus a ToUnicode map so that text
can be searched and extracted. It is a rendition for reading; the evidence is the XML and the
original invoices beside it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from typing import Any

from lxml import etree

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN = 50
_NAME_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


# --- data → XML ----------------------------------------------------------------------------


def _put(parent: etree._Element, name: str, value: Any) -> None:
    tag = name if _NAME_OK.match(name) and not name.lower().startswith("xml") else "field"
    el = etree.SubElement(parent, tag)
    if tag == "field":
        el.set("name", name)
    if isinstance(value, dict):
        for k, v in value.items():
            _put(el, str(k), v)
    elif isinstance(value, list | tuple):
        el.set("list", "true")
        for v in value:
            _put(el, "item", v)
    elif value is None:
        el.set("null", "true")
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    else:
        el.text = _clean(str(value))


def _clean(text: str) -> str:
    # XML 1.0 cannot carry most control characters; an archive must not silently lose them,
    # so they are written as visible escapes.
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", lambda m: f"\\x{ord(m.group()):02x}", text)


def data_xml(root_name: str, data: dict[str, Any], attrs: dict[str, str] | None = None) -> bytes:
    """A dict (voucher_to_dict, claim_to_dict) as plain, well-formed UTF-8 XML."""
    root = etree.Element(root_name)
    for k, v in (attrs or {}).items():
        root.set(k, v)
    for k, v in data.items():
        _put(root, str(k), v)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- the PDF -----------------------------------------------------------------------------------


def _wrap(text: str, size: float, max_w: float) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        cur: list[str] = []
        width = 0.0
        for ch in para:
            w = size * (0.5 if ord(ch) < 0x2E80 else 1.0)
            if width + w > max_w and cur:
                lines.append("".join(cur))
                cur, width = [], 0.0
            cur.append(ch)
            width += w
        lines.append("".join(cur))
    return lines


def _hex(text: str) -> str:
    out = []
    for ch in text:
        cp = ord(ch)
        out.append(f"{cp:04X}" if cp <= 0xFFFF else "FFFD")
    return "".join(out)


def _to_unicode_cmap() -> bytes:
    ranges = "\n".join(f"<{hi:02X}00> <{hi:02X}FF> <{hi:02X}00>" for hi in range(256))
    body = ("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
            f"100 beginbfrange\n{chr(10).join(ranges.splitlines()[:100])}\nendbfrange\n"
            f"100 beginbfrange\n{chr(10).join(ranges.splitlines()[100:200])}\nendbfrange\n"
            f"56 beginbfrange\n{chr(10).join(ranges.splitlines()[200:])}\nendbfrange\n"
            "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
    return body.encode("ascii")


def text_pdf(lines: Iterable[tuple[str, float]], title: str = "") -> bytes:
    """A PDF of text lines ``(text, font size)``, wrapped and paginated."""
    max_w = PAGE_W - 2 * MARGIN
    pages: list[list[tuple[float, float, str]]] = [[]]
    y: float = PAGE_H - MARGIN
    for text, size in lines:
        for line in _wrap(text, size, max_w) if text else [""]:
            lead = size * 1.5
            if y - lead < MARGIN:
                pages.append([])
                y = PAGE_H - MARGIN
            y -= lead
            if line:
                pages[-1].append((size, y, line))
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # placeholder, filled below
    pages_id = add(b"")
    descriptor = add(b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 "
                     b"/FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 "
                     b"/CapHeight 880 /StemV 93 >>")
    cid_font = add(b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
                   b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> "
                   b"/FontDescriptor " + f"{descriptor} 0 R".encode() + b" /DW 1000 /W [1 95 500] >>")
    cmap = zlib.compress(_to_unicode_cmap())
    to_unicode = add(b"<< /Length " + str(len(cmap)).encode() + b" /Filter /FlateDecode >>\nstream\n"
                     + cmap + b"\nendstream")
    font = add(b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
               b"/DescendantFonts [" + f"{cid_font} 0 R".encode() + b"] /ToUnicode "
               + f"{to_unicode} 0 R".encode() + b" >>")
    page_ids = []
    for page in pages:
        ops = ["BT"]
        for size, yy, line in page:
            ops.append(f"/F1 {size:g} Tf 1 0 0 1 {MARGIN} {yy:.1f} Tm <{_hex(line)}> Tj")
        ops.append("ET")
        stream = zlib.compress("\n".join(ops).encode("ascii"))
        content = add(b"<< /Length " + str(len(stream)).encode() + b" /Filter /FlateDecode >>\nstream\n"
                      + stream + b"\nendstream")
        page_ids.append(add(f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
                            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {content} 0 R >>".encode()))
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode()
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects[pages_id - 1] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()
    info = add(b"<< /Title <FEFF" + _hex(title).encode() + b"> /Producer (fapiao-archive) >>")
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R /Info {info} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def voucher_lines(archival_code: str, voucher: dict[str, Any], claims: list[dict[str, Any]],
                  invoices: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """The readable content of a package: voucher, its lines, its claims with approvals, invoices."""
    out: list[tuple[str, float]] = [
        (f"记账凭证  {_s(voucher.get('number'))}", 16),
        (f"档号 {archival_code}", 10),
        (f"日期 {_s(voucher.get('date'))}    期间 {_s(voucher.get('period'))}    状态 {_s(voucher.get('status'))}", 10),
        (f"摘要 {_s(voucher.get('summary'))}", 10),
        ("", 6),
        ("科目编码 | 科目名称 | 摘要 | 借方 | 贷方", 10),
    ]
    for line in voucher.get("lines") or []:
        out.append((" | ".join(_s(line.get(k)) for k in ("account_code", "account_name", "summary",
                                                          "debit", "credit")), 10))
    out += [
        (f"合计 借方 {_s(voucher.get('total_debit', voucher.get('amount')))}  "
         f"贷方 {_s(voucher.get('total_credit', voucher.get('amount')))}", 10),
        (f"制单 {_s(voucher.get('created_by'))}    审核 {_s(voucher.get('reviewed_by') or voucher.get('approved_by'))}"
         f"    记账 {_s(voucher.get('posted_by'))}    记账时间 {_s(voucher.get('posted_at'))}", 10),
        (f"附件 {len(invoices)} 张", 10),
        ("", 6),
    ]
    for inv in invoices:
        out.append((f"发票 {_s(inv.get('code'))} {_s(inv.get('number'))}  {_s(inv.get('issue_date'))}  "
                    f"{_s((inv.get('seller') or {}).get('name'))}  价税合计 {_s(inv.get('total'))}", 9))
    for c in claims:
        out += [("", 6), (f"报销单 {_s(c.get('title'))}  ({_s(c.get('id'))})", 12),
                (f"部门 {_s(c.get('department'))}  事由 {_s(c.get('purpose'))}  金额 {_s(c.get('amount') or c.get('total'))}"
                 f"  状态 {_s(c.get('state') or c.get('status'))}", 10)]
        for step in c.get("steps") or []:
            out.append((f"{_s(step.get('at'))}  {_s(step.get('action'))}  {_s(step.get('by') or step.get('who') or step.get('username'))}"
                        f"  {_s(step.get('comment'))}", 9))
    return out

"""Hostile files, built from the real samples, and hostile functions for the sandbox tests.

Each builder takes a real sample and adds one thing an attacker would: a stream that
inflates to hundreds of megabytes, a page with 100,000 text objects, a signature with 400
references to one big member, an XML with a DOCTYPE or deep nesting. The files are small
(they must pass the upload size limit); the cost is in reading them. ``bench/hostile.py``
measures the same builders.

The ``spin``/``allocate``/``sleep``/``crash`` functions are the test-only hook that lets a
test drive a sandbox worker over one limit deterministically (they travel to the worker by
name, like any task).
"""

from __future__ import annotations

import io
import os
import re
import time
import zipfile
import zlib

from tests.samples import DIGITAL_OFD, DIGITAL_PDF, V4SIGNED

MB = 2**20


# --- PDF -----------------------------------------------------------------------------------------

def _deflate_spaces(n_bytes: int) -> bytes:
    """``n_bytes`` of spaces (valid content-stream whitespace), deflated (about 1:1000)."""
    comp = zlib.compressobj(9)
    chunk = b" " * MB
    out = [comp.compress(chunk) for _ in range(n_bytes // MB)]
    out.append(comp.compress(b" " * (n_bytes % MB)))
    out.append(comp.flush())
    return b"".join(out)


def pdf_bomb(inflated_mb: int = 400) -> bytes:
    """The real 数电票 PDF whose first page gets one more content stream: FlateDecode spaces
    that inflate to ``inflated_mb`` MB (the file grows by about 0.1 % of that)."""
    import pikepdf

    pdf = pikepdf.open(io.BytesIO(DIGITAL_PDF.read_bytes()))
    page = pdf.pages[0]
    bomb = pikepdf.Stream(pdf, _deflate_spaces(inflated_mb * MB))
    bomb.Filter = pikepdf.Name.FlateDecode
    contents = page.obj.get("/Contents")
    if isinstance(contents, pikepdf.Array):
        contents.append(pdf.make_indirect(bomb))
    else:
        page.obj.Contents = pikepdf.Array([contents, pdf.make_indirect(bomb)])
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)  # keep our stream as written
    return out.getvalue()


# --- OFD -----------------------------------------------------------------------------------------

def _rewrite(src: bytes, edit: dict[str, bytes], add: dict[str, bytes] | None = None) -> bytes:
    """The zip ``src`` with members replaced (``edit``) and added (``add``), deflated."""
    z = zipfile.ZipFile(io.BytesIO(src))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as w:
        for info in z.infolist():
            w.writestr(info.filename, edit.get(info.filename, z.read(info)), zipfile.ZIP_DEFLATED)
        for name, data in (add or {}).items():
            w.writestr(name, data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _page_content(z: zipfile.ZipFile) -> str:
    return next(n for n in z.namelist() if re.search(r"Pages/Page_0/Content\.xml$", n, re.I))


def ofd_many_objects(n: int = 100_000) -> bytes:
    """The real 数电票 OFD whose page gets ``n`` more TextObjects, spread over the page."""
    src = DIGITAL_OFD.read_bytes()
    z = zipfile.ZipFile(io.BytesIO(src))
    name = _page_content(z)
    text = z.read(name).decode("utf-8")
    objs = "".join(
        f'<ofd:TextObject ID="{900000 + i}" Boundary="{(i * 7) % 200} {(i * 13) % 130} 3 3" Font="1" Size="3">'
        f'<ofd:TextCode X="0" Y="2">{i % 10}</ofd:TextCode></ofd:TextObject>'
        for i in range(n))
    layer_end = text.index("</ofd:Layer>")
    return _rewrite(src, {name: (text[:layer_end] + objs + text[layer_end:]).encode()})


def _sparse_noise(n_bytes: int, every: int = 600, seed: int = 11) -> bytes:
    """Zeros with one random byte every ``every`` bytes: deflates about 1:150, under the
    package's ratio limit (200), so the member is accepted and must really be read."""
    import random

    rnd = random.Random(seed)
    buf = bytearray(n_bytes)
    for pos in range(rnd.randrange(every), n_bytes, every):
        buf[pos] = rnd.randrange(1, 256)
    return bytes(buf)


def ofd_many_references(refs: int = 400, member_mb: int = 50) -> bytes:
    """The real signed OFD with one ``member_mb`` MB member that its signature lists ``refs``
    times (each with a wrong digest, so every one must be hashed to find out)."""
    src = V4SIGNED.read_bytes()
    z = zipfile.ZipFile(io.BytesIO(src))
    sig = next(n for n in z.namelist() if n.endswith("Signature.xml") and "Sign_" in n)
    text = z.read(sig).decode("utf-8")
    extra = "".join('<ofd:Reference FileRef="/Doc_0/Res/big.bin"><ofd:CheckValue>'
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</ofd:CheckValue></ofd:Reference>"
                    for _ in range(refs))
    end = text.index("</ofd:References>")
    return _rewrite(src, {sig: (text[:end] + extra + text[end:]).encode()},
                    {"Doc_0/Res/big.bin": _sparse_noise(member_mb * MB)})


# --- XML -----------------------------------------------------------------------------------------

def xml_deep(depth: int = 200_000) -> bytes:
    """A 数电票-shaped XML nested ``depth`` elements deep."""
    return (b'<?xml version="1.0" encoding="UTF-8"?><EInvoice>' + b"<a>" * depth + b"</a>" * depth
            + b"</EInvoice>")


def xml_doctype_utf32() -> bytes:
    """A billion-laughs DOCTYPE, in UTF-32 so that a byte-level look for ``<!DOCTYPE`` misses it."""
    lol = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    text = ('<?xml version="1.0" encoding="UTF-32"?><!DOCTYPE EInvoice [' + "".join(lol) + ']>'
            "<EInvoice><Header><EIid>&l9;</EIid></Header></EInvoice>")
    return text.encode("utf-32")


# --- xlsx (the voucher import) ---------------------------------------------------------------------

def xlsx_giant_cell(cell_mb: int = 400) -> bytes:
    """A voucher sheet (the importer's headers, one row) whose 摘要 cell is ``cell_mb`` MB of
    "A", written inline into the sheet XML; it deflates to well under 1 MB."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.create_sheet("凭证", 0)
    ws.append(["凭证号", "日期", "摘要", "科目编码", "科目名称", "借方", "贷方", "部门", "职员", "发票"])
    ws.append(["1", "2025-11-28", "GIANTCELL", "6602", "管理费用", "1.00", "0.00", "", "", ""])
    buf = io.BytesIO()
    wb.save(buf)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as w:
        for info in z.infolist():
            data = z.read(info)
            if b"GIANTCELL" not in data:
                w.writestr(info.filename, data, zipfile.ZIP_DEFLATED)
                continue
            head, tail = data.split(b"GIANTCELL", 1)
            with w.open(info.filename, "w", force_zip64=True) as f:
                f.write(head)
                for _ in range(cell_mb):
                    f.write(b"A" * MB)
                f.write(tail)
    return out.getvalue()


# --- hostile functions (the test-only hook into a worker) -------------------------------------------

def spin(seconds: float) -> int:
    """Burn CPU for ``seconds`` (a parser in a loop)."""
    end = time.process_time() + seconds
    n = 0
    while time.process_time() < end:
        n += 1
    return n


def allocate(mb: int) -> int:
    """Hold ``mb`` megabytes (a parser that allocates without end)."""
    blocks = [bytearray(MB) for _ in range(mb)]
    return len(blocks)


def sleep(seconds: float) -> float:
    """Wait without using CPU (a reader stuck on a lock or a pipe)."""
    time.sleep(seconds)
    return seconds


def crash() -> None:
    """Die the way a C library does on a bad pointer."""
    os.abort()


def echo(value: object) -> object:
    return value

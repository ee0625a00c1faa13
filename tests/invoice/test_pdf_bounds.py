"""Decompression bombs in PDFs are refused fast, in bounded memory, before any renderer runs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pikepdf
import pytest

from invoice import parse
from invoice.errors import ErrorCode, ParseError
from invoice.pdf.bounds import check_pdf_stream_sizes
from invoice.verify import verify
from tests.invoice.test_pdf_bad_input import text_pdf
from tests.samples import DIGITAL_PDF, SAMPLES

REPO = Path(__file__).resolve().parents[2]


def _deflate_zeros(size: int) -> bytes:
    """``size`` zero bytes deflated, built 1 MiB at a time (the test never holds them)."""
    c = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    parts = [c.compress(chunk) for _ in range(size >> 20)]
    parts.append(c.flush())
    return b"".join(parts)


def _with_stream(base: bytes, raw: bytes, filters: list[str], image: dict | None = None) -> bytes:
    """``base`` with one more stream holding ``raw`` as encoded by ``filters``, drawn on page 1
    (as content) or, for ``image``, as an image XObject of the page; saved as is."""
    pdf = pikepdf.open(io.BytesIO(base))
    st = pikepdf.Stream(pdf, b"")
    names = [pikepdf.Name(f) for f in filters]
    st.write(raw, filter=names if len(names) != 1 else names[0])
    page = pdf.pages[0]
    if image is None:
        page.contents_add(st, prepend=False)
    else:
        for k, v in image.items():
            st[k] = v
        if "/XObject" not in page.Resources:
            page.Resources.XObject = pikepdf.Dictionary()
        page.Resources.XObject["/Bomb"] = st
    out = io.BytesIO()
    pdf.save(out, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb400() -> bytes:
    """A real invoice with one FlateDecode stream that inflates to 400 MB (~0.4 MB file)."""
    data = _with_stream(DIGITAL_PDF.read_bytes(), _deflate_zeros(400 << 20), ["/FlateDecode"])
    assert len(data) < 1_000_000
    return data


def _too_complex(data: bytes) -> ParseError:
    t0 = time.monotonic()
    with pytest.raises(ParseError) as info:
        parse(data)
    assert time.monotonic() - t0 < 10
    assert info.value.code is ErrorCode.TOO_COMPLEX, info.value
    return info.value


def test_flate_bomb_is_refused_naming_the_limit(bomb400: bytes) -> None:
    err = _too_complex(bomb400)
    assert "64 MiB" in err.text and "FAPIAO_MAX_PDF_STREAM_BYTES" in err.text
    assert err.where and err.where.startswith("object ")
    # the sandbox limits' shape: which limit, and its setting's value
    d = err.to_dict(file="bomb.pdf")
    assert d["code"] == "too_complex" and d["limit"] == "pdf_stream" and d["value"] == 64 << 20
    assert d["message"].startswith("bomb.pdf：") and "{" not in d["message"]


def test_verify_refuses_an_unsigned_bomb(bomb400: bytes) -> None:
    # no signature to read, so the parse meets the bomb: refused, never reported as "unsigned"
    with pytest.raises(ParseError) as info:
        verify(bomb400)
    assert info.value.code is ErrorCode.TOO_COMPLEX and info.value.limit_name == "pdf_stream"


def test_verify_refuses_the_bomb_too(bomb400: bytes) -> None:
    # verify() reads signatures first (pyHanko inflates streams for its difference analysis)
    with pytest.raises(ParseError) as info:
        verify(bomb400.replace(b"/Type /Catalog", b"/ByteRange [0 0 0 0] /Type /Catalog", 1))
    assert info.value.code in (ErrorCode.TOO_COMPLEX, ErrorCode.BAD_PDF)


def test_the_same_invoice_with_a_normal_extra_stream_is_read() -> None:
    ok = _with_stream(DIGITAL_PDF.read_bytes(), _deflate_zeros(4 << 20), ["/FlateDecode"])
    assert parse(ok).number == parse(DIGITAL_PDF.read_bytes()).number


def test_the_limit_is_a_setting() -> None:
    data = text_pdf(b"")  # any PDF; the bound is checked on a chosen stream below
    data = _with_stream(data, _deflate_zeros(8 << 20), ["/FlateDecode"])
    check_pdf_stream_sizes(data, max_stream=16 << 20, max_total=64 << 20)
    with pytest.raises(ParseError) as info:
        check_pdf_stream_sizes(data, max_stream=4 << 20, max_total=64 << 20)
    assert info.value.code is ErrorCode.TOO_COMPLEX and "4 MiB" in info.value.text


def test_many_streams_under_the_per_stream_limit_hit_the_total() -> None:
    pdf = pikepdf.open(io.BytesIO(text_pdf(b"")))
    raw = _deflate_zeros(8 << 20)
    for _ in range(5):
        st = pikepdf.Stream(pdf, b"")
        st.write(raw, filter=pikepdf.Name.FlateDecode)
        pdf.pages[0].contents_add(st, prepend=False)
    out = io.BytesIO()
    pdf.save(out, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    check_pdf_stream_sizes(out.getvalue(), max_stream=16 << 20, max_total=64 << 20)
    with pytest.raises(ParseError) as info:
        check_pdf_stream_sizes(out.getvalue(), max_stream=16 << 20, max_total=32 << 20)
    assert "FAPIAO_MAX_PDF_TOTAL_BYTES" in info.value.text


def test_bomb_behind_ascii85_is_found() -> None:
    import base64

    raw = base64.a85encode(_deflate_zeros(100 << 20), adobe=True)
    _too_complex(_with_stream(DIGITAL_PDF.read_bytes(), raw, ["/ASCII85Decode", "/FlateDecode"]))


def test_run_length_bomb_is_counted_without_expanding() -> None:
    raw = bytes([129, 0]) * (700_000) + b"\x80"  # each pair: 128 zeros
    _too_complex(_with_stream(DIGITAL_PDF.read_bytes(), raw, ["/RunLengthDecode"]))
    small = bytes([129, 0]) * 1000 + b"\x80"
    parse(_with_stream(DIGITAL_PDF.read_bytes(), small, ["/RunLengthDecode"]))


def _lzw_zeros(codes: int) -> bytes:
    """LZW (early change) of a long run of zeros: each code one byte longer than the last."""
    out, bits, nbits, width, nxt, prev = bytearray(), 0, 0, 9, 258, -1

    def put(code: int) -> None:
        nonlocal bits, nbits
        bits = (bits << width) | code
        nbits += width
        while nbits >= 8:
            nbits -= 8
            out.append((bits >> nbits) & 0xFF)
        bits &= (1 << nbits) - 1

    for i in range(codes):
        if nxt >= 4095:
            put(256)
            width, nxt, prev = 9, 258, -1
        code = 0 if prev < 0 else (nxt if i else 0)
        put(code)
        if prev >= 0:
            nxt += 1
        prev = code
        if nxt + 1 >= (1 << width) and width < 12:
            width += 1
    put(257)
    if nbits:
        out.append((bits << (8 - nbits)) & 0xFF)
    return bytes(out)


def test_lzw_bomb_is_counted_without_expanding() -> None:
    from invoice.pdf.bounds import _lzw_size

    small = _lzw_zeros(100)
    assert _lzw_size(small, 1 << 30) == sum(range(1, 101)) - sum(range(1, 1))  # 1+2+...+100
    _too_complex(_with_stream(DIGITAL_PDF.read_bytes(), _lzw_zeros(300_000), ["/LZWDecode"]))


def test_huge_image_dimensions_are_refused() -> None:
    image = {"/Type": pikepdf.Name.XObject, "/Subtype": pikepdf.Name.Image,
             "/Width": 100_000, "/Height": 100_000, "/ColorSpace": pikepdf.Name.DeviceRGB,
             "/BitsPerComponent": 8}
    err = _too_complex(_with_stream(DIGITAL_PDF.read_bytes(), b"\xff\xd8\xff\xd9", ["/DCTDecode"],
                                    image))
    assert "FAPIAO_MAX_PDF_TOTAL_BYTES" in err.text


def test_every_real_sample_pdf_passes_the_bounds() -> None:
    pdfs = sorted(SAMPLES.rglob("*.pdf"))
    assert pdfs
    for p in pdfs:
        check_pdf_stream_sizes(p.read_bytes())


_MEASURE = r"""
import json, resource, sys, threading, time
from invoice import parse
from invoice.errors import InvoiceError
data = open(sys.argv[1], "rb").read()
n = int(sys.argv[2])
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
parse(open(sys.argv[3], "rb").read())  # warm up: libraries loaded
base = rss()
codes = []
def one():
    try:
        parse(data)
    except InvoiceError as e:
        codes.append(e.code.value)
t0 = time.monotonic()
threads = [threading.Thread(target=one) for _ in range(n)]
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.monotonic() - t0
# VmHWM: this process's own peak (ru_maxrss would include the forking parent's size)
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
print(json.dumps({"elapsed": elapsed, "peak": peak, "base": base, "after": rss(), "codes": codes}))
"""


@pytest.mark.parametrize("n", [1, 3])
def test_bomb_time_and_memory_in_a_fresh_process(bomb400: bytes, tmp_path: Path, n: int) -> None:
    f = tmp_path / "bomb.pdf"
    f.write_bytes(bomb400)
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(f), str(n), str(DIGITAL_PDF)],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    assert m["codes"] == ["too_complex"] * n
    assert m["elapsed"] < 10
    assert m["peak"] < 500 * 1024 * 1024
    assert m["after"] - m["base"] < 50 * 1024 * 1024  # memory does not stay high afterwards

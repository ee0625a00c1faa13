"""Bad PDFs: each a ParseError with a clear code and message, in bounded time."""

from __future__ import annotations

import random
import time

import pytest

from core.settings import Settings
from invoice import parse
from invoice.errors import ErrorCode, ParseError
from invoice.pdf import parse_pdf
from tests.samples import SAMPLES

BOUND_S = 10.0  # generous for a shared 2-core machine; real times are milliseconds


def build_pdf(objects: list[bytes]) -> bytes:
    """A syntactically valid PDF of the given object bodies (object 1 is the catalog)."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def text_pdf(content: bytes) -> bytes:
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])


def _fails(data: bytes, code: ErrorCode) -> ParseError:
    t0 = time.monotonic()
    with pytest.raises(ParseError) as ei:
        parse_pdf(data)
    assert time.monotonic() - t0 < BOUND_S
    assert ei.value.code is code, ei.value
    assert ei.value.message
    return ei.value


def test_builder_makes_a_readable_pdf() -> None:
    # The helper itself works: a text PDF opens and its text is found (not an invoice).
    err = _fails(text_pdf(b"BT /F1 24 Tf 72 720 Td (Quarterly report 2024) Tj ET"),
                 ErrorCode.NOT_AN_INVOICE)
    assert "not an invoice" in err.message


def test_empty() -> None:
    _fails(b"", ErrorCode.EMPTY_FILE)
    with pytest.raises(ParseError) as ei:
        parse(b"")
    assert ei.value.code is ErrorCode.EMPTY_FILE


def test_random_bytes_with_pdf_header() -> None:
    rnd = random.Random(7)
    body = bytes(rnd.getrandbits(8) for _ in range(5000))
    err = _fails(b"%PDF-1.7\n" + body + b"\n%%EOF\n", ErrorCode.BAD_PDF)
    assert "cannot open" in err.message
    # without an end marker it is reported as truncated
    err = _fails(b"%PDF-1.7\n" + body, ErrorCode.BAD_PDF)
    assert "truncated" in err.message


def test_truncated_real_invoice() -> None:
    data = (SAMPLES / "invoices/MARSCHEN-CN__FapiaoGO/test.pdf").read_bytes()
    err = _fails(data[: len(data) // 2], ErrorCode.BAD_PDF)
    assert "truncated" in err.message


def test_deeply_nested_page_tree() -> None:
    depth = 3000
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for i in range(depth):
        me = 2 + i
        parent = b"/Parent %d 0 R " % (me - 1) if i else b""
        objs.append(b"<< /Type /Pages " + parent + b"/Kids [%d 0 R] /Count 1 >>" % (me + 1))
    objs.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] >>" % (depth + 1))
    err = _fails(build_pdf(objs), ErrorCode.BAD_PDF)
    assert "too deeply nested page tree" in err.message and err.where == "page 1"


def test_self_referencing_form_xobject_and_page_tree() -> None:
    # A form that draws itself, and a page tree whose Pages node lists itself as a kid.
    form_loop = build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /XObject << /X1 5 0 R >> >> >>",
        b"<< /Length 8 >>\nstream\n/X1 Do  \nendstream",
        b"<< /Type /XObject /Subtype /Form /BBox [0 0 10 10] "
        b"/Resources << /XObject << /X1 5 0 R >> >> /Length 8 >>\nstream\n/X1 Do  \nendstream",
    ])
    _fails(form_loop, ErrorCode.NOT_AN_INVOICE)
    cyclic = build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ])
    _fails(cyclic, ErrorCode.NOT_AN_INVOICE)


def test_deeply_nested_arrays() -> None:
    # 20,000 nested arrays as a TJ operand and in the page dictionary: read without
    # expanding or crashing, then reported as no invoice.
    n = 20000
    deep = b"[" * n + b"(x)" + b"]" * n
    err = _fails(text_pdf(b"BT /F1 12 Tf 72 720 Td " + deep + b" TJ ET"),
                 ErrorCode.NOT_AN_INVOICE)
    assert "no readable text" in err.message
    in_page = build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Deep " + deep + b" >>",
    ])
    _fails(in_page, ErrorCode.NOT_AN_INVOICE)


def test_recursion_in_pdfminer_is_caught() -> None:
    # With pdfminer's warnings switched on (an operator debugging imports), pdfminer formats
    # the nested operand for its log message and recurses past Python's limit: the
    # RecursionError is caught and reported; the process survives.
    import logging

    log = logging.getLogger("pdfminer")
    old = log.level
    log.setLevel(logging.WARNING)
    try:
        n = 20000
        content = b"BT /F1 12 Tf 72 720 Td " + b"[" * n + b"(x)" + b"]" * n + b" TJ ET"
        err = _fails(text_pdf(content), ErrorCode.BAD_PDF)
    finally:
        log.setLevel(old)
    assert "too deeply" in err.message


def test_slow_pdf_hits_the_time_limit(settings: Settings) -> None:
    # 300k text-showing operators: PDFium reads them in a blink, then finds no invoice, and
    # pdfminer (the fallback) would take many seconds: the deadline stops it.
    settings.parse_timeout_seconds = 1.0
    content = b"BT /F1 1 Tf " + b"1 0 0 1 10 10 Tm (a) Tj " * 300_000 + b"ET"
    t0 = time.monotonic()
    err = _fails(text_pdf(content), ErrorCode.TIMEOUT)
    assert time.monotonic() - t0 < 5.0
    assert "longer than 1 s" in err.message


def test_vat_preview_pdf_is_not_an_invoice() -> None:
    # A VAT invoice preview (仅供预览) is refused; the air itinerary preview is read and
    # marked instead (test_pdf.py::test_air_itinerary_preview_is_read_but_cannot_be_reimbursed).
    from tests.invoice.pdfbuild import pdf_of

    data = pdf_of([(10, 5, "仅供预览"), (60, 5, "电子发票（普通发票）", 14),
                   (130, 15, "发票号码:25447000001115703415"), (130, 22, "开票日期:2025年01月02日"),
                   (120, 100, "（小写）¥100.00")])
    err = _fails(data, ErrorCode.NOT_AN_INVOICE)
    assert "preview" in err.message


def test_parser_still_works_after_a_timeout(settings: Settings) -> None:
    # The asynchronous timeout must not leak into later work in the same thread.
    settings.parse_timeout_seconds = 0.5
    content = b"BT /F1 1 Tf " + b"1 0 0 1 10 10 Tm (a) Tj " * 300_000 + b"ET"
    _fails(text_pdf(content), ErrorCode.TIMEOUT)
    settings.parse_timeout_seconds = 20.0
    inv = parse_pdf((SAMPLES / "invoices/MARSCHEN-CN__FapiaoGO/test.pdf").read_bytes())
    assert inv.number == "25447000001115703415"
    time.sleep(0.6)  # past the old deadline: nothing fires
    assert sum(range(1000)) == 499500


def test_time_limit_works_outside_the_main_thread(settings: Settings) -> None:
    # Web workers are not the main thread, where signal-based alarms cannot be used.
    import threading

    settings.parse_timeout_seconds = 0.5
    content = b"BT /F1 1 Tf " + b"1 0 0 1 10 10 Tm (a) Tj " * 300_000 + b"ET"
    data = text_pdf(content)
    result: dict[str, object] = {}

    def work() -> None:
        try:
            parse_pdf(data)
        except ParseError as exc:
            result["code"] = exc.code

    t = threading.Thread(target=work)
    t0 = time.monotonic()
    t.start()
    t.join(30)
    assert not t.is_alive()
    assert result["code"] is ErrorCode.TIMEOUT
    assert time.monotonic() - t0 < 5.0


def test_concurrent_parses_are_serialised_safely() -> None:
    # PDFium is not thread-safe; parse_pdf serialises its calls. Four threads, same answers.
    from concurrent.futures import ThreadPoolExecutor

    files = sorted((SAMPLES / "invoices").glob("*/*.pdf"))
    datas = [p.read_bytes() for p in files] * 3
    with ThreadPoolExecutor(4) as pool:
        numbers = list(pool.map(lambda d: parse_pdf(d).number, datas))
    single = [parse_pdf(d).number for d in datas]
    assert numbers == single
    assert len(set(numbers)) == len(files)

"""Scans and photos of invoices (invoice/image): read, bounded, never more than unsigned.

Every scan is built here from a real sample PDF (tests/scans.py: rendered at 150-200 dpi,
turned by up to 3 degrees, JPEG quality 80 with noise), never stored in the repository.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from core.db import session_scope
from core.settings import Settings
from invoice import parse
from invoice.analysis import analyse_sandboxed, scan_limits
from invoice.detect import detect_format
from invoice.errors import ErrorCode, ParseError
from invoice.importer import ingest_files
from invoice.model import FieldSource, SourceFormat
from invoice.verify import verify
from invoice.verify.report import SignatureReport, VerifyStatus
from tests.samples import EXPECTED, INVOICES
from tests.scans import ScanSpec, make_scan, scan_set

EXPECTED_BY_FILE: dict[str, dict[str, Any]] = {e["file"]: e["expected"] for e in EXPECTED}


def _expected(spec: ScanSpec) -> dict[str, Any]:
    return EXPECTED_BY_FILE[f"invoices/{spec.source}"]


_SCANS: dict[ScanSpec, bytes] = {}


def _scan(spec: ScanSpec) -> bytes:
    if spec not in _SCANS:
        _SCANS[spec] = make_scan(spec)
    return _SCANS[spec]


DIGITAL = ScanSpec("MARSCHEN-CN__FapiaoGO/test.pdf", dpi=175, angle=-2.0, quality=80)


# --- format detection ----------------------------------------------------------------------------

def test_jpeg_and_png_are_told_by_their_magic_bytes() -> None:
    assert detect_format(_scan(DIGITAL)) is SourceFormat.IMAGE
    png = make_scan(ScanSpec(DIGITAL.source, dpi=150, angle=1.0, quality=0))
    assert detect_format(png) is SourceFormat.IMAGE


def test_other_pictures_are_not_taken_for_scans() -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    assert detect_format(out.getvalue()) is None
    with pytest.raises(ParseError) as ei:
        parse(out.getvalue())
    assert ei.value.code is ErrorCode.UNKNOWN_FORMAT


# --- reading -------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", scan_set(full=False), ids=lambda s: s.name)
def test_scan_of_a_real_invoice_gives_number_date_and_total(spec: ScanSpec) -> None:
    inv = parse(_scan(spec))
    want = _expected(spec)
    assert inv.source_format is SourceFormat.IMAGE
    assert (inv.number, inv.issue_date, str(inv.total)) == (want["number"], want["issue_date"], want["total"])
    assert inv.field_sources["number"] in (FieldSource.QR_CODE.value, FieldSource.OCR.value)
    assert set(inv.field_sources.values()) <= {FieldSource.QR_CODE.value, FieldSource.OCR.value,
                                              FieldSource.DERIVED.value}
    assert inv.to_dict()["source_format"] == "image"
    # OCR may miss a tax ID, but one it gives has passed its check character: never a wrong one.
    for role in ("buyer", "seller"):
        assert getattr(inv, role).tax_id in (None, want[role]["tax_id"])


def test_scan_fields_say_qr_or_ocr() -> None:
    inv = parse(_scan(DIGITAL))
    want = _expected(DIGITAL)
    # The QR payload gives the key fields; OCR the parties it can read.
    assert inv.field_sources["number"] == "qr_code" and inv.field_locations["number"] == "qr"
    assert inv.field_sources["total"] == "qr_code"
    assert inv.kind.value == "digital_ordinary"
    assert inv.seller.name == want["seller"]["name"]
    assert inv.field_sources["seller.name"] == "ocr" and inv.field_locations["seller.name"] == "ocr"


def test_png_scan_is_read_too() -> None:
    spec = ScanSpec("ljfdufe__fapiao-print/7.22底座.pdf", dpi=150, angle=-1.0, quality=0)
    inv = parse(make_scan(spec))
    assert (inv.number, str(inv.total)) == (_expected(spec)["number"], _expected(spec)["total"])


def test_image_only_pdf_is_read_as_a_scan() -> None:
    from PIL import Image

    img = Image.open(io.BytesIO(_scan(DIGITAL)))
    out = io.BytesIO()
    img.save(out, "PDF", resolution=175.0)
    inv = parse(out.getvalue())
    want = _expected(DIGITAL)
    assert inv.source_format is SourceFormat.IMAGE and inv.extra["scan"] == "pdf_image"
    assert (inv.number, inv.issue_date, str(inv.total)) == (want["number"], want["issue_date"], want["total"])


def test_pdf_with_text_is_not_taken_for_a_scan() -> None:
    inv = parse((INVOICES / DIGITAL.source).read_bytes())
    assert inv.source_format is SourceFormat.PDF and "scan" not in inv.extra


def test_blank_picture_is_no_invoice() -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (800, 500), "white").save(out, "JPEG")
    with pytest.raises(ParseError) as ei:
        parse(out.getvalue())
    assert ei.value.code is ErrorCode.NOT_AN_INVOICE


# --- bounds --------------------------------------------------------------------------------------

def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header promises ``width`` x ``height`` grey pixels, with a few rows of data:
    a few hundred bytes that a naive decoder would expand to width * height bytes."""
    rows = zlib.compress((b"\x00" + b"\x00" * width) * 4, 9)
    return (b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b""))


def test_decompression_bomb_png_is_refused_before_decoding() -> None:
    bomb = bomb_png(60_000, 60_000)  # 3.6 gigapixels
    assert len(bomb) < 2000
    with pytest.raises(ParseError) as ei:
        parse(bomb)
    err = ei.value
    assert err.code is ErrorCode.TOO_COMPLEX and err.limit_name == "image_pixels"
    assert "像素" in err.text and "FAPIAO_SCAN_MAX_PIXELS" in err.text


def test_picture_within_the_caps_passes_them(settings: Settings) -> None:
    settings.scan_max_pixels = 2_000_000
    spec = ScanSpec(DIGITAL.source, dpi=150, angle=1.0)
    inv = parse(make_scan(spec))  # about 1.3 megapixels
    assert inv.number == _expected(spec)["number"]
    settings.scan_max_pixels = 1_000_000
    with pytest.raises(ParseError) as ei:
        parse(make_scan(spec))
    assert ei.value.code is ErrorCode.TOO_COMPLEX and ei.value.limit_name == "image_pixels"


def test_too_long_a_side_is_refused(settings: Settings) -> None:
    settings.scan_max_side = 5000
    with pytest.raises(ParseError) as ei:
        parse(bomb_png(6000, 10))
    assert ei.value.code is ErrorCode.TOO_COMPLEX and ei.value.limit_name == "image_side"
    assert "边长" in ei.value.text


@pytest.mark.parametrize("weasyprint_loaded", [False, True])
def test_truncated_jpeg_is_a_bad_image(weasyprint_loaded: bool) -> None:
    if weasyprint_loaded:  # it sets Pillow's LOAD_TRUNCATED_IMAGES for the whole process
        import weasyprint  # noqa: F401
        from PIL import ImageFile

        assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    data = _scan(DIGITAL)
    with pytest.raises(ParseError) as ei:
        parse(data[: len(data) // 2])
    assert ei.value.code is ErrorCode.BAD_IMAGE
    assert "损坏或不完整" in ei.value.text


def test_sandbox_refuses_a_bomb_and_reads_a_scan(settings: Settings) -> None:
    bomb = analyse_sandboxed(bomb_png(60_000, 60_000), "bomb.png")
    assert bomb.invoice is None and bomb.error is not None
    assert bomb.error["code"] == "too_complex" and bomb.error["limit"] == "image_pixels"
    assert "bomb.png" in bomb.error["message"]
    ok = analyse_sandboxed(_scan(DIGITAL), "scan.jpg")
    assert ok.error is None and ok.invoice is not None
    assert ok.invoice.number == _expected(DIGITAL)["number"]
    assert ok.report is not None and ok.report["status"] == "unsigned"


def test_scans_get_the_scan_limits_and_other_files_the_default(settings: Settings) -> None:
    lim = scan_limits(_scan(DIGITAL)[:16])
    assert lim is not None and lim.cpu_seconds == settings.scan_cpu_seconds
    assert lim.wall_seconds == settings.scan_wall_seconds
    assert scan_limits((INVOICES / DIGITAL.source).read_bytes()[:16]) is None


# --- trust ---------------------------------------------------------------------------------------

def test_a_scan_is_unsigned_and_says_so_in_chinese() -> None:
    report = verify(_scan(DIGITAL))
    assert report.status is VerifyStatus.UNSIGNED
    codes = {i.code: i for i in report.issues}
    assert "scan.unsigned" in codes and "扫描件" in codes["scan.unsigned"].message
    assert "查验" in codes["scan.unsigned"].message


def test_a_signature_on_a_picture_does_not_make_it_more_than_unsigned() -> None:
    from invoice.verify import _cap_scan

    signed = [SignatureReport(id="1", location="/Sig", status=VerifyStatus.VALID)]
    problems: list[str] = []
    status, issues = _cap_scan(VerifyStatus.VALID, SourceFormat.PDF, signed, problems)
    assert status is VerifyStatus.UNSIGNED
    assert {i.code for i in issues} == {"scan.unsigned", "scan.signed_pdf_image"} and problems
    broken = [SignatureReport(id="1", location="/Sig", status=VerifyStatus.INVALID)]
    status, _ = _cap_scan(VerifyStatus.INVALID, SourceFormat.PDF, broken, [])
    assert status is VerifyStatus.INVALID  # a changed file stays invalid


def test_a_scan_of_a_registered_invoice_is_a_duplicate(engine: Engine, settings: Settings) -> None:
    pdf = (INVOICES / DIGITAL.source).read_bytes()
    first = ingest_files([("invoice.pdf", pdf)], "clerk1")
    assert len(first.imported) == 1, first.to_dict()
    again = ingest_files([("photo.jpg", _scan(DIGITAL))], "clerk2")
    assert not again.imported and len(again.duplicates) == 1, again.to_dict()
    assert again.duplicates[0]["duplicate_of"]["invoice_id"] == first.imported[0]["invoice_id"]


def test_a_registered_scan_needs_the_online_check(engine: Engine, settings: Settings) -> None:
    from accounting.invoice_status import InvoiceStatus, invoice_status
    from invoice.registry import get_invoice

    result = ingest_files([("photo.jpg", _scan(DIGITAL))], "clerk1")
    assert len(result.imported) == 1, result.to_dict()
    with session_scope() as s:
        record = get_invoice(s, result.imported[0]["invoice_id"])
        assert record.source_format == "image"
        st = invoice_status(s, record)
        assert st.status is InvoiceStatus.NEEDS_CHECK and st.online_check_pending


# --- tax IDs read by OCR ---------------------------------------------------------------------------

def test_ocr_tax_id_that_checks_is_kept_and_a_lookalike_repaired() -> None:
    from invoice.image.repair import is_uscc, repair_uscc

    for e in EXPECTED:
        for role in ("buyer", "seller"):
            tid = (e.get("expected") or {}).get(role, {}).get("tax_id")
            if tid and is_uscc(tid) and tid[:2] == "91":
                assert repair_uscc(tid) == tid
                swapped = tid[:10] + tid[10:].replace("0", "O")
                assert repair_uscc(swapped) == tid  # O is outside the alphabet: read as 0


def test_ocr_tax_id_that_does_not_check_is_dropped() -> None:
    from invoice.image.repair import repair_uscc

    tid = EXPECTED_BY_FILE["invoices/MARSCHEN-CN__FapiaoGO/test.pdf"]["seller"]["tax_id"]
    broken = tid[:-1] + ("A" if tid[-1] != "A" else "B")  # the check character is wrong
    assert repair_uscc(broken) in (None, tid)
    assert repair_uscc(tid[:5] + "XY" + tid[5:] + "QQ") is None  # far off: not guessed

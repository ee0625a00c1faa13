"""PDF invoices: every PDF sample in expected.json reads to exactly its expected fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from invoice import parse
from invoice.errors import ErrorCode, ParseError
from invoice.model import FieldSource, InvoiceKind
from invoice.pdf import parse_pdf
from invoice.pdf.fields import parse_cn_amount
from invoice.pdf.text import Char, garbage_ratio, group_segments, is_letter_spaced
from invoice.qr import parse_qr
from tests.samples import DIGITAL_PDF, EXPECTED, OTHER, SAMPLES

PDF_ENTRIES = [e for e in EXPECTED if e["file"].endswith(".pdf")]
MALFORMED = "invoices/renoyuan__easyofd/blob-cc0d1a40-test.pdf"


def test_all_pdf_samples_are_covered() -> None:
    # Five PDFs are listed today; a new one must not silently escape the comparison below.
    assert len(PDF_ENTRIES) == 5
    assert any(e["file"] == MALFORMED and e["kind"] == "malformed" for e in PDF_ENTRIES)


def _compare(got: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, want in expected.items():
        if key == "items":
            assert len(got["items"]) == len(want), got["items"]
            for gi, wi in zip(got["items"], want, strict=True):
                for k, v in wi.items():
                    assert gi[k] == v, (k, gi, wi)
        else:
            assert got[key] == want, (key, got[key], want)


@pytest.mark.parametrize("entry", PDF_ENTRIES, ids=[e["file"].split("/")[-1] + ":" + e["sha256"][:6]
                                                    for e in PDF_ENTRIES])
def test_pdf_sample_reads_to_expected(entry: dict[str, Any]) -> None:
    data = (SAMPLES / entry["file"]).read_bytes()
    inv = parse(data)
    got = inv.to_dict()
    _compare(got, entry["expected"])
    assert got["source_format"] == "pdf"
    assert got["sha256"] == entry["sha256"]
    if entry["kind"] == "malformed":
        # notes: a broken 数电 普通发票 render whose values lie OUTSIDE the MediaBox; the
        # expected values come from the full text layer. We read that layer (not what a viewer
        # shows) and say so.
        assert got["kind"] == InvoiceKind.DIGITAL_ORDINARY.value
        assert "outside the page box" in got["extra"]["pdf_notes"]
    else:
        assert got["kind"] == entry["kind"]
    # money is Decimal, sources are real FieldSource values
    assert isinstance(inv.total, Decimal)
    valid = {s.value for s in FieldSource}
    assert set(got["field_sources"].values()) <= valid
    for f in ("number", "total", "buyer.name", "seller.name"):
        assert f in got["field_sources"], f


def test_qr_code_is_decoded_and_agrees_with_the_text() -> None:
    # test.pdf (FapiaoGO) carries its QR as an embedded image: notes give the payload.
    inv = parse_pdf((SAMPLES / "invoices/MARSCHEN-CN__FapiaoGO/test.pdf").read_bytes())
    assert inv.extra["qr"] == "01,32,,25447000001115703415,50.00,20250923,,0CA3"
    assert "qr_mismatch" not in inv.extra
    # blob-8295d3f8: empty QR fields hold a space; still parsed and consistent.
    inv = parse_pdf((SAMPLES / "invoices/renoyuan__easyofd/blob-8295d3f8-test.pdf").read_bytes())
    assert inv.extra["qr"].startswith("01,31, ,23512000000005197325")
    assert "qr_mismatch" not in inv.extra


def test_old_style_check_code_has_no_spaces() -> None:
    inv = parse_pdf((SAMPLES / "invoices/renoyuan__easyofd/test.pdf").read_bytes())
    assert inv.check_code == "18001801513030862041"  # printed '18001 80151 30308 62041'
    assert inv.key == "052002100113:00008006"


def test_air_itinerary_preview_is_read_but_cannot_be_reimbursed() -> None:
    # The airline's preview (仅供预览, number Long.MAX) is recognised as an air itinerary and
    # its fields read, but it is marked as a preview and its check fails: never claimable.
    from datetime import date

    from invoice.verify.checks import check_preview, run_checks
    from invoice.verify.report import CheckResult

    inv = parse_pdf((OTHER / "ofdrw__ofdrw" / "xbrl-001.pdf").read_bytes())
    assert inv.kind is InvoiceKind.AIR_ITINERARY
    assert inv.extra["preview"] == "仅供预览"
    assert inv.number == "9223372036854775807" and inv.total == Decimal("620.00")
    check = check_preview(inv)
    assert check is not None and check.result is CheckResult.FAIL
    assert "仅供预览" in check.message and "不能直接报销" in check.message
    assert any(c.id == "voucher_preview" and c.result is CheckResult.FAIL
               for c in run_checks(inv, date(2021, 8, 1)))


# --- QR payloads -------------------------------------------------------------------------------


def test_parse_qr_old_style() -> None:
    qr = parse_qr("01,10,033002000211,12345678,181.14,20200805,12345678901234567890,A1B2")
    assert qr is not None
    assert (qr.kind, qr.code, qr.number, qr.amount, qr.issue_date, qr.check_code) == (
        InvoiceKind.VAT_E_ORDINARY, "033002000211", "12345678", Decimal("181.14"), "2020-08-05",
        "12345678901234567890")
    assert qr.total is None and not qr.digital


def test_parse_qr_digital_with_space_fields() -> None:
    qr = parse_qr("01,31, ,23512000000005197325,2150.63,20230130, ,F366")
    assert qr is not None
    assert qr.kind is InvoiceKind.DIGITAL_SPECIAL and qr.code is None
    assert qr.total == Decimal("2150.63") and qr.amount is None


@pytest.mark.parametrize("payload", [
    "hello world",
    "01,61,,9223372036854775807,620,20210728,,7890",  # an air itinerary preview's QR
    "01,32,,2544700000111570341,50.00,20250923,,0CA3",  # 19 digits
    "01,10,033002000211,12345678,181.14,20201305,12345678901234567890,A1B2",  # month 13
    "01,10,0330020002,1234567,181.14,20200805,,A1B2",  # 7-digit number
])
def test_parse_qr_refuses_malformed(payload: str) -> None:
    assert parse_qr(payload) is None


# --- text helpers --------------------------------------------------------------------------------


def test_cid_and_private_use_glyphs_count_as_garbage() -> None:
    good = [Char(c, i * 10.0, 0, i * 10.0 + 9, 10, 10) for i, c in enumerate("发票号码")]
    bad = [Char("(cid:123)", 0, 0, 9, 10, 10), Char("\ue001", 10, 0, 19, 10, 10),
           Char("\ufffd", 20, 0, 29, 10, 10)]
    assert garbage_ratio(good) == 0.0
    assert garbage_ratio(good + bad) == pytest.approx(3 / 7)


def test_letter_spaced_glyphs_are_joined() -> None:
    # Digits drawn one by one 11pt apart (size 8) as ReportLab renders do, then a column gap.
    chars = [Char(d, 100 + 11 * i, 0, 104 + 11 * i, 8, 8) for i, d in enumerate("2129.34")]
    chars += [Char(d, 300 + 11 * i, 0, 304 + 11 * i, 8, 8) for i, d in enumerate("21.29")]
    assert is_letter_spaced(chars)
    assert [s.text for s in group_segments(chars)] == ["2129.34", "21.29"]


def test_amount_in_words() -> None:
    assert parse_cn_amount("捌仟捌佰壹拾玖圆陆角整") == Decimal("8819.60")
    assert parse_cn_amount("贰万伍仟贰佰伍拾肆圆陆角贰分") == Decimal("25254.62")
    assert parse_cn_amount("壹仟肆佰柒拾圆整") == Decimal("1470")
    assert parse_cn_amount("伍拾圆整") == Decimal("50")
    assert parse_cn_amount("中国移动") is None


# --- unreadable text: fall back to the QR payload -------------------------------------------------


def _qr_pdf(payload: str, cid_codes: bytes) -> bytes:
    """A page with a QR image and text in an Identity-H font without ToUnicode: PDFium reads
    the glyph ids as random CJK characters, pdfminer as (cid:NNN)."""
    import zxingcpp

    from tests.invoice.test_pdf_bad_input import build_pdf

    img = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode).to_image(scale=4)
    pix = bytes(memoryview(img))
    h, w = img.shape[:2]
    content = (b"q 120 0 0 120 400 650 cm /Im1 Do Q BT /F1 14 Tf 60 760 Td <"
               + cid_codes.hex().encode() + b"> Tj ET")
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> /XObject << /Im1 7 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /SimSun /Encoding /Identity-H "
        b"/DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /SimSun /CIDSystemInfo "
        b"<< /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (w, h, len(pix)) + pix + b"\nendstream",
    ])


def test_cid_garbage_text_falls_back_to_the_qr_code() -> None:
    payload = "01,10,033002000211,12345678,181.14,20200805,12345678901234567890,A1B2"
    inv = parse_pdf(_qr_pdf(payload, bytes(range(1, 60))))
    d = inv.to_dict()
    assert (d["kind"], d["code"], d["number"], d["issue_date"], d["check_code"], d["amount"]) == (
        "vat_e_ordinary", "033002000211", "12345678", "2020-08-05", "12345678901234567890",
        "181.14")
    assert d["field_sources"]["number"] == FieldSource.QR_CODE.value
    # nothing of the garbage text is returned as a field
    assert d["buyer"] == {"name": None, "tax_id": None}
    assert d["seller"] == {"name": None, "tax_id": None}
    assert "unmapped glyphs" in d["extra"]["pdf_notes"]


def test_garbage_text_without_qr_is_an_error() -> None:
    from tests.invoice.test_pdf_bad_input import text_pdf

    with pytest.raises(ParseError) as ei:
        parse_pdf(text_pdf(b"BT /F1 12 Tf 72 720 Td (\x01\x02\x03\x04\x05\x06\x07) Tj ET"))
    assert ei.value.code is ErrorCode.NOT_AN_INVOICE


def test_qr_fills_gaps_and_records_disagreement() -> None:
    from invoice.model import Invoice, SourceFormat
    from invoice.pdf import _merge_qr

    qr = parse_qr("01,32,,25447000001115703415,50.00,20250923,,0CA3")
    assert qr is not None
    inv = Invoice(kind=InvoiceKind.DIGITAL_ORDINARY, source_format=SourceFormat.PDF,
                  number="25447000001115703415", issue_date=None, total=Decimal("51.00"))
    _merge_qr(inv, qr)
    assert inv.issue_date == "2025-09-23" and inv.field_sources["issue_date"] == "qr_code"
    assert inv.total == Decimal("51.00")  # the text keeps its value ...
    assert "total: text 51.00 vs QR 50.00" in inv.extra["qr_mismatch"]  # ... and it is flagged


def test_remarks_box_and_drawer() -> None:
    inv = parse_pdf((SAMPLES / "invoices/ljfdufe__fapiao-print/7.22底座.pdf").read_bytes())
    assert inv.remarks == "购方开户银行:江苏银行天惠支行; 银行账号:23340188000000753;"
    assert inv.drawer == "杨建清"
    # blob-8295d3f8 draws the drawer's name a second time under the totals: not a remark
    inv = parse_pdf((SAMPLES / "invoices/renoyuan__easyofd/blob-8295d3f8-test.pdf").read_bytes())
    assert inv.drawer == "石富阳" and inv.remarks is None


def test_party_names_keep_full_width_brackets() -> None:
    from invoice.model import Party
    from invoice.pdf import _party

    assert _party(Party("华为技术(北京)有限公司", "91110000x")) == Party(
        "华为技术（北京）有限公司", "91110000X")
    assert _party(Party("ACME (HK) Ltd", None)) == Party("ACME (HK) Ltd", None)


def test_layout_reader_on_synthetic_segments() -> None:
    # An old-style table whose item names have no *category* prefix, the second one wrapping
    # onto a second line; a 免税 line with *** tax. Positions as a 9pt PDF would give.
    from invoice.pdf.fields import read_fields
    from invoice.pdf.text import Segment

    def seg(text: str, x: float, y: float) -> Segment:
        return Segment(text, x, y, x + 9 * len(text), y + 9, 9)

    segs = [
        seg("增值税电子普通发票", 200, 10), seg("发票代码:", 400, 10), seg("033002000211", 450, 10),
        seg("发票号码:", 400, 25), seg("12345678", 450, 25),
        seg("开票日期:", 400, 40), seg("2020年08月05日", 450, 40),
        seg("校验码:", 400, 55), seg("12345", 440, 55), seg("67890", 490, 55),
        seg("12345", 540, 55), seg("67890", 590, 55),
        seg("名称:", 40, 80), seg("甲公司", 70, 80),
        seg("纳税人识别号:", 40, 95), seg("91440106068698695J", 110, 95),
        seg("货物或应税劳务、服务名称", 20, 130), seg("规格型号", 240, 130), seg("单位", 300, 130),
        seg("数量", 350, 130), seg("单价", 400, 130), seg("金额", 460, 130),
        seg("税率", 520, 130), seg("税额", 570, 130),
        seg("办公用品", 20, 145), seg("个", 300, 145), seg("2", 355, 145), seg("50", 400, 145),
        seg("100.00", 455, 145), seg("3%", 520, 145), seg("3.00", 570, 145),
        seg("鲜活蔬菜", 20, 160), seg("公斤", 300, 160), seg("10", 355, 160), seg("8", 400, 160),
        seg("80.00", 455, 160), seg("免税", 520, 160), seg("***", 570, 160),
        seg("与水果", 20, 172),
        seg("合计", 40, 200), seg("¥180.00", 455, 200), seg("¥3.00", 570, 200),
        seg("价税合计(大写)", 20, 215), seg("壹佰捌拾叁圆整", 200, 215),
        seg("(小写)", 420, 215), seg("¥183.00", 470, 215),
        seg("名称:", 40, 240), seg("乙商店", 70, 240),
        seg("纳税人识别号:", 40, 255), seg("91440101MA5AL52Y44", 110, 255),
        seg("收款人:", 20, 290), seg("开票人:", 300, 290), seg("王五", 340, 290),
    ]
    f = read_fields(segs)
    assert f.kind is InvoiceKind.VAT_E_ORDINARY
    assert (f.code, f.number, f.issue_date, f.check_code) == (
        "033002000211", "12345678", "2020-08-05", "12345678901234567890")
    assert (f.buyer.name, f.buyer.tax_id) == ("甲公司", "91440106068698695J")
    assert (f.seller.name, f.seller.tax_id) == ("乙商店", "91440101MA5AL52Y44")
    assert (f.amount, f.tax, f.total) == (Decimal("180.00"), Decimal("3.00"), Decimal("183.00"))
    assert f.consistent() and f.drawer == "王五"
    assert [(i.name, i.unit, i.quantity, i.unit_price, i.amount, i.tax_rate, i.tax)
            for i in f.items] == [
        ("办公用品", "个", "2", "50", Decimal("100.00"), "3%", Decimal("3.00")),
        ("鲜活蔬菜与水果", "公斤", "10", "8", Decimal("80.00"), "免税", Decimal("0.00")),
    ]


def test_sales_list_lines_replace_the_face_line() -> None:
    # Face: one line "(详见销货清单)"; page 2: the 销货清单 with 序号 and two lines (DESIGN §4:
    # the items are the list's lines).
    from invoice.pdf.fields import read_fields
    from invoice.pdf.text import Segment

    def seg(text: str, x: float, y: float, page: int = 0) -> Segment:
        return Segment(text, x, y, x + 9 * len(text), y + 9, 9, page)

    face = [
        seg("增值税电子普通发票", 200, 10), seg("发票号码:", 400, 25), seg("12345678", 450, 25),
        seg("开票日期:", 400, 40), seg("2020年08月05日", 450, 40),
        seg("项目名称", 20, 130), seg("规格型号", 240, 130), seg("单位", 300, 130),
        seg("数量", 350, 130), seg("单价", 400, 130), seg("金额", 460, 130),
        seg("税率", 520, 130), seg("税额", 570, 130),
        seg("(详见销货清单)", 20, 145), seg("180.00", 455, 145), seg("3.00", 570, 145),
        seg("合计", 40, 200), seg("¥180.00", 455, 200), seg("¥3.00", 570, 200),
        seg("价税合计(大写)", 20, 215), seg("壹佰捌拾叁圆整", 200, 215),
        seg("(小写)", 420, 215), seg("¥183.00", 470, 215),
    ]
    y0 = 1000.0  # page 2 sits below page 1 (offsets as parse_pdf stacks pages)
    listing = [
        seg("销售货物或者提供应税劳务清单", 150, y0 + 10, 1),
        seg("序号", 10, y0 + 60, 1), seg("货物(劳务)名称", 60, y0 + 60, 1),
        seg("规格型号", 240, y0 + 60, 1), seg("单位", 300, y0 + 60, 1),
        seg("数量", 350, y0 + 60, 1), seg("单价", 400, y0 + 60, 1), seg("金额", 460, y0 + 60, 1),
        seg("税率", 520, y0 + 60, 1), seg("税额", 570, y0 + 60, 1),
        seg("1", 15, y0 + 75, 1), seg("*文具*签字笔", 60, y0 + 75, 1), seg("支", 300, y0 + 75, 1),
        seg("10", 355, y0 + 75, 1), seg("10", 400, y0 + 75, 1),
        seg("100.00", 455, y0 + 75, 1), seg("3%", 520, y0 + 75, 1), seg("3.00", 570, y0 + 75, 1),
        seg("2", 15, y0 + 90, 1), seg("*蔬菜*白菜", 60, y0 + 90, 1), seg("公斤", 300, y0 + 90, 1),
        seg("10", 355, y0 + 90, 1), seg("8", 400, y0 + 90, 1),
        seg("80.00", 455, y0 + 90, 1), seg("免税", 520, y0 + 90, 1), seg("***", 570, y0 + 90, 1),
        seg("小计", 60, y0 + 120, 1), seg("180.00", 455, y0 + 120, 1), seg("3.00", 570, y0 + 120, 1),
    ]
    f = read_fields(face + listing)
    assert (f.amount, f.tax, f.total) == (Decimal("180.00"), Decimal("3.00"), Decimal("183.00"))
    assert [(i.name, i.unit, i.quantity, i.amount, i.tax_rate, i.tax) for i in f.items] == [
        ("*文具*签字笔", "支", "10", Decimal("100.00"), "3%", Decimal("3.00")),
        ("*蔬菜*白菜", "公斤", "10", Decimal("80.00"), "免税", Decimal("0.00")),
    ]


def test_one_revision_is_known_without_pyhanko(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file with one ``startxref`` has one revision: pyHanko (and its certificate
    validator, most of a one-file parse's start-up) is not loaded for it."""
    import sys

    from invoice.pdf.revisions import page_revisions

    data = DIGITAL_PDF.read_bytes()
    assert data.count(b"startxref") == 1
    monkeypatch.setitem(sys.modules, "pyhanko.pdf_utils.reader", None)  # importing it fails
    revs = page_revisions(data, 3)
    assert revs is not None and revs.total == 1 and revs.of_page(0) == 1
    with pytest.raises(ImportError):  # the same guard trips on a file with two revisions
        page_revisions(data + b"\n% appended\nstartxref\n0\n%%EOF\n", 3)

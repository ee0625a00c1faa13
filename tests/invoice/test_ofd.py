"""OFD e-invoices: every OFD sample in expected.json parses to exactly its expected values.

The samples come from many vendors (SuwellFormSDK, swformsdk, Baiwang, nuonuo, HuhuangSDK …)
and put the fields in different places, so besides the end result each field source is also
checked on its own where it carries everything: the page text must be enough by itself for
files that have nothing else, and must agree with the data attachment where both exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from invoice import parse
from invoice.errors import ErrorCode, ParseError
from invoice.model import FieldSource, InvoiceKind
from invoice.ofd import OfdPackage, parse_ofd
from tests.samples import EXPECTED, OTHER, SAMPLES, V4SIGNED

OFD_CASES = [e for e in EXPECTED if e["form"] == "ofd"]
IDS = [e["file"].rsplit("/", 1)[-1] for e in OFD_CASES]
FIELDS = ("kind", "code", "number", "issue_date", "check_code", "buyer", "seller", "amount",
          "tax", "total")


def _load(entry: dict[str, Any]) -> bytes:
    return (SAMPLES / entry["file"]).read_bytes()


def _assert_matches(got: dict[str, Any], entry: dict[str, Any]) -> None:
    """Compare only the keys the expected entry lists (items: each item's listed keys)."""
    expected = entry["expected"]
    assert got["kind"] == entry["kind"]
    for key, want in expected.items():
        if key == "items":
            assert len(got["items"]) == len(want)
            for i, (g, w) in enumerate(zip(got["items"], want, strict=True)):
                for k, v in w.items():
                    assert g[k] == v, f"item {i} {k}"
        else:
            assert got[key] == want, key


def test_the_samples_cover_every_kind_of_ofd() -> None:
    kinds = {e["kind"] for e in OFD_CASES}
    assert {"vat_e_ordinary", "vat_e_special", "digital_ordinary", "digital_special"} <= kinds
    assert len(OFD_CASES) >= 17


@pytest.mark.parametrize("entry", OFD_CASES, ids=IDS)
def test_sample_parses_to_expected(entry: dict[str, Any]) -> None:
    inv = parse_ofd(_load(entry))
    _assert_matches(inv.to_dict(), entry)
    assert inv.source_format.value == "ofd"
    # every field that has a value says where it came from, in the model's vocabulary
    sources = {s.value for s in FieldSource}
    for name in ("number", "issue_date", "amount", "tax", "total", "items", "kind"):
        assert inv.field_sources[name] in sources
    if inv.kind in (InvoiceKind.DIGITAL_ORDINARY, InvoiceKind.DIGITAL_SPECIAL):
        assert inv.code is None and inv.check_code is None and len(inv.number or "") == 20
        assert inv.key == inv.number
    else:
        assert inv.key == f"{inv.code}:{inv.number}"
    assert inv.amount is not None and inv.tax is not None and inv.total is not None
    assert inv.amount + inv.tax == inv.total


@pytest.mark.parametrize("entry", OFD_CASES, ids=IDS)
def test_page_text_alone_reads_every_sample(entry: dict[str, Any]) -> None:
    """The last-resort source stands on its own: labels, buyer/seller split, goods table."""
    inv = parse_ofd(_load(entry), sources=[FieldSource.PAGE_TEXT])
    _assert_matches(inv.to_dict(), entry)
    assert set(inv.field_sources.values()) <= {"page_text", "derived"}


def test_generic_parse_detects_ofd_from_bytes() -> None:
    entry = next(e for e in OFD_CASES if e["file"].endswith("v4signed.ofd"))
    inv = parse(_load(entry))
    _assert_matches(inv.to_dict(), entry)
    assert len(inv.sha256) == 64


def _entry(name: str) -> dict[str, Any]:
    return next(e for e in OFD_CASES if e["file"].endswith(name))


def test_attachment_is_read_first_and_alone_when_complete() -> None:
    inv = parse_ofd(_load(_entry("ofdrw__ofdrw/1.ofd")))
    assert inv.field_sources["number"] == "attachment_xml"
    assert inv.field_sources["items"] == "attachment_xml"
    assert inv.field_sources["kind"] == "attachment_xml"  # GraphCode type 10 = 电子普票
    assert inv.extra["machine_no"] == "927000236092"
    assert inv.drawer == "管理员"


def test_custom_tags_resolve_text_objects_in_broken_tag_xml() -> None:
    """1.ofd writes '<:eInvoice xmlns:="">': the tag file is read with recovery."""
    entry = _entry("ofdrw__ofdrw/1.ofd")
    inv = parse_ofd(_load(entry), sources=[FieldSource.CUSTOM_TAG])
    assert inv.field_sources["number"] == "custom_tag"
    assert inv.check_code == entry["expected"]["check_code"]  # printed '16197 83356 …'
    assert inv.buyer.name == entry["expected"]["buyer"]["name"]
    assert inv.total == Decimal(entry["expected"]["total"])  # '¥' + '526.00' joined


def test_digital_invoice_reads_tags_and_wrapped_item_names() -> None:
    entry = _entry("ofdrw__ofdrw/发票示例.ofd")
    inv = parse_ofd(_load(entry))
    assert inv.field_sources["number"] == "custom_tag"
    assert inv.field_sources["kind"] == "page_text"  # the template title 增值税专用发票
    assert inv.items[0].name == "*信息技术服务*技术服务费"  # two text objects joined
    assert inv.drawer == "于俪"


def test_custom_data_fills_what_has_no_better_source() -> None:
    entry = _entry("ofdrw__ofdrw/fptpl.ofd")
    inv = parse_ofd(_load(entry))
    assert inv.field_sources["code"] == "custom_data"
    assert inv.field_sources["total"] == "custom_data"  # CustomData 价税合计
    assert inv.field_sources["tax"] == "page_text"  # no 合计税额 in CustomData: the 合计 row
    assert inv.buyer.tax_id is None  # buyer 个人: the seller's ID must not slide over
    assert inv.items[0].name == "(详见销货清单)"  # the list pages are not in this file


def test_sales_list_pages_give_the_items_without_attachment() -> None:
    """999.ofd: the face says (详见销货清单); page text alone yields the 100 list lines."""
    entry = _entry("ofdrw__ofdrw/999.ofd")
    inv = parse_ofd(_load(entry), sources=[FieldSource.PAGE_TEXT])
    assert len(inv.items) == 100
    assert all("清单" not in (i.name or "") for i in inv.items)
    assert sum((i.amount or Decimal(0) for i in inv.items), Decimal(0)) == inv.amount


def test_no_tax_printed_as_stars_is_zero_with_rate_kept() -> None:
    inv = parse_ofd(_load(_entry("no_page_container.ofd")))
    assert inv.tax == Decimal("0.00")
    assert inv.items[0].tax_rate == "免税"
    assert inv.items[0].tax == Decimal("0.00")
    inv = parse_ofd(_load(_entry("keyword2.ofd")))
    assert inv.items[0].tax_rate == "***"  # 差额征税: the rate is printed as stars
    assert inv.items[0].tax == Decimal("1.96")


def test_right_aligned_negative_width_boxes_and_orphan_pages() -> None:
    """SignScaleError.ofd: boxes with negative width; Page_1 exists but Document.xml omits it."""
    inv = parse_ofd(_load(_entry("SignScaleError.ofd")))
    item = inv.items[0]
    assert (item.spec, item.unit, item.quantity) == ("62202", "批", "1.00000000")
    assert len(inv.items) == 1


def test_package_resolves_references_case_insensitively() -> None:
    pkg = OfdPackage(V4SIGNED.read_bytes())
    assert pkg.doc_roots() == ["Doc_0/Document.xml"]
    assert "Doc_0/Tpls/Tpl_0/Content.xml" in pkg.names()
    assert pkg.resolve("TPLS/Tpl_0/Content.xml", "Doc_0") == "Doc_0/Tpls/Tpl_0/Content.xml"
    assert pkg.resolve("/Doc_0/TPLS/TPL_0/Content.xml") == "Doc_0/Tpls/Tpl_0/Content.xml"
    assert pkg.resolve("Doc_0/Document.xml", "Doc_0") == "Doc_0/Document.xml"  # root-relative
    assert pkg.resolve("../../OFD.xml", "Doc_0") is None  # never above the root
    assert pkg.resolve("Doc_0/missing.xml") is None
    assert pkg.read("/doc_0/document.xml").startswith(b"<?xml")
    with pytest.raises(ParseError) as err:
        pkg.read("Doc_0/missing.xml")
    assert err.value.code is ErrorCode.BAD_OFD and "missing.xml" in str(err.value)


RAILWAY = sorted((OTHER / "itlabers__ofd-go").glob("*样例.ofd"))
BANK = sorted(p for p in OTHER.rglob("*.ofd") if p not in RAILWAY)


def test_railway_e_ticket_basic_fields() -> None:
    path = next(p for p in RAILWAY if p.name == "售票换开样例.ofd")
    inv = parse_ofd(path.read_bytes())
    assert inv.kind is InvoiceKind.RAILWAY_TICKET
    assert inv.number == "22119130671000000049"
    assert inv.issue_date == "2022-03-17"
    assert inv.buyer.name == "铁路客票电子发票测试单位"
    assert inv.buyer.tax_id == "91110001110AE35858"
    assert inv.total == Decimal("181.00")
    assert inv.amount == Decimal("166.05") and inv.tax == Decimal("14.95")
    assert inv.extra["passenger"] == "梁某某"


@pytest.mark.parametrize("path", RAILWAY, ids=[p.name for p in RAILWAY])
def test_railway_page_text_agrees_with_its_attachment(path: Any) -> None:
    data = path.read_bytes()
    full = parse_ofd(data)
    page = parse_ofd(data, sources=[FieldSource.PAGE_TEXT])
    assert page.kind is InvoiceKind.RAILWAY_TICKET
    for name in ("number", "issue_date", "amount", "tax", "total"):
        assert getattr(page, name) == getattr(full, name)
    assert page.buyer == full.buyer


@pytest.mark.parametrize("path", BANK, ids=[p.name for p in BANK])
def test_bank_receipts_are_not_invoices(path: Any) -> None:
    """Issue 13: a bank e-receipt reads as its own kind (no buyer, seller or goods lines), a
    bank's specimen is refused as such (tests/invoice/test_bank.py compares every field)."""
    try:
        inv = parse_ofd(path.read_bytes(), where=path.name)
    except ParseError as err:
        assert err.code is ErrorCode.BANK_TEMPLATE
        assert path.name in str(err) and "specimen" in str(err)
        return
    assert inv.kind is InvoiceKind.BANK_RECEIPT
    assert inv.buyer.name is None and inv.seller.name is None and not inv.items
    assert inv.key is not None and inv.key.startswith("bank:")


def _synthetic_ofd(texts: Sequence[tuple[float, float, float, float, str]],
                   tags: str | None = None) -> bytes:
    """A minimal OFD (OFD.xml -> Document.xml -> one page) with the given text objects.

    For layouts no public sample shows (an air itinerary, several goods lines named by
    custom tags). Text object i gets ID i + 10; ``tags`` is the body of a custom tag file.
    """
    import io
    import zipfile
    from xml.sax.saxutils import escape

    objs = "".join(
        f'<ofd:TextObject ID="{i + 10}" Boundary="{x} {y} {w} {h}" Font="1" Size="3">'
        f'<ofd:TextCode X="0" Y="3">{escape(t)}</ofd:TextCode></ofd:TextObject>'
        for i, (x, y, w, h, t) in enumerate(texts)
    )
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    tag_ref = "<ofd:CustomTags>Tags/CustomTags.xml</ofd:CustomTags>" if tags else ""
    members = {
        "OFD.xml": f"<ofd:OFD {ns}><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>"
                   "</ofd:DocBody></ofd:OFD>",
        "Doc_0/Document.xml": f'<ofd:Document {ns}><ofd:Pages><ofd:Page ID="1" '
                              'BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages>'
                              f"{tag_ref}</ofd:Document>",
        "Doc_0/Pages/Page_0/Content.xml": f'<ofd:Page {ns}><ofd:Content><ofd:Layer ID="2">{objs}'
                                          "</ofd:Layer></ofd:Content></ofd:Page>",
    }
    if tags:
        members["Doc_0/Tags/CustomTags.xml"] = (
            f'<ofd:CustomTags {ns}><ofd:CustomTag TypeID="root"><ofd:FileLoc>CustomTag.xml'
            "</ofd:FileLoc></ofd:CustomTag></ofd:CustomTags>")
        members["Doc_0/Tags/CustomTag.xml"] = f'<ofd:root {ns} version="1.0">{tags}</ofd:root>'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, text.encode())
    return buf.getvalue()


def test_air_itinerary_basic_fields_from_page_text() -> None:
    data = _synthetic_ofd([
        (50, 5, 110, 9, "电子发票（航空运输电子客票行程单）"),
        (10, 18, 70, 5, "发票号码：25117000000123456789"),
        (140, 18, 60, 5, "填开日期：2025年06月18日"),
        (10, 26, 60, 5, "旅客姓名：王某某"),
        (10, 80, 60, 5, "合计：¥1,230.00"),
        (10, 90, 90, 5, "购买方名称：某某科技有限公司"),
        (110, 90, 90, 5, "统一社会信用代码：91110108MA01ABCD2X"),
    ])
    inv = parse_ofd(data)
    assert inv.kind is InvoiceKind.AIR_ITINERARY
    assert inv.number == "25117000000123456789" and inv.code is None
    assert inv.issue_date == "2025-06-18"
    assert inv.buyer.name == "某某科技有限公司"
    assert inv.buyer.tax_id == "91110108MA01ABCD2X"
    assert inv.total == Decimal("1230.00")
    assert inv.field_sources["number"] == "page_text"


def test_ofd_without_any_invoice_number_is_not_an_invoice() -> None:
    data = _synthetic_ofd([(50, 5, 110, 9, "会议通知"), (10, 20, 80, 5, "请于周五到会")])
    with pytest.raises(ParseError) as err:
        parse_ofd(data, where="notice.ofd")
    assert err.value.code is ErrorCode.NOT_AN_INVOICE
    assert "会议通知" in str(err.value) and "notice.ofd" in str(err.value)


def _repack(data: bytes, replace: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info)))
    return out.getvalue()


def test_broken_attachment_falls_back_to_the_other_sources() -> None:
    entry = _entry("v4signed.ofd")
    data = _repack(_load(entry), {"Doc_0/Attachs/original_invoice.xml": b"\x00garbage<<"})
    inv = parse_ofd(data)
    _assert_matches(inv.to_dict(), entry)
    assert inv.field_sources["number"] == "custom_data"
    assert inv.field_sources["items"] == "page_text"
    assert inv.extra["unreadable"] == "Doc_0/Attachs/original_invoice.xml"


def test_entity_in_the_attachment_refuses_the_file() -> None:
    xxe = (b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b"<eInvoice><InvoiceNo>&x;</InvoiceNo></eInvoice>")
    data = _repack(_load(_entry("v4signed.ofd")), {"Doc_0/Attachs/original_invoice.xml": xxe})
    with pytest.raises(ParseError) as err:
        parse_ofd(data)
    assert err.value.code is ErrorCode.FORBIDDEN_XML
    assert "original_invoice.xml" in str(err.value)


@pytest.mark.parametrize(("printed", "as_tax", "value"), [
    ("1.96", False, "1.96"), ("¥ 1,234.5", False, "1234.50"), ("-3.2", False, "-3.20"),
    ("￥181.00", False, "181.00"), ("***", True, "0.00"), ("免税", True, "0.00"),
    ("***", False, None), ("1e5", False, None), ("NaN", False, None), ("", False, None),
])
def test_money_as_printed(printed: str, as_tax: bool, value: str | None) -> None:
    from invoice.ofd.invoice import money

    got = money(printed, tax=as_tax)
    assert (str(got) if got is not None else None) == value


def test_goods_table_with_several_wrapped_lines() -> None:
    """Rows are told apart by their amount; a name wrapped onto the next line joins its row."""
    hdr = 53.0
    texts = [
        (60, 5, 90, 8, "电子发票（普通发票）"),
        (150, 10, 15, 5, "发票号码："), (170, 10, 30, 5, "25000000000000000001"),
        (150, 16, 15, 5, "开票日期："), (170, 16, 30, 5, "2025年01月02日"),
        (11, 33, 8, 5, "名称："), (20, 33, 60, 5, "甲公司"),
        (111, 33, 8, 5, "名称："), (120, 33, 60, 5, "乙公司"),
        (11, 43, 40, 3.3, "统一社会信用代码/纳税人识别号："), (54, 43, 40, 5, "91110000000000000A"),
        (111, 43, 40, 3.3, "统一社会信用代码/纳税人识别号："), (154, 43, 40, 5, "91310000000000000B"),
        (16, hdr, 16, 5, "项目名称"), (43, hdr, 14, 5, "规格型号"), (67, hdr, 9, 5, "单 位"),
        (93, hdr, 9, 5, "数 量"), (117, hdr, 9, 5, "单 价"), (143, hdr, 9, 5, "金 额"),
        (157, hdr, 18, 5, "税率/征收率"), (194, hdr, 9, 5, "税 额"),
        (5, 58, 36, 4.5, "*软件*操作系统授权"), (43, 58, 14, 4.5, "V20"), (67, 58, 9, 4.5, "套"),
        (90, 58, 12, 4.5, "2"), (110, 58, 16, 4.5, "500"), (140, 58, 14, 4.5, "1000.00"),
        (162, 58, 8, 4.5, "13%"), (190, 58, 14, 4.5, "130.00"),
        (5, 62.5, 36, 4.5, "合作版"),  # starts like 合计 but is part of the name
        (5, 67, 36, 4.5, "*信息技术服务*维护"), (140, 67, 14, 4.5, "-100.00"),
        (162, 67, 8, 4.5, "6%"), (190, 67, 14, 4.5, "-6.00"),
        (20, 92, 20, 5, "合 计"), (140, 92, 14, 5, "¥900.00"), (190, 92, 14, 5, "¥124.00"),
        (144, 98, 12, 5, "（小写）"), (157, 98, 20, 5, "¥1024.00"),
    ]
    inv = parse_ofd(_synthetic_ofd(texts))
    assert inv.kind is InvoiceKind.DIGITAL_ORDINARY
    assert (inv.buyer.name, inv.seller.name) == ("甲公司", "乙公司")
    assert (inv.buyer.tax_id, inv.seller.tax_id) == ("91110000000000000A", "91310000000000000B")
    assert (inv.amount, inv.tax, inv.total) == (Decimal("900.00"), Decimal("124.00"),
                                                Decimal("1024.00"))
    first, second = inv.items
    assert first.name == "*软件*操作系统授权合作版"
    assert (first.spec, first.unit, first.quantity, first.unit_price) == ("V20", "套", "2", "500")
    assert (first.amount, first.tax_rate, first.tax) == (Decimal("1000.00"), "13%", Decimal("130.00"))
    assert second.name == "*信息技术服务*维护" and second.quantity is None
    assert (second.amount, second.tax) == (Decimal("-100.00"), Decimal("-6.00"))


def test_flat_custom_tags_with_several_goods_lines() -> None:
    """Tags list each column's refs in any order; each joins the line on its row."""
    texts = [
        (150, 10, 30, 5, "25000000000000000002"),  # 10
        (150, 16, 30, 5, "2025年03月04日"),  # 11
        (20, 33, 60, 5, "甲公司"), (120, 33, 60, 5, "乙公司"),  # 12, 13
        (54, 43, 40, 5, "91110000000000000A"), (154, 43, 40, 5, "91310000000000000B"),  # 14, 15
        (5, 58, 36, 4.5, "*餐饮服务*餐费"), (140, 58, 14, 4.5, "100.00"),  # 16, 17
        (162, 58, 8, 4.5, "6%"), (190, 58, 14, 4.5, "6.00"),  # 18, 19
        (5, 63, 36, 4.5, "*住宿服务*住宿"), (140, 63, 14, 4.5, "200.00"),  # 20, 21
        (162, 63, 8, 4.5, "6%"), (190, 63, 14, 4.5, "12.00"),  # 22, 23
        (140, 92, 14, 5, "¥300.00"), (190, 92, 14, 5, "¥18.00"), (157, 98, 20, 5, "¥318.00"),
        (60, 5, 90, 8, "电子发票（增值税专用发票）"),  # 27
    ]

    def ref(*ids: int) -> str:
        return "".join(f'<ofd:ObjectRef PageRef="1">{i}</ofd:ObjectRef>' for i in ids)

    tags = (
        f"<ofd:InvoiceNo>{ref(10)}</ofd:InvoiceNo><ofd:IssueDate>{ref(11)}</ofd:IssueDate>"
        f"<ofd:Buyer><ofd:BuyerName>{ref(12)}</ofd:BuyerName>"
        f"<ofd:BuyerTaxID>{ref(14)}</ofd:BuyerTaxID></ofd:Buyer>"
        f"<ofd:Seller><ofd:SellerName>{ref(13)}</ofd:SellerName>"
        f"<ofd:SellerTaxID>{ref(15)}</ofd:SellerTaxID></ofd:Seller>"
        f"<ofd:TaxExclusiveTotalAmount>{ref(24)}</ofd:TaxExclusiveTotalAmount>"
        f"<ofd:TaxTotalAmount>{ref(25)}</ofd:TaxTotalAmount>"
        f"<ofd:TaxInclusiveTotalAmount>{ref(26)}</ofd:TaxInclusiveTotalAmount>"
        f"<ofd:Item>{ref(16)}</ofd:Item><ofd:Item>{ref(20)}</ofd:Item>"
        # the second line's amount and tax are listed first: rows, not order, decide
        f"<ofd:Amount>{ref(21)}</ofd:Amount><ofd:Amount>{ref(17)}</ofd:Amount>"
        f"<ofd:TaxScheme>{ref(18)}</ofd:TaxScheme><ofd:TaxScheme>{ref(22)}</ofd:TaxScheme>"
        f"<ofd:TaxAmount>{ref(23)}</ofd:TaxAmount><ofd:TaxAmount>{ref(19)}</ofd:TaxAmount>"
    )
    inv = parse_ofd(_synthetic_ofd(texts, tags))
    assert inv.kind is InvoiceKind.DIGITAL_SPECIAL
    assert inv.field_sources["items"] == "custom_tag"
    assert inv.field_sources["seller.tax_id"] == "custom_tag"
    assert [(i.name, i.amount, i.tax_rate, i.tax) for i in inv.items] == [
        ("*餐饮服务*餐费", Decimal("100.00"), "6%", Decimal("6.00")),
        ("*住宿服务*住宿", Decimal("200.00"), "6%", Decimal("12.00")),
    ]
    assert (inv.amount, inv.tax, inv.total) == (Decimal("300.00"), Decimal("18.00"),
                                                Decimal("318.00"))


def test_air_itinerary_face_details_from_page_text() -> None:
    # the same synthetic face: the itinerary's own record is read from it too
    from invoice.kinds import AirItinerary

    data = _synthetic_ofd([
        (50, 5, 110, 9, "电子发票（航空运输电子客票行程单）"),
        (10, 18, 70, 5, "发票号码：25117000000123456789"),
        (140, 18, 60, 5, "填开日期：2025年06月18日"),
        (10, 26, 60, 5, "旅客姓名：王某某"),
        (80, 26, 60, 5, "有效身份证件号码：110101********1234"),
        (10, 80, 60, 5, "合计：¥1,230.00"),
    ])
    inv = parse_ofd(data)
    assert isinstance(inv.details, AirItinerary)
    assert (inv.details.passenger, inv.details.id_number) == ("王某某", "110101********1234")

"""Railway e-tickets, air itineraries and toll bills in PDF, built laid out like the real ones.

No public railway or toll PDFs are among the samples; the pieces and positions below follow
the published layouts (12306's 电子发票（铁路电子客票）: ``票价:￥96.50`` beside the seat class,
the masked ID beside the passenger, ``电子客票号:``; the airlines' itinerary header rows; the
toll VAT invoice's 车牌号 / 通行日期起 / 通行日期止 columns).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from invoice import parse
from invoice.kinds import AirItinerary, RailwayTicket, RailwayVariant, TollBill
from invoice.model import InvoiceKind
from invoice.transport import Box, group_lines, read_railway
from invoice.verify.checks import check_preview, run_checks
from invoice.verify.report import CheckResult
from tests.invoice.pdfbuild import pdf_of


def railway_pdf(*, fare_label: str = "票价:", mark: str | None = None,
                original: str | None = None, number: str = "25119110001000123456",
                split: bool = False) -> bytes:
    """``split``: the layout where the number is printed without its label and the fare's
    ``￥`` apart from its digits (what 12306 PDFs' text layers give)."""
    pieces = [
        (60, 4, "电子发票（铁路电子客票）", 14), (8, 14, f"发票号码:{number}"),
        (150, 14, "开票日期:2025年01月02日"),
        (10, 26, "北京南", 12), (30, 26, "站", 12), (85, 26, "G123", 12),
        (120, 26, "上海虹桥", 12), (148, 26, "站", 12),
        (10, 34, "Beijingnan"), (120, 34, "Shanghaihongqiao"),
        (10, 42, "2025年01月05日"), (48, 42, "08:05开"), (80, 42, "05车12F号"),
        (10, 50, fare_label), (24, 50, "￥553.00"), (105, 50, "二等座"),
        (10, 66, "3201**********1234"), (70, 66, "张三"),
        (10, 90, "电子客票号:6712345678901234567892025"),
        (10, 100, "购买方名称:无锡天鹏菜篮子工程有限公司"),
        (120, 100, "统一社会信用代码:91320200MA1XXXXX0Q"),
    ]
    if split:
        pieces = [p for p in pieces if not str(p[2]).startswith(("发票号码", "￥553"))]
        pieces += [(8, 14, number), (24, 50, "￥"), (28, 50, "553.00")]
    if mark:
        pieces.append((100, 90, mark))
    if original:
        pieces.append((125, 82, f"原发票号码:{original}"))
    return pdf_of(pieces)


def test_railway_ticket_pdf_normal() -> None:
    inv = parse(railway_pdf())
    assert inv.kind is InvoiceKind.RAILWAY_TICKET
    assert (inv.number, inv.issue_date, inv.total) == ("25119110001000123456", "2025-01-02",
                                                       Decimal("553.00"))
    assert inv.buyer.name == "无锡天鹏菜篮子工程有限公司"
    assert inv.buyer.tax_id == "91320200MA1XXXXX0Q"
    t = inv.details
    assert isinstance(t, RailwayTicket)
    assert (t.travel_date, t.train, t.from_station, t.to_station, t.seat_class) == (
        "2025-01-05", "G123", "北京南", "上海虹桥", "二等座")
    assert (t.passenger, t.id_number, t.ticket_number) == ("张三", "3201**********1234",
                                                           "6712345678901234567892025")
    assert t.variant is RailwayVariant.NORMAL and t.refund_fee is None
    d = inv.to_dict()
    assert d["train"] == "G123" and d["variant"] == "normal"  # top level, DESIGN §4
    check = check_preview(inv)
    assert check is not None and check.result is CheckResult.PASS


def test_railway_ticket_pdf_number_without_label_and_split_fare() -> None:
    inv = parse(railway_pdf(split=True))
    assert inv.kind is InvoiceKind.RAILWAY_TICKET
    assert (inv.number, inv.total) == ("25119110001000123456", Decimal("553.00"))
    # two 20-digit numbers and no 发票号码 label: no guess, the file is refused
    import pytest

    from invoice.errors import ErrorCode, ParseError
    with pytest.raises(ParseError) as ei:
        parse(railway_pdf(split=True, original="25119110001000123455"))
    assert ei.value.code is ErrorCode.NOT_AN_INVOICE


def test_railway_ticket_pdf_exchange_and_refund() -> None:
    ex = parse(railway_pdf(mark="换开", original="25119110001000123455"))
    assert isinstance(ex.details, RailwayTicket)
    assert ex.details.variant is RailwayVariant.EXCHANGE
    assert ex.extra["original_invoice"] == "25119110001000123455"
    ref = parse(railway_pdf(fare_label="退票费:", mark="退票"))
    assert isinstance(ref.details, RailwayTicket)
    assert ref.details.variant is RailwayVariant.REFUND
    assert ref.details.refund_fee == Decimal("553.00") == ref.total


def test_railway_face_reader_needs_the_labels() -> None:
    # a page without 发票号码 gives no number: never a guess
    lines = group_lines([Box("电子发票（铁路电子客票）", 0, 0, 50, 5), Box("票价:￥10.00", 0, 10, 30, 15)])
    r = read_railway(lines)
    assert r.number is None and r.total == Decimal("10.00")


def air_pdf(*, preview: bool = False, rotate: int = 0) -> bytes:
    pieces = [
        (55, 6, "电子发票（航空运输电子客票行程单）", 13),
        (150, 16, "发票号码:25117000000012345678"),
        (7, 30, "旅客姓名"), (46, 30, "有效身份证件号码"), (122, 30, "签注"),
        (8, 37, "李四"), (47, 37, "110101********1234"), (124, 37, "不得签转"),
        (44, 46, "承运人"), (62, 46, "航班号"), (78, 46, "座位等级"), (98, 46, "日期"),
        (115, 46, "时间"),
        (8, 52, "自:"), (14, 52, "北京 PEK"),
        (45, 55, "国航"), (61, 55, "CA1501"), (82, 55, "Y"), (93, 55, "2025-03-01"), (114, 55, "08:00"),
        (8, 58, "至:"), (14, 58, "上海 SHA"),
        (40, 100, "票价"), (58, 100, "燃油附加费"), (79, 100, "增值税税率"), (100, 100, "增值税税额"),
        (122, 100, "民航发展基金"), (146, 100, "其他税费"), (170, 100, "合计"),
        (40, 106, "CNY 1000.00", 8), (60, 106, "CNY 90.00", 8), (84, 106, "9%", 8),
        (102, 106, "CNY 90.00", 8), (124, 106, "CNY 50.00", 8), (148, 106, "CNY 0.00", 8),
        (170, 106, "CNY 1230.00", 8),
        (7, 114, "电子客票号码:"), (30, 114, "9991234567890"),
        (7, 122, "填开单位:中国国际航空股份有限公司"), (140, 122, "填开日期:"), (160, 122, "2025-02-20"),
        (7, 130, "购买方名称:"), (26, 130, "无锡天鹏菜篮子工程有限公司"),
        (100, 130, "统一社会信用代码/纳税人识别号:"), (150, 130, "91320200MA1XXXXX0Q"),
    ]
    if preview:
        pieces.append((8, 6, "仅供预览"))
    return pdf_of(pieces, size=(210, 140), rotate=rotate)


def test_air_itinerary_pdf() -> None:
    inv = parse(air_pdf())
    assert inv.kind is InvoiceKind.AIR_ITINERARY
    assert (inv.number, inv.issue_date, inv.total, inv.tax) == (
        "25117000000012345678", "2025-02-20", Decimal("1230.00"), Decimal("90.00"))
    assert inv.amount == Decimal("1090.00")  # 票价 + 燃油附加费, not 合计 - 税额
    a = inv.details
    assert isinstance(a, AirItinerary)
    assert (a.passenger, a.id_number, a.ticket_number) == ("李四", "110101********1234",
                                                           "9991234567890")
    assert (a.fare, a.fuel_surcharge, a.caac_fund, a.other_tax, a.vat) == (
        Decimal("1000.00"), Decimal("90.00"), Decimal("50.00"), Decimal("0.00"), Decimal("90.00"))
    assert len(a.flights) == 1
    f = a.flights[0]
    assert (f.carrier, f.flight, f.from_, f.to, f.date, f.time, f.seat_class) == (
        "国航", "CA1501", "北京PEK", "上海SHA", "2025-03-01", "08:00", "Y")
    assert inv.buyer.name == "无锡天鹏菜篮子工程有限公司"
    assert "preview" not in inv.extra
    checks = {c.id: c for c in run_checks(inv, date(2025, 3, 1))}
    assert checks["voucher_preview"].result is CheckResult.PASS


def test_air_itinerary_preview_pdf_fails_its_check() -> None:
    inv = parse(air_pdf(preview=True))
    assert inv.extra["preview"] == "仅供预览"
    check = check_preview(inv)
    assert check is not None and check.result is CheckResult.FAIL


def test_toll_vat_invoice_pdf() -> None:
    pieces = [
        (60, 5, "电子发票（普通发票）", 14), (140, 12, "发票号码:25327000000011112222"),
        (140, 18, "开票日期:2025年01月10日"),
        (8, 28, "名称:无锡天鹏菜篮子工程有限公司"), (110, 28, "名称:江苏京沪高速公路有限公司"),
        (8, 34, "统一社会信用代码/纳税人识别号:91320200MA1XXXXX0Q"),
        (110, 34, "统一社会信用代码/纳税人识别号:913200007311XXXX1A"),
        (8, 44, "项目名称"), (50, 44, "车牌号"), (75, 44, "类型"), (90, 44, "通行日期起"),
        (115, 44, "通行日期止"), (140, 44, "金额"), (160, 44, "税率"), (180, 44, "税额"),
        (8, 50, "*经营租赁*通行费"), (50, 50, "苏B12345"), (75, 50, "货车"), (90, 50, "20250101"),
        (115, 50, "20250102"), (140, 50, "97.09"), (160, 50, "3%"), (180, 50, "2.91"),
        (8, 60, "合计"), (140, 60, "¥97.09"), (180, 60, "¥2.91"),
        (8, 68, "价税合计（大写）"), (50, 68, "壹佰圆整"), (140, 68, "（小写）¥100.00"),
    ]
    data = pdf_of(pieces)
    inv = parse(data)
    assert inv.kind is InvoiceKind.TOLL_BILL
    assert (inv.number, inv.issue_date, inv.amount, inv.tax, inv.total) == (
        "25327000000011112222", "2025-01-10", Decimal("97.09"), Decimal("2.91"), Decimal("100.00"))
    assert isinstance(inv.details, TollBill) and inv.details.plate == "苏B12345"
    assert inv.to_dict()["plate"] == "苏B12345"
    # a VAT invoice without plates stays a VAT invoice
    plain = [p for p in pieces if p[2] not in ("车牌号", "苏B12345", "通行日期起", "通行日期止")]
    assert parse(pdf_of(plain)).kind is InvoiceKind.DIGITAL_ORDINARY


def test_toll_bill_face_entry_exit() -> None:
    data = pdf_of([(60, 5, "通行费电子票据", 14), (130, 14, "票据号码:12345678"),
                   (130, 20, "开票日期:2025年01月10日"), (8, 30, "车牌号:苏A8B888"),
                   (8, 38, "入口:无锡东"), (80, 38, "出口:南京南"),
                   (8, 60, "（小写）¥45.00")])
    inv = parse(data)
    assert inv.kind is InvoiceKind.TOLL_BILL
    assert isinstance(inv.details, TollBill)
    assert (inv.details.plate, inv.details.entry, inv.details.exit) == ("苏A8B888", "无锡东", "南京南")
    assert inv.total == Decimal("45.00")


def test_railway_xbrl_xml_gives_the_same_record_as_its_ofd() -> None:
    # the XML form of a railway ticket is its rai: XBRL instance: taken out of the real OFD
    import zipfile
    from io import BytesIO

    from tests.samples import OTHER

    raw = (OTHER / "itlabers__ofd-go" / "退票样例.ofd").read_bytes()
    with zipfile.ZipFile(BytesIO(raw)) as z:
        name = next(n for n in z.namelist() if "/Attachs/rai_" in n)
        xml = z.read(name)
    from_xml, from_ofd = parse(xml), parse(raw)
    assert from_xml.source_format.value == "xml"
    for key in ("kind", "number", "issue_date", "buyer", "amount", "tax", "total", "travel_date",
                "train", "from_station", "to_station", "seat_class", "passenger", "id_number",
                "ticket_number", "variant", "refund_fee"):
        assert from_xml.to_dict()[key] == from_ofd.to_dict()[key], key
    # without its number it is refused, naming the element
    import pytest

    from invoice.errors import ParseError
    with pytest.raises(ParseError) as ei:
        parse(xml.replace(b"ElectronicInvoiceRailwayETicketNumber", b"SomethingElse"))
    assert "ElectronicInvoiceRailwayETicketNumber" in ei.value.message


def test_digital_xml_labelled_as_transport_gets_its_kind() -> None:
    from pathlib import Path

    base = (Path(__file__).parent / "fixtures" / "digital_ordinary.xml").read_bytes()
    label = b"</GeneralOrSpecialVAT>"
    air = base.replace(label, label + "<EInvoiceType><LabelCode>61</LabelCode>"
                       "<LabelName>电子发票（航空运输电子客票行程单）</LabelName></EInvoiceType>".encode())
    assert parse(air).kind is InvoiceKind.AIR_ITINERARY
    rail = base.replace(label, label + b"<EInvoiceType><LabelCode>51</LabelCode></EInvoiceType>")
    assert parse(rail).kind is InvoiceKind.RAILWAY_TICKET
    assert parse(base).kind is InvoiceKind.DIGITAL_ORDINARY


AIR_DATA = """<?xml version="1.0" encoding="UTF-8"?>
<xbrl xmlns="http://www.xbrl.org/2003/instance" xmlns:ati="http://xbrl.mof.gov.cn/taxonomy/ati">
  <ati:ElectronicInvoiceAirTransportReceiptNumber>25117000000012345678</ati:ElectronicInvoiceAirTransportReceiptNumber>
  <ati:IssueDate>2025-02-20</ati:IssueDate>
  <ati:NameOfSeller>中国国际航空股份有限公司</ati:NameOfSeller>
  <ati:NameOfPurchaser>无锡天鹏菜篮子工程有限公司</ati:NameOfPurchaser>
  <ati:UnifiedSocialCreditCodeOfPurchaser>91320200MA1XXXXX0Q</ati:UnifiedSocialCreditCodeOfPurchaser>
  <ati:PassengerName>李四</ati:PassengerName>
  <ati:ValidIdNumber>110101********1234</ati:ValidIdNumber>
  <ati:ETicketNumber>9991234567890</ati:ETicketNumber>
  <ati:DetailInformationOfAirTicketTuple>
    <ati:DepartureStation>北京PEK</ati:DepartureStation><ati:DestinationStation>上海SHA</ati:DestinationStation>
    <ati:Carrier>国航</ati:Carrier><ati:Flight>CA1501</ati:Flight><ati:SeatClass>Y</ati:SeatClass>
    <ati:CarrierDate>2025-03-01</ati:CarrierDate><ati:DepartureTime>08:00</ati:DepartureTime>
  </ati:DetailInformationOfAirTicketTuple>
  <ati:DetailInformationOfAirTicketTuple>
    <ati:DepartureStation>上海SHA</ati:DepartureStation><ati:DestinationStation>北京PEK</ati:DestinationStation>
    <ati:Carrier>国航</ati:Carrier><ati:Flight>CA1502</ati:Flight><ati:SeatClass>Y</ati:SeatClass>
    <ati:CarrierDate>2025-03-03</ati:CarrierDate><ati:DepartureTime>19:30</ati:DepartureTime>
  </ati:DetailInformationOfAirTicketTuple>
  <ati:Fare>1000.00</ati:Fare><ati:FuelSurcharge>90.00</ati:FuelSurcharge>
  <ati:VatRate>0.09</ati:VatRate><ati:VatTaxAmount>90.00</ati:VatTaxAmount>
  <ati:CivilAviationDevelopmentFund>50.00</ati:CivilAviationDevelopmentFund>
  <ati:OtherTaxes>0.00</ati:OtherTaxes><ati:TotalAmount>1230.00</ati:TotalAmount>
  <ati:VerificationCode>1234</ati:VerificationCode>
</xbrl>
"""


def _check_air(inv: object, source: str) -> None:
    from invoice.model import Invoice
    from invoice.verify.checks import check_totals

    assert isinstance(inv, Invoice)
    assert inv.kind is InvoiceKind.AIR_ITINERARY and inv.source_format.value == source
    assert (inv.number, inv.issue_date) == ("25117000000012345678", "2025-02-20")
    # amount = 票价 + 燃油附加费; the 民航发展基金 is neither amount nor tax
    assert (inv.amount, inv.tax, inv.total) == (Decimal("1090.00"), Decimal("90.00"),
                                                Decimal("1230.00"))
    a = inv.details
    assert isinstance(a, AirItinerary)
    assert (a.passenger, a.ticket_number, a.caac_fund) == ("李四", "9991234567890", Decimal("50.00"))
    assert [(f.flight, f.from_, f.to, f.date, f.time) for f in a.flights] == [
        ("CA1501", "北京PEK", "上海SHA", "2025-03-01", "08:00"),
        ("CA1502", "上海SHA", "北京PEK", "2025-03-03", "19:30")]
    assert inv.buyer.tax_id == "91320200MA1XXXXX0Q" and inv.seller.name == "中国国际航空股份有限公司"
    check = check_totals(inv)
    assert check.result is CheckResult.PASS and "民航发展基金" in check.message


def test_air_itinerary_xml_data_file() -> None:
    _check_air(parse(AIR_DATA.encode()), "xml")
    # a total that does not add up fails the air sum check, naming the fund
    from invoice.verify.checks import check_totals

    bad = parse(AIR_DATA.replace("<ati:TotalAmount>1230.00", "<ati:TotalAmount>1330.00").encode())
    check = check_totals(bad)
    assert check.result is CheckResult.FAIL and "1330.00" in check.message


def test_air_itinerary_ofd_attachment() -> None:
    # an OFD whose data attachment is the itinerary's (the railway sample's package, its rai:
    # file replaced): kind, fields and flights come from the attachment
    import io
    import zipfile

    from tests.samples import OTHER

    raw = (OTHER / "itlabers__ofd-go" / "售票换开样例.ofd").read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if "/Attachs/rai_" in item.filename:
                dst.writestr(item.filename.replace("rai_", "atr_"), AIR_DATA.encode())
            else:
                dst.writestr(item, body)
    _check_air(parse(out.getvalue()), "ofd")

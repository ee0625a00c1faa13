"""Transport vouchers read from their printed face: railway e-tickets, air itineraries, tolls.

The three faces print few labels and many bare values (stations, train, seat, passenger), so
they are read by the shape of each line, not by the VAT invoice's label/column rules. The
reader is format-agnostic: PDF segments and OFD text objects both become ``Box`` es (text and
box, y downwards), grouped here into visual lines; the same rules then serve OFD, PDF and the
text of any other rendering (DESIGN §4 "Other vouchers").

Layouts (as printed by 12306, the airlines and the toll systems):

- 电子发票（铁路电子客票）: ``发票号码:`` / ``开票日期:``; ``南京站  G7101  上海虹桥站``; the travel
  date with ``06:23开`` and ``01车05C号``; ``票价:￥181.00`` (``退票费:`` for a refund) and the seat
  class; the ID as printed and the passenger; ``电子客票号:``; ``换开`` / ``退票`` marks and
  ``原发票号码:``; ``购买方名称:`` and ``统一社会信用代码:``.
- 电子发票（航空运输电子客票行程单）: header rows with the values in the row below (旅客姓名 /
  有效身份证件号码; 票价 / 燃油附加费 / 增值税税额 / 民航发展基金 / 其他税费 / 合计, values ``CNY 477.06``),
  flight rows ``南航 CZ8866 V 2021-07-27 18:30`` between their ``自:`` and ``至:`` lines.
- 通行费电子票据 and toll VAT invoices: ``车牌号`` with a plate (``京A12345``), ``入口`` / ``出口``
  stations, ``通行日期起`` / ``通行日期止``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from invoice.kinds import AirItinerary, Flight, RailwayTicket, RailwayVariant, TollBill
from invoice.model import InvoiceKind, Party

RAILWAY_TITLE = "铁路电子客票"
AIR_TITLE = "航空运输电子客票行程单"
TOLL_TITLE = "通行费电子票据"
PREVIEW_MARK = "仅供预览"

_CENT = Decimal("0.01")
_DATE = re.compile(r"(\d{4})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*日?")
_MONEY = re.compile(r"(?:[¥￥]|CNY|RMB)?\s*(-?\d[\d,]*\.\d{1,2})")
_TAX_ID = re.compile(r"[0-9A-Z]{15,20}")
_ID_AS_PRINTED = re.compile(r"[0-9]{3,14}\*{2,14}[0-9]{2,6}[0-9Xx]?")
_TRAIN = re.compile(r"[GDCKTZYLSP]\d{1,4}|\d{4}")
_STATION = re.compile(r"([\u4e00-\u9fff]{1,12}?)站")
_SEAT = re.compile(r"(商务座|特等座|优选一等座|一等座|二等座|高级动卧|动卧|高级软卧|软卧|硬卧|一等卧|"
                   r"二等卧|软座|硬座|无座|[\u4e00-\u9fff]{1,3}(?:座|卧))")
_CARRIAGE = re.compile(r"\d{1,2}车\d{1,3}[A-Z]?号|\d{1,2}车无座")
_PLATE = re.compile(r"[\u4e00-\u9fff][A-Z][·•]?[A-Z0-9]{5,6}")
_FLIGHT = re.compile(
    r"(?P<carrier>[\u4e00-\u9fff]{2,6}|[A-Z0-9]{2})?\s*(?P<flight>[A-Z0-9]{2}\d{2,4}[A-Z]?)\s+"
    r"(?:(?P<cls>[A-Z])\s+)?(?P<date>\d{4}-\d{2}-\d{2})\s+(?P<time>\d{1,2}:\d{2})")


@dataclass(frozen=True, slots=True)
class Box:
    """One piece of printed text and its box (any unit, y growing downwards)."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass(slots=True)
class TextLine:
    boxes: list[Box]

    @property
    def text(self) -> str:
        """The line's pieces, left to right, one space between them."""
        return " ".join(b.text for b in self.boxes)

    @property
    def compact(self) -> str:
        return "".join(self.text.split())


@dataclass(slots=True)
class TransportReading:
    """What a transport face gives: the common invoice fields and the kind's own record."""

    kind: InvoiceKind
    number: str | None = None
    issue_date: str | None = None
    buyer: Party = field(default_factory=Party)
    seller: Party = field(default_factory=Party)
    amount: Decimal | None = None
    tax: Decimal | None = None
    total: Decimal | None = None
    details: RailwayTicket | AirItinerary | TollBill | None = None
    preview: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def fields(self) -> dict[str, object]:
        """The common fields found (dotted names as in ``field_sources``)."""
        out: dict[str, object] = {"number": self.number, "issue_date": self.issue_date,
                                  "buyer.name": self.buyer.name, "buyer.tax_id": self.buyer.tax_id,
                                  "seller.name": self.seller.name,
                                  "seller.tax_id": self.seller.tax_id, "amount": self.amount,
                                  "tax": self.tax, "total": self.total}
        return {k: v for k, v in out.items() if v is not None}


def norm(text: str) -> str:
    """NFKC (full-width colons, brackets and digits become ASCII), whitespace kept."""
    return unicodedata.normalize("NFKC", text)


def transport_kind(text: str) -> InvoiceKind | None:
    """The transport kind a face's text names in its title, else None."""
    t = "".join(norm(text).split())
    if RAILWAY_TITLE in t:
        return InvoiceKind.RAILWAY_TICKET
    if AIR_TITLE in t:
        return InvoiceKind.AIR_ITINERARY
    if TOLL_TITLE in t or ("通行日期起" in t and "车牌号" in t):
        return InvoiceKind.TOLL_BILL
    return None


def group_lines(boxes: Iterable[Box]) -> list[TextLine]:
    """Boxes into visual lines: top to bottom, each left to right.

    A box joins a line when it overlaps one of the line's boxes vertically by half the smaller
    height, so a label drawn a little higher than its value, or the masked middle of an ID
    drawn raised (``384932 ******** 1234``), still shares its line.
    """
    lines: list[TextLine] = []
    for b in sorted((b for b in boxes if b.text.strip()), key=lambda b: (b.top + b.bottom) / 2):
        for ln in lines[-4:]:
            if any(min(b.bottom, o.bottom) - max(b.top, o.top)
                   >= 0.5 * max(min(b.bottom - b.top, o.bottom - o.top), 0.1) for o in ln.boxes):
                ln.boxes.append(b)
                break
        else:
            lines.append(TextLine([b]))
    for ln in lines:
        ln.boxes.sort(key=lambda b: b.x0)
        merged: list[Box] = []
        for b in ln.boxes:
            b = Box(norm(b.text).strip(), b.x0, b.top, b.x1, b.bottom)
            if merged:
                prev = merged[-1]
                height = max(min(prev.bottom - prev.top, b.bottom - b.top), 0.1)
                # pieces that (nearly) touch are one word drawn in parts ("CNY" "477.06",
                # "384932" "********" "1234"); a label's colon ends the word
                gap = b.x0 - prev.x1
                # a label's colon ends the word; a new label ("原发票号码:") starts one
                joins = (gap <= 0.35 * height and not prev.text.endswith(":")
                         and not re.match(r"[\u4e00-\u9fff/]{2,16}:", b.text))
                if b.text.startswith(("CNY", "RMB", "¥", "￥")):
                    joins = False  # the next amount of a row, however close
                elif prev.text in ("CNY", "RMB", "¥", "￥") and re.match(r"-?\d", b.text):
                    joins = gap <= 2.0 * height
                elif re.fullmatch(r"[0-9*Xx]+", prev.text) and re.fullmatch(r"[0-9*Xx]+", b.text):
                    joins = gap <= 1.0 * height  # an ID printed in parts: 384932 ******** 1234
                if joins:
                    merged[-1] = Box(prev.text + b.text, prev.x0, min(prev.top, b.top),
                                     max(prev.x1, b.x1), max(prev.bottom, b.bottom))
                    continue
            merged.append(b)
        ln.boxes = merged
    return lines


# ---------------------------------------------------------------------------- value helpers


def to_date(text: str | None) -> str | None:
    m = _DATE.search(text or "")
    if not m:
        return None
    try:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return day.isoformat() if 1990 <= day.year <= 2100 else None


def to_money(text: str | None) -> Decimal | None:
    m = _MONEY.search((text or "").replace(" ", ""))
    if not m:
        return None
    try:
        return Decimal(m.group(1).replace(",", "")).quantize(_CENT)
    except InvalidOperation:
        return None


def _after(compact: str, label: str) -> str | None:
    """The text after ``label:`` in one printed piece, up to a following ``word:`` label."""
    at = compact.find(label)
    # a longer label that ends with this one (原发票号码 for 发票号码) is another field
    while at > 0 and re.match(r"[\u4e00-\u9fff]", compact[at - 1]):
        at = compact.find(label, at + 1)
    if at < 0:
        return None
    rest = compact[at + len(label):]
    if rest.startswith(":"):
        rest = rest[1:]
    elif rest[:1] and re.match(r"[\u4e00-\u9fff]", rest[:1]):
        return None  # a longer label that starts with this one (开票日期 vs 开票日期起)
    nxt = re.search(r"[\u4e00-\u9fff/]{2,16}:", rest)
    if nxt and nxt.start() > 0:
        rest = rest[:nxt.start()]
    return rest or None


def _labelled(lines: list[TextLine], label: str) -> str | None:
    """The value of ``label``: the rest of its piece, else the next piece on its line.

    Values are read piece by piece, so a name printed next to another label
    (``购买方名称:某公司  统一社会信用代码:...``) ends where its piece ends. A longer label that
    ends with this one (原发票号码 for 发票号码) is another field.
    """
    tail = re.compile(r"(?<![\u4e00-\u9fff])" + re.escape(label) + r":?$")
    for k, ln in enumerate(lines):
        for i, b in enumerate(ln.boxes):
            compact = "".join(b.text.split())
            if label not in compact:
                continue
            v = _after(compact, label)
            if v and v != ":":
                return v
            if not tail.search(compact):
                continue
            if i + 1 < len(ln.boxes):
                nxt = "".join(ln.boxes[i + 1].text.split())
                if not nxt.endswith(":") and ":" not in nxt[:12]:
                    return nxt
            else:
                # the value wrapped just below the label's end (a long label at the edge)
                height = b.bottom - b.top
                for below in lines[k + 1:k + 2]:
                    near = [c for c in below.boxes if c.top - b.bottom <= height
                            and c.x0 <= b.x1 + 2 * height and c.x1 >= b.x0]
                    if near and ":" not in near[0].text:
                        return "".join(near[0].text.split())
    return None


def _inline(lines: list[TextLine], label: str) -> str | None:
    """A value printed in the label's own piece (``旅客姓名:王某某``), never a neighbour."""
    for ln in lines:
        for b in ln.boxes:
            compact = "".join(b.text.split())
            if label + ":" in compact:
                v = _after(compact, label)
                if v:
                    return v
    return None


def _tax_id(text: str | None) -> str | None:
    m = _TAX_ID.match((text or "").upper())
    return m.group(0) if m else None


def _under(lines: list[TextLine], header: str) -> str | None:
    """The value printed under a header word (the air itinerary's header rows).

    The values line is the next line below the header row. When it holds as many pieces as
    the row has headers, the n-th value belongs to the n-th header (values are often printed
    off-centre); otherwise each value goes to the header nearest its centre.
    """
    for i, ln in enumerate(lines):
        heads = [b for b in ln.boxes]
        idx = next((k for k, b in enumerate(heads)
                    if "".join(b.text.split()).rstrip(":") == header), None)
        if idx is None or i + 1 >= len(lines):
            continue
        values = lines[i + 1].boxes
        if len(values) == len(heads):
            return values[idx].text
        mine = [v for v in values
                if min(range(len(heads)), key=lambda k: abs(heads[k].cx - v.cx)) == idx]
        if mine:
            return " ".join(v.text for v in mine)
        return None
    return None


# ---------------------------------------------------------------------------- railway


def read_railway(lines: list[TextLine]) -> TransportReading:
    """A railway e-ticket's face (see the module doc for its layout)."""
    r = TransportReading(InvoiceKind.RAILWAY_TICKET)
    t = RailwayTicket()
    compacts = [ln.compact for ln in lines]
    whole = "\n".join(compacts)
    num = _labelled(lines, "发票号码")
    m = re.match(r"\d{20}", num or "")
    r.number = m.group(0) if m else None
    if r.number is None:
        # a label drawn in a font without a Unicode map: the page's only 20-digit number
        found = {x for c in compacts for x in re.findall(r"(?<![0-9A-Z])\d{20}(?![0-9A-Z])", c)}
        r.number = found.pop() if len(found) == 1 else None
    r.issue_date = to_date(_labelled(lines, "开票日期"))
    for c in compacts:
        sm = re.search(r"([\u4e00-\u9fff]{1,12}?)站(" + _TRAIN.pattern + r")([\u4e00-\u9fff]{1,12}?)站",
                       c)
        if sm:
            t.from_station, t.train, t.to_station = sm.group(1), sm.group(2), sm.group(3)
            break
    else:  # stations on their own, the train elsewhere on the line
        for c in compacts:
            stations = _STATION.findall(c)
            trains = [x for x in re.findall(r"(?<![A-Z0-9])[GDCKTZYLS]\d{1,4}(?![0-9])", c)]
            if len(stations) == 2 and trains:
                t.from_station, t.to_station = stations
                t.train = trains[0]
                break
    for c in compacts:
        dm = re.search(r"(\d{4}年\d{1,2}月\d{1,2}日)(\d{1,2}:\d{2})开", c)
        if dm:
            t.travel_date = to_date(dm.group(1))
            r.extra["departure_time"] = dm.group(2)
            cm = _CARRIAGE.search(c)
            if cm:
                r.extra["seat"] = cm.group(0)
            break
    fare_line = next((ln for ln in lines if re.search(r"票价:|退票费:", ln.compact)), None)
    refund = "退票费" in whole
    fare = None
    if fare_line is not None:
        fare = to_money(_after(fare_line.compact, "退票费" if refund else "票价"))
    if fare is None:
        # the amount printed apart from its label (12306 draws "￥" and "553.00" on their own):
        # the page's only ¥ amount
        amounts = {m.group(1) for c in compacts
                   for m in re.finditer(r"[¥￥](-?\d[\d,]*\.\d{2})", c)}
        fare = to_money(amounts.pop()) if len(amounts) == 1 else None
    r.total = fare
    if refund:
        t.refund_fee = fare
    for ln in lines:
        for b in ln.boxes:
            if ":" in b.text or t.seat_class:
                continue
            for word in b.text.split():  # "新空调 软卧": the seat word after the air-con mark
                sm = _SEAT.fullmatch(re.sub(r"^.*空调", "", word))
                if sm:
                    t.seat_class = sm.group(0)
    r.amount = to_money(_labelled(lines, "金额"))
    r.tax = to_money(_labelled(lines, "税额"))
    rate = _labelled(lines, "税率")
    if rate and re.match(r"\d{1,2}%", rate):
        r.extra["tax_rate"] = re.match(r"\d{1,2}%", rate).group(0)  # type: ignore[union-attr]
    for ln in lines:
        im = _ID_AS_PRINTED.search(ln.compact)
        if im:
            t.id_number = im.group(0)
            name = re.sub(r"[^\u4e00-\u9fff·]", "", ln.compact.replace(im.group(0), ""))
            t.passenger = name or None
            break
    ticket = _labelled(lines, "电子客票号")
    tm = re.match(r"[0-9A-Z]{10,30}", ticket or "")
    t.ticket_number = tm.group(0) if tm else None
    original = _labelled(lines, "原发票号码")
    if refund or any(b.text.strip() == "退票" for ln in lines for b in ln.boxes):
        t.variant = RailwayVariant.REFUND
    elif original or any(b.text.strip() == "换开" for ln in lines for b in ln.boxes):
        t.variant = RailwayVariant.EXCHANGE
    if original and re.match(r"\d{20}", original):
        r.extra["original_invoice"] = original[:20]
    r.buyer = Party(_labelled(lines, "购买方名称"), _tax_id(_labelled(lines, "统一社会信用代码")))
    r.details = t
    return r


def railway_from_xbrl(vals: dict[str, str]) -> RailwayTicket:
    """The railway record from the ``rai:`` XBRL attachment's leaf values (local names)."""
    business = vals.get("TypeOfBusiness") or ""
    original = vals.get("NumberOfOriginalInvoice")
    if "退" in business:
        variant = RailwayVariant.REFUND
    elif original or "换" in business:
        variant = RailwayVariant.EXCHANGE
    else:
        variant = RailwayVariant.NORMAL
    refund_fee = None
    if variant is RailwayVariant.REFUND:
        # the refund voucher's Fare is the 退票费 printed (AmountRefunded when filled)
        refund_fee = to_money(vals.get("AmountRefunded")) or to_money(vals.get("Fare"))
    return RailwayTicket(
        travel_date=to_date(vals.get("TravelDate")),
        train=vals.get("TrainNumber") or None,
        from_station=vals.get("DepartureStation") or None,
        to_station=vals.get("DestinationStation") or None,
        seat_class=vals.get("SeatLevel") or None,
        passenger=vals.get("Name") or None,
        id_number=vals.get("IdNumber") or None,
        ticket_number=vals.get("ETicketNumber") or None,
        variant=variant,
        refund_fee=refund_fee,
    )


# ---------------------------------------------------------------------------- air

AIR_NUMBER = "ElectronicInvoiceAirTransportReceiptNumber"


def _local_name(el: object) -> str:
    tag = getattr(el, "tag", None)
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def air_from_xml(root: Any) -> TransportReading:
    """An air itinerary's data file (the OFD's ``Attachs`` XML, or the XML form itself).

    Element names are those of the 电子凭证会计数据标准 air itinerary data
    (``ElectronicInvoiceAirTransportReceiptNumber``, ``Fare``, ``FuelSurcharge``,
    ``CivilAviationDevelopmentFund``, ``OtherTaxes``, ``VatTaxAmount``, ``TotalAmount``, the
    flights as ``DetailInformationOfAirTicketTuple`` elements with ``Flight``, ``Carrier``,
    ``DepartureStation``, ``DestinationStation``, ``CarrierDate``, ``DepartureTime``,
    ``SeatClass``). The amount subject to VAT is fare + fuel surcharge; the 民航发展基金 and
    other taxes are neither amount nor tax.
    """
    vals: dict[str, str] = {}
    flights: list[Flight] = []
    for el in root.iter():
        children = {_local_name(c): (c.text or "").strip() for c in el if len(c) == 0}
        if el is not root and children.get("Flight"):
            flights.append(Flight(
                carrier=children.get("Carrier") or None, flight=children.get("Flight") or None,
                from_=children.get("DepartureStation") or None,
                to=children.get("DestinationStation") or None,
                date=to_date(children.get("CarrierDate")),
                time=children.get("DepartureTime") or None,
                seat_class=children.get("SeatClass") or children.get("Class") or None))
            continue
        if len(el) == 0:
            name, text = _local_name(el), (el.text or "").strip()
            if name and text and name not in vals:
                vals[name] = text
    if not flights and vals.get("Flight"):  # one flight written flat
        flights.append(Flight(carrier=vals.get("Carrier"), flight=vals.get("Flight"),
                              from_=vals.get("DepartureStation"), to=vals.get("DestinationStation"),
                              date=to_date(vals.get("CarrierDate")), time=vals.get("DepartureTime"),
                              seat_class=vals.get("SeatClass") or vals.get("Class")))
    r = TransportReading(InvoiceKind.AIR_ITINERARY)
    num = vals.get(AIR_NUMBER) or ""
    r.number = num if num.isdigit() else None
    r.issue_date = to_date(vals.get("IssueDate") or vals.get("DateOfIssue"))
    r.buyer = Party(vals.get("NameOfPurchaser"),
                    _tax_id(vals.get("UnifiedSocialCreditCodeOfPurchaser")))
    r.seller = Party(vals.get("NameOfSeller") or vals.get("IssueParty"), None)
    fare, fuel = to_money(vals.get("Fare")), to_money(vals.get("FuelSurcharge"))
    a = AirItinerary(passenger=vals.get("PassengerName"), id_number=vals.get("ValidIdNumber"),
                     ticket_number=vals.get("ETicketNumber") or vals.get("ElectronicTicketNum"),
                     flights=flights, fare=fare, fuel_surcharge=fuel,
                     caac_fund=to_money(vals.get("CivilAviationDevelopmentFund")),
                     other_tax=to_money(vals.get("OtherTaxes")),
                     vat=to_money(vals.get("VatTaxAmount")))
    r.total = to_money(vals.get("TotalAmount"))
    r.tax = a.vat
    r.amount = _air_amount(a)
    if vals.get("VerificationCode"):
        r.extra["verification_code"] = vals["VerificationCode"]
    if vals.get("VatRate"):
        r.extra["tax_rate"] = vals["VatRate"]
    r.details = a
    return r


def _air_amount(a: AirItinerary) -> Decimal | None:
    """The amount subject to VAT: fare + fuel surcharge (never the 民航发展基金)."""
    if a.fare is None:
        return None
    return a.fare + (a.fuel_surcharge or Decimal("0.00"))


def air_other_charges(a: AirItinerary) -> Decimal:
    """What an itinerary's total holds beside amount and VAT: 民航发展基金 + 其他税费."""
    return (a.caac_fund or Decimal("0.00")) + (a.other_tax or Decimal("0.00"))



_AIR_MONEY = {"票价": "fare", "燃油附加费": "fuel_surcharge", "增值税税额": "vat",
              "民航发展基金": "caac_fund", "其他税费": "other_tax", "合计": "total"}


def read_air(lines: list[TextLine]) -> TransportReading:
    """An air itinerary's face (see the module doc for its layout)."""
    r = TransportReading(InvoiceKind.AIR_ITINERARY)
    a = AirItinerary()
    whole = "\n".join(ln.compact for ln in lines)
    r.preview = PREVIEW_MARK in whole
    num = _labelled(lines, "发票号码")
    m = re.match(r"\d{8,20}", num or "")
    r.number = m.group(0) if m else None
    r.issue_date = to_date(_labelled(lines, "填开日期") or _labelled(lines, "开票日期"))
    a.passenger = _under(lines, "旅客姓名") or _inline(lines, "旅客姓名")
    ident = _under(lines, "有效身份证件号码") or _inline(lines, "有效身份证件号码")
    a.id_number = "".join(ident.split()) if ident else None
    ticket = _labelled(lines, "电子客票号码")
    tm = re.match(r"\d{10,15}", ticket or "")
    a.ticket_number = tm.group(0) if tm else None
    for label, attr in _AIR_MONEY.items():
        v = to_money(_under(lines, label))
        if attr == "total":
            r.total = v
        else:
            setattr(a, attr, v)
    rate = _under(lines, "增值税税率")
    if rate and re.match(r"\d{1,2}%", "".join(rate.split())):
        r.extra["tax_rate"] = "".join(rate.split())
    a.flights = _flights(lines)
    r.tax = a.vat
    r.amount = _air_amount(a)
    r.buyer = Party(_labelled(lines, "购买方名称"),
                    _tax_id(_labelled(lines, "统一社会信用代码/纳税人识别号")
                            or _labelled(lines, "纳税人识别号")))
    seller = _labelled(lines, "填开单位")
    r.seller = Party(seller, None)
    state = _labelled(lines, "开具状态")
    if state:
        r.extra["issue_state"] = state
    r.details = a
    return r


def _flights(lines: list[TextLine]) -> list[Flight]:
    """Flight rows, each with the 自: line before it and the 至: line after it."""
    out: list[Flight] = []
    for i, ln in enumerate(lines):
        fm = _FLIGHT.search(ln.text)
        if not fm:
            continue
        origin = _place(lines[max(0, i - 2):i], "自")
        dest = _place(lines[i + 1:i + 3], "至")
        carrier = fm.group("carrier")
        out.append(Flight(carrier=carrier, flight=fm.group("flight"), from_=origin, to=dest,
                          date=fm.group("date"), time=fm.group("time"),
                          seat_class=fm.group("cls")))
    return out


def _place(lines: list[TextLine], label: str) -> str | None:
    for ln in reversed(lines) if label == "自" else lines:
        v = _after(ln.compact, label)
        if v:
            return v
    return None


# ---------------------------------------------------------------------------- toll


def read_toll(lines: list[TextLine]) -> TransportReading:
    """A toll bill's face: plate, entry and exit; the money is the invoice's own."""
    r = TransportReading(InvoiceKind.TOLL_BILL)
    toll = TollBill()
    whole = "\n".join(ln.compact for ln in lines)
    num = _labelled(lines, "票据号码") or _labelled(lines, "发票号码")
    m = re.match(r"\d{8,20}", num or "")
    r.number = m.group(0) if m else None
    code = re.match(r"\d{8,12}", _labelled(lines, "票据代码") or "")
    if code:
        r.extra["bill_code"] = code.group(0)
    r.issue_date = to_date(_labelled(lines, "开票日期"))
    r.total = to_money(_labelled(lines, "(小写)") or _labelled(lines, "金额合计"))
    pm = _PLATE.search(_labelled(lines, "车牌号") or "") or _PLATE.search(whole)
    toll.plate = pm.group(0) if pm else None
    for label, attr in (("入口", "entry"), ("出口", "exit")):
        v = (_labelled(lines, label + "站") or _labelled(lines, label + "收费站")
             or _labelled(lines, label) or _under(lines, label))
        if v:
            setattr(toll, attr, v)
    dates = re.findall(r"\d{8}|\d{4}-\d{2}-\d{2}", _labelled(lines, "通行日期起") or "")
    if dates:
        r.extra["pass_start"] = dates[0]
    dates = re.findall(r"\d{8}|\d{4}-\d{2}-\d{2}", _labelled(lines, "通行日期止") or "")
    if dates:
        r.extra["pass_end"] = dates[0]
    r.details = toll
    return r


def read_face(kind: InvoiceKind, lines: list[TextLine]) -> TransportReading:
    if kind is InvoiceKind.RAILWAY_TICKET:
        return read_railway(lines)
    if kind is InvoiceKind.AIR_ITINERARY:
        return read_air(lines)
    return read_toll(lines)

"""Deductible input VAT of passenger transport and tolls.

A reimbursed railway ticket or air itinerary that names its passenger (旅客身份信息) lets the
company deduct input VAT. Two rules apply, newest first:

* 财政部 税务总局公告2024年第8号: an 电子发票（铁路电子客票） or 电子发票（航空运输电子客票行程单）
  deducts the tax printed on it (税额 / 增值税税额) — the printed figure is what the tax
  bureau holds, and the formula below can differ from it by a cent;
* 财政部 税务总局 海关总署公告2019年第39号, for a ticket that prints no tax:
  railway 票价 ÷ (1 + 9%) × 9%; air (票价 + 燃油附加费) ÷ (1 + 9%) × 9% — the 民航发展基金 is a
  government fund, not part of the transport service, and is never included;
* toll bills (通行费): the tax printed on the invoice.

A railway refund voucher (退票费) is not a transport service and an air itinerary preview is
no voucher: neither gives input VAT. Amounts are rounded to cents, half up. The result carries
the explanation a person reads on the voucher line (摘要), from the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core import messages

TRANSPORT_KINDS = frozenset({"railway_ticket", "air_itinerary", "toll_bill"})
RATE = Decimal("0.09")
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class InputVat:
    """The deductible input VAT of one voucher, and the sentence that explains it."""

    vat: Decimal
    summary: str


def _money(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _from_fare(base: Decimal) -> Decimal:
    return (base / (1 + RATE) * RATE).quantize(CENT, rounding=ROUND_HALF_UP)


def transport_input_vat(kind: str, data: dict[str, Any], *, number: str | None = None,
                        total: Decimal | None = None, tax: Decimal | None = None) -> InputVat | None:
    """The deductible input VAT of a railway ticket, air itinerary or toll bill, else None.

    ``data`` is the invoice's stored dict (``Invoice.to_dict``: the kind's fields at the top
    level); ``total`` and ``tax`` are the registered columns, used where ``data`` lacks them.
    """
    if kind not in TRANSPORT_KINDS:
        return None
    if (data.get("extra") or {}).get("preview"):
        return None
    if kind == "toll_bill":
        printed = tax if tax is not None else _money(data.get("tax"))
        if printed is None or printed <= 0:
            return None
        return InputVat(printed, messages.text("kinds.input_vat.toll", plate=data.get("plate") or "",
                                               vat=printed))
    passenger = (data.get("passenger") or "").strip()
    if not passenger:
        return None
    if kind == "railway_ticket":
        if data.get("variant") == "refund":
            return None
        fare = total if total is not None else _money(data.get("total"))
        if fare is None or fare <= 0:
            return None
        printed = tax if tax is not None else _money(data.get("tax"))
        if printed is not None and printed > 0:
            return InputVat(printed, messages.text(
                "kinds.input_vat.railway_printed", passenger=passenger,
                travel_date=data.get("travel_date") or "", train=data.get("train") or "", vat=printed))
        vat = _from_fare(fare)
        return InputVat(vat, messages.text(
            "kinds.input_vat.railway", passenger=passenger, travel_date=data.get("travel_date") or "",
            train=data.get("train") or "", fare=fare, vat=vat))
    fare = _money(data.get("fare"))
    fuel = _money(data.get("fuel_surcharge")) or Decimal("0.00")
    if fare is None or fare <= 0:
        return None
    flights = data.get("flights") or []
    flight = "、".join(f.get("flight") or "" for f in flights if isinstance(f, dict)) or (number or "")
    printed = _money(data.get("vat"))
    if printed is None:
        printed = tax
    if printed is not None and printed > 0:
        return InputVat(printed, messages.text("kinds.input_vat.air_printed", passenger=passenger,
                                               flight=flight, vat=printed))
    vat = _from_fare(fare + fuel)
    return InputVat(vat, messages.text("kinds.input_vat.air", passenger=passenger, flight=flight,
                                       fare=fare, fuel=fuel, vat=vat))

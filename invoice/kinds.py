"""The fields each kind of voucher adds to the normalised invoice (DESIGN §4 "Other vouchers").

A reimbursement holds more than VAT invoices: railway e-tickets, air itineraries, toll bills,
the bank e-receipt that paid it, sometimes a bank statement. They share the invoice's
``number``, ``issue_date``, ``buyer``, ``total`` (and key, sha256, field sources), so that
duplicates, claims, the archive and the API treat every kind alike; what only one kind has
lives in one of the small records below, carried as ``Invoice.details``. ``to_dict`` writes
their fields at the top level of the invoice's dict under the names DESIGN §4 gives, so the
API and the stored JSON read ``travel_date`` or ``payee`` next to ``number``.

Money is ``Decimal``; dates are ``YYYY-MM-DD`` strings like ``Invoice.issue_date``; a field
the document does not print is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))


class RailwayVariant(StrEnum):
    NORMAL = "normal"
    EXCHANGE = "exchange"  # 换开
    REFUND = "refund"  # 退票


@dataclass(slots=True)
class RailwayTicket:
    """电子发票（铁路电子客票）: ``Invoice.total`` is the fare (票价)."""

    travel_date: str | None = None
    train: str | None = None  # G7101
    from_station: str | None = None
    to_station: str | None = None
    seat_class: str | None = None  # 二等座
    passenger: str | None = None
    id_number: str | None = None  # as printed, often masked (3201**********1234)
    ticket_number: str | None = None  # 电子客票号
    variant: RailwayVariant = RailwayVariant.NORMAL
    refund_fee: Decimal | None = None  # 退票费, for a refund

    def to_dict(self) -> dict[str, Any]:
        return {
            "travel_date": self.travel_date, "train": self.train,
            "from_station": self.from_station, "to_station": self.to_station,
            "seat_class": self.seat_class, "passenger": self.passenger,
            "id_number": self.id_number, "ticket_number": self.ticket_number,
            "variant": self.variant.value, "refund_fee": _money(self.refund_fee),
        }


@dataclass(frozen=True, slots=True)
class Flight:
    carrier: str | None = None  # 承运人 (CA, 国航)
    flight: str | None = None  # CA1501
    from_: str | None = None  # 自 (airport or city as printed)
    to: str | None = None  # 至
    date: str | None = None  # YYYY-MM-DD
    time: str | None = None  # HH:MM
    seat_class: str | None = None  # 座位等级 / 客票级别

    def to_dict(self) -> dict[str, Any]:
        return {"carrier": self.carrier, "flight": self.flight, "from": self.from_, "to": self.to,
                "date": self.date, "time": self.time, "seat_class": self.seat_class}


@dataclass(slots=True)
class AirItinerary:
    """电子发票（航空运输电子客票行程单）: ``Invoice.total`` is the 合计 printed."""

    passenger: str | None = None
    id_number: str | None = None
    ticket_number: str | None = None  # 电子客票号码
    flights: list[Flight] = field(default_factory=list)
    fare: Decimal | None = None  # 票价
    fuel_surcharge: Decimal | None = None  # 燃油附加费
    caac_fund: Decimal | None = None  # 民航发展基金
    other_tax: Decimal | None = None  # 其他税费
    vat: Decimal | None = None  # 增值税税额

    def to_dict(self) -> dict[str, Any]:
        return {
            "passenger": self.passenger, "id_number": self.id_number,
            "ticket_number": self.ticket_number, "flights": [f.to_dict() for f in self.flights],
            "fare": _money(self.fare), "fuel_surcharge": _money(self.fuel_surcharge),
            "caac_fund": _money(self.caac_fund), "other_tax": _money(self.other_tax),
            "vat": _money(self.vat),
        }


@dataclass(slots=True)
class TollBill:
    """通行费电子票据 or a toll VAT invoice: amount, tax and total are the invoice's own."""

    plate: str | None = None  # 车牌号
    entry: str | None = None  # 入口
    exit: str | None = None  # 出口

    def to_dict(self) -> dict[str, Any]:
        return {"plate": self.plate, "entry": self.entry, "exit": self.exit}


@dataclass(frozen=True, slots=True)
class BankAccount:
    name: str | None = None
    account: str | None = None
    bank: str | None = None  # 开户行

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "account": self.account, "bank": self.bank}


@dataclass(slots=True)
class BankReceipt:
    """电子回单 / 借记通知 / 贷记通知: ``Invoice.total`` is the amount, ``check_code`` the 验证码."""

    bank: str | None = None  # the issuing bank as printed
    payer: BankAccount = field(default_factory=BankAccount)
    payee: BankAccount = field(default_factory=BankAccount)
    currency: str | None = "CNY"
    purpose: str | None = None  # 用途 / 摘要 / 附言
    serial: str | None = None  # 交易流水号, where it differs from the receipt number

    def to_dict(self) -> dict[str, Any]:
        return {"bank": self.bank, "payer": self.payer.to_dict(), "payee": self.payee.to_dict(),
                "currency": self.currency, "purpose": self.purpose, "serial": self.serial}


@dataclass(frozen=True, slots=True)
class StatementLine:
    date: str | None = None
    description: str | None = None
    debit: Decimal | None = None
    credit: Decimal | None = None
    balance: Decimal | None = None
    counterparty: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date, "description": self.description, "debit": _money(self.debit),
                "credit": _money(self.credit), "balance": _money(self.balance),
                "counterparty": self.counterparty}


@dataclass(slots=True)
class BankStatement:
    """银行电子对账单 / 电子明细对账单."""

    bank: str | None = None
    account: str | None = None
    period_start: str | None = None
    period_end: str | None = None
    lines: list[StatementLine] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"bank": self.bank, "account": self.account, "period_start": self.period_start,
                "period_end": self.period_end, "lines": [line.to_dict() for line in self.lines]}


KindDetails = RailwayTicket | AirItinerary | TollBill | BankReceipt | BankStatement

"""The QR code printed on Chinese VAT invoices: parse its comma-separated payload.

Old-style (DESIGN §3): ``01,<type>,<code>,<number>,<amount excl. tax>,<YYYYMMDD>,<check>,<crc>``
with type 01 专票, 04 普票, 08 电子专票, 10 电子普票. 数电票: ``01,<31|32>,,<20-digit number>,
<amount>,<YYYYMMDD>,,<crc>`` (31 专票, 32 普票). Empty fields are sometimes a single space
(``01,31, ,2351…``). On 数电票 the amount is the total including tax: every 数电 sample's QR
amount equals its 价税合计 (test.pdf: 50.00 for 47.17 + 2.83), while the old-style QR carries
the amount excluding tax.

Pure: text in, ``QrPayload`` out; decoding the image is the caller's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from invoice import normalize
from invoice.model import InvoiceKind

OLD_TYPES: dict[str, InvoiceKind] = {
    "01": InvoiceKind.VAT_E_SPECIAL,
    "08": InvoiceKind.VAT_E_SPECIAL,
    "20": InvoiceKind.VAT_E_SPECIAL,  # 增值税电子专用发票 (seen in 增值税电子专票5.ofd)
    "04": InvoiceKind.VAT_E_ORDINARY,
    "10": InvoiceKind.VAT_E_ORDINARY,
}
DIGITAL_TYPES: dict[str, InvoiceKind] = {
    "31": InvoiceKind.DIGITAL_SPECIAL,
    "32": InvoiceKind.DIGITAL_ORDINARY,
}

_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DIGITS20 = re.compile(r"\d{20}")
_DIGITS8 = re.compile(r"\d{8}")
_CODE = re.compile(r"\d{10}|\d{12}")


@dataclass(frozen=True, slots=True)
class QrPayload:
    raw: str
    type_code: str
    kind: InvoiceKind
    code: str | None
    number: str
    amount: Decimal | None  # old-style: excluding tax
    total: Decimal | None  # 数电票: including tax
    issue_date: str | None  # YYYY-MM-DD
    check_code: str | None

    @property
    def digital(self) -> bool:
        return self.type_code in DIGITAL_TYPES


def _money(text: str) -> Decimal | None:
    try:
        return normalize.amount(text)
    except normalize.Refused:
        return None


def parse_qr(text: str) -> QrPayload | None:
    """The invoice facts in a QR payload, or None when it is not an invoice QR code.

    Strict on purpose: a wrong QR would silently override printed fields, so any field that
    does not have its expected shape makes the whole payload unusable.
    """
    parts = [p.strip() for p in text.strip().split(",")]
    if len(parts) < 7 or parts[0] != "01":
        return None
    type_code = parts[1]
    code, number, amount_s, date_s = parts[2], parts[3], parts[4], parts[5]
    check = parts[6] if len(parts) > 6 else ""
    if _DATE.match(date_s) is None:
        return None
    try:
        date = normalize.date(date_s)
    except normalize.Refused:  # 20240231: a payload with an impossible date is unusable
        return None
    money = _money(amount_s) if amount_s else None
    if type_code in DIGITAL_TYPES:
        if not _DIGITS20.fullmatch(number) or code:
            return None
        return QrPayload(text, type_code, DIGITAL_TYPES[type_code], None, number, None, money,
                         date, None)
    if type_code in OLD_TYPES:
        if not _CODE.fullmatch(code) or not _DIGITS8.fullmatch(number):
            return None
        check_code = "".join(check.split()) or None
        if check_code is not None and not _DIGITS20.fullmatch(check_code):
            return None
        return QrPayload(text, type_code, OLD_TYPES[type_code], code, number, money, None, date,
                         check_code)
    return None

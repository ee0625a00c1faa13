"""The normalised invoice: the contract between parsers, verification, registry and API.

Every parser (OFD, PDF, XML) produces this one shape (DESIGN §4) so that the rest of the
service never needs to know which format an invoice arrived in. Money is ``Decimal``; a
field the file does not carry is ``None`` rather than an empty string, so that "absent" and
"printed as empty" never get confused downstream.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from invoice.kinds import KindDetails


class InvoiceKind(StrEnum):
    VAT_E_ORDINARY = "vat_e_ordinary"
    VAT_E_SPECIAL = "vat_e_special"
    DIGITAL_ORDINARY = "digital_ordinary"
    DIGITAL_SPECIAL = "digital_special"
    RAILWAY_TICKET = "railway_ticket"
    AIR_ITINERARY = "air_itinerary"
    TOLL_BILL = "toll_bill"
    BANK_RECEIPT = "bank_receipt"
    BANK_STATEMENT = "bank_statement"
    UNKNOWN = "unknown"


BANK_KINDS = frozenset({InvoiceKind.BANK_RECEIPT, InvoiceKind.BANK_STATEMENT})


class SourceFormat(StrEnum):
    OFD = "ofd"
    PDF = "pdf"
    XML = "xml"
    IMAGE = "image"  # a scan or photo: read from its QR code and OCR, never more than unsigned


class FieldSource(StrEnum):
    """Where a field's value was read, best first (DESIGN §3)."""

    ATTACHMENT_XML = "attachment_xml"  # OFD Attachs/original_invoice.xml
    CUSTOM_TAG = "custom_tag"  # OFD Tags/CustomTag.xml -> TextObject ids
    CUSTOM_DATA = "custom_data"  # OFD.xml CustomData
    PAGE_TEXT = "page_text"  # text on the page (OFD TextCode or PDF text)
    QR_CODE = "qr_code"  # the QR payload
    XML = "xml"  # 数电票 XML element
    DERIVED = "derived"  # computed from other fields (e.g. total - amount)
    OCR = "ocr"  # recognised from a scan or photo


@dataclass(frozen=True, slots=True)
class Party:
    name: str | None = None
    tax_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "tax_id": self.tax_id}


@dataclass(frozen=True, slots=True)
class Item:
    name: str | None = None
    spec: str | None = None
    unit: str | None = None
    quantity: str | None = None  # kept as printed (may be empty or "1.5")
    unit_price: str | None = None  # kept as printed: often more than 2 decimals
    amount: Decimal | None = None
    tax_rate: str | None = None  # as printed: "6%", "免税", "不征税"
    tax: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec,
            "unit": self.unit,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "amount": money_str(self.amount),
            "tax_rate": self.tax_rate,
            "tax": money_str(self.tax),
        }


@dataclass(slots=True)
class Invoice:
    """One invoice read from one file."""

    kind: InvoiceKind
    source_format: SourceFormat
    number: str | None
    code: str | None = None
    issue_date: str | None = None  # YYYY-MM-DD
    check_code: str | None = None
    buyer: Party = field(default_factory=Party)
    seller: Party = field(default_factory=Party)
    amount: Decimal | None = None  # excluding tax
    tax: Decimal | None = None
    total: Decimal | None = None  # including tax
    items: list[Item] = field(default_factory=list)
    drawer: str | None = None
    remarks: str | None = None
    sha256: str = ""
    field_sources: dict[str, str] = field(default_factory=dict)
    # Field provenance: where in the file each field was read. OFD: the zip member path
    # ("Doc_0/Attachs/original_invoice.xml"); PDF: "revision N, page P" (or "qr" for the QR
    # payload). Verification compares these with what the signatures cover.
    field_locations: dict[str, str] = field(default_factory=dict)
    # Extra facts that do not fit the common shape (QR payload, machine number, passenger,
    # red-letter reference, ...). Kept so that checks can use them; shown in the API as-is.
    extra: dict[str, str] = field(default_factory=dict)
    # What only this kind of voucher has (railway, air, toll, bank receipt, statement); its
    # fields appear at the top level of ``to_dict`` under the names of DESIGN §4.
    details: KindDetails | None = None

    @property
    def key(self) -> str | None:
        """The duplicate key: ``<code>:<number>`` for old-style invoices, else the number.

        A 数电票 number is 20 digits and unique on its own; old VAT e-invoice numbers are only
        8 digits and unique together with the 10/12-digit code. A bank receipt's number is
        unique only within its bank: ``bank:<issuer code or bank name>:<number>``.
        """
        if self.kind in BANK_KINDS:
            return bank_key(self.code, self.number)
        return invoice_key(self.code, self.number)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "source_format": self.source_format.value,
            "code": self.code,
            "number": self.number,
            "issue_date": self.issue_date,
            "check_code": self.check_code,
            "buyer": self.buyer.to_dict(),
            "seller": self.seller.to_dict(),
            "amount": money_str(self.amount),
            "tax": money_str(self.tax),
            "total": money_str(self.total),
            "items": [i.to_dict() for i in self.items],
            "drawer": self.drawer,
            "remarks": self.remarks,
            "key": self.key,
            "sha256": self.sha256,
            "field_sources": dict(self.field_sources),
            "field_locations": dict(self.field_locations),
            "extra": dict(self.extra),
            **(self.details.to_dict() if self.details is not None else {}),
        }


def invoice_key(code: str | None, number: str | None) -> str | None:
    """``<code>:<number>``, or the number alone; both parts in canonical form (see below)."""
    code, number = canonical_key_field(code), canonical_key_field(number)
    if not number:
        return None
    return f"{code}:{number}" if code else number


def bank_key(issuer: str | None, number: str | None) -> str | None:
    """``bank:<issuer>:<number>`` for bank receipts and statements (``bank:<number>`` when
    the issuer is unknown): receipt numbers repeat across banks, and the prefix keeps them
    apart from invoice keys. ``issuer`` is the bank's identification code
    (IdentificationCodeOfIssuer) or, when the bank gives none, its name as printed."""
    issuer, number = canonical_key_field(issuer), canonical_key_field(number)
    if not number:
        return None
    return f"bank:{issuer}:{number}" if issuer else f"bank:{number}"


# --- canonical keys ------------------------------------------------------------------------------
# Codes, numbers and tax ids identify an invoice; a look-alike spelling (full-width ２４４…,
# Arabic-Indic ٢٤٤…, a stray space) must never make the same invoice a second one. Every
# parser's output goes through ``canonicalize_keys`` (``invoice.parse`` calls it), and
# ``invoice_key`` applies the same rule, so the key, the checks and the duplicate test all see
# one spelling.

KEY_FIELDS = ("code", "number", "check_code", "buyer.tax_id", "seller.tax_id")
# ``Invoice.extra`` entry naming the key fields that held non-ASCII digits (comma-separated);
# the ``key_digits`` cross-check reports it.
NON_ASCII_KEY_DIGITS = "non_ascii_key_digits"


def canonical_key_field(value: str | None) -> str | None:
    """NFKC, every Unicode decimal digit as its ASCII digit, all whitespace removed.

    ``None`` and a value that is empty after cleaning give ``None``.
    """
    if value is None:
        return None
    if value.isascii() and value.isalnum():  # the common case, already canonical: no copy
        return value
    text = unicodedata.normalize("NFKC", value)
    out: list[str] = []
    for ch in text:
        if ch.isspace() or unicodedata.category(ch) == "Cf":  # spaces, zero-width and bidi marks
            continue
        digit = unicodedata.decimal(ch, None)
        out.append(str(digit) if digit is not None else ch)
    return "".join(out) or None


def has_non_ascii_digits(value: str | None) -> bool:
    """Did ``value`` spell a digit other than as ASCII 0-9 (full-width, Arabic-Indic, ...)?"""
    if not value or value.isascii():
        return False
    return any(unicodedata.decimal(ch, None) is not None and not ("0" <= ch <= "9")
                               for ch in value or "")


def canonicalize_keys(inv: Invoice) -> Invoice:
    """Put the invoice's key fields in canonical form, in place, noting look-alike digits.

    The fields that held non-ASCII digits are listed in ``extra[NON_ASCII_KEY_DIGITS]`` so
    that verification can flag them (``key_digits``); the values themselves become ASCII.
    """
    for value in (inv.code, inv.number, inv.check_code, inv.buyer.tax_id, inv.seller.tax_id):
        if value is not None and not (value.isascii() and value.isalnum()):
            break
    else:  # every key field already canonical (what real files print): nothing to change
        return inv
    flagged: list[str] = []
    for name in ("code", "number", "check_code"):
        raw = getattr(inv, name)
        if has_non_ascii_digits(raw):
            flagged.append(name)
        setattr(inv, name, canonical_key_field(raw))
    for role in ("buyer", "seller"):
        party: Party = getattr(inv, role)
        if has_non_ascii_digits(party.tax_id):
            flagged.append(f"{role}.tax_id")
        clean = canonical_key_field(party.tax_id)
        if clean != party.tax_id:
            setattr(inv, role, replace(party, tax_id=clean))
    if flagged:
        earlier = [f for f in inv.extra.get(NON_ASCII_KEY_DIGITS, "").split(",") if f]
        inv.extra[NON_ASCII_KEY_DIGITS] = ",".join(dict.fromkeys([*earlier, *flagged]))
    return inv


def money_str(value: Decimal | None) -> str | None:
    """Format money as a two-decimal string ("181.14"), the API's money format."""
    if value is None:
        return None
    return str(value.quantize(Decimal("0.01")))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

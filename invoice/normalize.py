"""One set of rules for the values printed on an invoice, shared by the OFD, PDF and XML readers.

The same invoice arrives as OFD, PDF or XML; the three readers must turn what is printed into
the same ``Invoice``. Every printed value therefore goes through this module, and only this one:

- **Dates** (``date``, ``find_date``): ``2024-02-03``, ``2024-2-3``, ``2024年2月3日``,
  ``2024/02/03``, ``2024.02.03``, ``20240203``, with or without a time after it, in ASCII,
  full-width or other Unicode digits, become ``"2024-02-03"``. A date that is written but
  cannot exist (``2024-02-31``, month 13, a year outside 1990-2100) is **refused**: the reader
  stores no date and records the refusal (``record``, ``extra["refused_values"]``), and the
  ``printed_values`` and ``issue_date`` checks fail on it. It is never dropped silently by one
  reader and passed on by another (which the registry would then store as NULL).
- **Amounts** (``amount``): ``¥``/``￥``, thousands commas, spaces, full-width digits and signs,
  red-letter (红字) negatives ``-1,234.50``/``¥-1,234.50``/``-¥1,234.50`` become a ``Decimal``
  with two places. Anything else that is not empty is refused (no exponents, NaN, or amounts of
  a trillion yuan and more).
- **Tax** (``tax``): the exempt words ``免税``, ``免征``, ``不征税`` and the mask ``***`` mean
  that no tax was charged: the tax is ``0.00`` in every reader, and the line's **rate keeps the
  word as printed** (``tax_rate``). Why 0.00 and not None: the invoice still adds up
  (amount + 0.00 = total, which the totals check and the ledger need), None would read as
  "not printed" and fail the completeness checks of a perfectly valid exempt invoice, and the
  reason (exempt vs. not taxable, which matters for input-tax deduction) is not lost because
  the rate keeps it.
- **Tax rates** (``tax_rate``): the printed form. ``6%`` stays ``6%`` (``13.00%`` stays as
  printed), the XML's fraction ``0.06`` and a bare ``6`` become ``6%``, the words stay words.
  ``rate_value`` gives the rate as a fraction (``Decimal("0.06")``, ``0`` for the words) for
  comparisons across formats.
- **Codes, numbers, tax ids** (``key``, ``tax_id``): spaces out, tax ids upper-case; the
  digits become ASCII in ``invoice.model.canonical_key_field`` (``canonical``), which
  ``invoice.parse`` applies to every format after noting look-alike digits.

A normaliser returns ``None`` when nothing is printed and raises ``Refused`` when something is
printed that cannot be the field's value; the reader decides where to record it. The functions
are pure and fast on the plain ASCII forms real files use (the XML reader calls them for every
goods line).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date as _Date
from decimal import Decimal

from invoice.model import canonical_key_field

__all__ = [
    "NO_TAX_WORDS",
    "REFUSED_VALUES",
    "Refused",
    "RefusedValue",
    "amount",
    "canonical",
    "date",
    "find_date",
    "key",
    "label_date",
    "rate_value",
    "record",
    "refused",
    "tax",
    "tax_id",
    "tax_rate",
    "text",
]

# ``Invoice.extra`` entry listing refused printed values (JSON list of RefusedValue dicts).
REFUSED_VALUES = "refused_values"
# Printed in a tax or rate cell when no tax is charged: the tax is 0.00, the rate keeps the word.
NO_TAX_WORDS = frozenset({"***", "免税", "免征", "不征税", "免征增值税", "不征收"})
MIN_YEAR, MAX_YEAR = 1990, 2100
_MAX_AMOUNT = Decimal(10) ** 12  # no invoice reaches a trillion yuan
_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_HUNDRED = Decimal(100)

# Plain ASCII forms, checked first (no Unicode work for what real files print).
_PLAIN_AMOUNT = re.compile(r"-?\d{1,12}(?:\.\d+)?", re.ASCII)
_PLAIN_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T].*)?", re.S | re.ASCII)
# Separated dates: 2024-02-03, 2024-2-3, 2024年2月3日, 2024/02/03, 2024.02.03 (spaces allowed).
_SEPARATED_DATE = re.compile(
    r"(?<!\d)(\d{4})\s*(?:年|-|/|\.)\s*(\d{1,2})\s*(?:月|-|/|\.)\s*(\d{1,2})(?!\d)")
# Compact dates: 20240203, alone or followed by a time (20240203101112); field values only.
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})(?:\d{6})?(?:\D.*)?", re.S | re.ASCII)
# A text that is nothing but three numbers apart (2024  11  07: the 年月日 printed by the form)
_SPACED_DATE = re.compile(r"\s*(\d{4})\s+(\d{1,2})\s+(\d{1,2})\s*", re.ASCII)
_AMOUNT_NOISE = re.compile(r"[\s¥,，]")  # after NFKC: ￥ -> ¥, full-width comma -> ","
_SIGNED_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)
_MINUS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
                        "\ufe63": "-"})
_PERCENT_NUMBER = re.compile(r"(\d{1,3}(?:\.\d+)?)%", re.ASCII)
_RATES: dict[str, str] = {}  # printed rate -> its form (bounded; see tax_rate)
_BARE_NUMBER = re.compile(r"\d{0,3}(?:\.\d+)?", re.ASCII)


class Refused(ValueError):
    """A printed value that cannot be the field's value (``reason`` is a stable code).

    Reasons: ``not_a_date`` (no date in a date field), ``impossible_date`` (2024-02-31,
    month 13), ``date_out_of_range`` (before 1990 or after 2100), ``not_an_amount``,
    ``amount_out_of_range``.
    """

    def __init__(self, reason: str, raw: str) -> None:
        super().__init__(f"{raw!r}: {reason}")
        self.reason = reason
        self.raw = raw


@dataclass(frozen=True, slots=True)
class RefusedValue:
    """One refused printed value, as recorded in ``Invoice.extra[REFUSED_VALUES]``."""

    field: str
    raw: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "raw": self.raw, "reason": self.reason}


def _unicode(raw: str) -> str:
    """NFKC (full-width digits, ￥, ％, ／) and every Unicode decimal digit as ASCII."""
    if raw.isascii():
        return raw
    t = unicodedata.normalize("NFKC", raw).translate(_MINUS)
    if t.isascii():
        return t
    out = []
    for ch in t:
        d = unicodedata.decimal(ch, None)
        out.append(str(d) if d is not None else ch)
    return "".join(out)


# --- text ---------------------------------------------------------------------------------------


def text(raw: str | None) -> str | None:
    """Stripped text; ``None`` when nothing is printed."""
    if raw is None:
        return None
    t = raw.strip()
    return t or None


# --- dates --------------------------------------------------------------------------------------


def _ymd(y: str, m: str, d: str, raw: str) -> str:
    try:
        day = _Date(int(y), int(m), int(d))
    except ValueError:
        raise Refused("impossible_date", raw) from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise Refused("date_out_of_range", raw)
    return day.isoformat()


def date(raw: str | None) -> str | None:
    """The ISO date a date *field* holds (XML element, OFD data field, QR part, the text after
    a 开票日期 label). ``None`` when empty; ``Refused`` when it holds no date or an impossible
    one. A time after the date is ignored."""
    if raw is None:
        return None
    t = raw.strip()
    if not t:
        return None
    m = _PLAIN_DATE.fullmatch(t)
    if m is None:
        m = _SEPARATED_DATE.search(t)  # 2024年02月03日 as printed: no Unicode work
        if (m is None or m.start()) and not t.isascii():  # ASCII: NFKC would change nothing
            t = _unicode(t).strip()
            m = _SEPARATED_DATE.search(t)
        if m is None or (m.start() and not _is_prefix_noise(t[:m.start()])):
            m = _COMPACT_DATE.fullmatch(t) or _SPACED_DATE.fullmatch(t)
        if m is None:
            raise Refused("not_a_date", raw)
    return _ymd(m.group(1), m.group(2), m.group(3), raw)


def _is_prefix_noise(prefix: str) -> bool:
    """What may stand before the date in a field: a label and colon (开票日期：)."""
    return not any(ch.isdigit() for ch in prefix)


def find_date(raw: str | None) -> str | None:
    """The first separated date in free text (a PDF line, an OFD page label's value):
    ``None`` when there is none; ``Refused`` when the first one is impossible. Compact
    ``20240203`` is not looked for here (in free text an 8-digit invoice number looks alike);
    three numbers apart (``2024  11  07``) only when they are the whole text."""
    if not raw:
        return None
    t = _unicode(raw)
    m = _SEPARATED_DATE.search(t) or _SPACED_DATE.fullmatch(t)
    if m is None:
        return None
    return _ymd(m.group(1), m.group(2), m.group(3), raw)


def label_date(raw: str | None) -> str | None:
    """The date after a 开票日期 label on a page (PDF text, OFD page text): any printed style,
    compact ``20240203`` and the form's bare ``2024  02  03`` included; ``None`` when the
    text holds no date (the layout may have picked up something else), ``Refused`` when it
    holds an impossible one."""
    found = find_date(raw)
    if found is not None or not raw:
        return found
    try:
        return date(raw)
    except Refused as exc:
        if exc.reason == "not_a_date":
            return None
        raise


# --- money --------------------------------------------------------------------------------------


def amount(raw: str | None) -> Decimal | None:
    """A printed amount as a two-place ``Decimal``; ``None`` when empty; ``Refused`` else."""
    if raw is None:
        return None
    if _PLAIN_AMOUNT.fullmatch(raw):  # the common case: "181.14", "-3.20"
        return Decimal(raw).quantize(_CENT)
    t = _AMOUNT_NOISE.sub("", _unicode(raw))  # ¥-1,234.50 and -¥1,234.50 -> -1234.50
    if not t:
        return None
    if not _SIGNED_DECIMAL.fullmatch(t):
        raise Refused("not_an_amount", raw)
    value = Decimal(t)
    if abs(value) >= _MAX_AMOUNT:
        raise Refused("amount_out_of_range", raw)
    return value.quantize(_CENT)


def tax(raw: str | None) -> Decimal | None:
    """A printed tax: like ``amount``, and ``0.00`` for 免税/免征/不征税/*** (see above)."""
    if raw is None:
        return None
    if _PLAIN_AMOUNT.fullmatch(raw):
        return Decimal(raw).quantize(_CENT)
    t = "".join(_unicode(raw).split()).removeprefix("¥")
    if t in NO_TAX_WORDS or (t and set(t) == {"*"}):
        return _ZERO
    return amount(raw)


# --- tax rates ----------------------------------------------------------------------------------


def tax_rate(raw: str | None) -> str | None:
    """The rate as printed on the face: ``6%``; ``0.06`` (XML) and ``6`` become ``6%``; the
    words 免税/免征/不征税/*** stay. Other text is kept (stripped) for a person to read."""
    if raw is None:
        return None
    known = _RATES.get(raw)
    if known is not None:
        return known
    t = "".join(_unicode(raw).split())
    if not t:
        return None
    if len(_RATES) < 256 and len(raw) <= 16:  # a handful of rates exist: remember them
        _RATES[raw] = _tax_rate(t)
    return _tax_rate(t)


def _tax_rate(t: str) -> str:
    if t in NO_TAX_WORDS or set(t) == {"*"}:
        return t
    if _PERCENT_NUMBER.fullmatch(t):
        return t
    if _BARE_NUMBER.fullmatch(t) and t != ".":
        value = Decimal(t)
        if "." in t and value < 1:  # a fraction: 0.06, .13, 0.0
            pct = (value * _HUNDRED).normalize()
            return f"{pct:f}%"
        return f"{t}%"
    return t


def rate_value(printed: str | None) -> Decimal | None:
    """The rate as a fraction (``Decimal("0.06")``); ``0`` for the no-tax words; ``None`` when
    absent or unreadable. Compares ``6%``, ``6.00%`` and ``0.06`` as one rate."""
    t = tax_rate(printed)
    if t is None:
        return None
    if t in NO_TAX_WORDS or set(t) == {"*"}:
        return Decimal(0)
    m = _PERCENT_NUMBER.fullmatch(t)
    if m is None:
        return None
    return (Decimal(m.group(1)) / _HUNDRED).normalize()


# --- codes, numbers, tax ids --------------------------------------------------------------------


def key(raw: str | None) -> str | None:
    """Invoice code, number or check code with spaces and invisible marks removed, digits
    left as spelled: ``invoice.parse`` then puts every key field through
    ``canonical_key_field`` (``canonicalize_keys``), which makes the digits ASCII *and*
    notes that a look-alike spelling was used (the ``key_digits`` check); converting here
    would hide that."""
    if raw is None:
        return None
    if raw.isascii() and raw.isalnum():
        return raw
    v = "".join(ch for ch in raw if not ch.isspace() and unicodedata.category(ch) != "Cf")
    return v or None


def tax_id(raw: str | None) -> str | None:
    """A taxpayer id (统一社会信用代码 or old id): as ``key``, upper-case."""
    v = key(raw)
    return v.upper() if v else None


def canonical(raw: str | None) -> str | None:
    """The one spelling keys are compared in (``invoice.model.canonical_key_field``)."""
    return canonical_key_field(raw)


# --- refusals -----------------------------------------------------------------------------------


def record(extra: dict[str, str], field: str, exc: Refused) -> None:
    """Note a refused value in ``extra[REFUSED_VALUES]`` (each field and text once)."""
    found = refused(extra)
    entry = RefusedValue(field, exc.raw.strip()[:200], exc.reason)
    if entry in found or len(found) >= 32:
        return
    found.append(entry)
    extra[REFUSED_VALUES] = json.dumps([r.to_dict() for r in found], ensure_ascii=False)


def refused(extra: dict[str, str]) -> list[RefusedValue]:
    """The refused values recorded in ``extra`` (an unreadable entry counts as none)."""
    raw = extra.get(REFUSED_VALUES)
    if not raw:
        return []
    try:
        items = json.loads(raw)
        return [RefusedValue(str(i["field"]), str(i["raw"]), str(i["reason"])) for i in items]
    except (ValueError, TypeError, KeyError):
        return []

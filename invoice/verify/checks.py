"""Cross-checks of an invoice's content: does what it says hang together?

Each check returns a ``Check`` (id, pass/fail/warn/not_applicable, message). They never
change the signature verdict: a signed invoice with a wrong sum is still genuinely signed,
and a correct sum proves nothing about authenticity. The clock and the organisation's
identity come in as parameters.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal

from invoice.model import Invoice, InvoiceKind
from invoice.qr import parse_qr
from invoice.verify.report import Check, CheckResult
from invoice.verify.taxid import check_tax_id

CENT = Decimal("0.01")
DIGITAL_KINDS = {InvoiceKind.DIGITAL_ORDINARY, InvoiceKind.DIGITAL_SPECIAL}
# Province-level division codes of GB/T 2260 (first two digits), which open a 数电票 number.
PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
}
_DIGITS = re.compile(r"^\d+$")


def _fmt(v: Decimal | None) -> str:
    return "—" if v is None else str(v.quantize(CENT))


def _na(cid: str, why: str) -> Check:
    return Check(cid, CheckResult.NOT_APPLICABLE, why)


def check_tax_ids(inv: Invoice) -> list[Check]:
    out: list[Check] = []
    for role, party in (("buyer", inv.buyer), ("seller", inv.seller)):
        cid = f"{role}_tax_id"
        if not party.tax_id:
            out.append(_na(cid, f"the invoice shows no {role} tax id"))
            continue
        r = check_tax_id(party.tax_id)
        result = CheckResult.PASS if r.ok else CheckResult.FAIL if r.ok is False else CheckResult.WARN
        out.append(Check(cid, result, f"{role}: {r.message}"))
    return out


def check_totals(inv: Invoice) -> Check:
    if inv.amount is None or inv.tax is None or inv.total is None:
        return _na("amount_tax_total", "amount, tax or total is not known")
    if (inv.amount + inv.tax).quantize(CENT) == inv.total.quantize(CENT):
        return Check("amount_tax_total", CheckResult.PASS,
                     f"{_fmt(inv.amount)} + {_fmt(inv.tax)} = {_fmt(inv.total)}")
    return Check(
        "amount_tax_total", CheckResult.FAIL,
        f"amount {_fmt(inv.amount)} + tax {_fmt(inv.tax)} = {_fmt(inv.amount + inv.tax)}, "
        f"but the total says {_fmt(inv.total)}",
    )


def check_items(inv: Invoice) -> list[Check]:
    """Line amounts and taxes add up to the totals, within 0.01 per line for rounding."""
    if not inv.items:
        return [_na("items_sum", "no line items were read")]
    out: list[Check] = []
    tol = CENT * len(inv.items)
    for cid, field, total in (("items_amount", "amount", inv.amount), ("items_tax", "tax", inv.tax)):
        values = [getattr(i, field) for i in inv.items]
        if total is None or any(v is None for v in values):
            out.append(_na(cid, f"the {field} of the invoice or of a line is not known"))
            continue
        s = sum(values, Decimal(0))
        diff = abs(s - total)
        if diff <= tol:
            out.append(Check(cid, CheckResult.PASS,
                             f"{len(values)} line {field}s sum to {_fmt(s)} (invoice {_fmt(total)})"))
        else:
            out.append(Check(cid, CheckResult.FAIL,
                             f"{len(values)} line {field}s sum to {_fmt(s)}, the invoice says "
                             f"{_fmt(total)} (difference {_fmt(diff)} > tolerance {_fmt(tol)})"))
    return out


def check_qr(inv: Invoice) -> Check:
    raw = inv.extra.get("qr")
    if not raw:
        return _na("qr_payload", "no QR payload was read")
    qr = parse_qr(raw)
    if qr is None:
        return Check("qr_payload", CheckResult.FAIL, f"the QR payload {raw!r} is not an invoice QR code")
    diffs: list[str] = []

    def cmp(name: str, printed: object, coded: object) -> None:
        if printed is not None and coded is not None and printed != coded:
            diffs.append(f"{name}: printed {printed}, QR {coded}")

    cmp("number", inv.number, qr.number)
    cmp("code", inv.code, qr.code)
    cmp("issue_date", inv.issue_date, qr.issue_date)
    if qr.digital:
        cmp("total", inv.total, qr.total)
    else:
        cmp("amount", inv.amount, qr.amount)
    if inv.check_code and qr.check_code and not inv.check_code.endswith(qr.check_code):
        diffs.append(f"check_code: printed {inv.check_code}, QR {qr.check_code}")
    if diffs:
        return Check("qr_payload", CheckResult.FAIL, "QR code disagrees with the invoice: " + "; ".join(diffs))
    return Check("qr_payload", CheckResult.PASS, "the QR code agrees with the printed fields")


def check_issue_date(inv: Invoice, today: date) -> Check:
    if not inv.issue_date:
        return _na("issue_date", "no issue date")
    try:
        d = date.fromisoformat(inv.issue_date)
    except ValueError:
        return Check("issue_date", CheckResult.FAIL, f"issue date {inv.issue_date!r} is not a date")
    if d > today:
        return Check("issue_date", CheckResult.FAIL, f"issued {d}, which is after today ({today})")
    return Check("issue_date", CheckResult.PASS, f"issued {d}, not in the future")


def _norm_name(s: str) -> str:
    s = unicodedata.normalize("NFKC", s)  # full-width （） and spaces to ASCII
    return re.sub(r"\s+", "", s)


def check_buyer(inv: Invoice, org_name: str | None, org_tax_id: str | None) -> list[Check]:
    out: list[Check] = []
    if not org_name:
        out.append(_na("buyer_name", "no organisation name configured (org_name)"))
    elif not inv.buyer.name:
        out.append(Check("buyer_name", CheckResult.WARN, "the invoice shows no buyer name"))
    elif _norm_name(inv.buyer.name) == _norm_name(org_name):
        out.append(Check("buyer_name", CheckResult.PASS, f"buyer is {org_name}"))
    else:
        out.append(Check("buyer_name", CheckResult.FAIL,
                         f"buyer {inv.buyer.name!r} is not the organisation {org_name!r}"))
    if not org_tax_id:
        out.append(_na("buyer_org_tax_id", "no organisation tax id configured (org_tax_id)"))
    elif not inv.buyer.tax_id:
        out.append(Check("buyer_org_tax_id", CheckResult.WARN, "the invoice shows no buyer tax id"))
    elif inv.buyer.tax_id.strip().upper() == org_tax_id.strip().upper():
        out.append(Check("buyer_org_tax_id", CheckResult.PASS, f"buyer tax id is {org_tax_id}"))
    else:
        out.append(Check("buyer_org_tax_id", CheckResult.FAIL,
                         f"buyer tax id {inv.buyer.tax_id} is not the organisation's {org_tax_id}"))
    return out


def check_number(inv: Invoice) -> Check:
    """Number structure: 数电票 20 digits = 2-digit year + 2-digit province + 16 more;
    old-style: 10/12-digit code and 8-digit number. Only what public samples confirm."""
    num = inv.number
    if not num:
        return Check("number_structure", CheckResult.FAIL, "the invoice has no number")
    digital = inv.kind in DIGITAL_KINDS or (len(num) == 20 and not inv.code)
    if digital:
        if len(num) != 20 or not _DIGITS.match(num):
            return Check("number_structure", CheckResult.FAIL,
                         f"数电票 number {num!r} is not 20 digits")
        notes: list[str] = []
        if num[2:4] not in PROVINCES:
            notes.append(f"digits 3-4 ({num[2:4]}) are no province code of GB/T 2260")
        if inv.issue_date and inv.issue_date[2:4] != num[:2]:
            notes.append(f"digits 1-2 ({num[:2]}) are not the issue year {inv.issue_date[:4]}")
        if notes:
            return Check("number_structure", CheckResult.WARN, f"数电票 number {num}: " + "; ".join(notes))
        return Check("number_structure", CheckResult.PASS,
                     f"数电票 number {num}: year 20{num[:2]}, province {num[2:4]}")
    if inv.kind in (InvoiceKind.RAILWAY_TICKET, InvoiceKind.AIR_ITINERARY, InvoiceKind.UNKNOWN) and not inv.code:
        return _na("number_structure", f"no known number structure for {inv.kind.value}")
    problems: list[str] = []
    if not _DIGITS.match(num) or len(num) != 8:
        problems.append(f"number {num!r} is not 8 digits")
    if inv.code is None:
        problems.append("an old-style invoice needs its 10- or 12-digit code")
    elif not _DIGITS.match(inv.code) or len(inv.code) not in (10, 12):
        problems.append(f"code {inv.code!r} is not 10 or 12 digits")
    if problems:
        return Check("number_structure", CheckResult.FAIL, "; ".join(problems))
    return Check("number_structure", CheckResult.PASS, f"code {inv.code}, number {num}")


def run_checks(
    inv: Invoice, today: date, org_name: str | None = None, org_tax_id: str | None = None
) -> list[Check]:
    """Every cross-check, in a stable order."""
    checks: list[Check] = []
    checks.extend(check_tax_ids(inv))
    checks.append(check_totals(inv))
    checks.extend(check_items(inv))
    checks.append(check_qr(inv))
    checks.append(check_issue_date(inv, today))
    checks.extend(check_buyer(inv, org_name, org_tax_id))
    checks.append(check_number(inv))
    return checks

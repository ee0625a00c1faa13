"""Cross-checks of an invoice's content: does what it says hang together?

Each check returns a ``Check`` (id, pass/fail/warn/not_applicable, message). The ids are
stable (labels in ``core.messages``, domain ``check``); the messages are Chinese, from the
catalogue (``check.<id>.<outcome>``), written for the finance clerk who reads them. They never
change the signature verdict: a signed invoice with a wrong sum is still genuinely signed,
and a correct sum proves nothing about authenticity. The clock and the organisation's
identity come in as parameters.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal

from core import messages
from invoice import normalize
from invoice.kinds import AirItinerary
from invoice.model import BANK_KINDS, NON_ASCII_KEY_DIGITS, Invoice, InvoiceKind
from invoice.qr import parse_qr
from invoice.transport import air_other_charges
from invoice.verify.report import Check, CheckResult
from invoice.verify.taxid import check_tax_id, uscc_check_char

CENT = Decimal("0.01")
DIGITAL_KINDS = {InvoiceKind.DIGITAL_ORDINARY, InvoiceKind.DIGITAL_SPECIAL}
# Province-level division codes of GB/T 2260 (first two digits), which open a 数电票 number.
PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
}
_DIGITS = re.compile(r"^[0-9]+$")
# Checks about whose invoice it is, not whether it hangs together: a failure means "another
# company's invoice" (非本单位), judged against the organisation's current settings.
OWNERSHIP_CHECKS = frozenset({"buyer_name", "buyer_org_tax_id"})



def _fmt(v: Decimal | None) -> str:
    return "—" if v is None else str(v.quantize(CENT))


def _t(msg_code: str, /, **params: object) -> str:
    return messages.text(msg_code, **params)


def _na(cid: str, msg_code: str, /, **params: object) -> Check:
    return Check(cid, CheckResult.NOT_APPLICABLE, _t(msg_code, **params))


def _tax_id_message(role_label: str, tax_id: str, kind: str, ok: bool | None) -> str:
    tid = tax_id.strip().upper()
    if ok:
        return _t("check.tax_id.id_card_ok" if kind == "id_card" else "check.tax_id.uscc_ok",
                  role=role_label, tax_id=tid)
    if ok is None:
        return _t("check.tax_id.legacy", role=role_label, tax_id=tid, length=len(tid))
    if kind == "uscc":
        return _t("check.tax_id.uscc_bad", role=role_label, tax_id=tid, want=uscc_check_char(tid[:17]),
                  got=tid[17])
    if kind == "id_card":
        return _t("check.tax_id.id_card_bad", role=role_label, tax_id=tid)
    return _t("check.tax_id.malformed", role=role_label, tax_id=tax_id)


def check_tax_ids(inv: Invoice) -> list[Check]:
    out: list[Check] = []
    for role, party in (("buyer", inv.buyer), ("seller", inv.seller)):
        cid = f"{role}_tax_id"
        role_label = messages.label("check_party", role)
        if not party.tax_id:
            out.append(_na(cid, "check.tax_id.absent", role=role_label))
            continue
        r = check_tax_id(party.tax_id)
        result = CheckResult.PASS if r.ok else CheckResult.FAIL if r.ok is False else CheckResult.WARN
        out.append(Check(cid, result, _tax_id_message(role_label, party.tax_id, r.kind, r.ok)))
    return out


def check_totals(inv: Invoice) -> Check:
    if inv.amount is None or inv.tax is None or inv.total is None:
        return _na("amount_tax_total", "check.amount_tax_total.unknown")
    # an air itinerary's 合计 also holds the 民航发展基金 and other taxes (neither amount nor tax)
    air = isinstance(inv.details, AirItinerary)
    others = air_other_charges(inv.details) if isinstance(inv.details, AirItinerary) else Decimal(0)
    params = {"amount": _fmt(inv.amount), "tax": _fmt(inv.tax), "total": _fmt(inv.total),
              "sum": _fmt(inv.amount + inv.tax + others), "others": _fmt(others)}
    code = "check.amount_tax_total.air_" if air else "check.amount_tax_total."
    if (inv.amount + inv.tax + others).quantize(CENT) == inv.total.quantize(CENT):
        return Check("amount_tax_total", CheckResult.PASS, _t(code + "pass", **params))
    return Check("amount_tax_total", CheckResult.FAIL, _t(code + "fail", **params))


def check_items(inv: Invoice) -> list[Check]:
    """Line amounts and taxes add up to the totals, within 0.01 per line for rounding."""
    if not inv.items:
        return [_na("items_sum", "check.items_sum.none")]
    out: list[Check] = []
    tol = CENT * len(inv.items)
    for cid, field, total in (("items_amount", "amount", inv.amount), ("items_tax", "tax", inv.tax)):
        field_label = messages.label("check_field", field)
        values = [getattr(i, field) for i in inv.items]
        if total is None or any(v is None for v in values):
            out.append(_na(cid, "check.items.unknown", field_label=field_label))
            continue
        s = sum(values, Decimal(0))
        diff = abs(s - total)
        params = {"count": len(values), "field_label": field_label, "sum": _fmt(s), "total": _fmt(total),
                  "diff": _fmt(diff), "tol": _fmt(tol)}
        if diff <= tol:
            out.append(Check(cid, CheckResult.PASS, _t("check.items.pass", **params)))
        else:
            out.append(Check(cid, CheckResult.FAIL, _t("check.items.fail", **params)))
    return out


def check_qr(inv: Invoice) -> Check:
    raw = inv.extra.get("qr")
    if not raw:
        return _na("qr_payload", "check.qr_payload.absent")
    qr = parse_qr(raw)
    if qr is None:
        return Check("qr_payload", CheckResult.FAIL, _t("check.qr_payload.bad", raw=raw))
    diffs: list[str] = []

    def cmp(name: str, printed: object, coded: object) -> None:
        if printed is not None and coded is not None and printed != coded:
            diffs.append(_t("check.qr_payload.diff", field_label=messages.label("check_field", name),
                            printed=printed, coded=coded))

    cmp("number", inv.number, qr.number)
    cmp("code", inv.code, qr.code)
    cmp("issue_date", inv.issue_date, qr.issue_date)
    if qr.digital:
        cmp("total", inv.total, qr.total)
    else:
        cmp("amount", inv.amount, qr.amount)
    if inv.check_code and qr.check_code and not inv.check_code.endswith(qr.check_code):
        cmp("check_code", inv.check_code, qr.check_code)
    if diffs:
        return Check("qr_payload", CheckResult.FAIL, _t("check.qr_payload.fail", diffs="；".join(diffs)))
    return Check("qr_payload", CheckResult.PASS, _t("check.qr_payload.pass"))


def check_issue_date(inv: Invoice, today: date) -> Check:
    if not inv.issue_date:
        for r in normalize.refused(inv.extra):
            if r.field == "issue_date":  # printed, but no such day: a failure, not an absence
                return Check("issue_date", CheckResult.FAIL, _t(
                    "check.issue_date.refused", value=r.raw,
                    reason=messages.label("refused_reason", r.reason)))
        return _na("issue_date", "check.issue_date.absent")
    try:
        d = date.fromisoformat(inv.issue_date)
    except ValueError:
        return Check("issue_date", CheckResult.FAIL, _t("check.issue_date.bad", value=inv.issue_date))
    if d > today:
        return Check("issue_date", CheckResult.FAIL, _t("check.issue_date.future", value=d, today=today))
    return Check("issue_date", CheckResult.PASS, _t("check.issue_date.pass", value=d))


def _norm_name(s: str) -> str:
    s = unicodedata.normalize("NFKC", s)  # full-width （） and spaces to ASCII
    return re.sub(r"\s+", "", s)


def check_buyer(inv: Invoice, org_name: str | None, org_tax_id: str | None) -> list[Check]:
    out: list[Check] = []
    if not org_name:
        out.append(_na("buyer_name", "check.buyer_name.no_org"))
    elif not inv.buyer.name:
        out.append(Check("buyer_name", CheckResult.WARN, _t("check.buyer_name.absent")))
    elif _norm_name(inv.buyer.name) == _norm_name(org_name):
        out.append(Check("buyer_name", CheckResult.PASS, _t("check.buyer_name.pass", org=org_name)))
    else:
        out.append(Check("buyer_name", CheckResult.FAIL,
                         _t("check.buyer_name.fail", buyer=inv.buyer.name, org=org_name)))
    if not org_tax_id:
        out.append(_na("buyer_org_tax_id", "check.buyer_org_tax_id.no_org"))
    elif not inv.buyer.tax_id:
        out.append(Check("buyer_org_tax_id", CheckResult.WARN, _t("check.buyer_org_tax_id.absent")))
    elif inv.buyer.tax_id.strip().upper() == org_tax_id.strip().upper():
        out.append(Check("buyer_org_tax_id", CheckResult.PASS,
                         _t("check.buyer_org_tax_id.pass", org_tax_id=org_tax_id)))
    else:
        out.append(Check("buyer_org_tax_id", CheckResult.FAIL,
                         _t("check.buyer_org_tax_id.fail", buyer_tax_id=inv.buyer.tax_id, org_tax_id=org_tax_id)))
    return out


def check_number(inv: Invoice) -> Check:
    """Number structure: 数电票 20 digits = 2-digit year + 2-digit province + 16 more;
    old-style: 10/12-digit code and 8-digit number. Only what public samples confirm."""
    num = inv.number
    if not num:
        return Check("number_structure", CheckResult.FAIL, _t("check.number_structure.absent"))
    digital = inv.kind in DIGITAL_KINDS or (len(num) == 20 and not inv.code)
    if digital:
        if len(num) != 20 or not _DIGITS.match(num):
            return Check("number_structure", CheckResult.FAIL, _t("check.number_structure.digital_bad", number=num))
        notes: list[str] = []
        if num[2:4] not in PROVINCES:
            notes.append(_t("check.number_structure.digital_province", value=num[2:4]))
        if inv.issue_date and inv.issue_date[2:4] != num[:2]:
            notes.append(_t("check.number_structure.digital_year", value=num[:2], year=inv.issue_date[:4]))
        if notes:
            return Check("number_structure", CheckResult.WARN,
                         _t("check.number_structure.digital_warn", number=num, notes="；".join(notes)))
        return Check("number_structure", CheckResult.PASS,
                     _t("check.number_structure.digital_pass", number=num, year=num[:2], province=num[2:4]))
    if inv.kind in (InvoiceKind.RAILWAY_TICKET, InvoiceKind.AIR_ITINERARY, InvoiceKind.UNKNOWN) and not inv.code:
        return _na("number_structure", "check.number_structure.unknown", kind=inv.kind.value)
    problems: list[str] = []
    if not _DIGITS.match(num) or len(num) != 8:
        problems.append(_t("check.number_structure.number_bad", number=num))
    if inv.code is None:
        problems.append(_t("check.number_structure.code_missing"))
    elif not _DIGITS.match(inv.code) or len(inv.code) not in (10, 12):
        problems.append(_t("check.number_structure.code_bad", code=inv.code))
    if problems:
        return Check("number_structure", CheckResult.FAIL, "；".join(problems))
    return Check("number_structure", CheckResult.PASS, _t("check.number_structure.pass", code=inv.code, number=num))


def check_key_digits(inv: Invoice) -> Check:
    """Key fields that were spelled with non-ASCII digits (full-width, Arabic-Indic, ...).

    ``invoice.parse`` makes them ASCII before any key or duplicate test (see
    ``invoice.model.canonicalize_keys``); this check keeps the fact visible, because an
    issuing system writes ASCII digits and a look-alike spelling is a sign of a forged copy.
    """
    flagged = [f for f in inv.extra.get(NON_ASCII_KEY_DIGITS, "").split(",") if f]
    if not flagged:
        return Check("key_digits", CheckResult.PASS, _t("check.key_digits.pass"))
    names = "、".join(messages.label("check_field", f) for f in flagged)
    return Check("key_digits", CheckResult.WARN, _t("check.key_digits.warn", fields=names))


TRANSPORT_KINDS = frozenset({InvoiceKind.RAILWAY_TICKET, InvoiceKind.AIR_ITINERARY,
                             InvoiceKind.TOLL_BILL})


def check_preview(inv: Invoice) -> Check | None:
    """A transport voucher printed "仅供预览" (an airline's or 12306's preview) is no voucher.

    The preview shows every field of the real one, so it parses; this check makes sure it can
    never be claimed as is. Only for the transport kinds (a VAT preview is refused at parse).
    """
    if inv.kind not in TRANSPORT_KINDS:
        return None
    if inv.extra.get("preview"):
        return Check("voucher_preview", CheckResult.FAIL, _t(
            "check.voucher_preview.fail", kind=messages.label("invoice_kind", inv.kind.value),
            number=inv.number or "—", seller=inv.seller.name or "—"))
    return Check("voucher_preview", CheckResult.PASS, _t("check.voucher_preview.pass"))


def check_printed_values(inv: Invoice) -> Check:
    """Printed values a reader refused (``invoice.normalize``: 2024-02-31, an amount that is
    no number). The field is left empty rather than guessed, and this check fails, in the
    same way whichever format (OFD, PDF, XML) the invoice came in."""
    found = normalize.refused(inv.extra)
    if not found:
        return Check("printed_values", CheckResult.PASS, _t("check.printed_values.pass"))
    values = "；".join(
        _t("check.printed_values.item", field=messages.label("check_field", r.field), raw=r.raw,
           reason=messages.label("refused_reason", r.reason)) for r in found)
    return Check("printed_values", CheckResult.FAIL, _t("check.printed_values.fail", values=values))


def run_checks(
    inv: Invoice, today: date, org_name: str | None = None, org_tax_id: str | None = None
) -> list[Check]:
    """Every cross-check, in a stable order."""
    if inv.kind in BANK_KINDS:  # a bank receipt has no buyer, tax or goods to check
        from invoice.verify.bankchecks import run_bank_checks

        return run_bank_checks(inv, today)
    checks: list[Check] = []
    checks.extend(check_tax_ids(inv))
    checks.append(check_totals(inv))
    checks.extend(check_items(inv))
    checks.append(check_qr(inv))
    checks.append(check_issue_date(inv, today))
    checks.extend(check_buyer(inv, org_name, org_tax_id))
    checks.append(check_number(inv))
    checks.append(check_key_digits(inv))
    preview = check_preview(inv)
    if preview is not None:
        checks.append(preview)
    checks.append(check_printed_values(inv))
    return checks

"""Cross-checks of a bank e-receipt: are its elements there, does its data file agree with
what the page prints, is its date possible?

A receipt has no buyer, tax or goods lines, so the invoice checks do not apply; these take
their place (ids ``bank_fields``, ``bank_page``, ``bank_date`` plus the shared ``key_digits``).
Like every check they never change the signature verdict.
"""

from __future__ import annotations

from datetime import date

from core import messages
from invoice.kinds import BankReceipt
from invoice.model import FieldSource, Invoice, money_str
from invoice.verify.checks import check_key_digits
from invoice.verify.report import Check, CheckResult


def check_bank_fields(inv: Invoice) -> Check:
    """Number, amount, payer and payee: what a payment proof must name."""
    d = inv.details if isinstance(inv.details, BankReceipt) else BankReceipt()
    need = {"number": inv.number, "total": inv.total, "payer.name": d.payer.name,
            "payee.name": d.payee.name}
    missing = [messages.label("bank_template_field", k) for k, v in need.items() if v is None]
    if missing:
        return Check("bank_fields", CheckResult.FAIL,
                     messages.text("check.bank_fields.fail", fields="、".join(missing)))
    return Check("bank_fields", CheckResult.PASS, messages.text(
        "check.bank_fields.pass", number=inv.number, total=money_str(inv.total)))


def check_bank_page(inv: Invoice) -> Check:
    """The data file's values that the page does not print (``extra["cross_check"]``)."""
    if inv.field_sources.get("number") != FieldSource.ATTACHMENT_XML.value:
        return Check("bank_page", CheckResult.NOT_APPLICABLE, messages.text("check.bank_page.na"))
    diffs = inv.extra.get("cross_check")
    if diffs:
        shown = "；".join(_shown(d) for d in diffs.split("; "))
        return Check("bank_page", CheckResult.WARN, messages.text("check.bank_page.warn",
                                                                  diffs=shown))
    return Check("bank_page", CheckResult.PASS, messages.text("check.bank_page.pass"))


def _shown(diff: str) -> str:
    name, _, rest = diff.partition("=")
    return f"{messages.label('invoice_field', name)}（数据文件 {rest}）"


def check_bank_date(inv: Invoice, today: date) -> Check:
    if not inv.issue_date:
        return Check("bank_date", CheckResult.WARN, messages.text("check.bank_date.absent"))
    day = date.fromisoformat(inv.issue_date)
    if day > today:
        return Check("bank_date", CheckResult.FAIL, messages.text(
            "check.bank_date.future", value=day, today=today))
    return Check("bank_date", CheckResult.PASS, messages.text("check.bank_date.pass", value=day))


def run_bank_checks(inv: Invoice, today: date) -> list[Check]:
    """Every check of a bank document, in a stable order."""
    return [check_bank_fields(inv), check_bank_page(inv), check_bank_date(inv, today),
            check_key_digits(inv)]

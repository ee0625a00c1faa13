"""``fapiao claim …`` and ``fapiao voucher …``: reimbursement claims, vouchers, posting.

The same operations and JSON as the HTTP API (API.md). Commands that change data act as a
user (``--as`` or ``FAPIAO_USER``) under the same role rules. Exit status: 0 done, 1 refused by
a rule (wrong state, own claim, invoice already posted, ...), 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.common import (
    BAD_INPUT,
    OK,
    CliError,
    add_flags,
    open_db,
    open_db_as,
    page_of,
    print_items,
    print_json,
    service_session,
    show,
)

if TYPE_CHECKING:
    from accounting.public import ClaimPublic, VoucherPublic


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``claim`` and ``voucher`` with their sub-commands."""
    claim = sub.add_parser("claim", help="reimbursement claims (报销单)").add_subparsers(
        dest="claim_command", required=True, metavar="ACTION")
    p = claim.add_parser("create", help="create a draft claim from invoices")
    p.add_argument("--title", required=True)
    p.add_argument("--invoice", action="append", required=True, metavar="ID[:CATEGORY[:AMOUNT]]",
                   help="an invoice id, its expense category (default 其他) and the amount claimed "
                        "(default the invoice total); repeat for more invoices")
    p.add_argument("--department")
    p.add_argument("--purpose")
    add_flags(p, _claim_create)
    for action, help_text in (("submit", "hand a draft (or rejected) claim in"),
                              ("review", "审核: first approval"), ("approve", "审批: approve"),
                              ("reject", "reject, back to the claimant (give the reason as --comment)")):
        p = claim.add_parser(action, help=help_text)
        p.add_argument("id", metavar="ID")
        p.add_argument("--comment")
        add_flags(p, _claim_step(action))
    p = claim.add_parser("edit", help="edit a draft or rejected claim (then submit it again)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--title")
    p.add_argument("--department")
    p.add_argument("--purpose")
    p.add_argument("--invoice", action="append", metavar="ID[:CATEGORY[:AMOUNT]]",
                   help="replace the lines: an invoice id, its category and amount; repeat for more")
    add_flags(p, _claim_edit)
    p = claim.add_parser("list", help="list claims")
    p.add_argument("--state", choices=["draft", "submitted", "reviewed", "approved", "rejected"])
    _paging(p)
    add_flags(p, _claim_list, acting=False)
    p = claim.add_parser("show", help="show one claim with its lines and steps")
    p.add_argument("id", metavar="ID")
    add_flags(p, _claim_show, acting=False)

    voucher = sub.add_parser("voucher", help="ledger vouchers (记账凭证), posting, reversal").add_subparsers(
        dest="voucher_command", required=True, metavar="ACTION")
    p = voucher.add_parser("create", help="build a voucher from approved claims")
    p.add_argument("--claim", action="extend", nargs="+", required=True, metavar="ID", dest="claims")
    p.add_argument("--date", help="voucher date YYYY-MM-DD (default today, China time)")
    add_flags(p, _voucher_create)
    p = voucher.add_parser("review", help="审核: sign a draft off (an accountant other than its maker)")
    p.add_argument("id", metavar="ID", help="voucher id or number (记-2025-11-0007)")
    add_flags(p, _voucher_step("review"))
    p = voucher.add_parser("unreview", help="取消审核: the reviewer takes the sign-off back (draft again)")
    p.add_argument("id", metavar="ID")
    add_flags(p, _voucher_step("unreview"))
    p = voucher.add_parser("edit", help="edit a draft voucher: date, summary, lines (still balanced)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--date", help="new voucher date YYYY-MM-DD (another month gives a new number)")
    p.add_argument("--summary", help="new summary (摘要)")
    p.add_argument("--line", action="append", dest="lines", metavar="ACCOUNT:DEBIT:CREDIT[:SUMMARY]",
                   help="replace all lines; repeat for each line, e.g. --line 660202:100.00: --line 2241::100.00")
    add_flags(p, _voucher_edit)
    p = voucher.add_parser("delete", help="delete a draft voucher (its claims and invoices are released)")
    p.add_argument("id", metavar="ID")
    add_flags(p, _voucher_delete)
    p = voucher.add_parser("post", help="post (入账) a voucher: its invoices are marked as booked")
    p.add_argument("id", metavar="ID", help="voucher id or number (记-2025-11-0007)")
    p.add_argument("--not-deductible", action="store_true",
                   help="入账标识 03 (企业所得税不扣除) instead of 02 (税前扣除)")
    add_flags(p, _voucher_post)
    p = voucher.add_parser("reverse", help="reverse a posted voucher with a red-figure voucher (红字冲销)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--date", help="date of the reversing voucher (default today)")
    add_flags(p, _voucher_reverse)
    p = voucher.add_parser("pay", help="付款回单: suggest, confirm, reject or remove the bank receipt "
                                       "that pays a posted voucher")
    p.add_argument("id", metavar="ID", help="voucher id or number (记-2025-11-0007)")
    act = p.add_mutually_exclusive_group()
    act.add_argument("--receipt", metavar="RECEIPT", help="confirm: this receipt (id or key) pays the voucher")
    act.add_argument("--reject", metavar="RECEIPT", help="this suggested receipt does not pay the voucher")
    act.add_argument("--remove", metavar="RECEIPT", help="take back a confirmed receipt (or a rejection)")
    add_flags(p, _voucher_pay)
    p = voucher.add_parser("list", help="list vouchers")
    p.add_argument("--period", metavar="YYYY-MM")
    p.add_argument("--state", choices=["draft", "reviewed", "posted"])
    p.add_argument("--date-from", metavar="YYYY-MM-DD")
    p.add_argument("--date-to", metavar="YYYY-MM-DD")
    p.add_argument("--q", metavar="TEXT", help="number or summary fragment, or the total")
    p.add_argument("--sort", metavar="COLUMNS", help="e.g. --sort=-date,number (- for descending)")
    _paging(p)
    add_flags(p, _voucher_list, acting=False)
    p = voucher.add_parser("show", help="show one voucher")
    p.add_argument("id", metavar="ID")
    add_flags(p, _voucher_show, acting=False)
    p = voucher.add_parser("export", help="write a period's journal and voucher list as .xlsx")
    p.add_argument("--period", required=True, metavar="YYYY-MM")
    p.add_argument("--out", required=True, metavar="FILE")
    add_flags(p, _voucher_export, acting=False)
    p = voucher.add_parser("import", help="create vouchers from an .xlsx sheet (all or none)")
    p.add_argument("file", metavar="FILE")
    add_flags(p, _voucher_import)


def _paging(p: argparse.ArgumentParser) -> None:
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--page-size", type=int, default=50)


@contextmanager
def _service() -> Iterator[Any]:
    """A transaction; accounting errors become CLI errors with the right exit status."""
    from accounting.errors import AccountingError

    with service_session(AccountingError) as s:
        yield s


def parse_invoice_spec(spec: str) -> dict[str, str]:
    """``ID[:CATEGORY[:AMOUNT]]`` → a claim line."""
    parts = spec.split(":")
    if len(parts) > 3 or not parts[0].strip():
        raise CliError(BAD_INPUT, "bad_invoice_spec", f"--invoice {spec!r}: expected ID[:CATEGORY[:AMOUNT]]")
    line = {"invoice_id": parts[0].strip()}
    if len(parts) > 1 and parts[1].strip():
        line["category"] = parts[1].strip()
    if len(parts) > 2 and parts[2].strip():
        line["amount"] = parts[2].strip()
    return line


# --- claims -------------------------------------------------------------------------------------

def _print_claim(c: ClaimPublic) -> None:
    print(f"claim {c.id}  {c.state}  {c.total}  {c.title}  (claimant {c.claimant})")
    for line in c.lines:
        mark = f"  [{line.online_check_label}]" if line.online_check_pending else ""
        print(f"  {line.line_no}. invoice {line.invoice_key or line.invoice_id}  {line.category}  "
              f"{line.amount}  uploaded by {line.uploaded_by}{mark}")
    for st in c.steps:
        comment = f"  {st.comment}" if st.comment else ""
        print(f"  {st.at.isoformat()}  {st.actor}  {st.action} → {st.to_state}{comment}")
    for w in c.warnings:
        print(f"warning: {w}", file=sys.stderr)


def _claim_row(c: ClaimPublic) -> str:
    return f"{c.id}  {c.state:<9}  {c.total:>12}  {c.claimant}  {c.title}"


def _claim_create(args: argparse.Namespace) -> int:
    from accounting.claims import create_claim
    from accounting.public import ClaimPublic

    lines = [parse_invoice_spec(spec) for spec in args.invoice]
    user = open_db_as(args, "claim.create")
    with _service() as s:
        claim = create_claim(s, user, args.title, args.department, args.purpose, lines)
        c = ClaimPublic.from_claim(s, claim)
    return show(args, c, _print_claim)


def _claim_edit(args: argparse.Namespace) -> int:
    from accounting.claims import update_claim
    from accounting.public import ClaimPublic

    changes: dict[str, Any] = {k: getattr(args, k) for k in ("title", "department", "purpose")
                               if getattr(args, k) is not None}
    if args.invoice:
        changes["lines"] = [parse_invoice_spec(spec) for spec in args.invoice]
    user = open_db_as(args, "claim.edit")
    with _service() as s:
        claim = update_claim(s, user, args.id, **changes)
        c = ClaimPublic.from_claim(s, claim)
    return show(args, c, _print_claim)


def _claim_step(action: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from accounting import claims
        from accounting.public import ClaimPublic

        fn = {"submit": claims.submit_claim, "review": claims.review_claim,
              "approve": claims.approve_claim, "reject": claims.reject_claim}[action]
        user = open_db_as(args, f"claim.{action}")
        with _service() as s:
            claim = fn(s, user, args.id, args.comment)
            c = ClaimPublic.from_claim(s, claim)
        return show(args, c, _print_claim)

    return run


def _claim_list(args: argparse.Namespace) -> int:
    from accounting.claims import list_claims
    from accounting.public import ClaimPublic

    open_db()
    with _service() as s:
        items, total = list_claims(s, args.page, args.page_size, args.state)
        out = page_of([ClaimPublic.from_claim(s, c) for c in items], total, args)
    return print_items(args, out, _claim_row, "claim(s)")


def _claim_show(args: argparse.Namespace) -> int:
    from accounting.claims import get_claim
    from accounting.public import ClaimPublic

    open_db()
    with _service() as s:
        c = ClaimPublic.from_claim(s, get_claim(s, args.id))
    return show(args, c, _print_claim)


# --- vouchers -----------------------------------------------------------------------------------

def _print_voucher(v: VoucherPublic) -> None:
    from core import messages

    extra = ""
    if v.reverses:
        extra = "  " + messages.text("voucher_reverses", number=v.reverses.number)
    elif v.reversed_by:
        extra = "  " + messages.text("voucher_reversed_by", number=v.reversed_by.number)
    print(f"{v.number}  {v.date}  {v.state_label or v.state}  {v.summary}  (id {v.id}){extra}")
    for line in v.lines:
        aux = " ".join(f"{k}={val}" for k, val in line.aux.items())
        print(f"  {line.account_code:<10} {line.account_name or '':<24} {line.debit:>12} {line.credit:>12}  {aux}")
    print(f"  {messages.text('voucher_line_totals'):<33} {v.total_debit:>12} {v.total_credit:>12}  "
          + messages.text("voucher_attachments", count=v.attachments))


def _voucher_row(v: VoucherPublic) -> str:
    return f"{v.number}  {v.date}  {v.state_label or v.state:<4}  {v.total_debit:>12}  {v.summary}"


def _voucher_create(args: argparse.Namespace) -> int:
    from accounting.ledger import create_voucher_from_claims
    from accounting.public import VoucherPublic

    user = open_db_as(args, "voucher.create")
    with _service() as s:
        v = create_voucher_from_claims(s, user, args.claims, args.date)
        out = VoucherPublic.from_voucher(s, v)
    return show(args, out, _print_voucher)


def _voucher_step(action: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from accounting import ledger
        from accounting.public import VoucherPublic

        fn = {"review": ledger.review_voucher, "unreview": ledger.unreview_voucher}[action]
        user = open_db_as(args, "voucher.post")  # 审核 is the posting side's sign-off
        with _service() as s:
            v = fn(s, user, ledger.get_voucher(s, args.id).id)
            out = VoucherPublic.from_voucher(s, v)
        return show(args, out, _print_voucher)

    return run


def parse_line_spec(spec: str) -> dict[str, str]:
    """``ACCOUNT:DEBIT:CREDIT[:SUMMARY]`` → a voucher line (one of debit and credit empty)."""
    from core import messages

    parts = spec.split(":", 3)
    if len(parts) < 3 or not parts[0].strip():
        raise CliError(BAD_INPUT, "bad_line_spec", messages.text("bad_line_spec", spec=spec), {"spec": spec})
    line = {"account_code": parts[0].strip(), "debit": parts[1].strip(), "credit": parts[2].strip()}
    if len(parts) > 3 and parts[3].strip():
        line["summary"] = parts[3].strip()
    return line


def _voucher_edit(args: argparse.Namespace) -> int:
    from accounting.ledger import get_voucher, update_voucher
    from accounting.public import VoucherPublic

    lines = [parse_line_spec(spec) for spec in args.lines] if args.lines else None
    if args.date is None and args.summary is None and lines is None:
        from core import messages

        raise CliError(BAD_INPUT, "nothing_to_change", messages.text("nothing_to_change"))
    user = open_db_as(args, "voucher.create")
    with _service() as s:
        v = update_voucher(s, user, get_voucher(s, args.id).id, date=args.date, summary=args.summary, lines=lines)
        out = VoucherPublic.from_voucher(s, v)
    return show(args, out, _print_voucher)


def _voucher_delete(args: argparse.Namespace) -> int:
    from accounting.ledger import delete_voucher, get_voucher
    from accounting.public import DeletedVoucher

    user = open_db_as(args, "voucher.create")
    with _service() as s:
        d = DeletedVoucher.model_validate(delete_voucher(s, user, get_voucher(s, args.id).id)).to_json()
    if args.json:
        print_json(d)
    else:
        from core import messages

        print(messages.text("voucher_deleted_note", number=d["number"], claims=len(d["released_claims"]),
                            invoices=len(d["released_invoices"])))
    return OK


def _voucher_post(args: argparse.Namespace) -> int:
    from accounting.ledger import get_voucher, post_voucher
    from accounting.public import VoucherPublic

    user = open_db_as(args, "voucher.post")
    with _service() as s:
        v = post_voucher(s, user, get_voucher(s, args.id).id, deductible=not args.not_deductible)
        out = VoucherPublic.from_voucher(s, v)
    return show(args, out, _print_voucher)


def _voucher_reverse(args: argparse.Namespace) -> int:
    from accounting.ledger import get_voucher, reverse_voucher
    from accounting.public import VoucherPublic

    user = open_db_as(args, "voucher.reverse")
    with _service() as s:
        v = reverse_voucher(s, user, get_voucher(s, args.id).id, args.date)
        out = VoucherPublic.from_voucher(s, v)
    return show(args, out, _print_voucher)


def _voucher_list(args: argparse.Namespace) -> int:
    from accounting.ledger import list_vouchers
    from accounting.public import VoucherPublic

    open_db()
    with service_session() as s:  # list errors (a bad date or sort) are not accounting errors
        items, total = list_vouchers(s, args.period, args.page, args.page_size, args.state, sort=args.sort,
                                     date_from=args.date_from, date_to=args.date_to, q=args.q)
        out = page_of([VoucherPublic.from_voucher(s, v) for v in items], total, args)
    return print_items(args, out, _voucher_row, "张凭证")


def _voucher_show(args: argparse.Namespace) -> int:
    from accounting.ledger import get_voucher
    from accounting.public import VoucherPublic

    open_db()
    with _service() as s:
        out = VoucherPublic.from_voucher(s, get_voucher(s, args.id))
    return show(args, out, _print_voucher)


def _voucher_export(args: argparse.Namespace) -> int:
    from accounting.excel import export_journal

    open_db()
    with _service() as s:
        data = export_journal(s, args.period)
    Path(args.out).write_bytes(data)
    if args.json:
        print_json({"file": args.out, "period": args.period, "size": len(data)})
    else:
        print(f"wrote {args.out} ({len(data)} bytes)")
    return OK


def _voucher_import(args: argparse.Namespace) -> int:
    from accounting.excel import import_vouchers
    from accounting.public import VoucherPublic

    path = Path(args.file)
    if not path.is_file():
        raise CliError(BAD_INPUT, "no_such_file", f"no such file: {args.file}")
    user = open_db_as(args, "voucher.import")
    with _service() as s:
        created = import_vouchers(s, user, path.read_bytes(), path.name)
        items = [VoucherPublic.from_voucher(s, v) for v in created]
    if args.json:
        print_json({"created": [v.to_json() for v in items]})
    else:
        for v in items:
            print(f"{v.number}  {v.date}  {v.total_debit:>12}  {v.summary}")
        print(f"{len(items)} voucher(s)")
    return OK


def _print_payments(d: dict[str, Any]) -> None:
    from core import messages

    print(f"{d['voucher_number']}  {messages.text('payment.cli.confirmed', count=len(d['payments']))}")
    for p in d["payments"]:
        r = p["receipt"] or {}
        print(f"  ✔ {r.get('number')}  {r.get('issue_date')}  {r.get('total'):>12}  "
              f"{(r.get('payee') or {}).get('name') or ''}  ({p['receipt_id']})")
    if not d["payments"] and not d["suggestions"]:
        print("  " + messages.text("payment.none", voucher_no=d["voucher_number"]))
    for sug in d["suggestions"]:
        print(f"  ? {sug['number']}  {sug['issue_date']}  {sug['total']:>12}  "
              f"{(sug.get('payee') or {}).get('name') or ''}  {messages.text('payment.cli.score', score=sug['score'])}"
              f"  ({sug['receipt_id']})")
        for reason in sug["reasons"]:
            print(f"      - {reason}")


def _voucher_pay(args: argparse.Namespace) -> int:
    """No option: list the confirmed receipts and the suggestions; else decide one.

    Prints the API's read models (``accounting.public``): ``VoucherPaymentsPublic`` as
    ``GET /vouchers/{id}/payments``, the decision as ``PaymentPublic`` (the POST/DELETE answer)."""
    from accounting import payments
    from accounting.ledger import get_voucher
    from accounting.public import PaymentPublic, VoucherPaymentsPublic

    if not (args.receipt or args.reject or args.remove):
        open_db()
        with _service() as s:
            listing = VoucherPaymentsPublic.for_voucher(s, get_voucher(s, args.id).id)
        print_json(listing.to_json()) if args.json else _print_payments(listing.to_json())
        return OK
    user = open_db_as(args, "voucher.post")
    with _service() as s:
        vid = get_voucher(s, args.id).id
        if args.receipt:
            row = payments.confirm_payment(s, user, vid, args.receipt)
        elif args.reject:
            row = payments.reject_suggestion(s, user, vid, args.reject)
        else:
            row = payments.remove_payment(s, user, vid, args.remove)
        decided = PaymentPublic.from_row(s, row)
        listing = VoucherPaymentsPublic.for_voucher(s, vid)
    if args.json:
        print_json(decided.to_json())
    else:
        _print_payments(listing.to_json())
    return OK

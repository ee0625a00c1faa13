"""``fapiao invoice online-check ID [--json] [--as USER]``: check a registered invoice online (查验).

The same operation and JSON as ``POST /api/v1/invoices/{id}/online-check``: the outcome is
stored on the invoice (``online_check_status``) and in its check history, and the per-invoice
daily limit is counted in the database, so it holds across CLI runs and server workers.

Exit status: 0 when the service confirmed the invoice (``success``); 1 on any other status
(``mismatch``, ``voided``, ``red_reversed``, ``not_found``, ``rate_limited``, ``error``,
``same_day``, ``too_old``, and ``not_checked`` when no service is configured); 2 on bad input
(no such invoice, no acting user).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from api.cli.common import (
    BAD_INPUT,
    OK,
    REFUSED,
    CliError,
    add_flags,
    open_db_as,
    print_json,
    service_session,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``invoice`` and its sub-commands."""
    invoice = sub.add_parser("invoice", help="registered invoices").add_subparsers(
        dest="invoice_command", required=True, metavar="ACTION")
    p = invoice.add_parser("online-check", help="check a registered invoice with the tax platform (查验)",
                           description="Check a registered invoice online and store the status on it.")
    p.add_argument("id", metavar="ID", help="the invoice id")
    add_flags(p, run_online_check_cmd)
    p = invoice.add_parser("override", help="let an unsigned/indeterminate invoice pass without 查验 (with a reason)",
                           description="Record an override of the 查验 requirement (approver, accountant, admin). "
                                       "It is audited and shown with the invoice, on claims and in the archive.")
    p.add_argument("id", metavar="ID", help="the invoice id")
    p.add_argument("--reason", required=True, help="why (at least 4 characters)")
    add_flags(p, run_override_cmd)

    store = sub.add_parser("store", help="the original-file store: fixity check, orphan sweep").add_subparsers(
        dest="store_command", required=True, metavar="ACTION")
    p = store.add_parser("check", help="recompute every registered original's SHA-256; list orphans",
                         description="Exit 1 when any registered original is missing or changed.")
    add_flags(p, run_store_check)
    p = store.add_parser("sweep", help="remove store files that no record names (left by killed imports)")
    p.add_argument("--older-than-hours", type=float, default=24.0, metavar="H",
                   help="only files last written more than H hours ago (at least 1; default 24)")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    add_flags(p, run_store_sweep)


def _print_store_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    print(f"checked {report['checked']} registered originals: "
          f"{len(report['missing'])} missing, {len(report['corrupt'])} changed; "
          f"{len(report['orphans'])} unregistered files, {len(report['removed'])} removed")
    for label in ("missing", "corrupt", "removed"):
        for sha in report[label]:
            print(f"  {label}: {sha}")


def run_store_check(args: argparse.Namespace) -> int:
    from invoice.storecheck import check_store

    open_db_as(args, "store.check")
    with service_session() as s:
        report = check_store(s)
    _print_store_report(report.to_dict(), args.json)
    return OK if report.ok else REFUSED


def run_store_sweep(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from invoice.storecheck import sweep_orphans

    if not args.older_than_hours >= 1:
        raise CliError(BAD_INPUT, "bad_grace_period",
                       f"--older-than-hours {args.older_than_hours}: must be at least 1, so that an "
                       "upload still being registered is never removed")
    user = open_db_as(args, "store.sweep")
    with service_session() as s:
        report = sweep_orphans(s, user.username, timedelta(hours=args.older_than_hours),
                               dry_run=args.dry_run)
    _print_store_report(report.to_dict(), args.json)
    return OK


def run_online_check_cmd(args: argparse.Namespace) -> int:
    from core.errors import ErrorKind
    from invoice.online_store import run_online_check
    from invoice.public import OnlineCheckResult
    from invoice.registry import RegistryError, get_invoice
    from invoice.verify.online import CheckStatus

    if not args.id.strip() or len(args.id) > 64:
        raise CliError(BAD_INPUT, "bad_invoice_id", f"invoice id {args.id!r}: expected the id of a registered invoice")
    user = open_db_as(args, "invoice.online_check")
    with service_session(RegistryError, (ErrorKind.BAD_INPUT, ErrorKind.NOT_FOUND)) as s:
        result = run_online_check(s, args.id, username=user.username)
        stored = get_invoice(s, args.id).online_check_status
    out = OnlineCheckResult.model_validate({"invoice_id": args.id, **result.to_dict(), "online_check_status": stored})
    if args.json:
        print_json(out.to_json())
    else:
        print(f"invoice {args.id}: {result.status.value}  {result.message}")
        if stored != result.status.value:
            print(f"stored status stays {stored} (this attempt says nothing about the invoice)", file=sys.stderr)
    return OK if result.status is CheckStatus.SUCCESS else REFUSED


def run_override_cmd(args: argparse.Namespace) -> int:
    """``fapiao invoice override ID --reason R``: the same as ``POST /invoices/{id}/override``."""
    from accounting.overrides import record_override
    from accounting.public import invoice_detail
    from core.errors import ServiceError
    from invoice.registry import get_invoice

    user = open_db_as(args, "invoice.override")
    with service_session(ServiceError) as s:
        row = record_override(s, user, args.id, args.reason)
        out = invoice_detail(s, get_invoice(s, args.id))
    if args.json:
        print_json(out.to_json())
    else:
        print(f"invoice {args.id}: override recorded by {row.by} at {row.at.isoformat()}: {row.reason}")
        print(f"  {out.invoice_status.label}: {'；'.join(out.invoice_status.reasons)}")
    return OK

"""``fapiao ledger …``: the ledger's reports for outside systems.

``fapiao ledger posting-flags --year Y --out FILE.xlsx|FILE.csv`` writes the year's 入账标识
(01 未入账 / 02 已入账（税前扣除） / 03 已入账（不扣除） / 06 入账撤销) for the tax platform's batch
marking (``accounting.posting_export``); with ``--json`` the rows are printed as well. Read-only:
no ``--as`` needed. Exit status 0 done, 2 bad input (year, file type).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from api.cli.common import BAD_INPUT, OK, CliError, add_flags, open_db, print_json, service_session
from core import messages


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ledger = sub.add_parser("ledger", help="ledger reports (入账标识 for the tax platform)").add_subparsers(
        dest="ledger_command", required=True, metavar="COMMAND")
    p = ledger.add_parser("posting-flags", help="write the year's 入账标识 (01/02/03/06) as .xlsx or .csv")
    p.add_argument("--year", required=True, metavar="YYYY")
    p.add_argument("--out", required=True, metavar="FILE", help="FILE.xlsx or FILE.csv")
    add_flags(p, _posting_flags, acting=False)


def check_year(text: str) -> int:
    """A 4-digit year (1990-2999), or a CLI error with the catalogue's message."""
    if not re.fullmatch(r"(199\d|2\d{3})", text.strip()):
        raise CliError(BAD_INPUT, "posting_flags.bad_year", messages.text("posting_flags.bad_year", year=text))
    return int(text)


def _posting_flags(args: argparse.Namespace) -> int:
    from accounting.entry_info import posting_flags
    from accounting.errors import AccountingError
    from accounting.posting_export import FORMATS, export
    from accounting.public import PostingFlagsPublic

    year = check_year(args.year)
    fmt = Path(args.out).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise CliError(BAD_INPUT, "posting_flags.bad_format",
                       messages.text("posting_flags.bad_format", file=args.out))
    open_db()
    with service_session(AccountingError) as s:
        rows = posting_flags(s, year)
    Path(args.out).write_bytes(export(rows, fmt))
    if args.json:  # GET /ledger/posting-flags's PostingFlagsPublic, plus the file written
        listing = PostingFlagsPublic.from_rows(year, rows).to_json()
        print_json({"file": args.out, "format": fmt, **listing})
    else:
        print(messages.text("posting_flags.written", year=year, count=len(rows), file=args.out))
    return OK

"""``fapiao import PATH... [--json] [--as USER] [--workers N]``: bring files and folders in.

Exit status (API.md): 0 when every file was imported or had been imported by the same user
before (a rerun after an interruption: ``already_imported``), 1 when any file was refused (a
duplicate of another user's file, an unreadable file, a file over a sandbox limit:
``too_complex``), 2 when a path does not exist or the usage is wrong.
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
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``fapiao import``."""
    p = sub.add_parser("import", help="import invoice files and folders (recursively)",
                       description="Parse, verify, store and register invoice files. Folders are "
                                   "walked recursively; running it again after an interruption "
                                   "duplicates nothing.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="invoice files or folders")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes that parse and verify (default: number of CPUs)")
    add_flags(p, run_import)


def _print_refusal(kind: str, entry: dict[str, Any]) -> None:
    from core import messages

    if kind == "duplicates":
        d = entry["duplicate_of"]
        print("\n" + messages.text("import.duplicate_line", file=entry["file"], invoice_id=d.get("invoice_id"),
                                   uploaded_by=d.get("uploaded_by"), uploaded_at=d.get("uploaded_at"),
                                   earlier_file=d.get("file")), file=sys.stderr)
    elif kind == "rejected":
        print("\n" + messages.text("import.rejected_line", message=entry["error"]["message"],
                                   code=entry["error"]["code"]), file=sys.stderr)


def run_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from invoice.importer import ImportPathError, import_paths

    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise CliError(BAD_INPUT, "no_such_path", f"no such file or folder: {', '.join(missing)}",
                       {"paths": missing})
    if args.workers is not None and args.workers < 1:
        raise CliError(BAD_INPUT, "bad_workers", "--workers must be at least 1")
    user = open_db_as(args, "invoice.upload")
    try:
        result = import_paths(args.paths, user.username, workers=args.workers,
                              progress=sys.stderr.isatty(), keep_entries=args.json,
                              on_entry=None if args.json else _print_refusal)
    except ImportPathError as exc:
        raise CliError(BAD_INPUT, exc.code, exc.message) from None
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.summary())
    return REFUSED if result.refused else OK

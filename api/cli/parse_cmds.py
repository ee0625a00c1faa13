"""``fapiao parse FILE... [--json]``: read invoices without storing anything.

One line per file in a readable table by default; ``--json`` prints a JSON array with one
object per file (DESIGN §4 names plus ``file``), or ``{"file", "error": {"code", "message"}}``
for a file that cannot be read. Exit status 2 when any file failed, so scripts notice.

Files are read in the sandbox (:mod:`invoice.sandbox`): a file over its CPU, wall-clock or
memory limit, or over a reader's own cap (``pdf_stream``, ``pdf_total``: a decompression bomb),
gets ``{"code": "too_complex", "message", "limit", "value"}`` instead of holding the terminal.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from api.cli.common import BAD_INPUT, OK, add_flags, print_json, read_input


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this module's commands."""
    p = sub.add_parser("parse", help="read invoice files (OFD, PDF, XML) and show their fields",
                       description="Read invoice files and print their normalised fields.")
    p.add_argument("files", nargs="+", metavar="FILE", help="invoice files")
    add_flags(p, run_parse, acting=False)
    p.set_defaults(one_shot_sandbox=True)  # reads files, stores nothing (api.cli.main)


def parse_file(path: str) -> dict[str, Any]:
    """One file's result: the invoice (``Invoice.to_dict()`` plus ``file``) or its error."""
    from invoice import parse
    from invoice.errors import InvoiceError
    from invoice.sandbox import SandboxError, TooComplex, run

    data = read_input(path)
    if isinstance(data, dict):
        return data
    try:
        inv = run(parse, data, name=path)
    except InvoiceError as exc:  # too_complex from a reader's own cap: limit and value, as below
        return {"file": path, "error": exc.to_dict()}
    except TooComplex as exc:
        return {"file": path, "error": exc.to_dict()}
    except SandboxError as exc:  # a parser bug must not hide the other files' results
        return {"file": path, "error": {"code": "internal_error", "message": str(exc)}}
    return {"file": path, **inv.to_dict()}


def run_parse(args: argparse.Namespace) -> int:
    results = [parse_file(f) for f in args.files]
    if args.json:
        print_json(results)
    else:
        _print_table(results)
    return BAD_INPUT if any("error" in r for r in results) else OK


def _width(s: str) -> int:
    """Display width: CJK characters take two columns."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, width: int) -> str:
    return s + " " * max(width - _width(s), 0)


def _print_table(results: list[dict[str, Any]]) -> None:
    headers = ["file", "kind", "code", "number", "date", "seller", "buyer", "amount", "tax",
               "total", "items"]
    rows: list[list[str]] = []
    errors: list[str] = []
    for r in results:
        name = Path(r["file"]).name
        if "error" in r:
            errors.append(f"{r['file']}: {r['error']['code']}: {r['error']['message']}")
            rows.append([name, "ERROR", "", "", "", r["error"]["code"], "", "", "", "", ""])
            continue
        rows.append([
            name, r["kind"], r["code"] or "", r["number"] or "", r["issue_date"] or "",
            (r["seller"]["name"] or "")[:24], (r["buyer"]["name"] or "")[:24],
            r["amount"] or "", r["tax"] or "", r["total"] or "", str(len(r["items"])),
        ])
    widths = [max([_width(h)] + [_width(row[i]) for row in rows]) for i, h in enumerate(headers)]
    print("  ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    for e in errors:
        print(f"error: {e}")

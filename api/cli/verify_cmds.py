"""``fapiao verify FILE... [--json]``: are these files genuine, tampered, unsigned, or unjudgeable?

``--json`` prints a JSON array with one report per file (``file``, ``sha256``, ``status``,
``signatures``, ``checks``, ``problems``); a file that cannot be read at all gives
``{"file", "error": {"code", "message"}}``. Otherwise a few readable lines per file.

Exit status: 2 when any file is unreadable; else 1 when any is ``invalid`` (or
``indeterminate``: not every file is shown genuine); else 0 (every file ``valid`` or
``unsigned``). Cross-check failures are listed but do not change the exit status: the verdict
is about the signature.

Files are verified in the sandbox (:mod:`invoice.sandbox`); a file over a limit is an
unreadable one (``too_complex``, exit 2).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from api.cli.common import BAD_INPUT, OK, REFUSED, add_flags, print_json, read_input


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this module's commands."""
    p = sub.add_parser(
        "verify",
        help="verify e-seals and signatures of invoice files and cross-check their content",
        description="Verify OFD e-seals / PDF signatures and cross-check invoice content.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="invoice files (OFD, PDF, XML)")
    add_flags(p, run_verify, acting=False)
    p.set_defaults(one_shot_sandbox=True)  # reads files, stores nothing (api.cli.main)


def verify_file(path: str) -> dict[str, Any]:
    """One file's report as a dict, or ``{"file", "error"}`` when it cannot be read."""
    from core.clock import today_china
    from core.settings import get_settings
    from invoice.errors import InvoiceError
    from invoice.sandbox import SandboxError, TooComplex, run
    from invoice.verify import verify

    data = read_input(path)
    if isinstance(data, dict):
        return data
    settings = get_settings()
    try:
        report = run(verify, data, org_name=settings.org_name, org_tax_id=settings.org_tax_id,
                     today=today_china(), file=path, name=path)
    except InvoiceError as exc:  # too_complex from a reader's own cap: limit and value, as below
        return {"file": path, "error": exc.to_dict()}
    except TooComplex as exc:
        return {"file": path, "error": exc.to_dict()}
    except SandboxError as exc:
        return {"file": path, "error": {"code": "internal_error", "message": str(exc)}}
    d = report.to_dict()
    d["_summary"] = report.summary()
    return d


def exit_status(results: list[dict[str, Any]]) -> int:
    if any("error" in r for r in results):
        return BAD_INPUT
    from invoice.verify.report import VerifyStatus

    if any(r["status"] not in (VerifyStatus.VALID, VerifyStatus.UNSIGNED) for r in results):
        return REFUSED
    return OK


def run_verify(args: argparse.Namespace) -> int:
    results = [verify_file(f) for f in args.files]
    summaries = [r.pop("_summary", None) for r in results]
    if args.json:
        print_json(results)
    else:
        for r, text in zip(results, summaries, strict=True):
            if "error" in r:
                print(f"{r['file']}: unreadable: {r['error']['message']}", file=sys.stdout)
            else:
                print(text)
    return exit_status(results)

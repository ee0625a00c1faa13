"""The ``fapiao`` command line: the same operations and JSON as the HTTP API.

Each group of commands lives in its own module with a ``register(subparsers)`` function,
so that the entry point stays a list.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from api.cli.common import CliError, print_json

COMMAND_MODULES = (
    "api.cli.admin_cmds",  # init, serve, users, audit
    "api.cli.parse_cmds",  # parse
    "api.cli.verify_cmds",  # verify
    "api.cli.import_cmds",  # import
    "api.cli.invoice_cmds",  # invoice online-check
    "api.cli.accounting_cmds",  # claim, voucher
    "api.cli.ledger_cmds",  # ledger posting-flags
    "api.cli.archive_cmds",  # archive
    "api.cli.job_cmds",  # worker, job
    "api.cli.backup_cmds",  # backup, restore
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fapiao", description="Electronic invoices to an electronic accounting archive")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None, *, one_shot: bool = False) -> int:
    """Run one command. ``one_shot``: this process exists only for this command (the
    ``fapiao`` script), so a command that only reads files (``one_shot_sandbox``: parse,
    verify) forks its sandbox workers from itself instead of starting a forkserver."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if one_shot and getattr(args, "one_shot_sandbox", False):
        from invoice import sandbox

        sandbox.for_command_line()
    from api import homefile

    homefile.load()  # the organisation recorded by `fapiao init`, for every command
    try:
        status: int = args.handler(args)
    except CliError as exc:
        if getattr(args, "json", False):
            print_json({"error": {"code": exc.code, "message": exc.message, "details": exc.details}})
        else:
            print(f"fapiao: {exc.message}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("fapiao: interrupted", file=sys.stderr)
        return 130
    return status


def run() -> None:
    sys.exit(main(one_shot=True))


if __name__ == "__main__":  # pragma: no cover
    run()

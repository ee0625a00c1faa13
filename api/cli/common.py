"""What every CLI command shares: JSON output, exit codes, the acting user, errors.

Exit status: 0 success, 1 refused (a rule, a duplicate, a failed check), 2 bad input/usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from core.users import User

OK, REFUSED, BAD_INPUT = 0, 1, 2


class CliError(Exception):
    """Raised by a command to end with a clear message and an exit status."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        super().__init__(message)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def add_json_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def add_as_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as", dest="as_user", metavar="USERNAME",
                   help="act as this user (default: $FAPIAO_USER)")


def open_db() -> None:
    """Point the process at the configured database, migrating it if needed."""
    from core import db

    settings_home()
    db.migrate(db.get_engine())


def settings_home() -> None:
    from core.settings import get_settings

    get_settings().home.mkdir(parents=True, exist_ok=True)


def acting_user(args: argparse.Namespace, operation: str) -> User:
    """The user a data-changing command acts as, with the same role rules as over HTTP."""
    from api.permissions import Forbidden, require
    from core.db import session_scope
    from core.users import get_user

    name = getattr(args, "as_user", None) or os.environ.get("FAPIAO_USER")
    if not name:
        raise CliError(BAD_INPUT, "no_user", "say who acts: --as USERNAME or FAPIAO_USER")
    with session_scope() as s:
        user = get_user(s, name)
    if user is None or not user.active:
        raise CliError(BAD_INPUT, "unknown_user", f"no active user {name!r}")
    try:
        require(user, operation)
    except Forbidden as exc:
        raise CliError(REFUSED, "forbidden", exc.message) from None
    return user


Handler = Callable[[argparse.Namespace], int]

"""What every CLI command shares: JSON output, exit codes, the acting user, errors.

Exit status: 0 success, 1 refused (a rule, a duplicate, a failed check), 2 bad input/usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the database stack loads only in the commands that use it (fapiao parse
    # and verify store nothing and start without SQLModel/SQLAlchemy: bench/startup.py)
    from sqlmodel import Session

    from core.errors import ErrorKind, ServiceError
    from core.public import Page, PublicModel
    from core.users import User

OK, REFUSED, BAD_INPUT = 0, 1, 2

Handler = Callable[[argparse.Namespace], int]


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


def add_flags(p: argparse.ArgumentParser, handler: Handler, acting: bool = True) -> None:
    """``--json`` (and ``--as`` for a command that acts as a user), and the handler to run."""
    add_json_flag(p)
    if acting:
        add_as_flag(p)
    p.set_defaults(handler=handler)


def read_input(path: str) -> bytes | dict[str, Any]:
    """The file's bytes, or the ``{"file", "error"}`` result that stands for a file that
    cannot be read (so that one bad path does not hide the other files' results)."""
    from pathlib import Path

    try:
        return Path(path).read_bytes()
    except IsADirectoryError:
        return {"file": path, "error": {"code": "unreadable", "message": "is a directory"}}
    except OSError as exc:
        return {"file": path, "error": {"code": "unreadable", "message": exc.strerror or str(exc)}}


def open_db() -> None:
    """Point the process at the configured database, migrating it if needed."""
    from core import db

    settings_home()
    db.migrate(db.get_engine())


def settings_home() -> None:
    """The data folder, owner-only (0700), and its SQLite database 0600 (``core.filemodes``)."""
    from core.filemodes import secure_home
    from core.settings import get_settings

    s = get_settings()
    secure_home(s.home, s.effective_database_url)


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


def open_db_as(args: argparse.Namespace, operation: str) -> User:
    """Open the database, then the user a data-changing command acts as (see ``acting_user``)."""
    open_db()
    return acting_user(args, operation)


@contextmanager
def service_errors(errors: type[ServiceError] | None = None,
                   bad_input: tuple[ErrorKind, ...] | None = None) -> Iterator[None]:
    """Turn a service error into a CLI error: exit 2 for the kinds in ``bad_input`` (default:
    ``BAD_INPUT`` only), exit 1 (refused) for every other kind.

    ``errors`` narrows which errors are turned (default every ``ServiceError``); others pass.
    """
    from core.errors import ErrorKind, ServiceError

    caught = errors or ServiceError
    try:
        yield
    except caught as exc:
        status = BAD_INPUT if exc.kind in (bad_input or (ErrorKind.BAD_INPUT,)) else REFUSED
        raise CliError(status, exc.code, exc.message, exc.details) from None


@contextmanager
def service_session(errors: type[ServiceError] | None = None,
                    bad_input: tuple[ErrorKind, ...] | None = None) -> Iterator[Session]:
    """A transaction whose service errors become CLI errors (see ``service_errors``)."""
    from core.db import session_scope

    with service_errors(errors, bad_input), session_scope() as s:
        yield s


def page_of(items: list[Any], total: int, args: argparse.Namespace) -> Page[Any]:
    """One page of a listing: the API's ``Page[T]`` (``core.public``)."""
    from core.public import Page

    return Page[Any](items=items, total=total, page=args.page, page_size=args.page_size)


def show(args: argparse.Namespace, model: PublicModel, table: Callable[[Any], None]) -> int:
    """One record: the API's JSON of the read model with ``--json``, else ``table(model)``."""
    if args.json:
        print_json(model.to_json())
    else:
        table(model)
    return OK


def print_items(args: argparse.Namespace, out: dict[str, Any] | PublicModel, line: Callable[[Any], str],
                footer: str) -> int:
    """A listing: ``out`` as JSON, or one ``line`` per item and ``"{total} {footer}"``.

    ``out`` is a ``Page`` / ``Items`` read model (its items are models, ``line`` reads their
    fields), or plain data for listings without one."""
    data = out.to_json() if not isinstance(out, dict) else out
    if args.json:
        print_json(data)
    else:
        items = out.items if not isinstance(out, dict) else out["items"]  # type: ignore[attr-defined]
        for item in items:
            print(line(item))
        print(f"{data['total']} {footer}")
    return OK

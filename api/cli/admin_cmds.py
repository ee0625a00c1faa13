"""``fapiao init``, ``fapiao serve``, ``fapiao users add|reset``, ``fapiao audit verify``.

``users reset`` sets a new password for the web page and ends every open session and API
token of that user at once, as a reset over the API does.

``init`` creates the data folder, the database and the first admin (a random password for the
web page and an API token, both printed once). ``serve`` runs the app with uvicorn; on an empty
data folder it first does what ``init`` does and prints how to log in, so one command starts
a working service.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from typing import Any

from api.cli.common import (
    BAD_INPUT,
    OK,
    REFUSED,
    CliError,
    acting_user,
    add_flags,
    open_db,
    print_json,
)
from core import messages

ADMIN_NAME = "admin"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``init``, ``serve``, ``users`` and ``audit``."""
    p = sub.add_parser("init", help="create the data folder, the database and the first admin",
                       description="Create the data folder ($FAPIAO_HOME), migrate the database, record "
                                   "the organisation (the buyer its invoices must name) and create the "
                                   "first admin; prints the admin's password and API token once.")
    p.add_argument("--org-name", metavar="NAME", help="the organisation's name, as invoices print it")
    p.add_argument("--org-tax-id", metavar="ID", help="the organisation's unified social credit code")
    add_flags(p, run_init, acting=False)

    p = sub.add_parser("serve", help="run the web page and the JSON API",
                       description="Serve the app (uvicorn). On an empty data folder it initialises it "
                                   "first, as `fapiao init` does, and prints how to log in.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.set_defaults(handler=run_serve)

    users = sub.add_parser("users", help="manage users").add_subparsers(dest="users_command", required=True,
                                                                        metavar="COMMAND")
    p = users.add_parser("add", help="add a user and print its API token",
                         description="Add a user; prints its API token once. --password asks for a "
                                     "password for the web page (read from stdin when it is not a terminal).")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", required=True,
                   choices=["clerk", "approver", "accountant", "archivist", "auditor", "admin",
                            "claims_officer"])  # claims_officer: 报销专员, may claim others' invoices
    p.add_argument("--password", action="store_true", help="set a password for the web page")
    p.add_argument("--display-name", metavar="NAME", default=None,
                   help="the person's name as shown on the page and in voucher summaries")
    add_flags(p, run_users_add)

    p = users.add_parser("reset", help="set a new password and end the user's sessions and tokens",
                         description="Set a new password for the web page (asked for, or read from stdin "
                                     "when it is not a terminal); every open web session and API token of "
                                     "the user stops working at once. --new-token prints a fresh API token.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--new-token", action="store_true", help="issue and print a new API token")
    add_flags(p, run_users_reset)

    audit = sub.add_parser("audit", help="the tamper-evident audit log").add_subparsers(
        dest="audit_command", required=True, metavar="COMMAND")
    p = audit.add_parser("verify", help="recompute the hash chain, hold it against the signed anchors, "
                                        "name what was rewritten, deleted or cut off")
    p.add_argument("--anchors", metavar="FILE", help="check against these anchors (e.g. a year export's "
                                                      "data/audit-anchors.jsonl) instead of the data folder's")
    add_flags(p, run_audit_verify, acting=False)


def _prepare(org_name: str | None = None, org_tax_id: str | None = None) -> None:
    from api import homefile
    from core.settings import get_settings

    home = get_settings().home
    values = {}
    if org_name is not None:
        values["FAPIAO_ORG_NAME"] = org_name.strip()
    if org_tax_id is not None:
        values["FAPIAO_ORG_TAX_ID"] = org_tax_id.strip()
    if values:
        try:
            homefile.write(home, values)
        except ValueError as exc:
            raise CliError(BAD_INPUT, "bad_setting", str(exc)) from None
    homefile.load()
    open_db()


def _has_users() -> bool:
    from sqlmodel import select

    from core.db import session_scope
    from core.users import User

    with session_scope() as s:
        return s.exec(select(User.id).limit(1)).first() is not None


def initialise() -> dict[str, Any]:
    """Create the first admin; returns its name, role, password and token (shown once)."""
    from core import audit
    from core.db import session_scope
    from core.users import Role, create_user, issue_token

    password = secrets.token_urlsafe(12)
    with session_scope() as s:
        user = create_user(s, ADMIN_NAME, Role.ADMIN, password)
        _, token = issue_token(s, user)
        audit.append(s, "system", "user.created", "user", user.id,
                     {"username": user.username, "role": user.role, "by": "fapiao init"})
    from archive.signing import ensure_archive_key  # the organisation archive key (SM2), made once

    ensure_archive_key()
    return {"username": ADMIN_NAME, "role": "admin", "token": token, "password": password}


def _print_login(info: dict[str, Any], url: str | None = None) -> None:
    from core.settings import get_settings

    s = get_settings()
    print(f"data folder: {s.home.resolve()}")
    if s.org_name or s.org_tax_id:
        print(f"organisation: {s.org_name or '?'} ({s.org_tax_id or 'no tax id'})")
    else:
        print("organisation: not set — run `fapiao init --org-name NAME --org-tax-id ID` so that "
              "invoices are checked against the buyer")
    print(f"first admin: {info['username']}")
    print(f"  password (web page): {info['password']}")
    print(f"  API token:           {info['token']}")
    print("These are shown once; keep them safe.")
    if url:
        print(f"Log in at {url}/login as {info['username']} with the password above.")


def run_init(args: argparse.Namespace) -> int:
    _prepare(args.org_name, args.org_tax_id)
    if _has_users():
        if args.org_name is not None or args.org_tax_id is not None:
            if args.json:
                print_json({"initialised": True, "updated": "organisation"})
            else:
                print("already initialised; the organisation was updated")
            return OK
        raise CliError(REFUSED, "already_initialised",
                       "the data folder already has users; add more with `fapiao users add`")
    info = initialise()
    if args.json:
        print_json(info)
    else:
        _print_login(info)
    return OK


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    _prepare()
    if not _has_users():
        info = initialise()
        _print_login(info, f"http://{args.host}:{args.port}")
        sys.stdout.flush()
    _anchor_at_start()
    if args.workers < 1:
        raise CliError(BAD_INPUT, "bad_workers", "--workers must be at least 1")
    uvicorn.run("api.main:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level="info", proxy_headers=False)
    return OK


def _anchor_at_start() -> None:
    """Anchor the audit chain head at start when it moved on since the last anchor (core/audit.py)."""
    from core import audit
    from core.db import get_engine

    audit.anchor_if_advanced(get_engine(), "serve")


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password for the web page: ")
        if getpass.getpass("again: ") != first:
            raise CliError(BAD_INPUT, "password_mismatch", messages.text("password_mismatch"))
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 8:
        raise CliError(BAD_INPUT, "weak_password", messages.text("weak_password"))
    return first


def run_users_add(args: argparse.Namespace) -> int:
    from core import audit
    from core.db import session_scope
    from core.users import UserError, create_user, issue_token

    _prepare()
    actor = acting_user(args, "users.manage")
    password = _read_password() if args.password else None
    try:
        with session_scope() as s:
            user = create_user(s, args.name, args.role, password, args.display_name)
            _, token = issue_token(s, user)
            audit.append(s, actor.username, "user.created", "user", user.id,
                         {"username": user.username, "role": user.role, "password_set": bool(password),
                          "display_name": user.display_name})
    except UserError as exc:
        raise CliError(REFUSED if exc.code == "user_exists" else BAD_INPUT, exc.code, exc.message) from None
    out = {"username": user.username, "role": user.role, "token": token,
           "display_name": user.display_name or user.username}
    if args.json:
        print_json(out)
    else:
        print(f"user {user.username} ({user.role}) added")
        print(f"API token (shown once): {token}")
    return OK


def run_users_reset(args: argparse.Namespace) -> int:
    from api.deps import end_web_sessions
    from core import audit
    from core.db import session_scope
    from core.users import end_sessions, get_user, hash_password, issue_token

    _prepare()
    actor = acting_user(args, "users.manage")
    password = _read_password()
    token: str | None = None
    with session_scope() as s:
        user = get_user(s, args.name)
        if user is None:
            raise CliError(BAD_INPUT, "unknown_user", messages.text("user_unknown_cli", name=args.name))
        user.password_hash = hash_password(password)
        audit.append(s, actor.username, "user.password_set", "user", user.id, {"username": user.username})
        tokens = end_sessions(s, user)
        sessions = end_web_sessions(s, user.id)
        audit.append(s, actor.username, "user.sessions_ended", "user", user.id,
                     {"username": user.username, "tokens": tokens, "sessions": sessions})
        if args.new_token:
            _, token = issue_token(s, user)
    out: dict[str, Any] = {"username": user.username, "role": user.role, "sessions_ended": sessions,
                           "tokens_revoked": tokens}
    if token:
        out["token"] = token
    if args.json:
        print_json(out)
    else:
        print(f"用户 {user.username} 的密码已重置；已结束 {sessions} 个登录会话，吊销 {tokens} 个 API 令牌")
        if token:
            print(f"新的 API 令牌（只显示这一次）: {token}")
    return OK


def run_audit_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core import audit
    from core.db import session_scope

    _prepare()
    with session_scope() as s:
        if args.anchors:
            try:
                data = Path(args.anchors).read_bytes()
            except OSError as exc:
                raise CliError(BAD_INPUT, "unreadable_file", f"{args.anchors}: {exc}") from None
            report = audit.verify_chain(s, anchors=data, anchors_source=args.anchors)
        else:
            report = audit.verify_and_anchor(s)
    if args.json:
        from core.public import ChainReportPublic

        print_json(ChainReportPublic.model_validate(report.to_dict()).to_json())
    elif report.ok:
        print(report.message)
    else:
        b = report.first_broken or {}
        if b:
            print(f"audit log BROKEN at entry {b.get('seq')} ({b.get('action')} {b.get('object_id')}, "
                  f"{b.get('at')}): {b.get('reason')}")
        print(report.message)
        if report.missing_after_seq is not None:
            print(f"  missing_after_seq: {report.missing_after_seq}; anchor {report.anchor}")
        for p in report.anchor_problems:
            print(f"  anchor line {p['line']}: {p['reason']}")
    return OK if report.ok else REFUSED

"""What routes get injected: the acting user (token or web session) and its permission check.

Every route declares the operation it performs with ``Requires("claim.approve")``; the rule
itself lives in ``api.permissions`` (shared with the CLI). The role-matrix test finds the
``Requires`` instance in each route's dependencies and fails on a route that has none.

Authentication, in order:
- ``Authorization: Bearer <token>`` (systems and scripts): an API token, no CSRF check, since a
  browser never sends it on its own.
- the ``fapiao_session`` cookie (the web page): a server-side session that expires after
  ``settings.session_hours``; unsafe methods must echo the session's CSRF token in the
  ``X-CSRF-Token`` header (the page's JavaScript reads it from the ``fapiao_csrf`` cookie).

A session or token stops working the moment its user is disabled, changes role or gets a
new password (``core.users.end_sessions`` and ``end_web_sessions`` here; a session older
than the user's ``sessions_valid_after`` is refused even if its row was missed).

Paging: ``paging_guard`` runs on every route (installed app-wide in ``api.main``) and answers
422 with a Chinese message for a ``page`` or ``page_size`` that is not a whole number in
range, before a route turns ``?page=99999999999999999999`` into an offset the database cannot
hold. ``PageParams`` gives a route the checked values.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from fastapi import Depends, Query, Request
from sqlmodel import Session, col, select

from api.db import read_scope
from api.errors import ApiError, LoginRequired
from api.permissions import RULES, require
from api.tables import WebSession
from core import messages
from core.clock import now
from core.db import session_scope
from core.users import User, credentials_current, user_for_token

SESSION_COOKIE = "fapiao_session"
CSRF_COOKIE = "fapiao_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def get_session() -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with session_scope() as session:
        yield session


def get_read_session() -> Iterator[Session]:
    """A read-only snapshot for GET requests (no write lock on SQLite; see ``api.db``)."""
    with read_scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


@dataclass(frozen=True)
class Auth:
    """Who is calling and how (the page's session id, for logout)."""

    user: User
    via: str  # "token" | "session"
    session_id: str | None = None


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


def _session_user(s: Session, raw: str) -> tuple[User, WebSession] | None:
    ws = s.exec(select(WebSession).where(WebSession.token_hash == sha256_hex(raw))).first()
    if ws is None or ws.revoked_at is not None or ws.expires_at <= now():
        return None
    user = s.get(User, ws.user_id)
    if user is None or not user.active or not credentials_current(user, ws.created_at):
        return None
    return user, ws


def end_web_sessions(s: Session, user_id: str) -> int:
    """Revoke every open web session of a user (password reset, role change, disabling)."""
    at = now()
    rows = s.exec(select(WebSession).where(WebSession.user_id == user_id,
                                           col(WebSession.revoked_at).is_(None))).all()
    for ws in rows:
        ws.revoked_at = at
        s.add(ws)
    return len(rows)


def authenticate(request: Request) -> Auth | None:
    """The caller, or None when the request carries no valid credentials."""
    header = request.headers.get("authorization", "")
    with read_scope() as s:
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise _unauthenticated(messages.text("bad_auth_header"))
            user = user_for_token(s, token.strip())
            if user is None:
                raise _unauthenticated(messages.text("token_invalid"))
            s.expunge(user)
            return Auth(user, "token")
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        found = _session_user(s, raw)
        if found is None:
            return None
        user, ws = found
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not hmac.compare_digest(sha256_hex(sent), ws.csrf_hash):
                raise ApiError(403, "csrf_failed", messages.text("csrf_failed"))
        s.expunge(user)
        return Auth(user, "session", ws.id)


def get_auth(request: Request) -> Auth:
    auth = getattr(request.state, "auth", None)
    if auth is None:
        auth = authenticate(request)
        if auth is None:
            raise _unauthenticated(messages.text("login_required"))
        request.state.auth = auth
    return auth


def get_current_user(auth: Annotated[Auth, Depends(get_auth)]) -> User:
    return auth.user


CurrentAuth = Annotated[Auth, Depends(get_auth)]
CurrentUser = Annotated[User, Depends(get_current_user)]


class Requires:
    """A route dependency that checks ``operation`` for the caller and returns the user."""

    def __init__(self, operation: str) -> None:
        if operation not in RULES:
            raise KeyError(f"no permission rule for {operation!r}")
        self.operation = operation

    def __call__(self, user: CurrentUser) -> User:
        require(user, self.operation)
        return user

    def __repr__(self) -> str:
        return f"Requires({self.operation!r})"


class Public:
    """Marks a route that needs no login (login itself, health). Checked by the matrix test."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __call__(self) -> None:
        return None


class PageRequires(Requires):
    """Like ``Requires`` for HTML pages: no login redirects to /login instead of a 401."""

    def __call__(self, request: Request) -> User:  # type: ignore[override]
        try:
            auth = get_auth(request)
        except ApiError as exc:
            if exc.status == 401:
                raise LoginRequired(request.url.path) from None
            raise
        require(auth.user, self.operation)
        return auth.user


# --- paging -----------------------------------------------------------------------------------------

MAX_PAGE = 1_000_000
MAX_PAGE_SIZE = 500


def _whole_number(request: Request, name: str, highest: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    text = raw.strip()
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else 0
    if not 1 <= value <= highest:
        where = f"query.{name}"
        raise ApiError(422, "validation_error",
                       messages.text("bad_paging", param=name, value=raw[:40], max=highest),
                       {"errors": [{"where": where, "problem": f"must be a whole number from 1 to {highest}",
                                    "type": "paging_range"}]})
    return value


def paging_guard(request: Request) -> None:
    """Refuse an out-of-range ``page`` / ``page_size`` on any route (installed app-wide)."""
    _whole_number(request, "page", MAX_PAGE)
    _whole_number(request, "page_size", MAX_PAGE_SIZE)


@dataclass(frozen=True)
class Paging:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def envelope(self, items: list[Any], total: int) -> dict[str, Any]:
        return {"items": items, "total": total, "page": self.page, "page_size": self.page_size}


def get_paging(request: Request,
               page: Annotated[str, Query(description="page number, from 1",
                                          json_schema_extra={"type": "integer", "minimum": 1,
                                                             "maximum": MAX_PAGE})] = "1",
               page_size: Annotated[str, Query(description="rows per page",
                                               json_schema_extra={"type": "integer", "minimum": 1,
                                                                  "maximum": MAX_PAGE_SIZE})] = "50",
               ) -> Paging:
    return Paging(_whole_number(request, "page", MAX_PAGE) or 1,
                  _whole_number(request, "page_size", MAX_PAGE_SIZE) or 50)


PageParams = Annotated[Paging, Depends(get_paging)]


# --- where to go after logging in --------------------------------------------------------------------

# A path of this site: one leading slash, then only characters a URL path or query of ours uses.
_OWN_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~/?=&%+:@!$()*,;]*")


def _own_path(target: str) -> bool:
    if not _OWN_PATH.fullmatch(target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/``.

    Browsers read ``/\\evil``, ``//evil``, ``/\t/evil`` as another host, so the target must
    start with one slash followed by no slash or backslash, hold no backslash, space or
    control character, and stay so after percent-decoding (``/%5Cevil.example/x``) however
    often a browser or proxy decodes it.
    """
    if not target:
        return "/"
    current = target
    for _ in range(5):
        if not _own_path(current):
            return "/"
        decoded = unquote(current)
        if decoded == current:
            return target
        current = decoded
    return "/"

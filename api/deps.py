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
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session, select

from api.db import read_scope
from api.errors import ApiError, LoginRequired
from api.permissions import RULES, require
from api.tables import WebSession
from core.clock import now
from core.db import session_scope
from core.users import User, user_for_token

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
    if user is None or not user.active:
        return None
    return user, ws


def authenticate(request: Request) -> Auth | None:
    """The caller, or None when the request carries no valid credentials."""
    header = request.headers.get("authorization", "")
    with read_scope() as s:
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise _unauthenticated("the Authorization header must be 'Bearer <token>'")
            user = user_for_token(s, token.strip())
            if user is None:
                raise _unauthenticated("the API token is unknown or revoked")
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
                raise ApiError(403, "csrf_failed",
                               "the request lacks a valid X-CSRF-Token header; reload the page and retry")
        s.expunge(user)
        return Auth(user, "session", ws.id)


def get_auth(request: Request) -> Auth:
    auth = getattr(request.state, "auth", None)
    if auth is None:
        auth = authenticate(request)
        if auth is None:
            raise _unauthenticated("log in or send 'Authorization: Bearer <token>'")
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

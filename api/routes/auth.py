"""Logging in to the web page, logging out, and who am I.

A failed login is written to the audit log (who tried, from where) and, after repeated
failures for one username, further attempts are refused for a while, so that a password
cannot be guessed at network speed.
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from api.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentAuth, Public, Requires, sha256_hex
from api.errors import ApiError
from api.permissions import RULES, allowed
from api.tables import WebSession
from core import audit
from core.audit import AuditEntry
from core.clock import now
from core.db import session_scope
from core.settings import get_settings
from core.users import User, check_password, get_user

router = APIRouter(tags=["auth"])

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserOut(BaseModel):
    id: str
    username: str
    role: str
    active: bool = True
    operations: list[str] = []


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="Send it back as X-CSRF-Token on every POST/PATCH/DELETE.")
    expires_at: str


def user_out(user: User, with_operations: bool = False) -> dict[str, Any]:
    ops = sorted(op for op in RULES if allowed(user, op)) if with_operations else []
    return {"id": user.id, "username": user.username, "role": user.role, "active": user.active,
            "operations": ops}


_dummy_hash: str | None = None


def _spend_a_hash(password: str) -> None:
    global _dummy_hash
    from argon2 import PasswordHasher
    from argon2.exceptions import VerificationError

    hasher = PasswordHasher()
    if _dummy_hash is None:
        _dummy_hash = hasher.hash(secrets.token_urlsafe(16))
    with contextlib.suppress(VerificationError):
        hasher.verify(_dummy_hash, password)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/login", response_model=LoginOut,
             dependencies=[Depends(Public("logging in needs no login"))],
             summary="Log in to the web page (sets the session cookie)")
def login(body: LoginIn, request: Request, response: Response) -> dict[str, Any]:
    settings = get_settings()
    failure: ApiError | None = None
    reason = ""
    with session_scope() as s:
        since = now() - FAILURE_WINDOW
        recent = s.exec(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "auth.login_failed", AuditEntry.object_id == body.username[:64],
            col(AuditEntry.at) > since)).one()
        user = get_user(s, body.username)
        if recent >= MAX_FAILURES:
            failure = ApiError(429, "too_many_failures",
                               f"too many failed logins for {body.username!r}; wait 15 minutes and try again")
            reason = "locked"
        elif user is None or not user.active or not check_password(user, body.password):
            if user is None:
                _spend_a_hash(body.password)  # an unknown name costs as much time as a known one
            failure = ApiError(401, "bad_credentials", "wrong username or password")
            reason = "unknown user" if user is None else ("inactive" if not user.active else "wrong password")
        if failure is not None:
            audit.append(s, body.username[:64], "auth.login_failed", "user", body.username[:64],
                         {"reason": reason, "client": _client(request)})
        else:
            assert user is not None
            raw, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
            expires = now() + timedelta(hours=settings.session_hours)
            for old in s.exec(select(WebSession).where(WebSession.user_id == user.id,
                                                       col(WebSession.expires_at) < now())).all():
                s.delete(old)  # expired sessions of this user are of no further use
            s.add(WebSession(token_hash=sha256_hex(raw), csrf_hash=sha256_hex(csrf), user_id=user.id,
                             expires_at=expires))
            audit.append(s, user.username, "auth.login", "user", user.id, {"client": _client(request)})
            out = user_out(user, with_operations=True)
    if failure is not None:
        raise failure
    secure = request.url.scheme == "https"
    max_age = settings.session_hours * 3600
    response.set_cookie(SESSION_COOKIE, raw, max_age=max_age, httponly=True, samesite="lax",
                        secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="lax",
                        secure=secure, path="/")
    return {"user": out, "csrf_token": csrf, "expires_at": expires.isoformat()}


@router.post("/auth/logout", summary="End the web session")
def logout(auth: CurrentAuth, _: Annotated[User, Depends(Requires("me"))],
           response: Response) -> dict[str, Any]:
    if auth.session_id:
        with session_scope() as s:
            ws = s.get(WebSession, auth.session_id)
            if ws is not None and ws.revoked_at is None:
                ws.revoked_at = now()
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return {"ok": True}


@router.get("/me", response_model=UserOut, summary="The calling user and what it may do")
def me(user: Annotated[User, Depends(Requires("me"))]) -> dict[str, Any]:
    return user_out(user, with_operations=True)

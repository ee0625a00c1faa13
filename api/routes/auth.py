"""Logging in to the web page, logging out, and who am I.

Guessing is slowed, not answered with a lockout anyone could trigger: ``core.login_throttle``
counts failures per client address and per user and makes further attempts wait (429 with
``Retry-After``), while a correct password from an address without recent failures still
gets in. A failed login for a real user is audited with the user as the object and
``anonymous`` as the actor; a name that is no user is never written to the log (it is chosen
by whoever types it) — an address that starts failing gets one ``auth.login_throttled`` row
per burst instead.
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import col, select

from api.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentAuth, Public, Requires, sha256_hex
from api.errors import ApiError
from api.permissions import RULES, allowed
from api.tables import WebSession
from core import audit, login_throttle, messages
from core.clock import now
from core.db import session_scope
from core.public import Ok, Timestamp, UserPublic
from core.settings import get_settings
from core.users import User, check_password, get_user

router = APIRouter(tags=["auth"])

ANONYMOUS = "anonymous"  # the audit actor of a login attempt: nobody is proven yet


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    user: UserPublic
    csrf_token: str = Field(description="Send it back as X-CSRF-Token on every POST/PATCH/DELETE.")
    expires_at: Timestamp


def user_public(user: User, with_operations: bool = False) -> UserPublic:
    """The user as the API shows it; with the operations it may do for ``GET /me`` and login."""
    ops = sorted(op for op in RULES if allowed(user, op)) if with_operations else []
    return UserPublic.from_user(user, ops)



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


def cookie_secure(request: Request) -> bool:
    """``Secure`` cookies over HTTPS, and always with ``FAPIAO_SECURE_COOKIES`` (behind a TLS proxy
    the app itself sees plain HTTP)."""
    return get_settings().secure_cookies or request.url.scheme == "https"


@router.post("/auth/login", response_model=LoginOut,
             dependencies=[Depends(Public("logging in needs no login"))],
             responses={429: {"description": "too many failed attempts: wait Retry-After seconds"}},
             summary="Log in to the web page (sets the session cookie)")
def login(body: LoginIn, request: Request, response: Response) -> LoginOut:
    settings = get_settings()
    client = _client(request)
    failure: ApiError | None = None
    with session_scope() as s:
        user = get_user(s, body.username)
        verdict = login_throttle.check(s, client, user.id if user is not None else None)
        if not verdict.allowed:
            raise ApiError(429, "too_many_failures", messages.text("too_many_failures", wait=verdict.retry_after),
                           {"retry_after": verdict.retry_after},
                           headers={"Retry-After": str(verdict.retry_after)})
        if user is None or not user.active or not check_password(user, body.password):
            if user is None:
                _spend_a_hash(body.password)  # an unknown name costs as much time as a known one
            failure = ApiError(401, "bad_credentials", messages.text("bad_credentials"))
            failures = login_throttle.record_failure(s, client, user.id if user is not None else None)
            if user is not None:
                reason = "inactive" if not user.active else "wrong password"
                audit.append(s, ANONYMOUS, "auth.login_failed", "user", user.id,
                             {"username": user.username, "reason": reason, "client": client})
            if failures == login_throttle.FREE_FAILURES:  # one summary row per burst, no names
                audit.append(s, ANONYMOUS, "auth.login_throttled", "client", client[:64],
                             {"failures": failures})
        else:
            login_throttle.record_success(s, user.id)
            raw, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
            expires = now() + timedelta(hours=settings.session_hours)
            for old in s.exec(select(WebSession).where(WebSession.user_id == user.id,
                                                       col(WebSession.expires_at) < now())).all():
                s.delete(old)  # expired sessions of this user are of no further use
            s.add(WebSession(token_hash=sha256_hex(raw), csrf_hash=sha256_hex(csrf), user_id=user.id,
                             expires_at=expires))
            audit.append(s, user.username, "auth.login", "user", user.id, {"client": client})
            out = user_public(user, with_operations=True)
    if failure is not None:
        raise failure
    secure = cookie_secure(request)
    max_age = settings.session_hours * 3600
    response.set_cookie(SESSION_COOKIE, raw, max_age=max_age, httponly=True, samesite="lax",
                        secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="lax",
                        secure=secure, path="/")
    return LoginOut(user=out, csrf_token=csrf, expires_at=expires)


@router.post("/auth/logout", response_model=Ok, summary="End the web session")
def logout(auth: CurrentAuth, _: Annotated[User, Depends(Requires("me"))], request: Request,
           response: Response) -> Ok:
    if auth.session_id:
        with session_scope() as s:
            ws = s.get(WebSession, auth.session_id)
            if ws is not None and ws.revoked_at is None:
                ws.revoked_at = now()
    secure = cookie_secure(request)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="lax")
    return Ok()


@router.get("/me", response_model=UserPublic, summary="The calling user and what it may do")
def me(user: Annotated[User, Depends(Requires("me"))]) -> UserPublic:
    return user_public(user, with_operations=True)

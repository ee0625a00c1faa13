"""Users, roles and API tokens.

Tokens and passwords are stored hashed: a token is shown once, at creation, and only its
SHA-256 is kept (it is long and random, so a fast hash suffices); passwords use argon2.

Usernames are what people see in the audit log, on vouchers and in the 移交清册, so two
names that look alike must not be two users. A name is NFKC-normalised (full-width
``ＡＤＭＩＮ`` becomes ``ADMIN``), may not contain control, format or bidi characters
(``admin\u200b``, ``\u202enimda``) nor spaces, and is unique under ``username_key`` — the
case-folded form — so ``ADMIN`` collides with ``admin``. Logging in and ``--as`` look a user
up by the same key.

Ending sessions: ``end_sessions`` moves ``sessions_valid_after`` to now and revokes the user's
API tokens; every web session and token created before that moment is refused from then on,
in every process (the check reads the user row on each request). A password reset, a role
change and disabling a user all call it.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Field, Session, SQLModel, col, select

from core import messages
from core.db import AwareDateTime, new_id, utcnow


class Role(StrEnum):
    CLERK = "clerk"  # 经办
    APPROVER = "approver"  # 审核/审批
    ACCOUNTANT = "accountant"
    ARCHIVIST = "archivist"
    AUDITOR = "auditor"  # read-only
    ADMIN = "admin"
    CLAIMS_OFFICER = "claims_officer"  # 报销专员: files claims for colleagues' invoices


class Permission(StrEnum):
    """Rights that the services themselves test (the route table is ``api/permissions.py``)."""

    CLAIM_FOR_OTHERS = "claim_for_others"  # put invoices another user uploaded on a claim


PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.CLAIM_FOR_OTHERS: frozenset({Role.CLAIMS_OFFICER, Role.ADMIN}),
}


def has_permission(user: User, permission: Permission) -> bool:
    """Does the user's role carry ``permission``? (Unknown roles carry none.)"""
    try:
        return Role(user.role) in PERMISSIONS[permission]
    except ValueError:
        return False


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    username: str = Field(unique=True, index=True, max_length=64)
    # casefold(NFKC(username)): unique, so look-alike names cannot be two users
    username_key: str = Field(unique=True, index=True, max_length=64)
    # the person's name as shown on the page and in voucher summaries (optional)
    display_name: str | None = Field(default=None, max_length=64)
    role: str = Field(max_length=16)
    password_hash: str | None = None
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    # web sessions and API tokens created before this moment are refused (see end_sessions)
    sessions_valid_after: datetime | None = Field(default=None, sa_type=AwareDateTime)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class UserError(Exception):
    """A user cannot be created or changed; ``message`` is the Chinese text for the person."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        self.code = code
        self.message = message
        self.details = details or {}
        super().__init__(message)


def _user_error(code: str, **params: Any) -> UserError:
    return UserError(code, messages.text(code, **params), params)


MAX_NAME = 64
# Bidi classes that reorder text (embeddings, overrides, isolates, marks); their characters
# are also category Cf, checked here by class too so that no future Unicode version slips one by.
_BIDI_CONTROLS = frozenset({"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})


def _bad_character(text: str) -> str | None:
    """The first character a name may not hold, described for the message; None when clean."""
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] == "C" or category in ("Zl", "Zp") or unicodedata.bidirectional(ch) in _BIDI_CONTROLS:
            return f"U+{ord(ch):04X}"
    return None


def clean_username(raw: str) -> str:
    """The name as stored: NFKC, trimmed; raises ``UserError`` for a name that may not be used."""
    name = unicodedata.normalize("NFKC", raw or "").strip()
    shown = raw.encode("unicode_escape").decode("ascii") if raw else ""
    if not name or len(name) > MAX_NAME:
        raise _user_error("bad_username", username=shown, reason=messages.text("username_length", max=MAX_NAME))
    bad = _bad_character(name)
    if bad:
        raise _user_error("bad_username", username=shown,
                          reason=messages.text("username_invisible_char", char=bad))
    if any(ch.isspace() for ch in name):
        raise _user_error("bad_username", username=shown, reason=messages.text("username_space"))
    return name


def username_key(raw: str) -> str:
    """The key a name is unique under and looked up by: case-folded NFKC (``ＡＤＭＩＮ`` → ``admin``)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw or "").strip().casefold())


def clean_display_name(raw: str | None) -> str | None:
    if raw is None:
        return None
    name = unicodedata.normalize("NFKC", raw).strip()
    if not name:
        return None
    bad = _bad_character(name)
    if len(name) > MAX_NAME or bad:
        raise _user_error("bad_display_name", name=raw.encode("unicode_escape").decode("ascii"),
                          max=MAX_NAME)
    return name


def display_name(user: User | None) -> str:
    """What a person is called on the page and in voucher summaries: the display name, else the username."""
    if user is None:
        return ""
    return user.display_name or user.username


_hasher = PasswordHasher()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(session: Session, username: str, role: Role | str, password: str | None = None,
                display: str | None = None) -> User:
    """A new user; the name is cleaned and must not collide with another under ``username_key``."""
    name = clean_username(username)
    key = username_key(name)
    try:
        role = Role(role)
    except ValueError:
        raise _user_error("bad_role", role=str(role), roles="、".join(Role)) from None
    existing = session.exec(select(User).where(User.username_key == key)).first()
    if existing is not None:
        raise _user_error("user_exists", username=name, existing=existing.username)
    user = User(username=name, username_key=key, role=role.value, display_name=clean_display_name(display),
                password_hash=_hasher.hash(password) if password else None)
    session.add(user)
    session.flush()
    return user


def end_sessions(session: Session, user: User) -> int:
    """End every web session and API token of ``user`` now; returns the tokens revoked.

    Web sessions live in the API's table: the API revokes them too, and they are refused by
    ``sessions_valid_after`` besides, which every request checks.
    """
    at = utcnow()
    user.sessions_valid_after = at
    session.add(user)
    tokens = session.exec(select(ApiToken).where(ApiToken.user_id == user.id,
                                                 col(ApiToken.revoked_at).is_(None))).all()
    for token in tokens:
        token.revoked_at = at
        session.add(token)
    session.flush()
    return len(tokens)


def credentials_current(user: User, created_at: datetime) -> bool:
    """Whether a web session created at ``created_at`` is still honoured for ``user``.

    API tokens are revoked row by row in ``end_sessions``; web sessions live in the API's
    table and are also revoked there, so this is the guard for any path that changes a user
    without going through the API (a script, another process mid-request).
    """
    return user.sessions_valid_after is None or created_at >= user.sessions_valid_after


def issue_token(session: Session, user: User) -> tuple[ApiToken, str]:
    """Create a token; the clear text is returned once and never stored."""
    clear = "fpa_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=hash_token(clear))
    session.add(token)
    session.flush()
    return token, clear


def user_for_token(session: Session, clear: str) -> User | None:
    """The active user of a live token, in one statement: it runs before every API request."""
    found = session.exec(select(ApiToken, User).join(User, col(User.id) == col(ApiToken.user_id))
                         .where(ApiToken.token_hash == hash_token(clear))).first()
    if found is None:
        return None
    token, user = found
    return user if token.revoked_at is None and user.active else None


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def get_user(session: Session, username: str) -> User | None:
    """The user a typed name means: ``Admin``, ``ＡＤＭＩＮ`` and ``admin`` find the same one."""
    return session.exec(select(User).where(User.username_key == username_key(username))).first()

"""Users, roles and API tokens.

Tokens and passwords are stored hashed: a token is shown once, at creation, and only its
SHA-256 is kept (it is long and random, so a fast hash suffices); passwords use argon2.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Field, Session, SQLModel, select

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
    role: str = Field(max_length=16)
    password_hash: str | None = None
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class UserError(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


_hasher = PasswordHasher()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, username: str, role: Role | str, password: str | None = None) -> User:
    username = username.strip()
    if not username or len(username) > 64:
        raise UserError("bad_username", "username must be 1 to 64 characters")
    try:
        role = Role(role)
    except ValueError:
        raise UserError("bad_role", f"unknown role {role!r}; one of {', '.join(Role)}") from None
    if session.exec(select(User).where(User.username == username)).first():
        raise UserError("user_exists", f"user {username!r} already exists")
    user = User(username=username, role=role.value, password_hash=_hasher.hash(password) if password else None)
    session.add(user)
    session.flush()
    return user


def issue_token(session: Session, user: User) -> tuple[ApiToken, str]:
    """Create a token; the clear text is returned once and never stored."""
    clear = "fpa_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=hash_token(clear))
    session.add(token)
    session.flush()
    return token, clear


def user_for_token(session: Session, clear: str) -> User | None:
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(clear))).first()
    if token is None or token.revoked_at is not None:
        return None
    user = session.get(User, token.user_id)
    return user if user is not None and user.active else None


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def get_user(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == username)).first()

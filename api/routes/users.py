"""Users and API tokens (admin), and revoking one's own tokens.

Role changes and deactivations are audited; the last active admin cannot be demoted or
deactivated, so that nobody locks the organisation out of its own archive.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from api.deps import ReadSessionDep, Requires, SessionDep
from api.errors import ApiError, not_found
from api.permissions import allowed
from api.routes.auth import user_out
from core import audit
from core.clock import now
from core.users import ApiToken, Role, User, create_user, issue_token

router = APIRouter(tags=["users"])

Admin = Annotated[User, Depends(Requires("users.manage"))]


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: Role
    password: str | None = Field(default=None, min_length=8, max_length=1024,
                                 description="Needed to log in to the web page; at least 8 characters.")


class UserCreated(BaseModel):
    id: str
    username: str
    role: str
    token: str = Field(description="The API token, shown this once only.")
    token_id: str


class UserUpdate(BaseModel):
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)


class TokenOut(BaseModel):
    id: str
    user_id: str
    created_at: str
    revoked_at: str | None


def _token_out(t: ApiToken) -> dict[str, Any]:
    return {"id": t.id, "user_id": t.user_id, "created_at": t.created_at.isoformat(),
            "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}


@router.post("/users", response_model=UserCreated, status_code=201,
             summary="Add a user; the response carries its API token once")
def add_user(body: UserCreate, admin: Admin, s: SessionDep) -> dict[str, Any]:
    user = create_user(s, body.username, body.role, body.password)
    token, clear = issue_token(s, user)
    audit.append(s, admin.username, "user.created", "user", user.id,
                 {"username": user.username, "role": user.role, "password_set": bool(body.password)})
    return {"id": user.id, "username": user.username, "role": user.role, "token": clear,
            "token_id": token.id}


@router.get("/users", summary="List users")
def list_users(admin: Admin, s: ReadSessionDep, page: Annotated[int, Query(ge=1)] = 1,
               page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    total = s.exec(select(func.count()).select_from(User)).one()
    rows = s.exec(select(User).order_by(col(User.username)).offset((page - 1) * page_size)
                  .limit(page_size)).all()
    return {"items": [user_out(u) for u in rows], "total": total, "page": page, "page_size": page_size}


def _active_admins(s: Any) -> int:
    return int(s.exec(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN.value, col(User.active).is_(True))).one())


@router.patch("/users/{user_id}", summary="Change a user's role, password or active flag")
def update_user(body: UserUpdate, admin: Admin, s: SessionDep,
                user_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    user = s.get(User, user_id)
    if user is None:
        raise not_found("user", user_id)
    was_admin = user.role == Role.ADMIN.value and user.active
    losing_admin = was_admin and ((body.role is not None and body.role != Role.ADMIN)
                                  or body.active is False)
    if losing_admin and _active_admins(s) <= 1:
        raise ApiError(409, "last_admin", "the last active admin cannot be demoted or deactivated")
    if body.role is not None and body.role.value != user.role:
        audit.append(s, admin.username, "user.role_changed", "user", user.id,
                     {"username": user.username, "from": user.role, "to": body.role.value})
        user.role = body.role.value
    if body.active is not None and body.active != user.active:
        audit.append(s, admin.username, "user.activated" if body.active else "user.deactivated",
                     "user", user.id, {"username": user.username})
        user.active = body.active
    if body.password is not None:
        from argon2 import PasswordHasher

        user.password_hash = PasswordHasher().hash(body.password)
        audit.append(s, admin.username, "user.password_set", "user", user.id, {"username": user.username})
    s.add(user)
    return user_out(user)


@router.post("/users/{user_id}/tokens", status_code=201, summary="Issue another API token for a user")
def add_token(admin: Admin, s: SessionDep, user_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    user = s.get(User, user_id)
    if user is None:
        raise not_found("user", user_id)
    token, clear = issue_token(s, user)
    audit.append(s, admin.username, "token.issued", "user", user.id, {"token_id": token.id})
    return {**_token_out(token), "token": clear}


@router.get("/tokens", summary="The caller's own API tokens (never their values)")
def my_tokens(user: Annotated[User, Depends(Requires("me"))], s: ReadSessionDep) -> dict[str, Any]:
    rows = s.exec(select(ApiToken).where(ApiToken.user_id == user.id)
                  .order_by(col(ApiToken.created_at))).all()
    return {"items": [_token_out(t) for t in rows], "total": len(rows), "page": 1,
            "page_size": max(len(rows), 1)}


@router.delete("/tokens/{token_id}", summary="Revoke an API token (admin, or the token's owner)")
def revoke_token(user: Annotated[User, Depends(Requires("me"))], s: SessionDep,
                 token_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    token = s.get(ApiToken, token_id)
    if token is None:
        raise not_found("token", token_id)
    if token.user_id != user.id and not allowed(user, "users.manage"):
        raise ApiError(403, "forbidden", "only an admin or the token's owner may revoke it")
    if token.revoked_at is None:
        token.revoked_at = now()
        s.add(token)
        audit.append(s, user.username, "token.revoked", "token", token.id, {"owner": token.user_id})
    return _token_out(token)

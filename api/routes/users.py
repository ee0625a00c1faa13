"""Users and API tokens (admin), and revoking one's own tokens.

Role changes and deactivations are audited; the last active admin cannot be demoted or
deactivated, so that nobody locks the organisation out of its own archive. A new password, a
new role or disabling ends the user's open web sessions and revokes their API tokens at once
(``core.users.end_sessions``): whatever the old credentials allowed stops with the change.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from api.deps import PageParams, ReadSessionDep, Requires, SessionDep, end_web_sessions
from api.errors import ApiError
from api.permissions import allowed
from api.routes.auth import user_public
from core import audit, messages
from core.clock import now
from core.public import Page, TokenIssued, TokenPublic, UserPublic
from core.users import (
    ApiToken,
    Role,
    User,
    clean_display_name,
    create_user,
    end_sessions,
    hash_password,
    issue_token,
)

router = APIRouter(tags=["users"])

Admin = Annotated[User, Depends(Requires("users.manage"))]


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: Role
    password: str | None = Field(default=None, min_length=8, max_length=1024,
                                 description="Needed to log in to the web page; at least 8 characters.")
    display_name: str | None = Field(default=None, max_length=64,
                                     description="the person's name as shown on the page and in voucher summaries")


class UserCreated(BaseModel):
    id: str
    username: str
    display_name: str = ""
    role: str
    token: str = Field(description="The API token, shown this once only.")
    token_id: str


class UserUpdate(BaseModel):
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    display_name: str | None = Field(default=None, max_length=64, description="empty text clears it")


@router.post("/users", response_model=UserCreated, status_code=201,
             summary="Add a user; the response carries its API token once")
def add_user(body: UserCreate, admin: Admin, s: SessionDep) -> UserCreated:
    user = create_user(s, body.username, body.role, body.password, body.display_name)
    token, clear = issue_token(s, user)
    audit.append(s, admin.username, "user.created", "user", user.id,
                 {"username": user.username, "role": user.role, "password_set": bool(body.password),
                  "display_name": user.display_name})
    return UserCreated(id=user.id, username=user.username, display_name=user.display_name or user.username,
                       role=user.role, token=clear, token_id=token.id)


@router.get("/users", response_model=Page[UserPublic], summary="List users")
def list_users(admin: Admin, s: ReadSessionDep, paging: PageParams) -> Page[UserPublic]:
    total = s.exec(select(func.count()).select_from(User)).one()
    rows = s.exec(select(User).order_by(col(User.username)).offset(paging.offset)
                  .limit(paging.page_size)).all()
    return Page[UserPublic](items=[user_public(u) for u in rows], total=total, page=paging.page,
                            page_size=paging.page_size)


def _active_admins(s: Any) -> int:
    return int(s.exec(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN.value, col(User.active).is_(True))).one())


@router.patch("/users/{user_id}", response_model=UserPublic, summary="Change a user's role, password or active flag")
def update_user(body: UserUpdate, admin: Admin, s: SessionDep,
                user_id: Annotated[str, Path(max_length=64)]) -> UserPublic:
    user = s.get(User, user_id)
    if user is None:
        raise _user_not_found(user_id)
    was_admin = user.role == Role.ADMIN.value and user.active
    losing_admin = was_admin and ((body.role is not None and body.role != Role.ADMIN)
                                  or body.active is False)
    if losing_admin and _active_admins(s) <= 1:
        raise ApiError(409, "last_admin", messages.text("last_admin"))
    end = False
    if body.role is not None and body.role.value != user.role:
        audit.append(s, admin.username, "user.role_changed", "user", user.id,
                     {"username": user.username, "from": user.role, "to": body.role.value})
        user.role = body.role.value
        end = True
    if body.active is not None and body.active != user.active:
        audit.append(s, admin.username, "user.activated" if body.active else "user.deactivated",
                     "user", user.id, {"username": user.username})
        user.active = body.active
        end = end or not body.active
    if body.password is not None:
        user.password_hash = hash_password(body.password)
        audit.append(s, admin.username, "user.password_set", "user", user.id, {"username": user.username})
        end = True
    if "display_name" in body.model_fields_set:
        user.display_name = clean_display_name(body.display_name)
    s.add(user)
    if end:
        tokens = end_sessions(s, user)
        sessions = end_web_sessions(s, user.id)
        audit.append(s, admin.username, "user.sessions_ended", "user", user.id,
                     {"username": user.username, "tokens": tokens, "sessions": sessions})
    return user_public(user)


def _user_not_found(user_id: str) -> ApiError:
    return ApiError(404, "not_found", messages.text("user_not_found", id=user_id), {"type": "user", "id": user_id})


@router.post("/users/{user_id}/tokens", status_code=201, response_model=TokenIssued,
             summary="Issue another API token for a user")
def add_token(admin: Admin, s: SessionDep, user_id: Annotated[str, Path(max_length=64)]) -> TokenIssued:
    user = s.get(User, user_id)
    if user is None:
        raise _user_not_found(user_id)
    token, clear = issue_token(s, user)
    audit.append(s, admin.username, "token.issued", "user", user.id, {"token_id": token.id})
    return TokenIssued(**dict(TokenPublic.model_validate(token)), token=clear)


@router.get("/tokens", response_model=Page[TokenPublic], summary="The caller's own API tokens (never their values)")
def my_tokens(user: Annotated[User, Depends(Requires("me"))], s: ReadSessionDep) -> Page[TokenPublic]:
    rows = s.exec(select(ApiToken).where(ApiToken.user_id == user.id)
                  .order_by(col(ApiToken.created_at))).all()
    return Page[TokenPublic](items=[TokenPublic.model_validate(t) for t in rows], total=len(rows), page=1,
                             page_size=max(len(rows), 1))


@router.delete("/tokens/{token_id}", response_model=TokenPublic,
               summary="Revoke an API token (admin, or the token's owner)")
def revoke_token(user: Annotated[User, Depends(Requires("me"))], s: SessionDep,
                 token_id: Annotated[str, Path(max_length=64)]) -> TokenPublic:
    token = s.get(ApiToken, token_id)
    if token is None:
        raise ApiError(404, "not_found", messages.text("token_not_found", id=token_id),
                       {"type": "token", "id": token_id})
    if token.user_id != user.id and not allowed(user, "users.manage"):
        raise ApiError(403, "forbidden", messages.text("token_not_yours"))
    if token.revoked_at is None:
        token.revoked_at = now()
        s.add(token)
        audit.append(s, user.username, "token.revoked", "token", token.id, {"owner": token.user_id})
    return TokenPublic.model_validate(token)

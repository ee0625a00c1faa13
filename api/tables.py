"""The API's own tables: web sessions and idempotency keys.

A web session is a random secret in an HttpOnly cookie; only its SHA-256 is stored, so a
copy of the database does not let anyone log in. The CSRF token of the session is stored
hashed too and compared with the ``X-CSRF-Token`` header on every unsafe request.

An idempotency key row remembers the first response to a write, so that an accounting
system that retries a request (a timeout, a restart) gets the same answer and changes
nothing twice. ``UNIQUE(user_id, key)`` makes two concurrent retries collide in the
database instead of both running.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import AwareDateTime, new_id, utcnow


class WebSession(SQLModel, table=True):
    __tablename__ = "web_sessions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    csrf_hash: str = Field(max_length=64)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    expires_at: datetime = Field(sa_type=AwareDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    key: str = Field(max_length=200)
    # What the key was first used for: a repeat for another request is refused.
    method: str = Field(max_length=8)
    path: str = Field(max_length=500)
    fingerprint: str = Field(max_length=64)
    # "pending" while the first request runs, "done" once its response is stored.
    state: str = Field(default="pending", max_length=8)
    status_code: int | None = None
    response: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=AwareDateTime)

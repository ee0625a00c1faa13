"""``Idempotency-Key`` for writes an accounting system may retry.

The first request with a key runs and its response is stored under ``(user, key)``; a
repeat with the same key gets that stored response (marked ``Idempotent-Replayed: true``)
and changes nothing. A key reused for a different request is refused, since answering it
with another request's result would be a lie.

When the operation runs in our transaction (vouchers, posting) the key row is inserted
*first* in that same transaction: a concurrent retry then blocks on the unique index (or on
SQLite's write lock) until the first commits, and finds the stored answer. When the
operation commits on its own (uploads go through the importer), the key is reserved in a
short transaction before and completed after; a retry that arrives in between is told the
first is still running (409, retry later). A failed first attempt stores nothing: it
changed nothing, so a retry simply runs again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.errors import ApiError
from api.tables import IdempotencyKey
from core.clock import now
from core.db import session_scope
from core.users import User

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=200,
           description="Any unique string; a retry with the same key returns the first result "
                       "and changes nothing."),
]

Outcome = tuple[int, Any]
T = TypeVar("T")


def fingerprint(*parts: Any) -> str:
    """A digest of what the request asks for, to tell a true retry from key reuse."""
    blob = json.dumps(jsonable_encoder(parts), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _respond(status: int, body: Any, replayed: bool) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def _find(s: Session, user: User, key: str) -> IdempotencyKey | None:
    return s.exec(select(IdempotencyKey).where(IdempotencyKey.user_id == user.id,
                                               IdempotencyKey.key == key)).first()


def _replay(row: IdempotencyKey, method: str, path: str, fp: str) -> JSONResponse:
    if row.method != method or row.path != path or row.fingerprint != fp:
        raise ApiError(422, "idempotency_key_reused",
                       f"the Idempotency-Key was first used for another request ({row.method} {row.path}); "
                       "use a new key for a new request",
                       {"first_used_at": row.created_at.isoformat()})
    if row.state != "done" or row.status_code is None:
        raise ApiError(409, "idempotency_in_progress",
                       "the first request with this Idempotency-Key is still running; retry shortly")
    return _respond(row.status_code, row.response, replayed=True)


def _stored_replay(s: Session, user: User, key: str, method: str, path: str, fp: str) -> JSONResponse | None:
    """The answer for a key that already has a row (see ``_replay``), or None for a new key."""
    existing = _find(s, user, key)
    return None if existing is None else _replay(existing, method, path, fp)


def _complete(row: IdempotencyKey, status: int, body: Any) -> None:
    row.state = "done"
    row.status_code = status
    row.response = jsonable_encoder(body)
    row.completed_at = now()


def _claim_key(user: User, key: str, method: str, path: str, fp: str,
               then: Callable[[Session, IdempotencyKey], T]) -> JSONResponse | T:
    """Claim ``key`` and run ``then(session, row)`` in the same transaction; or the answer to
    give instead, when the key was used before (or a concurrent first request just took it)."""
    try:
        with session_scope() as s:
            replay = _stored_replay(s, user, key, method, path, fp)
            if replay is not None:
                return replay
            row = IdempotencyKey(user_id=user.id, key=key, method=method, path=path, fingerprint=fp)
            s.add(row)
            s.flush()  # claims the key now: a concurrent retry waits here
            return then(s, row)
    except IntegrityError:
        with session_scope() as s:
            replay = _stored_replay(s, user, key, method, path, fp)
        if replay is None:
            raise
        return replay


def run_in_transaction(user: User, key: str | None, method: str, path: str, fp: str,
                       op: Callable[[Session], Outcome]) -> JSONResponse:
    """Run ``op(session)`` once per key, in one transaction with the key's row."""
    if not key:
        with session_scope() as s:
            status, body = op(s)
        return _respond(status, body, replayed=False)

    def run_and_store(s: Session, row: IdempotencyKey) -> Outcome:
        status, body = op(s)
        _complete(row, status, body)
        return status, body

    result = _claim_key(user, key, method, path, fp, run_and_store)
    if isinstance(result, JSONResponse):
        return result
    status, body = result
    return _respond(status, body, replayed=False)


def run_reserved(user: User, key: str | None, method: str, path: str, fp: str,
                 op: Callable[[], Outcome]) -> JSONResponse:
    """Run ``op()`` (which commits on its own) once per key: reserve, run, complete."""
    if not key:
        status, body = op()
        return _respond(status, body, replayed=False)
    reserved = _claim_key(user, key, method, path, fp, lambda _s, row: row.id)
    if isinstance(reserved, JSONResponse):
        return reserved
    row_id = reserved
    try:
        status, body = op()
    except BaseException:
        with session_scope() as s:
            pending = s.get(IdempotencyKey, row_id)
            if pending is not None:
                s.delete(pending)
        raise
    with session_scope() as s:
        done = s.get(IdempotencyKey, row_id)
        if done is not None:
            _complete(done, status, body)
    return _respond(status, body, replayed=False)

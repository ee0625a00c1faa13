"""The idempotency store on both databases (SQLite and PostgreSQL), with concurrent retries."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from api.errors import ApiError
from api.idempotency import fingerprint, run_in_transaction, run_reserved
from api.tables import IdempotencyKey
from core import audit
from core.audit import AuditEntry
from core.db import session_scope
from core.users import User, create_user


def _user(name: str) -> User:
    with session_scope() as s:
        u = create_user(s, name, "accountant")
        s.expunge(u)
    return u


def _count(model: Any) -> int:
    with session_scope() as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def test_concurrent_retries_run_the_operation_once(engine: Engine) -> None:
    user = _user("erp")
    fp = fingerprint({"voucher": 1})
    runs = 0
    gate = threading.Barrier(6)
    results: list[tuple[int, Any, bool]] = []
    lock = threading.Lock()

    def op(s: Session) -> tuple[int, Any]:
        nonlocal runs
        with lock:
            runs += 1
        entry = audit.append(s, user.username, "voucher.create", "voucher", "v1", {})
        return 201, {"seq": entry.seq}

    def call() -> None:
        gate.wait()
        resp = run_in_transaction(user, "retry-1", "POST", "/api/v1/vouchers", fp, op)
        with lock:
            results.append((resp.status_code, json.loads(bytes(resp.body)),
                            resp.headers.get("idempotent-replayed") == "true"))

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 6
    assert {r[0] for r in results} == {201}
    assert len({json.dumps(r[1]) for r in results}) == 1
    assert sum(1 for r in results if not r[2]) == 1  # one ran, five were replayed
    assert runs == 1 and _count(AuditEntry) == 1  # the operation ran, and committed, once
    assert _count(IdempotencyKey) == 1


def test_failure_leaves_no_key_and_reuse_is_refused(engine: Engine) -> None:
    user = _user("erp2")

    def failing(_: Session) -> tuple[int, Any]:
        raise ApiError(409, "nope", "refused by a rule")

    with pytest.raises(ApiError):
        run_in_transaction(user, "k", "POST", "/p", fingerprint(1), failing)
    assert _count(IdempotencyKey) == 0
    ok = run_reserved(user, "k", "POST", "/p", fingerprint(1), lambda: (200, {"n": 1}))
    assert ok.status_code == 200
    again = run_reserved(user, "k", "POST", "/p", fingerprint(1), lambda: (200, {"n": 2}))
    assert json.loads(bytes(again.body)) == {"n": 1}
    with pytest.raises(ApiError) as ei:
        run_reserved(user, "k", "POST", "/p", fingerprint(2), lambda: (200, {"n": 3}))
    assert ei.value.code == "idempotency_key_reused" and ei.value.status == 422

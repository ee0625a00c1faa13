"""The audit chain holds under appends and names the first entry that was changed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from core import audit
from core.db import session_scope
from tests.tamper import DROP_GUARD


def _append(n: int) -> None:
    with session_scope() as s:
        audit.append(s, "alice", "test.action", "thing", f"id-{n}", {"n": n, "金额": "1.00"})


def test_chain_verifies_after_appends(engine: Engine) -> None:
    for i in range(5):
        _append(i)
    with session_scope() as s:
        report = audit.verify_chain(s)
    assert report.ok and report.entries == 5 and report.first_broken is None


def test_many_appends_in_one_transaction_and_a_rolled_back_savepoint(engine: Engine) -> None:
    """The head is read once per transaction; a savepoint rolled back leaves no stale head."""
    _append(0)
    with session_scope() as s:
        for n in range(1, 4):
            audit.append(s, "alice", "test.action", "thing", f"id-{n}", {"n": n})
        with pytest.raises(RuntimeError), s.begin_nested():
            audit.append(s, "alice", "test.action", "thing", "gone", {})
            raise RuntimeError("roll the savepoint back")
        audit.append(s, "alice", "test.action", "thing", "id-4", {"n": 4})
        with s.begin_nested():
            audit.append(s, "alice", "test.action", "thing", "id-5", {"n": 5})
        audit.append(s, "alice", "test.action", "thing", "id-6", {"n": 6})
    _append(7)
    with session_scope() as s:
        report = audit.verify_chain(s)
        ids = s.exec(select(audit.AuditEntry.object_id).order_by(audit.AuditEntry.seq)).all()  # type: ignore[arg-type]
    assert report.ok, report.first_broken
    assert ids == ["id-0", "id-1", "id-2", "id-3", "id-4", "id-5", "id-6", "id-7"]


def test_concurrent_appends_never_fork_the_chain(engine: Engine) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(_append, range(40)))
    with session_scope() as s:
        report = audit.verify_chain(s)
    assert report.ok, report.first_broken
    assert report.entries == 40


def _verify_after_tampering(engine: Engine, sql: str) -> audit.ChainReport:
    """Append four entries, change the log behind the chain's back with ``sql``, verify."""
    for i in range(4):
        _append(i)
    with engine.begin() as conn:
        for statement in DROP_GUARD[engine.dialect.name]:
            conn.execute(text(statement))
        conn.execute(text(sql))
    with session_scope() as s:
        return audit.verify_chain(s)


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET actor = 'mallory' WHERE seq = 1",
                                 "DELETE FROM audit_log WHERE seq = 1"])
def test_the_database_refuses_to_change_an_entry(engine: Engine, sql: str) -> None:
    _append(1)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(sql))
    with session_scope() as s:
        assert audit.verify_chain(s).ok


def test_changed_row_is_named(engine: Engine) -> None:
    report = _verify_after_tampering(engine, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    assert not report.ok
    assert report.first_broken is not None
    assert report.first_broken["seq"] == 3
    assert "changed" in report.first_broken["reason"]


def test_deleted_row_is_named(engine: Engine) -> None:
    report = _verify_after_tampering(engine, "DELETE FROM audit_log WHERE seq = 2")
    assert not report.ok and report.first_broken is not None
    assert report.first_broken["seq"] == 3
    assert "missing entry" in report.first_broken["reason"]

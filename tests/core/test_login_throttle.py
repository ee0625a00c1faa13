"""Login throttling: growing waits per address and per user, kept in the database.

The clock is passed in, so the waits are checked exactly; both databases, since several API
processes share the counters through them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from core import login_throttle as lt
from core.db import session_scope

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ATTACKER, DESK, OTHER = "203.0.113.7", "10.0.0.5", "198.51.100.9"


def _fail(client: str, user_id: str | None, at: datetime) -> int:
    with session_scope() as s:
        return lt.record_failure(s, client, user_id, at)


def _check(client: str, user_id: str | None, at: datetime) -> lt.Verdict:
    with session_scope() as s:
        return lt.check(s, client, user_id, at)


def test_the_delay_grows_and_is_capped() -> None:
    assert [lt.delay_after(n).total_seconds() for n in range(1, 10)] == [0, 0, 0, 0, 2, 4, 8, 16, 32]
    assert lt.delay_after(40) == lt.MAX_DELAY


def test_an_address_is_slowed_after_five_failures_and_waits_grow(engine: Engine) -> None:
    at = T0
    for n in range(1, 5):
        assert _check(ATTACKER, "u1", at).allowed
        assert _fail(ATTACKER, "u1", at) == n
    assert _fail(ATTACKER, "u1", at) == 5
    v = _check(ATTACKER, "u1", at + timedelta(seconds=1))
    assert not v.allowed and v.retry_after == 1
    # unknown names count under the address too
    assert not _check(ATTACKER, None, at + timedelta(seconds=1)).allowed
    at += timedelta(seconds=2)
    assert _check(ATTACKER, "u1", at).allowed
    _fail(ATTACKER, "u1", at)
    assert _check(ATTACKER, "u1", at + timedelta(seconds=3)).retry_after == 1
    assert _check(ATTACKER, "u1", at).retry_after == 4
    # after the window without failures, the count starts again
    later = at + lt.WINDOW + timedelta(seconds=1)
    assert _check(ATTACKER, "u1", later).allowed
    assert _fail(ATTACKER, "u1", later) == 1


def test_the_real_user_from_a_clean_address_is_not_held_back(engine: Engine) -> None:
    at = T0
    for _ in range(8):  # the attacker hammers u1 from several addresses
        _fail(ATTACKER, "u1", at)
        _fail(OTHER, "u1", at)
    assert not _check(ATTACKER, "u1", at).allowed
    assert not _check(OTHER, "u1", at).allowed
    assert _check(DESK, "u1", at).allowed  # the user's own desk: the password is checked
    # an address that has failed once is held back by the user's counter too
    _fail("192.0.2.1", "u1", at)
    assert not _check("192.0.2.1", "u1", at).allowed
    # a correct password clears the user's counter, not the attacker's address
    with session_scope() as s:
        lt.record_success(s, "u1")
    assert _check("192.0.2.1", "u1", at).allowed
    assert not _check(ATTACKER, "u1", at).allowed


def test_unknown_names_leave_no_row_of_their_own(engine: Engine) -> None:
    for _ in range(3):
        _fail(ATTACKER, None, T0)
    with session_scope() as s:
        keys = [row.key for row in s.exec(select(lt.LoginThrottle)).all()]
    assert keys == [lt.address_key(ATTACKER)]

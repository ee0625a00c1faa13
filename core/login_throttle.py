"""Login throttling: growing delays per username and per client address, kept in the database.

A fixed lockout ("5 wrong passwords lock the account for 15 minutes") lets anyone lock any
user out. Instead, failures are counted under two keys, the client address and the user, and
after ``FREE_FAILURES`` each further attempt must wait ``2**n`` seconds (n = failures past the
free ones), capped at ``MAX_DELAY``:

- the address key slows whoever guesses from that address, whatever names they try (unknown
  names are counted here, and nowhere else: they never become rows of their own);
- the user key slows guessing one user's password from many addresses, but it only holds
  back addresses that have failed recently themselves. An address with no recent failures
  still gets its password checked, so the real user, from their own desk, logs in while an
  attacker elsewhere is being slowed. A correct password clears the user key.

Counters older than ``WINDOW`` start again from zero. They live in the database (one row per
key, updated under an advisory lock) so that several API processes share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Field, Session, SQLModel

from core.db import AwareDateTime, advisory_lock, utcnow

FREE_FAILURES = 5
MAX_DELAY = timedelta(minutes=15)
WINDOW = timedelta(hours=1)


class LoginThrottle(SQLModel, table=True):
    """Failed logins under one key: ``addr:<client address>`` or ``user:<user id>``."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=200)
    failures: int = 0
    last_failure_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    blocked_until: datetime | None = Field(default=None, sa_type=AwareDateTime)


def address_key(client: str) -> str:
    return "addr:" + client[:190]


def user_key(user_id: str) -> str:
    return "user:" + user_id


def delay_after(failures: int) -> timedelta:
    """The wait before the next attempt once ``failures`` have been counted."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - FREE_FAILURES + 1)), MAX_DELAY)


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may be checked now, and if not, how long to wait."""

    allowed: bool
    retry_after: int = 0  # whole seconds


def _current(session: Session, key: str, now: datetime) -> LoginThrottle | None:
    row = session.get(LoginThrottle, key)
    if row is not None and now - row.last_failure_at > WINDOW:
        return None
    return row


def _wait(row: LoginThrottle | None, now: datetime) -> int:
    if row is None or row.blocked_until is None or row.blocked_until <= now:
        return 0
    return max(1, int((row.blocked_until - now).total_seconds() + 0.999))


def check(session: Session, client: str, user_id: str | None, now: datetime | None = None) -> Verdict:
    """May this attempt have its password checked? Reads only; call before verifying."""
    now = now or utcnow()
    addr = _current(session, address_key(client), now)
    wait = _wait(addr, now)
    if wait:
        return Verdict(False, wait)
    if user_id is not None and addr is not None and addr.failures > 0:
        # the user is being guessed at, and this address has been guessing: make it wait too
        wait = _wait(_current(session, user_key(user_id), now), now)
        if wait:
            return Verdict(False, wait)
    return Verdict(True)


def _bump(session: Session, key: str, now: datetime) -> LoginThrottle:
    row = session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, last_failure_at=now)
    elif now - row.last_failure_at > WINDOW:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    delay = delay_after(row.failures)
    row.blocked_until = now + delay if delay else None
    session.add(row)
    return row


def record_failure(session: Session, client: str, user_id: str | None, now: datetime | None = None) -> int:
    """Count a failed attempt (under the user only when the name is a real user); returns the
    address's failure count, so the caller can write one summary audit row per burst."""
    now = now or utcnow()
    advisory_lock(session, "login_throttle")
    addr = _bump(session, address_key(client), now)
    if user_id is not None:
        _bump(session, user_key(user_id), now)
    session.flush()
    return addr.failures


def record_success(session: Session, user_id: str) -> None:
    """A correct password: the user's counter starts again (the address's does not, so that
    an attacker cannot clear it by logging in to an account of their own)."""
    advisory_lock(session, "login_throttle")
    row = session.get(LoginThrottle, user_key(user_id))
    if row is not None:
        session.delete(row)
        session.flush()

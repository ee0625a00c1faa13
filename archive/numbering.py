"""件号: gap-free item numbers of a series, allocated in the database for parallel builders.

A year's packages are built by several workers at once, so no builder may hold the series'
number lock while it renders, checks and signs a package (that made builds run one at a
time). Instead a number is *reserved* in a short transaction of its own:

1. lock the series' counter row (``SELECT … FOR UPDATE``; on SQLite the transaction holds the
   write lock), turn lapsed reservations whose number has no package into gaps;
2. take the smallest recorded gap, else ``last_no + 1``; record a reservation naming the
   voucher (a voucher asking again gets its own reservation back: a rerun job does not take a
   second number); commit.

The build then runs without any series lock. In the transaction that inserts the package the
reservation is deleted (``confirm``), so package and number commit together. A build that
fails gives its number back (``release``): it becomes a recorded gap (who, when, why), and the
next allocation of the series takes the smallest gap first, exactly as ``voucher_number_gaps``
does for 记账凭证 numbers (accounting/ledger.py). A builder that dies leaves a reservation that
lapses after ``RESERVATION_TTL`` and is turned into a gap by the next allocation. So at rest a
series is 1..N without holes; while builds run, numbers below a fresh package may still be
reserved or freed, which the filing check accepts (``in_flight``) and the year check does not.

On SQLite all writers are serialised anyway: the reservation is taken in the builder's own
transaction (a second connection would wait on that transaction's write lock) and a failed
build's rollback gives the number back by itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from archive.store import ArchivalCounter, ArchivePackage
from core.db import AwareDateTime, session_scope, utcnow

RESERVATION_TTL = timedelta(minutes=30)  # far longer than one package build takes


class ArchivalReservation(SQLModel, table=True):
    """A 件号 handed to a builder that has not committed its package yet."""

    __tablename__ = "archive_item_reservations"

    series: str = Field(primary_key=True, max_length=64)
    item_no: int = Field(primary_key=True)
    holder: str = Field(max_length=64, index=True)  # the voucher being packaged
    reserved_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    expires_at: datetime = Field(sa_type=AwareDateTime)


class ArchivalNumberGap(SQLModel, table=True):
    """A 件号 given back by a failed or abandoned build; the next build of the series takes it."""

    __tablename__ = "archive_item_gaps"

    series: str = Field(primary_key=True, max_length=64)
    item_no: int = Field(primary_key=True)
    freed_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    holder: str | None = Field(default=None, max_length=64)
    reason: str = Field(default="", max_length=200)


def _separate(session: Session) -> bool:
    """True where the reservation gets its own transaction (PostgreSQL), see the module doc."""
    return session.get_bind().dialect.name != "sqlite"


def allocate(session: Session, series: str, holder: str, ttl: timedelta = RESERVATION_TTL) -> int:
    """Reserve the next 件号 of ``series`` for ``holder`` (a voucher id) and return it."""
    if not _separate(session):
        return _allocate(session, series, holder, ttl)
    with session_scope(session.get_bind()) as s:  # type: ignore[arg-type]
        return _allocate(s, series, holder, ttl)


def _lock_counter(s: Session, series: str) -> ArchivalCounter:
    stmt = select(ArchivalCounter).where(ArchivalCounter.series == series).with_for_update()
    counter = s.exec(stmt).first()
    if counter is not None:
        return counter
    try:
        with s.begin_nested():
            s.add(ArchivalCounter(series=series, last_no=0))
            s.flush()
    except IntegrityError:
        pass  # another builder created it first; lock theirs
    return s.exec(stmt).one()


def _allocate(s: Session, series: str, holder: str, ttl: timedelta) -> int:
    counter = _lock_counter(s, series)
    now = utcnow()
    mine = s.exec(select(ArchivalReservation).where(ArchivalReservation.series == series,
                                                    ArchivalReservation.holder == holder)).first()
    if mine is not None:  # the same voucher again (a rerun job): keep its number
        mine.expires_at = now + ttl
        s.add(mine)
        s.flush()
        return mine.item_no
    reclaim_lapsed(s, series, now)
    gap = s.exec(select(ArchivalNumberGap).where(ArchivalNumberGap.series == series)
                 .order_by(col(ArchivalNumberGap.item_no)).limit(1)).first()
    if gap is not None:
        no = gap.item_no
        s.delete(gap)
    else:
        counter.last_no += 1
        no = counter.last_no
        s.add(counter)
    s.add(ArchivalReservation(series=series, item_no=no, holder=holder, reserved_at=now, expires_at=now + ttl))
    s.flush()
    return no


def reclaim_lapsed(s: Session, series: str, now: datetime | None = None) -> int:
    """Turn lapsed reservations (their builder died) into gaps; returns how many."""
    now = now or utcnow()
    lapsed = s.exec(select(ArchivalReservation).where(ArchivalReservation.series == series,
                                                      col(ArchivalReservation.expires_at) < now)).all()
    n = 0
    for r in lapsed:
        used = s.exec(select(ArchivePackage.id).where(ArchivePackage.series == series,
                                                      ArchivePackage.item_no == r.item_no)).first()
        if used is None:
            s.add(ArchivalNumberGap(series=series, item_no=r.item_no, holder=r.holder, reason="lapsed"))
            n += 1
        s.delete(r)
    s.flush()
    return n


def confirm(session: Session, series: str, item_no: int) -> None:
    """In the transaction that inserts the package: the number is used, drop its reservation."""
    session.execute(delete(ArchivalReservation).where(col(ArchivalReservation.series) == series,
                                                      col(ArchivalReservation.item_no) == item_no))


def release(session: Session, series: str, item_no: int, reason: str) -> None:
    """Give a failed build's number back as a recorded gap (PostgreSQL; see the module doc)."""
    if not _separate(session):
        return  # the caller's rollback undoes the allocation
    with session_scope(session.get_bind()) as s:  # type: ignore[arg-type]
        _lock_counter(s, series)
        r = s.get(ArchivalReservation, (series, item_no))
        if r is None:
            return  # confirmed after all, or already reclaimed
        s.delete(r)
        s.add(ArchivalNumberGap(series=series, item_no=item_no, holder=r.holder, reason=reason[:200]))


def in_flight(session: Session, series: str) -> set[int]:
    """Numbers reserved by running builds or freed and waiting for the next one."""
    held = session.exec(select(ArchivalReservation.item_no).where(ArchivalReservation.series == series)).all()
    freed = session.exec(select(ArchivalNumberGap.item_no).where(ArchivalNumberGap.series == series)).all()
    return set(held) | set(freed)


def gaps(session: Session, series: str | None = None) -> list[ArchivalNumberGap]:
    stmt = select(ArchivalNumberGap)
    if series:
        stmt = stmt.where(ArchivalNumberGap.series == series)
    return list(session.exec(stmt.order_by(col(ArchivalNumberGap.series), col(ArchivalNumberGap.item_no))).all())

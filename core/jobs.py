"""The job queue: one ``jobs`` table in the application database, on SQLite and PostgreSQL.

Long work (a folder import, the year-end export, a year's packages, fixity and store sweeps,
the daily audit anchor) is recorded as a job and run by a worker: ``fapiao worker`` on any
number of machines, or the in-process runner of ``fapiao serve`` (``core.worker``). The rules:

* **No broker.** The queue is the database the service already has. The engine decides only
  who delivers: on PostgreSQL **procrastinate** (``core.pq``): ``enqueue`` defers a
  procrastinate job in the same transaction as the row, procrastinate workers fetch it, retry
  it by its ``RetryStrategy`` and hand back the jobs of workers whose heartbeat stopped. On
  SQLite our own table is claimed directly (``claim``: ``BEGIN IMMEDIATE``, one writer at a
  time anyway), by the in-process runner of ``fapiao serve`` or ``fapiao worker``.
* **Leases, not locks** (SQLite delivery). A claimed job holds a lease (``lease_until``) that
  its worker renews while it runs. A worker that dies (SIGKILL, a lost machine) stops renewing;
  once the lease has run out any worker claims the job again (``attempts`` + 1). A job that
  fails with an error is retried with a growing delay until ``max_attempts``, then stays
  ``failed`` with its error. On PostgreSQL the same ``job_lease_seconds`` is the heartbeat
  silence after which procrastinate's job is given to another worker.
* **Exactly one effect.** A job may therefore run more than once, so every handler is
  idempotent: it checks what is already done (a registered SHA-256, a live package, a
  finished export) and does only the rest. Enqueueing is idempotent too: a job with a ``key``
  (``"archive.package:<voucher id>"``, ``"audit.anchor:2026-11-27"``) is recorded once; asking
  again returns the job already recorded (a UNIQUE key, not a look-up first).
* **Visible.** State, attempts, progress (done of total), counts and the result or error are
  columns: ``GET /api/v1/jobs/{id}`` and ``fapiao job show ID`` read them.

Handlers are registered at start-up by the layer that wires the application
(``api.job_kinds``); this module knows none of them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from core.db import AwareDateTime, get_engine, new_id, session_scope, utcnow
from core.errors import ErrorKind, ServiceError

log = logging.getLogger("fapiao.jobs")

LEASE_SECONDS = 60.0  # a worker renews every third of this; a dead one's job is free after it
RETRY_BASE_SECONDS = 5.0  # failed attempt n waits base * 4**(n-1) before the next


def on_postgres(bind: Engine | Session) -> bool:
    """Whether procrastinate delivers for this database (PostgreSQL) or our table does (SQLite).

    Here and not in ``core.pq`` so that asking does not import procrastinate."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(SQLModel, table=True):
    """One unit of long work: what to do (kind, params), where it stands, what came of it."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_runnable", "state", "run_after"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    kind: str = Field(max_length=64, index=True)
    # Idempotent enqueue: one job per key, ever (NULL keys are not compared).
    key: str | None = Field(default=None, max_length=200, unique=True)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default=JobState.QUEUED, max_length=16)
    attempts: int = 0
    max_attempts: int = 3
    run_after: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=AwareDateTime)
    worker: str | None = Field(default=None, max_length=200)
    parent_id: str | None = Field(default=None, max_length=32, index=True)
    progress_done: int = 0
    progress_total: int | None = None
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    started_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class JobError(Exception):
    """A job cannot be run as asked (unknown kind, bad parameters): not retried.

    ``code`` is a catalogue code (core/messages/queue.py) with ``params`` for its placeholders.
    """

    def __init__(self, code: str, message: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.params = params or {}


@dataclass
class JobContext:
    """What a handler gets besides its params: progress reporting and the job's identity.

    ``progress`` and ``count`` write through at most every ``flush_every`` calls so that a
    million-file import does not write a row per file; ``flush`` writes now.
    """

    job_id: str
    attempt: int
    engine: Engine
    worker: str
    done: int = 0
    total: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    flush_every: int = 50
    _pending: int = 0

    def set_total(self, total: int | None) -> None:
        self.total = total
        self.flush()

    def advance(self, n: int = 1, **counts: int) -> None:
        self.done += n
        for k, v in counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        self._pending += n
        if self._pending >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        self._pending = 0
        with session_scope(self.engine) as s:
            s.execute(update(Job).where(col(Job.id) == self.job_id, col(Job.worker) == self.worker)
                      .values(progress_done=self.done, progress_total=self.total, counts=dict(self.counts)))


Handler = Callable[[JobContext, dict[str, Any]], dict[str, Any] | None]

_HANDLERS: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    """Make ``kind`` runnable; called once per kind at start-up (``api.job_kinds.install``)."""
    if _HANDLERS.get(kind, handler) is not handler:
        raise RuntimeError(f"job kind {kind!r} registered twice")
    _HANDLERS[kind] = handler


def kinds() -> list[str]:
    return sorted(_HANDLERS)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(session: Session, kind: str, params: dict[str, Any] | None = None, *, key: str | None = None,
            created_by: str | None = None, parent_id: str | None = None, max_attempts: int = 3,
            run_after: datetime | None = None) -> Job:
    """Record a job in the caller's transaction (it runs once that commits).

    With a ``key``, a second enqueue returns the job already recorded under it, whichever
    process recorded it (the UNIQUE key decides, inside a savepoint).
    """
    if key is not None:
        found = session.exec(select(Job).where(Job.key == key)).first()
        if found is not None:
            return found
    job = Job(kind=kind, key=key, params=params or {}, created_by=created_by, parent_id=parent_id,
              max_attempts=max_attempts, run_after=run_after or utcnow())
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
            if on_postgres(session):  # the delivery commits with the row, or neither does
                from core import pq

                pq.defer(session, job.id, max_attempts, run_after if run_after and run_after > utcnow() else None)
    except IntegrityError:
        found = session.exec(select(Job).where(Job.key == key)).first()
        if found is None:
            raise
        return found
    return job


def get_job(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def list_jobs(session: Session, *, state: str | None = None, kind: str | None = None,
              parent_id: str | None = None, limit: int = 100) -> list[Job]:
    stmt = select(Job)
    if state:
        stmt = stmt.where(Job.state == state)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    if parent_id:
        stmt = stmt.where(Job.parent_id == parent_id)
    return list(session.exec(stmt.order_by(col(Job.created_at).desc()).limit(limit)).all())


def queue_depth(session: Session) -> int:
    """Jobs waiting or running (for the ``/metrics`` gauge): procrastinate's count on
    PostgreSQL (what its workers will fetch), our table's on SQLite."""
    from sqlalchemy import func

    if on_postgres(session):
        from core import pq

        return pq.queue_depth(session)

    n = session.exec(select(func.count()).select_from(Job)
                     .where(col(Job.state).in_([JobState.QUEUED, JobState.RUNNING]))).one()
    return int(n)


def job_to_dict(job: Job) -> dict[str, Any]:
    """The public form of a job (API and CLI print the same): ``core.public.JobPublic``'s JSON."""
    from core.public import JobPublic

    return JobPublic.from_job(job).to_json()


def children_summary(session: Session, parent_id: str) -> dict[str, int]:
    """How many child jobs of a fan-out job are in each state."""
    from sqlalchemy import func

    rows = session.exec(select(Job.state, func.count()).where(Job.parent_id == parent_id)
                        .group_by(Job.state)).all()
    return {str(state): int(n) for state, n in rows}


# --- claiming and running -------------------------------------------------------------------


def claim(engine: Engine, worker: str, kinds_: list[str] | None = None,
          lease_seconds: float = LEASE_SECONDS) -> Job | None:
    """Take the oldest runnable job: queued and due, or running with a lapsed lease.

    One short transaction; ``SKIP LOCKED`` lets PostgreSQL workers pass each other's
    candidates; on SQLite the transaction holds the write lock (``BEGIN IMMEDIATE``).
    """
    now = utcnow()
    with session_scope(engine) as s:
        runnable = ((col(Job.state) == JobState.QUEUED) & (col(Job.run_after) <= now)) | (
            (col(Job.state) == JobState.RUNNING) & (col(Job.lease_until) < now))
        stmt = select(Job).where(runnable)
        names = kinds_ if kinds_ is not None else kinds()
        stmt = stmt.where(col(Job.kind).in_(names))
        job = s.exec(stmt.order_by(col(Job.run_after), col(Job.created_at)).limit(1)
                     .with_for_update(skip_locked=True)).first()
        if job is None:
            return None
        if job.state == JobState.RUNNING:
            log.warning("job %s (%s): lease of %s lapsed, claimed again by %s", job.id, job.kind,
                        job.worker, worker)
        job.state = JobState.RUNNING
        job.attempts += 1
        job.worker = worker
        job.lease_until = now + timedelta(seconds=lease_seconds)
        job.started_at = job.started_at or now
        s.add(job)
        s.flush()
        s.expunge(job)
        return job


def renew(engine: Engine, job_id: str, worker: str, lease_seconds: float = LEASE_SECONDS) -> bool:
    """Extend the lease; False when another worker has taken the job over (stop then)."""
    with session_scope(engine) as s:
        res = s.execute(update(Job).where(col(Job.id) == job_id, col(Job.worker) == worker,
                                          col(Job.state) == JobState.RUNNING)
                        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds)))
        return bool(getattr(res, "rowcount", 0))


def _finish(engine: Engine, job: Job, ctx: JobContext, **values: Any) -> None:
    with session_scope(engine) as s:
        s.execute(update(Job).where(col(Job.id) == job.id, col(Job.worker) == ctx.worker)
                  .values(progress_done=ctx.done, progress_total=ctx.total, counts=dict(ctx.counts),
                          lease_until=None, **values))


def lease_seconds() -> float:
    from core.settings import get_settings

    return float(get_settings().job_lease_seconds)


def _keep_leased(engine: Engine, job_id: str, worker: str, stop: threading.Event, seconds: float) -> None:
    """Renew the lease every third of its length until ``stop`` (a daemon thread)."""
    while not stop.wait(seconds / 3):
        try:
            if not renew(engine, job_id, worker, seconds):
                log.warning("job %s: taken over by another worker", job_id)
                return
        except Exception:  # a busy database: the next beat tries again, the lease has slack
            log.warning("job %s: lease not renewed", job_id, exc_info=True)


def run_job(engine: Engine, job: Job, worker: str) -> Job:
    """Run one claimed job's handler and record the outcome (done, retry later, or failed).

    The lease is renewed while the handler runs, so only a dead worker loses its job.
    """
    stop = threading.Event()
    beat = threading.Thread(target=_keep_leased, args=(engine, job.id, worker, stop, lease_seconds()),
                            name=f"job-lease-{job.id}", daemon=True)
    beat.start()
    try:
        return _run_job(engine, job, worker)
    finally:
        stop.set()
        beat.join(timeout=5)


def _context(engine: Engine, job: Job, worker: str) -> JobContext:
    """What a handler sees of its job: progress so far, counts, this attempt."""
    return JobContext(job_id=job.id, attempt=job.attempts, engine=engine, worker=worker,
                      done=job.progress_done, total=job.progress_total, counts=dict(job.counts))


def _call_handler(ctx: JobContext, job: Job) -> Any:
    handler = _HANDLERS.get(job.kind)
    if handler is None:
        raise JobError("job.unknown_kind", f"no handler for job kind {job.kind}", {"kind": job.kind})
    return handler(ctx, dict(job.params))


def _run_job(engine: Engine, job: Job, worker: str) -> Job:
    ctx = _context(engine, job, worker)
    try:
        result = _call_handler(ctx, job)
    except JobError as exc:
        from core import messages

        err = {"code": exc.code, "message": messages.text(exc.code, **exc.params), "details": exc.params}
        _finish(engine, job, ctx, state=JobState.FAILED, error=err, finished_at=utcnow())
        log.warning("job %s (%s) refused: %s", job.id, job.kind, exc)
    except ServiceError as exc:
        if exc.kind == ErrorKind.CONFLICT and job.attempts < job.max_attempts:
            _finish(engine, job, ctx, state=JobState.QUEUED, error=_service_error(exc),
                    run_after=utcnow() + timedelta(seconds=RETRY_BASE_SECONDS))
        else:  # a rule said no: running it again would say no again
            _finish(engine, job, ctx, state=JobState.FAILED, error=_service_error(exc), finished_at=utcnow())
        log.info("job %s (%s): %s", job.id, job.kind, exc.code)
    except Exception as exc:
        from core import messages

        code = getattr(exc, "code", None) or "job.failed"
        err = {"code": "job.failed", "message": messages.text("job.failed", kind=job.kind, error=str(exc)),
               "details": {"cause": str(code), "error": f"{type(exc).__name__}: {exc}"}}
        if job.attempts < job.max_attempts:
            delay = RETRY_BASE_SECONDS * 4 ** (job.attempts - 1)
            _finish(engine, job, ctx, state=JobState.QUEUED, error=err,
                    run_after=utcnow() + timedelta(seconds=delay))
            log.warning("job %s (%s) attempt %d failed, retried in %.0fs: %s", job.id, job.kind,
                        job.attempts, delay, exc)
        else:
            _finish(engine, job, ctx, state=JobState.FAILED, error=err, finished_at=utcnow())
            log.exception("job %s (%s) failed after %d attempts", job.id, job.kind, job.attempts)
    else:
        _finish(engine, job, ctx, state=JobState.DONE, result=result or {}, error=None,
                finished_at=utcnow())
    with session_scope(engine) as s:
        done = s.get(Job, job.id)
        assert done is not None
        s.expunge(done)
        return done


def _service_error(exc: ServiceError) -> dict[str, Any]:
    """A service's refusal as the job's error, with the catalogue's Chinese message."""
    from core import messages

    params = {k: v for k, v in exc.details.items() if isinstance(v, str | int | float)}
    message = messages.text(exc.code, **params) if messages.has(exc.code) else exc.message
    return {"code": exc.code, "message": message, "details": exc.details}


def run_pending(engine: Engine | None = None, limit: int | None = None) -> int:
    """Run runnable jobs in this thread until none is left (tests, ``fapiao worker --once``).

    On PostgreSQL a procrastinate worker drains its queue (``core.pq.drain``).
    """
    engine = engine or get_engine()
    if on_postgres(engine):
        from core import pq

        return pq.drain(engine, limit)
    me = worker_name()
    n = 0
    while limit is None or n < limit:
        job = claim(engine, me, lease_seconds=lease_seconds())
        if job is None:
            break
        run_job(engine, job, me)
        n += 1
    return n


# --- delivery by procrastinate (PostgreSQL) -------------------------------------------------


def _start_attempt(engine: Engine, job_id: str, worker: str, attempt: int) -> Job | None:
    """Mark the row running as attempt ``attempt`` of ``worker``; None when there is nothing to
    run (the row is gone, or already finished: a delivery that came twice)."""
    now = utcnow()
    with session_scope(engine) as s:
        job = s.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
        if job is None or job.state in (JobState.DONE, JobState.FAILED):
            return None
        if job.state == JobState.RUNNING:
            log.warning("job %s (%s): worker %s stopped, run again by %s", job.id, job.kind, job.worker, worker)
        job.state = JobState.RUNNING
        job.attempts = attempt
        job.worker = worker
        job.lease_until = None
        job.started_at = job.started_at or now
        s.add(job)
        s.flush()
        s.expunge(job)
        return job


def run_delivered(engine: Engine, job_id: str, worker: str, attempt: int,
                  retry_in: Callable[[BaseException], float | None]) -> Job | None:
    """Run job ``job_id`` as procrastinate delivered it and record the outcome in our row.

    ``retry_in`` is the retry strategy's answer for an exception (seconds to wait, or None for
    no retry); the exception is raised again so that procrastinate records and retries it.
    """
    job = _start_attempt(engine, job_id, worker, attempt)
    if job is None:
        log.info("job %s: nothing to run (finished or gone)", job_id)
        return None
    if job.attempts > job.max_attempts:  # its earlier runs all lost their worker (see core.pq)
        from core import messages

        err = {"code": "job.worker_lost", "details": {"attempts": job.max_attempts},
               "message": messages.text("job.worker_lost", kind=job.kind, attempts=job.max_attempts)}
        ctx = _context(engine, job, worker)
        _finish(engine, job, ctx, state=JobState.FAILED, error=err, finished_at=utcnow())
        log.error("job %s (%s): %d runs lost their worker; stopped", job.id, job.kind, job.max_attempts)
        return None
    ctx = _context(engine, job, worker)
    try:
        result = _call_handler(ctx, job)
    except Exception as exc:
        err = _error_of(job, exc)
        wait = retry_in(exc)
        if wait is None:
            _finish(engine, job, ctx, state=JobState.FAILED, error=err, finished_at=utcnow())
            log.warning("job %s (%s) failed on attempt %d: %s", job.id, job.kind, job.attempts, exc)
        else:
            _finish(engine, job, ctx, state=JobState.QUEUED, error=err,
                    run_after=utcnow() + timedelta(seconds=wait))
            log.warning("job %s (%s) attempt %d failed, retried in %.0fs: %s", job.id, job.kind,
                        job.attempts, wait, exc)
        raise
    _finish(engine, job, ctx, state=JobState.DONE, result=result or {}, error=None, finished_at=utcnow())
    with session_scope(engine) as s:
        done = s.get(Job, job.id)
        assert done is not None
        s.expunge(done)
        return done


def _error_of(job: Job, exc: Exception) -> dict[str, Any]:
    """The row's ``error`` for an exception: a refusal's own message, else ``job.failed``."""
    from core import messages

    if isinstance(exc, JobError):
        return {"code": exc.code, "message": messages.text(exc.code, **exc.params), "details": exc.params}
    if isinstance(exc, ServiceError):
        return _service_error(exc)
    code = getattr(exc, "code", None) or "job.failed"
    return {"code": "job.failed", "message": messages.text("job.failed", kind=job.kind, error=str(exc)),
            "details": {"cause": str(code), "error": f"{type(exc).__name__}: {exc}"}}

"""Delivery of jobs on PostgreSQL by procrastinate (https://procrastinate.readthedocs.io).

Our ``jobs`` table stays the record of a job (kind, params, state, attempts, progress, counts,
result or error; ``core.jobs``); on PostgreSQL procrastinate decides *who runs it when*:

* **Defer in the same transaction.** ``core.jobs.enqueue`` inserts the ``jobs`` row and calls
  procrastinate's own SQL function ``procrastinate_defer_jobs_v1`` through the caller's
  SQLAlchemy connection (``defer``), so both rows commit or neither does: no job without a
  delivery, no delivery without a job. The procrastinate job carries only our job id
  (``{"job_id": …, "max_attempts": …}``); its ``lock`` and ``queueing_lock`` are that id, so one
  job row is never run twice at once nor queued twice.
* **Workers.** ``serve`` runs a procrastinate ``Worker`` (LISTEN/NOTIFY, ``SKIP LOCKED`` fetch,
  concurrency N) whose one task, ``fapiao.run_job``, runs our handler through
  ``core.jobs.run_delivered`` (state, attempts, progress written to our row).
* **Retries** are procrastinate's ``RetryStrategy`` (growing waits, ``max_attempts`` from our row);
  a refusal (``ServiceError`` other than a conflict, ``JobError``) is not retried (``JobRetry``).
* **Dead workers.** Workers send heartbeats every third of ``job_lease_seconds``; every worker
  also looks every third of it for jobs in ``doing`` whose worker's heartbeat is older than
  ``job_lease_seconds`` (or whose worker row was pruned) and gives them back to the queue with
  procrastinate's ``procrastinate_retry_job_v2`` (``recover_stalled``), under a row lock with
  ``SKIP LOCKED`` so that two workers never recover one job twice.
* **Scheduled work.** A procrastinate periodic task (``fapiao.schedule``, cron
  ``queue_schedule_cron``) records the day's jobs; procrastinate defers each tick once however
  many workers run, and our per-day keys make the day's job one row however many ticks there are.

Nothing here runs on SQLite: there ``core.worker`` claims from our table itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attr
from procrastinate import App, JobContext, PsycopgConnector, RetryStrategy
from procrastinate import jobs as pq_jobs
from procrastinate.retry import RetryDecision
from procrastinate.worker import Worker
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

log = logging.getLogger("fapiao.pq")

QUEUE = "fapiao"
TASK = "fapiao.run_job"
SCHEDULE_TASK = "fapiao.schedule"


_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, :lock, :qlock, CAST(:args AS jsonb),"
    " CAST(:at AS timestamptz))::procrastinate_job_to_defer_v1])")


def defer(session: Session, job_id: str, max_attempts: int, run_after: datetime | None) -> None:
    """Hand job ``job_id`` to procrastinate inside the caller's transaction.

    ``run_after`` in the future becomes procrastinate's ``scheduled_at``.
    """
    session.execute(_DEFER, {"queue": QUEUE, "task": TASK, "lock": job_id, "qlock": job_id,
                             "args": json.dumps({"job_id": job_id, "max_attempts": max_attempts}),
                             "at": run_after})


def queue_depth(session: Session) -> int:
    """Jobs procrastinate has waiting or running (the ``/metrics`` gauge on PostgreSQL)."""
    n = session.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"))
    return int(n.scalar_one())


def bring_forward(engine: Engine) -> int:
    """Let our row's ``run_after`` win over a later procrastinate ``scheduled_at``.

    An operator (or a test) who sets a waiting job's ``run_after`` to now wants it run now; the
    retry wait procrastinate recorded is moved to match. Returns how many were moved.
    """
    with engine.begin() as conn:
        res = conn.execute(text(
            "UPDATE procrastinate_jobs p SET scheduled_at = j.run_after FROM jobs j "
            "WHERE p.status = 'todo' AND p.task_name = :task AND p.args->>'job_id' = j.id "
            "AND j.state = 'queued' AND p.scheduled_at > j.run_after"), {"task": TASK})
        return int(getattr(res, "rowcount", 0) or 0)


_STALLED = text(
    "SELECT j.id FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id "
    "WHERE j.status = 'doing' AND j.queue_name = :queue "
    "AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => :secs)) "
    "ORDER BY j.id FOR UPDATE OF j SKIP LOCKED")


def recover_stalled(engine: Engine, seconds: float) -> list[int]:
    """Give the jobs of workers silent for ``seconds`` back to the queue (procrastinate ids).

    The rows are locked (``FOR UPDATE … SKIP LOCKED``) and re-checked in one transaction with
    the retry, so a job is recovered once even when every worker looks at the same moment;
    its next run counts as a new attempt.
    """
    with engine.begin() as conn:
        ids = [int(r[0]) for r in conn.execute(_STALLED, {"queue": QUEUE, "secs": float(seconds)})]
        for pid in ids:
            conn.execute(text("SELECT procrastinate_retry_job_v2(:id, now(), NULL, NULL, NULL)"), {"id": pid})
    for pid in ids:
        log.warning("procrastinate job %s: its worker stopped sending heartbeats; queued again", pid)
    return ids


@attr.dataclass(kw_only=True)
class JobRetry(RetryStrategy):
    """procrastinate's ``RetryStrategy`` with our rules: the row's ``max_attempts`` (runs in all,
    passed in the job's args) and no retry for a refusal, which would only refuse again."""

    def get_retry_decision(self, *, exception: BaseException, job: pq_jobs.Job) -> RetryDecision | None:
        if is_refusal(exception):
            return None
        wanted = job.task_kwargs.get("max_attempts")
        runs = wanted if isinstance(wanted, int) else 3
        if runs <= 1:
            return None
        # procrastinate's max_attempts counts retries (job.attempts is 0 on the first run).
        return RetryStrategy.get_retry_decision(attr.evolve(self, max_attempts=runs - 1),
                                                exception=exception, job=job)


def is_refusal(exc: BaseException) -> bool:
    """A business refusal (``JobError``, a ``ServiceError`` other than a conflict): running the
    job again would refuse again, and it is an answer, not a crash."""
    from core.errors import ErrorKind, ServiceError
    from core.jobs import JobError

    return isinstance(exc, JobError) or (isinstance(exc, ServiceError) and exc.kind != ErrorKind.CONFLICT)


class _RefusalWithoutTraceback(logging.Filter):
    """procrastinate logs every failed job with its traceback. A refusal (the four-property
    check failed, a voucher is not posted) is an answer already recorded in our row with its
    Chinese message, not a crash: its line stays, its traceback goes. Crashes keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if isinstance(record.exc_info, tuple) else None
        if exc is not None and is_refusal(exc):
            record.exc_info, record.exc_text = None, None
            record.msg = f"{record.msg} ({type(exc).__name__}: {exc})"
        return True


logging.getLogger("procrastinate.worker").addFilter(_RefusalWithoutTraceback())


def retry_strategy() -> JobRetry:
    """Waits of ``wait`` + ``exponential_wait ** (attempt)`` seconds (5, 25, 125 … by default)."""
    from core.jobs import RETRY_BASE_SECONDS

    return JobRetry(exponential_wait=int(RETRY_BASE_SECONDS))


def libpq_url(engine: Engine) -> str:
    """The engine's URL as psycopg wants it (no SQLAlchemy driver suffix)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(engine: Engine, schedule: Callable[[], object] | None = None) -> App:
    """A procrastinate app on ``engine``'s database with our task (and the schedule if given)."""
    app = App(connector=PsycopgConnector(conninfo=libpq_url(engine), min_size=1, max_size=4))

    @app.task(name=TASK, queue=QUEUE, pass_context=True, retry=retry_strategy())
    def run_job(context: JobContext, job_id: str, max_attempts: int = 3) -> dict[str, Any]:
        return _run(context, job_id)

    if schedule is not None:
        from core.settings import get_settings

        @app.periodic(cron=get_settings().queue_schedule_cron, periodic_id="daily")
        @app.task(name=SCHEDULE_TASK, queue=QUEUE, pass_context=False)
        def record_schedule(timestamp: int) -> None:
            schedule()

    return app


def _run(context: JobContext, job_id: str) -> dict[str, Any]:
    """procrastinate's side of one delivery: run our job row ``job_id`` as attempt n."""
    from core import jobs

    extra = context.additional_context
    engine: Engine = extra["engine"]
    attempt = int(context.job.attempts) + 1
    me = f"{jobs.worker_name()}/pq"

    def retry_in(exc: BaseException) -> float | None:
        decision = retry_strategy().get_retry_decision(exception=exc, job=context.job)
        if decision is None:
            return None
        when = decision.retry_at
        return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when is not None else 0.0

    try:
        done = jobs.run_delivered(engine, job_id, me, attempt, retry_in)
    finally:
        counter: Counter | None = extra.get("counter")
        if counter is not None:
            counter.hit()
    return {"state": done.state if done is not None else "missing"}


class Counter:
    """Jobs a draining worker ran; asks it to stop after ``limit`` (``run_pending(limit=…)``)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.n = 0
        self.worker: Worker | None = None
        self._lock = threading.Lock()

    def hit(self) -> None:
        with self._lock:
            self.n += 1
            if self.limit is not None and self.n >= self.limit and self.worker is not None:
                self.worker.stop()  # thread-safe: procrastinate wakes its own loop


def _lease() -> float:
    from core.jobs import lease_seconds

    return lease_seconds()


def _worker(app: App, engine: Engine, concurrency: int, wait: bool, counter: Counter | None) -> Worker:
    from core.jobs import worker_name

    lease = _lease()
    return Worker(app, queues=[QUEUE], name=worker_name(), concurrency=concurrency, wait=wait,
                  install_signal_handlers=False, update_heartbeat_interval=max(0.5, lease / 3),
                  stalled_worker_timeout=lease, fetch_job_polling_interval=2.0,
                  additional_context={"engine": engine, "counter": counter})


def drain(engine: Engine, limit: int | None = None) -> int:
    """Run what procrastinate has due now, one at a time, then return how many ran.

    ``fapiao worker --once``, ``--wait`` and tests. Jobs that running jobs queue (a year's
    packages) are run too: passes repeat until one finds nothing.
    """
    bring_forward(engine)
    recover_stalled(engine, _lease())
    total = 0
    while limit is None or total < limit:
        counter = Counter(None if limit is None else limit - total)

        async def one_pass(c: Counter = counter) -> None:
            app = make_app(engine)
            async with app.open_async():
                c.worker = _worker(app, engine, 1, wait=False, counter=c)
                await c.worker.run()

        asyncio.run(one_pass())
        total += counter.n
        if counter.n == 0:
            break
    return total


def serve(engine: Engine, concurrency: int, stop: threading.Event,
          schedule: Callable[[], object] | None = None,
          housekeeping: Callable[[], None] | None = None) -> None:
    """Run a procrastinate worker until ``stop`` is set (``fapiao worker``, ``worker.Runner``).

    Beside it, every third of ``job_lease_seconds``: stalled-job recovery and ``housekeeping``
    (the queue-depth gauge).
    """
    lease = _lease()

    async def main() -> None:
        app = make_app(engine, schedule)
        async with app.open_async():
            w = _worker(app, engine, concurrency, wait=True, counter=None)
            run = asyncio.create_task(w.run())
            try:
                while not stop.is_set() and not run.done():
                    try:
                        await asyncio.to_thread(recover_stalled, engine, lease)
                        if housekeeping is not None:
                            await asyncio.to_thread(housekeeping)
                    except Exception:  # a busy or restarting database: look again next time
                        log.warning("stalled-job recovery failed; trying again", exc_info=True)
                    waited = 0.0
                    while waited < lease / 3 and not stop.is_set() and not run.done():
                        await asyncio.sleep(0.2)
                        waited += 0.2
            finally:
                w.stop()
                await run

    asyncio.run(main())

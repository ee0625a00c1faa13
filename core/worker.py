"""Workers that run queued jobs: ``fapiao worker`` processes and the in-process runner.

A ``Runner`` is a few threads that each claim a job (``core.jobs.claim``), run it with its
lease kept alive, and look again; idle threads poll with a growing pause (0.2 s up to 2 s).
``fapiao worker`` runs one in the foreground on any machine that reaches the database; ``fapiao
serve`` starts one inside the API process (``queue_embedded_workers`` threads, default 1) so
that on SQLite, where no second process should write, the one-command start still runs every
job. Both run exactly the same code on the same table.

On PostgreSQL a ``Runner`` is a procrastinate worker instead (``core.pq.serve``: ``threads``
is its concurrency), beside it the recovery of jobs whose worker stopped sending heartbeats;
the table is then only the record, procrastinate delivers.

Scheduled work is recorded under a per-day key (``"store.sweep:2026-11-27"``): whichever
worker comes first records the day's job, the others find it recorded (``core.jobs.enqueue``
is idempotent by key), so many workers never run a daily job twice. On SQLite every runner
tries once a minute; on PostgreSQL procrastinate's periodic task ``fapiao.schedule`` does
(cron ``queue_schedule_cron``, each tick deferred once across workers).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from core import jobs
from core.clock import today_china
from core.db import get_engine, session_scope

log = logging.getLogger("fapiao.worker")

# Daily work: kind -> params. Registered handlers only (a kind nobody wired is skipped).
DAILY: dict[str, dict[str, object]] = {
    "audit.anchor": {},
    "store.sweep": {"older_than_hours": 24},
    "store.fixity": {},
    "archive.retention_reminder": {},
}


def enqueue_daily(engine: Engine) -> list[str]:
    """Record today's scheduled jobs that are not recorded yet; returns their ids."""
    day = today_china().isoformat()
    known = set(jobs.kinds())
    ids = []
    with session_scope(engine) as s:
        for kind, params in DAILY.items():
            if kind in known:
                ids.append(jobs.enqueue(s, kind, dict(params), key=f"{kind}:{day}", created_by="system").id)
    return ids


def report_depth(engine: Engine) -> None:
    """Hand the queue depth to the ``/metrics`` gauge (``core.metrics``), so an operator sees
    work piling up before users do."""
    from core import metrics

    with session_scope(engine) as s:
        metrics.set_queue_depth(jobs.queue_depth(s))


class Runner:
    """``threads`` workers claiming jobs from the queue until ``stop()``."""

    def __init__(self, threads: int = 1, engine: Engine | None = None, schedule: bool = True,
                 idle_max: float = 2.0, on_job: Callable[[jobs.Job], None] | None = None) -> None:
        self.threads = max(1, threads)
        self.engine = engine
        self.schedule = schedule
        self.idle_max = idle_max
        self.on_job = on_job
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Runner:
        engine = self.engine or get_engine()
        if jobs.on_postgres(engine):
            t = threading.Thread(target=self._procrastinate, args=(engine,), name="job-procrastinate",
                                 daemon=True)
            t.start()
            self._threads.append(t)
            return self
        for i in range(self.threads):
            t = threading.Thread(target=self._loop, args=(i,), name=f"job-runner-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the threads to stop after their current job; wait up to ``timeout``."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=timeout)

    def wait(self) -> None:
        for t in self._threads:
            while t.is_alive():
                t.join(timeout=0.5)

    def _procrastinate(self, engine: Engine) -> None:
        """PostgreSQL: a procrastinate worker with ``threads`` concurrency until ``stop()``."""
        from core import pq

        try:
            pq.serve(engine, self.threads, self._stop,
                     schedule=(lambda: enqueue_daily(engine)) if self.schedule else None,
                     housekeeping=lambda: report_depth(engine))
        except Exception:
            log.exception("procrastinate worker stopped")

    def _loop(self, index: int) -> None:
        me = f"{jobs.worker_name()}/{index}"
        pause = 0.2
        next_schedule = next_depth = 0.0
        while not self._stop.is_set():
            engine = self.engine or get_engine()
            if index == 0 and time.monotonic() >= next_depth:
                try:
                    report_depth(engine)
                except Exception:
                    log.debug("queue depth not reported", exc_info=True)
                next_depth = time.monotonic() + 15.0
            if self.schedule and index == 0 and time.monotonic() >= next_schedule:
                try:
                    enqueue_daily(engine)
                except Exception:
                    log.warning("scheduled jobs not recorded this time", exc_info=True)
                next_schedule = time.monotonic() + 60.0
            try:
                job = jobs.claim(engine, me, lease_seconds=jobs.lease_seconds())
            except Exception:
                log.warning("claiming a job failed; trying again", exc_info=True)
                job = None
            if job is None:
                self._stop.wait(pause)
                pause = min(self.idle_max, pause * 2)
                continue
            pause = 0.2
            try:
                done = jobs.run_job(engine, job, me)
            except Exception:  # the outcome could not be written: the lease lapses, it runs again
                log.warning("job %s: outcome not recorded", job.id, exc_info=True)
                continue
            if self.on_job is not None:
                self.on_job(done)


_embedded: Runner | None = None
_kick_lock = threading.Lock()
_draining = 0
_again = False


def start_embedded(threads: int, schedule: bool = True) -> Runner | None:
    """The API process's own long-lived runner (``fapiao serve``); none when ``threads`` is 0."""
    global _embedded
    if threads <= 0 or _embedded is not None:
        return _embedded
    _embedded = Runner(threads, schedule=schedule).start()
    return _embedded


def stop_embedded() -> None:
    global _embedded
    if _embedded is not None:
        _embedded.stop()
        _embedded = None


def kick() -> None:
    """Run what was just queued in this process, now, without waiting for a poll.

    A request that queues a job calls this after committing: up to
    ``queue_embedded_workers`` threads drain the queue and end when it is empty (a kick that
    arrives while they drain makes them look once more; on PostgreSQL a draining procrastinate
    worker). With 0 the job waits for ``fapiao worker`` processes.
    """
    from core.settings import get_settings

    global _draining, _again
    limit = get_settings().queue_embedded_workers
    if limit <= 0:
        return
    if _embedded is not None and jobs.on_postgres(get_engine()):
        return  # this process's procrastinate worker hears of the job at once (LISTEN/NOTIFY)
    with _kick_lock:
        if _draining >= limit:
            _again = True
            return
        _draining += 1
    threading.Thread(target=_drain, name="job-drain", daemon=True).start()


def _drain() -> None:
    global _draining, _again
    while True:
        try:
            jobs.run_pending()
        except Exception:  # the database went away (a test's teardown, a restart): stop quietly
            log.warning("in-process job runner stopped", exc_info=True)
        with _kick_lock:
            if _again:
                _again = False
                continue
            _draining -= 1
            return


def wait_for(job_id: str, timeout: float = 300.0, engine: Engine | None = None) -> jobs.Job:
    """Poll until the job is done or failed (CLI ``--wait``, tests)."""
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(engine) as s:
            job = jobs.get_job(s, job_id)
            if job is None:
                raise KeyError(job_id)
            s.expunge(job)
        if job.state in (jobs.JobState.DONE, jobs.JobState.FAILED) or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


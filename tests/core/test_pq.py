"""procrastinate delivers the jobs on PostgreSQL (core/pq.py); our ``jobs`` table keeps the record.

Each test looks at procrastinate's own tables, so it fails if anything else (our table claim,
an in-process loop) ran the job instead.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from core import jobs, pq, worker
from core.db import session_scope, utcnow
from tests.core.test_jobs import _boom, _enqueue, _get, _refuse  # not its autouse fixture

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("db_url", ["postgres"], indirect=True)]

CALLS: list[dict[str, Any]] = []


def _ok(ctx: jobs.JobContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.advance(1, seen=1)
    CALLS.append(params)
    return {"attempt": ctx.attempt}


@pytest.fixture(autouse=True)
def _kinds() -> None:
    CALLS.clear()
    for kind, fn in (("pqtest.ok", _ok), ("pqtest.boom", _boom), ("pqtest.refuse", _refuse)):
        jobs.register(kind, fn)




def _pq_rows(engine: Engine, job_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status::text AS status, attempts, lock, queueing_lock, task_name, "
                                 "scheduled_at, worker_id FROM procrastinate_jobs WHERE args->>'job_id' = :j"),
                            {"j": job_id}).mappings().all()
    return [dict(r) for r in rows]


def _events(engine: Engine, pq_id: int) -> list[str]:
    with engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(
            text("SELECT type::text FROM procrastinate_events WHERE job_id = :i ORDER BY id"), {"i": pq_id})]


def test_enqueue_defers_one_procrastinate_job_locked_by_the_job_id(engine: Engine) -> None:
    jid = _enqueue("pqtest.ok", key="k:1")
    again = _enqueue("pqtest.ok", key="k:1")  # the same key: no second job, no second delivery
    assert again == jid
    [row] = _pq_rows(engine, jid)
    assert (row["status"], row["task_name"], row["lock"], row["queueing_lock"]) == ("todo", pq.TASK, jid, jid)
    with session_scope() as s:
        assert jobs.queue_depth(s) == 1


def test_a_rolled_back_enqueue_leaves_neither_the_row_nor_the_delivery(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope() as s:
        jid = jobs.enqueue(s, "pqtest.ok", {}).id
        raise RuntimeError("the request failed after queueing")
    assert _pq_rows(engine, jid) == []
    with session_scope() as s:
        assert jobs.get_job(s, jid) is None


def test_procrastinate_is_what_runs_the_job(engine: Engine) -> None:
    delivered = _enqueue("pqtest.ok", params={"n": 1})
    orphan = _enqueue("pqtest.ok", params={"n": 2})
    with engine.begin() as conn:  # take the second one's delivery away: nothing may run it
        conn.execute(text("DELETE FROM procrastinate_jobs WHERE args->>'job_id' = :j"), {"j": orphan})
    with session_scope() as s:
        assert jobs.queue_depth(s) == 1  # procrastinate's count, not our table's (2 queued rows)
    assert jobs.run_pending(engine) == 1
    assert _get(delivered).state == "done" and _get(orphan).state == "queued"
    assert CALLS == [{"n": 1}]
    [row] = _pq_rows(engine, delivered)
    assert row["status"] == "succeeded"
    assert _events(engine, row["id"]) == ["deferred", "started", "succeeded"]


def test_a_failure_is_retried_by_procrastinate_with_a_growing_wait(engine: Engine) -> None:
    jid = _enqueue("pqtest.boom", max_attempts=3)
    jobs.run_pending(engine)
    [row] = _pq_rows(engine, jid)
    first_wait = row["scheduled_at"] - utcnow()
    assert row["status"] == "todo" and row["attempts"] == 1 and first_wait > timedelta(seconds=1)
    assert "deferred_for_retry" in _events(engine, row["id"])
    job = _get(jid)
    assert job.state == "queued" and job.attempts == 1 and abs(job.run_after - row["scheduled_at"]) < timedelta(seconds=2)
    for attempt in (2, 3):
        with session_scope() as s:  # an operator brings the retry forward in our table
            s.execute(update(jobs.Job).where(col(jobs.Job.id) == jid).values(run_after=utcnow()))
        jobs.run_pending(engine)
        [row] = _pq_rows(engine, jid)
        if attempt == 2:
            assert row["status"] == "todo" and row["scheduled_at"] - utcnow() > first_wait  # grows
    job = _get(jid)
    assert job.state == "failed" and job.attempts == 3 and "disk full" in job.error["message"]  # type: ignore[index]
    assert row["status"] == "failed"


def test_a_refusal_is_not_retried_by_procrastinate(engine: Engine) -> None:
    jid = _enqueue("pqtest.refuse", max_attempts=3)
    jobs.run_pending(engine)
    [row] = _pq_rows(engine, jid)
    assert row["status"] == "failed" and row["attempts"] == 1  # procrastinate counts runs when it finishes
    assert "deferred_for_retry" not in _events(engine, row["id"])
    job = _get(jid)
    assert job.state == "failed" and job.attempts == 1 and job.error["code"] == "job_not_found"  # type: ignore[index]


def _as_if_taken_by(engine: Engine, jid: str, heartbeat_age: float) -> int:
    """Make a worker whose last heartbeat is ``heartbeat_age`` seconds old hold job ``jid``,
    as procrastinate's fetch and our first attempt leave it; returns the worker's id."""
    with engine.begin() as conn:
        wid = conn.execute(text("INSERT INTO procrastinate_workers (last_heartbeat) "
                                "VALUES (now() - make_interval(secs => :a)) RETURNING id"),
                           {"a": heartbeat_age}).scalar_one()
        conn.execute(text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w "
                          "WHERE args->>'job_id' = :j"), {"w": wid, "j": jid})
    with session_scope() as s:
        s.execute(update(jobs.Job).where(col(jobs.Job.id) == jid)
                  .values(state="running", attempts=1, worker="dead-host:1/pq"))
    return int(wid)


def test_a_stalled_workers_job_is_recovered_once_and_run_as_attempt_two(engine: Engine) -> None:
    dead = _enqueue("pqtest.ok", params={"n": "dead"})
    alive = _enqueue("pqtest.ok", params={"n": "alive"})
    _as_if_taken_by(engine, dead, heartbeat_age=600)
    _as_if_taken_by(engine, alive, heartbeat_age=0)
    found: list[list[int]] = []
    start = threading.Barrier(4)

    def look() -> None:
        start.wait()
        found.append(pq.recover_stalled(engine, 30))

    threads = [threading.Thread(target=look) for _ in range(4)]  # four workers look at once
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [dead_row] = _pq_rows(engine, dead)
    assert sorted(i for ids in found for i in ids) == [dead_row["id"]]  # recovered exactly once
    assert dead_row["status"] == "todo" and dead_row["attempts"] == 1
    assert _pq_rows(engine, alive)[0]["status"] == "doing"  # its worker still beats: left alone
    assert jobs.run_pending(engine) == 1
    job = _get(dead)
    assert job.state == "done" and job.attempts == 2 and job.result == {"attempt": 2}
    assert job.worker != "dead-host:1/pq" and CALLS == [{"n": "dead"}]


# procrastinate's periodic jobs carry their tick as the ``timestamp`` argument.
_TICKS = text("SELECT count(*), count(DISTINCT args->>'timestamp') FROM procrastinate_jobs WHERE task_name = :t")


def test_the_periodic_schedule_is_deferred_once_per_tick_with_two_workers(engine: Engine, settings: Any) -> None:
    from api import job_kinds
    from archive import signing

    job_kinds.install()
    signing.ensure_archive_key()
    settings.queue_schedule_cron = "* * * * * *"  # every second (seconds as the sixth field)
    runners = [worker.Runner(1, engine=engine, schedule=True).start() for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                ticks = conn.execute(_TICKS, {"t": pq.SCHEDULE_TASK}).one()[1]
            if ticks >= 3:
                break
            time.sleep(0.3)
    finally:
        for r in runners:
            r.stop(timeout=30)
    with engine.connect() as conn:
        scheduled, ticks = conn.execute(_TICKS, {"t": pq.SCHEDULE_TASK}).one()
    assert ticks >= 3 and scheduled == ticks  # one job per tick although two workers ticked
    with session_scope() as s:  # and one job of each daily kind for the day, however many ticks
        daily = s.exec(select(jobs.Job).where(col(jobs.Job.kind).in_(list(worker.DAILY)))).all()
    assert sorted(j.kind for j in daily) == sorted(worker.DAILY)


def test_a_job_whose_every_run_lost_its_worker_stops_with_a_chinese_message(engine: Engine) -> None:
    jid = _enqueue("pqtest.ok", max_attempts=1)
    _as_if_taken_by(engine, jid, heartbeat_age=600)
    assert len(pq.recover_stalled(engine, 30)) == 1
    jobs.run_pending(engine)
    job = _get(jid)
    assert job.state == "failed" and job.error is not None and job.error["code"] == "job.worker_lost"
    assert "中途停止" in job.error["message"] and CALLS == []  # not run a second time


def test_a_refusal_is_logged_without_traceback_a_crash_with(engine: Engine,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """A refusal is an answer (recorded in our row); a server log with a traceback means a crash
    (the API tests fail on one). procrastinate's outcome line keeps the refusal's words."""
    refused = _enqueue("pqtest.refuse", max_attempts=3)
    crashed = _enqueue("pqtest.boom", max_attempts=1)
    with caplog.at_level(logging.INFO, logger="procrastinate.worker"):
        jobs.run_pending(engine)
    assert _get(refused).state == "failed" and _get(crashed).state == "failed"
    outcomes = [r for r in caplog.records if r.name == "procrastinate.worker" and r.levelno >= logging.ERROR]
    refusals = [r for r in outcomes if "ServiceError" in r.getMessage()]
    crashes = [r for r in outcomes if r.exc_info and isinstance(r.exc_info[1], RuntimeError)]
    assert refusals and all(r.exc_info is None for r in refusals)
    assert crashes, [r.getMessage() for r in outcomes]

"""The job queue (core/jobs.py, core/worker.py) on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from core import jobs, worker
from core.db import session_scope, utcnow
from core.errors import ErrorKind, ServiceError

CALLS: list[dict[str, Any]] = []


def _ok(ctx: jobs.JobContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.set_total(3)
    for _ in range(3):
        ctx.advance(1, seen=1)
    CALLS.append(params)
    return {"echo": params.get("n")}


def _boom(ctx: jobs.JobContext, params: dict[str, Any]) -> None:
    raise RuntimeError("disk full")


def _refuse(ctx: jobs.JobContext, params: dict[str, Any]) -> None:
    raise ServiceError(ErrorKind.REFUSED, "job_not_found", "no", {"id": "x"})


@pytest.fixture(autouse=True)
def _kinds() -> None:
    CALLS.clear()
    for kind, fn in (("test.ok", _ok), ("test.boom", _boom), ("test.refuse", _refuse)):
        jobs.register(kind, fn)


def _enqueue(kind: str, **kw: Any) -> str:
    with session_scope() as s:
        return jobs.enqueue(s, kind, kw.pop("params", {}), **kw).id


def _get(job_id: str) -> jobs.Job:
    with session_scope() as s:
        job = jobs.get_job(s, job_id)
        assert job is not None
        s.expunge(job)
        return job


def test_a_job_runs_with_progress_counts_and_result(engine: Engine) -> None:
    jid = _enqueue("test.ok", params={"n": 7})
    assert _get(jid).state == "queued"
    assert jobs.run_pending(engine) == 1
    job = _get(jid)
    assert (job.state, job.attempts, job.progress_done, job.progress_total) == ("done", 1, 3, 3)
    assert job.counts == {"seen": 3} and job.result == {"echo": 7}
    d = jobs.job_to_dict(job)
    assert d["state_label"] == "已完成" and d["progress"]["percent"] == 100.0


def test_enqueue_with_a_key_records_one_job(engine: Engine) -> None:
    a = _enqueue("test.ok", key="daily:2026-11-27")
    b = _enqueue("test.ok", key="daily:2026-11-27")
    c = _enqueue("test.ok", key="daily:2026-11-28")
    assert a == b and a != c
    jobs.run_pending(engine)
    assert len(CALLS) == 2


def test_a_failing_job_is_retried_then_fails_with_a_chinese_message(engine: Engine) -> None:
    jid = _enqueue("test.boom", max_attempts=2)
    jobs.run_pending(engine)
    job = _get(jid)
    assert job.state == "queued" and job.attempts == 1 and job.run_after > utcnow()  # waits before retrying
    with session_scope() as s:
        s.execute(update(jobs.Job).where(col(jobs.Job.id) == jid).values(run_after=utcnow()))
    jobs.run_pending(engine)
    job = _get(jid)
    assert job.state == "failed" and job.attempts == 2
    assert job.error is not None and "disk full" in job.error["message"] and "后台任务" in job.error["message"]


def test_a_refusal_is_not_retried(engine: Engine) -> None:
    jid = _enqueue("test.refuse", max_attempts=3)
    jobs.run_pending(engine)
    job = _get(jid)
    assert job.state == "failed" and job.attempts == 1 and job.error is not None
    assert job.error["code"] == "job_not_found" and "找不到" in job.error["message"]


def test_an_unknown_kind_fails_without_running(engine: Engine) -> None:
    jid = _enqueue("test.ok")
    with session_scope() as s:
        s.execute(update(jobs.Job).where(col(jobs.Job.id) == jid).values(kind="test.gone"))
    job = jobs.claim(engine, "w", kinds_=["test.gone"])
    assert job is not None
    jobs.run_job(engine, job, "w")
    assert _get(jid).state == "failed" and _get(jid).error["code"] == "job.unknown_kind"  # type: ignore[index]


def test_a_held_lease_keeps_others_off_and_a_lapsed_one_frees_the_job(engine: Engine) -> None:
    jid = _enqueue("test.ok")
    first = jobs.claim(engine, "dead-worker", lease_seconds=30)
    assert first is not None and first.id == jid
    assert jobs.claim(engine, "other") is None  # leased: nobody else takes it
    with session_scope() as s:  # the dead worker stops renewing: its lease runs out
        s.execute(update(jobs.Job).where(col(jobs.Job.id) == jid)
                  .values(lease_until=utcnow() - timedelta(seconds=1)))
    again = jobs.claim(engine, "other")
    assert again is not None and again.id == jid and again.attempts == 2
    jobs.run_job(engine, again, "other")
    assert not jobs.renew(engine, jid, "dead-worker")  # the dead worker cannot write any more
    assert _get(jid).state == "done" and len(CALLS) == 1


def test_kick_runs_queued_jobs_in_process(engine: Engine) -> None:
    jid = _enqueue("test.ok", params={"n": 1})
    worker.kick()
    job = worker.wait_for(jid, timeout=30)
    assert job.state == "done"


def test_kick_does_nothing_without_embedded_workers(engine: Engine, settings: Any) -> None:
    settings.queue_embedded_workers = 0
    jid = _enqueue("test.ok")
    worker.kick()
    time.sleep(0.5)
    assert _get(jid).state == "queued"


def test_runners_schedule_each_daily_job_once(engine: Engine) -> None:
    from api import job_kinds

    job_kinds.install()
    first = worker.enqueue_daily(engine)
    second = worker.enqueue_daily(engine)  # another worker, same day
    assert first == second and len(first) == len(worker.DAILY)


def test_the_daily_jobs_run_and_record_their_outcome(engine: Engine) -> None:
    from api import job_kinds
    from archive import signing

    job_kinds.install()
    signing.ensure_archive_key()
    ids = worker.enqueue_daily(engine)
    jobs.run_pending(engine)
    with session_scope() as s:
        done = {j.kind: j for j in (jobs.get_job(s, i) for i in ids) if j is not None}
    assert {k: j.state for k, j in done.items()} == {k: "done" for k in worker.DAILY}
    assert done["store.fixity"].result == {"ok": True, "missing": [], "corrupt": []}
    assert done["archive.retention_reminder"].counts == {"due": 0}


def test_queue_depth_counts_waiting_and_running_jobs(engine: Engine) -> None:
    _enqueue("test.ok")
    second = _enqueue("test.ok")
    with session_scope() as s:
        assert jobs.queue_depth(s) == 2
    jobs.run_pending(engine, limit=1)
    with session_scope() as s:
        assert jobs.queue_depth(s) == 1 and jobs.get_job(s, second) is not None

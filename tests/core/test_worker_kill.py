"""A worker killed mid-job (SIGKILL): another worker finishes the job, and its effect happens once.

Real processes on the real PostgreSQL server: ``fapiao worker`` runs a folder import of
distinct 数电票 XML files (made from the hand-made fixture, only the number changes); the test
kills it outright once some batches are committed, starts a second worker, and checks that
every file is registered exactly once and the job says how the second attempt found the
first attempt's files (``already_imported``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import select

from core import jobs
from core.audit import AuditEntry
from core.db import session_scope
from core.settings import Settings
from core.users import create_user
from invoice.registry import InvoiceRecord
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "invoice" / "fixtures" / "digital_ordinary.xml"
FILES = 1200


def _folder(tmp: Path) -> Path:
    folder = tmp / "inbox"
    folder.mkdir()
    base = FIXTURE.read_bytes()
    for i in range(FILES):
        (folder / f"{i:05d}.xml").write_bytes(base.replace(b"24112000000048542163", f"2411200000{i:010d}".encode()))
    return folder


def _worker(settings: Settings, url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAPIAO_HOME": str(settings.home), "DATABASE_URL": url,
           "FAPIAO_ENVIRONMENT": "test", "FAPIAO_JOB_LEASE_SECONDS": "3", "FAPIAO_SANDBOX_WORKERS": "1"}
    return subprocess.Popen([sys.executable, "-c", "from api.cli import run; run()", "worker", "--concurrency", "1", "--no-schedule"],
                            cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _job(job_id: str) -> jobs.Job:
    with session_scope() as s:
        job = jobs.get_job(s, job_id)
        assert job is not None
        s.expunge(job)
        return job


def _stop(p: subprocess.Popen[bytes]) -> None:
    """End a worker this test started and whatever it started (its session)."""
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)  # sandbox children left by a killed worker


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_killed_workers_import_completes_elsewhere_exactly_once(engine: Engine, settings: Settings,
                                                                  db_url: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    with session_scope() as s:
        create_user(s, "clerk", "clerk")
        job_id = jobs.enqueue(s, "invoice.import", {"paths": [str(folder)], "username": "clerk", "batch_size": 25,
                                                   "workers": 1}, created_by="clerk").id
    log = tmp_path / "workers.log"
    first = _worker(settings, db_url, log)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            job = _job(job_id)
            if job.progress_done >= 100:
                break
            assert first.poll() is None, log.read_text(errors="replace")
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)  # mid-job: no clean-up, no "failed" written
        first.wait(10)
        killed = _job(job_id)
        assert killed.state == "running" and killed.attempts == 1
        assert 100 <= killed.progress_done < FILES, killed.progress_done
    finally:
        _stop(first)
    second = _worker(settings, db_url, log)
    try:
        deadline = time.monotonic() + 300
        while _job(job_id).state not in ("done", "failed") and time.monotonic() < deadline:
            assert second.poll() is None, log.read_text(errors="replace")
            time.sleep(0.2)
    finally:
        _stop(second)
    job = _job(job_id)
    assert job.state == "done", (job.error, log.read_text(errors="replace")[-3000:])
    assert job.attempts == 2 and job.worker != killed.worker
    counts = job.result["counts"]  # type: ignore[index]
    assert counts.get("already_imported", 0) >= killed.progress_done  # the first attempt's files, found
    assert counts.get("imported", 0) + counts.get("already_imported", 0) == FILES
    with session_scope() as s:
        assert s.exec(select(func.count()).select_from(InvoiceRecord)).one() == FILES
        assert s.exec(select(func.count(func.distinct(InvoiceRecord.number)))).one() == FILES
        uploads = s.exec(select(func.count()).select_from(AuditEntry)
                         .where(AuditEntry.action == "invoice.upload")).one()
        assert uploads == FILES  # one registration (one audit entry) per file, no second effect

"""An export job left "running" by a dead process no longer blocks the year's exports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from archive import export, package
from archive.errors import ArchiveError
from archive.store import ExportJob
from core import clock
from core.audit import AuditEntry
from core.db import session_scope
from tests.archive.conftest import SPECIAL5, People

Posted = Callable[[list[Path]], str]


def _package_year(people: People, post: Posted) -> int:
    vid = post([SPECIAL5])
    with session_scope() as s:
        return package.build_package(s, people.archivist, vid).year


def _dead_process() -> tuple[int, str | None]:
    """The pid and identity of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    ident = export._process_identity(proc.pid)
    assert ident is not None and ident.count(":") >= 1
    proc.communicate(b"")
    assert proc.returncode == 0
    return proc.pid, ident


def _running_job(year: int, out: Path, **worker: object) -> str:
    with session_scope() as s:
        job = ExportJob(year=year, created_by="archivist", out_dir=str(out), **worker)
        s.add(job)
        return job.id


def _job(job_id: str) -> ExportJob:
    with session_scope() as s:
        job = s.get(ExportJob, job_id)
        assert job is not None
        s.expunge(job)
        return job


def test_job_of_a_dead_worker_is_marked_interrupted_and_the_export_proceeds(
        db_people: People, db_posted: Posted, tmp_path: Path) -> None:
    """Both databases: a crashed worker on this host (fresh heartbeat, pid gone) is failed."""
    year = _package_year(db_people, db_posted)
    pid, ident = _dead_process()
    stale_out = tmp_path / "crashed"
    old_id = _running_job(year, stale_out, worker_host=socket.gethostname(), worker_pid=pid,
                          worker_process=ident, heartbeat_at=clock.now())
    (stale_out / f".partial-{old_id}" / "data").mkdir(parents=True)  # what the crash left behind
    (stale_out / f".partial-{old_id}" / "bagit.txt").write_text("half", encoding="utf-8")
    (stale_out / "finished-bag").mkdir()  # not the job's partial output: left alone

    job = export.export_year(year, tmp_path / "out", db_people.archivist)

    assert job.status == "done", job.error
    assert job.worker_pid == os.getpid() and job.worker_host == socket.gethostname()
    old = _job(old_id)
    assert old.status == "failed" and old.finished_at is not None
    assert old.error is not None and old.error["code"] == "interrupted"
    assert f"worker process {pid}" in old.error["message"] and "is gone" in old.error["message"]
    assert old.error["details"]["worker_pid"] == pid
    assert not (stale_out / f".partial-{old_id}").exists()
    assert (stale_out / "finished-bag").is_dir()
    with session_scope() as s:
        entries = s.exec(select(AuditEntry).where(AuditEntry.action == "archive.export_interrupted")).all()
        assert [(e.object_id, e.actor) for e in entries] == [(old_id, "archivist")]
        assert entries[0].details["code"] == "interrupted" and entries[0].details["year"] == year


def test_live_worker_blocks_until_its_process_ends(people: People, posted: Posted, tmp_path: Path) -> None:
    year = _package_year(people, posted)
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        ident = export._process_identity(proc.pid)
        # a heartbeat far in the past does not matter while the process on this host lives
        old_id = _running_job(year, tmp_path / "a", worker_host=socket.gethostname(), worker_pid=proc.pid,
                              worker_process=ident, heartbeat_at=clock.now() - timedelta(days=2))
        with session_scope() as s, pytest.raises(ArchiveError) as exc:
            export.start_export(s, people.archivist, year)
        assert exc.value.code == "export_running" and exc.value.details["export_id"] == old_id
        assert _job(old_id).status == "running"
    finally:
        proc.communicate(b"")
    with session_scope() as s:
        new = export.start_export(s, people.archivist, year, out_dir=tmp_path / "b")
        new_id = new.id
    assert _job(old_id).status == "failed" and _job(old_id).error["code"] == "interrupted"
    assert _job(new_id).status == "running"


def test_reused_pid_is_not_the_worker(people: People, posted: Posted, tmp_path: Path) -> None:
    """Our own pid recorded by an earlier process (a restarted container's pid 1): not alive."""
    year = _package_year(people, posted)
    mine = export._process_identity(os.getpid())
    assert mine is not None
    boot, ticks = mine.rsplit(":", 1)
    earlier = f"{boot}:{int(ticks) - 100}"
    old_id = _running_job(year, tmp_path / "a", worker_host=socket.gethostname(), worker_pid=os.getpid(),
                          worker_process=earlier, heartbeat_at=clock.now())
    with session_scope() as s:
        export.start_export(s, people.archivist, year, out_dir=tmp_path / "b")
    assert _job(old_id).error["code"] == "interrupted"


def test_other_host_is_judged_by_its_heartbeat(people: People, posted: Posted, tmp_path: Path) -> None:
    year = _package_year(people, posted)
    now = clock.now()
    fresh = _running_job(year, tmp_path / "a", worker_host="archive-worker-2.invalid", worker_pid=1,
                         heartbeat_at=now - export.STALE_AFTER + timedelta(minutes=1))
    with session_scope() as s, pytest.raises(ArchiveError) as exc:
        export.start_export(s, people.archivist, year)
    assert exc.value.code == "export_running" and exc.value.details["export_id"] == fresh
    with session_scope() as s:
        job = s.get(ExportJob, fresh)
        assert job is not None
        job.heartbeat_at = now - export.STALE_AFTER - timedelta(minutes=1)
        s.add(job)
    # and a job from before workers were recorded: judged by its age
    legacy = _running_job(year, tmp_path / "c", created_at=now - timedelta(days=1))
    with session_scope() as s:
        export.start_export(s, people.archivist, year, out_dir=tmp_path / "b")
    for job_id in (fresh, legacy):
        err = _job(job_id).error
        assert _job(job_id).status == "failed" and err is not None and err["code"] == "interrupted"
        assert "no heartbeat" in err["message"]
    assert "archive-worker-2.invalid" in _job(fresh).error["message"]
    assert "worker unknown" in _job(legacy).error["message"]


@pytest.fixture
def pinned_clock() -> Iterator[None]:
    yield
    clock.set_clock(None)


def test_worker_renews_its_heartbeat_while_running(people: People, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch, pinned_clock: None) -> None:
    monkeypatch.setattr(export, "HEARTBEAT_SECONDS", 0.02)
    beat_at = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    running = _running_job(2025, tmp_path / "a", heartbeat_at=beat_at - timedelta(hours=1))
    finished = _running_job(2025, tmp_path / "b", status="done", heartbeat_at=beat_at - timedelta(hours=1))
    clock.set_clock(lambda: beat_at)
    stop = threading.Event()
    threads = [threading.Thread(target=export._heartbeat, args=(j, stop)) for j in (running, finished)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while _job(running).heartbeat_at != beat_at and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    assert _job(running).heartbeat_at == beat_at
    assert _job(finished).heartbeat_at == beat_at - timedelta(hours=1)  # a finished job is left as it was

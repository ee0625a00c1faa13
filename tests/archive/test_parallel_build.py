"""Parallel archive builds with gap-free 件号 (archive/numbering.py, archive/jobs.py).

The vouchers are posted through the real services from distinct 数电票 XML invoices made from
the hand-made fixture (only the invoice number changes), so that a test can have as many
vouchers as it needs.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from api import job_kinds
from archive import numbering
from archive.check import series_gaps
from archive.codes import series_for
from archive.package import build_package
from archive.store import ArchivalCounter, ArchivePackage
from core import jobs, worker
from core.db import session_scope
from core.settings import Settings, get_settings
from tests.archive.conftest import People, post_voucher_for

FIXTURE = Path(__file__).resolve().parents[1] / "invoice" / "fixtures" / "digital_ordinary.xml"
_serial = itertools.count(1)


def _xml_invoices(tmp: Path, n: int) -> list[Path]:
    base = FIXTURE.read_bytes()
    out = []
    for _ in range(n):
        k = next(_serial)
        p = tmp / f"inv-{k}-{time.monotonic_ns()}.xml"
        p.write_bytes(base.replace(b"24112000000048542163", f"2411200000{time.time_ns() % 10**9:09d}{k % 10}".encode()))
        out.append(p)
    return out


@pytest.fixture
def vouchers(db_people: People, tmp_path: Path) -> Callable[[int], list[str]]:
    def make(n: int) -> list[str]:
        return [post_voucher_for(db_people, _xml_invoices(tmp_path, 1)) for _ in range(n)]
    return make


def _year() -> int:
    from core.clock import today_china

    return today_china().year  # vouchers are dated today


def _series() -> str:
    s = get_settings()
    return series_for(s.fonds_code, s.archive_category, _year())


def _numbers() -> list[int]:
    with session_scope() as s:
        return sorted(s.exec(select(ArchivePackage.item_no)).all())


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_concurrent_builders_get_distinct_gap_free_numbers(engine: Engine, db_people: People,
                                                          vouchers: Callable[[int], list[str]]) -> None:
    ids = vouchers(6)
    gate = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def build(voucher_id: str) -> None:
        try:
            gate.wait()
            with session_scope() as s:
                build_package(s, db_people.archivist, voucher_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(v,)) for v in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    assert _numbers() == [1, 2, 3, 4, 5, 6]
    with session_scope() as s:
        assert series_gaps(s, _series()) == [] and numbering.in_flight(s, _series()) == set()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_reservation_does_not_block_the_next_builder(engine: Engine, settings: Settings) -> None:
    """Builder A holds its number inside an open transaction; builder B still gets the next one."""
    series = _series()
    with session_scope() as a:
        first = numbering.allocate(a, series, "voucher-a")
        done: list[int] = []
        t = threading.Thread(target=lambda: done.append(_allocate_alone(series, "voucher-b")))
        t.start()
        t.join(10)
        assert done == [first + 1]  # not waiting for A's transaction to end


def _allocate_alone(series: str, holder: str) -> int:
    with session_scope() as s:
        return numbering.allocate(s, series, holder)


def test_a_failed_build_gives_its_number_to_the_next(engine: Engine, db_people: People,
                                                      vouchers: Callable[[int], list[str]],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = vouchers(2)
    import archive.package as package

    real = package._build

    def broken(*a: object, **kw: object) -> object:
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(package, "_build", broken)
    with pytest.raises(RuntimeError), session_scope() as s:
        build_package(s, db_people.archivist, first)
    monkeypatch.setattr(package, "_build", real)
    with session_scope() as s:
        freed = numbering.gaps(s, _series())
        # PostgreSQL: a recorded gap; SQLite: the rollback took the number back
        assert [(g.item_no, g.reason) for g in freed] in ([(1, "build failed: RuntimeError")], [])
    with session_scope() as s:
        pkg = build_package(s, db_people.archivist, second)
        assert pkg.item_no == 1
    with session_scope() as s:
        assert numbering.gaps(s, _series()) == [] and series_gaps(s, _series()) == []


def test_a_dead_builders_number_is_reclaimed(engine: Engine, settings: Settings) -> None:
    from datetime import timedelta

    series = _series()
    with session_scope() as s:
        lost = numbering.allocate(s, series, "voucher-dead", ttl=timedelta(seconds=-1))  # lapsed at once
    with session_scope() as s:
        assert numbering.allocate(s, series, "voucher-next") == lost
    with session_scope() as s:
        assert s.get(ArchivalCounter, series).last_no == lost  # type: ignore[union-attr]


def test_the_same_voucher_keeps_its_number(engine: Engine, settings: Settings) -> None:
    series = _series()
    with session_scope() as s:
        a = numbering.allocate(s, series, "voucher-x")
    with session_scope() as s:
        assert numbering.allocate(s, series, "voucher-x") == a
        assert numbering.allocate(s, series, "voucher-y") == a + 1


def test_a_year_is_packaged_by_several_workers(engine: Engine, db_people: People,
                                               vouchers: Callable[[int], list[str]]) -> None:
    from archive.jobs import start_year_build

    job_kinds.install()
    ids = vouchers(5)
    with session_scope() as s:
        parent = start_year_build(s, db_people.archivist, _year()).id
    runner = worker.Runner(3, schedule=False).start()  # three workers claim side by side
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with session_scope() as s:
                kids = jobs.children_summary(s, parent)
                top = jobs.get_job(s, parent)
                assert top is not None
                if top.state == "done" and kids.get("done") == len(ids):
                    break
            time.sleep(0.3)
    finally:
        runner.stop(timeout=60)
    assert kids == {"done": len(ids)}
    assert _numbers() == list(range(1, len(ids) + 1))
    with session_scope() as s:  # starting the year again queues nothing: all are packaged
        again = start_year_build(s, db_people.archivist, _year()).id
    jobs.run_pending(engine)
    with session_scope() as s:
        job = jobs.get_job(s, again)
        assert job is not None and job.result == {"year": _year(), "children": 0}

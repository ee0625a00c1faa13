"""Year-end export: a valid BagIt bag, a 移交清册 that adds up, and a receiver's check."""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import bagit
import pytest
from openpyxl import load_workbook
from sqlmodel import select

from archive import export, package
from archive.errors import ArchiveError
from archive.store import ArchivePackage, CheckRun, package_dir
from core.audit import AuditEntry
from core.db import session_scope
from tests.archive.conftest import SAMPLE_SETS, People

Posted = Callable[[list[Path]], str]


@pytest.fixture
def year_packages(people: People, posted: Posted) -> list[ArchivePackage]:
    out = []
    for files in SAMPLE_SETS:
        vid = posted(files)
        with session_scope() as s:
            out.append(package.build_package(s, people.archivist, vid))
    return out


def _list_rows(bag: Path, year: int) -> tuple[list[list], list]:
    wb = load_workbook(bag / "data" / export.list_name(year), read_only=True)
    rows = [list(r) for r in wb[export.LIST_SHEET].iter_rows(values_only=True)]
    wb.close()
    head = rows.index(export.LIST_HEADER)
    body = []
    for r in rows[head + 1:]:
        if r[0] == "合计":
            return body, r
        body.append(r)
    raise AssertionError("no totals row")


def test_export_is_a_valid_bag_with_a_matching_transfer_list(people: People, year_packages: list[ArchivePackage],
                                                            tmp_path: Path) -> None:
    year = year_packages[0].year
    job = export.export_year(year, tmp_path / "out", people.archivist)
    assert job.status == "done", job.error
    bag = Path(job.bag_path)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".partial")]
    bagit.Bag(str(bag)).validate()  # raises on any problem
    body, totals = _list_rows(bag, year)
    assert [r[1] for r in body] == [p.archival_code for p in year_packages]  # one row per package, 档号 order
    assert totals[1] == 3
    assert Decimal(totals[5]) == sum((p.amount for p in year_packages), Decimal("0")) == sum(Decimal(r[5]) for r in body)
    assert totals[6] == sum(p.attachments for p in year_packages) == 4
    for r, p in zip(body, year_packages, strict=True):
        files = [f for f in package_dir(p).rglob("*") if f.is_file()]
        assert r[8] == len(files) and r[9] == sum(f.stat().st_size for f in files)
        assert r[7] == "D30" and r[3] == year and r[4] == p.voucher_number
    assert (bag / "data" / "archive-key" / "archive_cert.der").is_file()
    assert (bag / "data" / "check-report.json").is_file() and (bag / "data" / "check-report.html").is_file()
    result = export.verify_export(bag)
    assert result["status"] == "pass", [i for i in result["items"] if i["result"] == "fail"]
    assert result["packages"] == 3
    with session_scope() as s:
        assert s.exec(select(CheckRun).where(CheckRun.trigger == "export")).first() is not None


def test_verify_export_catches_a_tampered_copy(people: People, year_packages: list[ArchivePackage],
                                               tmp_path: Path) -> None:
    year = year_packages[0].year
    job = export.export_year(year, tmp_path / "out", people.archivist)
    copy = tmp_path / "received"
    shutil.copytree(job.bag_path, copy)
    target = next((copy / "data" / "packages").glob("*/content/invoices/*.ofd"))
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    result = export.verify_export(copy)
    failed = {i["id"] for i in result["items"] if i["result"] == "fail"}
    assert result["status"] == "fail" and {"E1", "A2"} <= failed

    # a careful forger also rewrites the bag manifests: the package signature still catches it
    bagit.Bag(str(copy)).save(manifests=True)
    bagit.Bag(str(copy)).validate()
    result = export.verify_export(copy)
    failed = {i["id"] for i in result["items"] if i["result"] == "fail"}
    assert "E1" not in failed and "A2" in failed and result["status"] == "fail"


def test_verify_export_catches_a_changed_transfer_list(people: People, year_packages: list[ArchivePackage],
                                                      tmp_path: Path) -> None:
    year = year_packages[0].year
    job = export.export_year(year, tmp_path / "out", people.archivist)
    copy = tmp_path / "received"
    shutil.copytree(job.bag_path, copy)
    xlsx = copy / "data" / export.list_name(year)
    wb = load_workbook(xlsx)
    ws = wb[export.LIST_SHEET]
    for row in ws.iter_rows():
        if row[1].value == year_packages[1].archival_code:
            row[5].value = "1.00"
    wb.save(xlsx)
    bagit.Bag(str(copy)).save(manifests=True)
    result = export.verify_export(copy)
    e2 = next(i for i in result["items"] if i["id"] == "E2")
    assert e2["result"] == "fail" and year_packages[1].archival_code in e2["evidence"]


@pytest.mark.disk_store  # edits a package folder on disk
def test_failed_check_stops_export_unless_overridden(people: People, year_packages: list[ArchivePackage],
                                                    tmp_path: Path) -> None:
    year = year_packages[0].year
    root = package_dir(year_packages[0])
    os.chmod(root, 0o755)
    (root / "stray.json").write_bytes(b"{}")
    job = export.export_year(year, tmp_path / "a", people.archivist)
    assert job.status == "failed" and job.error["code"] == "check_failed"
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())
    job = export.export_year(year, tmp_path / "b", people.archivist, override_reason="多余文件经核实无害，先行移交")
    assert job.status == "done"
    with session_scope() as s:
        run = s.get(CheckRun, job.check_run_id)
        assert run.status == "fail" and run.override_reason == "多余文件经核实无害，先行移交"
        assert run.overridden_by == "archivist"
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "archive.check_override")).first()


def test_interrupted_export_leaves_no_complete_looking_bag(people: People, year_packages: list[ArchivePackage],
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = export._copy

    def flaky(src: Path, dst: Path) -> tuple[str, int]:
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(export, "_copy", flaky)
    out = tmp_path / "out"
    job = export.export_year(year_packages[0].year, out, people.archivist)
    assert job.status == "failed" and "disk full" in job.error["message"]
    assert not [p for p in out.iterdir() if (p / "bagit.txt").exists()]


def test_api_flow_start_run_and_zip(people: People, year_packages: list[ArchivePackage]) -> None:
    year = year_packages[0].year
    with session_scope() as s:
        job = export.start_export(s, people.archivist, year)
        assert job.status == "running"
        with pytest.raises(ArchiveError) as exc:
            export.start_export(s, people.archivist, year)
        assert exc.value.code == "export_running"
    done = export.run_export(job.id)
    assert done.status == "done"
    with session_scope() as s:
        z = export.export_zip(s, job.id)
        d = export.export_to_dict(export.get_export(s, job.id))
    assert d["status"] == "done" and d["package_count"] == 3
    with zipfile.ZipFile(z) as zf:
        names = zf.namelist()
        assert any(n.endswith("/bagit.txt") for n in names)
        tag = next(n for n in names if n.endswith("/tagmanifest-sha256.txt"))
        manifest = next(n for n in names if n.endswith("/manifest-sha256.txt"))
        assert hashlib.sha256(zf.read(manifest)).hexdigest() in zf.read(tag).decode()
    with session_scope() as s, pytest.raises(ArchiveError):
        export.start_export(s, people.archivist, year + 5)  # nothing archived for that year
